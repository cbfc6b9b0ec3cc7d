DROP INDEX consultations_pending_email;
DROP INDEX consultations_pending_phone;
DROP INDEX consultations_pending_source;
DROP INDEX consultations_pending_partner;
CREATE INDEX consultations_pending_email ON consultations (client_email_key) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_phone ON consultations (client_phone_key) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_source ON consultations (source_key) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_partner ON consultations (booked_by_key_id) WHERE status = 'pending_deposit';
