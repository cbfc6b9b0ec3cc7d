DROP INDEX clients_identity;
ALTER TABLE clients DROP COLUMN identity_key;
DROP INDEX clients_email;
ALTER TABLE clients ADD CONSTRAINT clients_email_normalized_key UNIQUE (email_normalized);
