-- One client record per identity (email, date of birth and name), not per
-- email: a booking made with someone else's email never attaches to, or
-- rewrites, their record. The email stays indexed for lookups.
ALTER TABLE clients DROP CONSTRAINT clients_email_normalized_key;
CREATE INDEX clients_email ON clients (email_normalized);
ALTER TABLE clients ADD COLUMN identity_key TEXT;
UPDATE clients SET identity_key = id;
CREATE UNIQUE INDEX clients_identity ON clients (identity_key);
