-- What erasure and the holds caps need.
--
-- Bookings keep the keys their contact details are counted by for the cap
-- on unpaid holds (the email and phone in a canonical form, so formatting
-- cannot evade it) and a key for where an anonymous booking came from (a
-- hash of the client address), and the reason a client gave when
-- cancelling (free text: erased with the booking's other personal data).
ALTER TABLE consultations ADD COLUMN client_email_key TEXT NOT NULL DEFAULT '';
ALTER TABLE consultations ADD COLUMN client_phone_key TEXT NOT NULL DEFAULT '';
ALTER TABLE consultations ADD COLUMN source_key TEXT NOT NULL DEFAULT '';
ALTER TABLE consultations ADD COLUMN cancellation_reason TEXT;
UPDATE consultations SET client_email_key = lower(client_email), client_phone_key = client_phone;

DROP INDEX consultations_contact_email;
DROP INDEX consultations_contact_phone;
CREATE INDEX consultations_pending_email ON consultations (client_email_key) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_phone ON consultations (client_phone_key) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_source ON consultations (source_key) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_partner ON consultations (booked_by_key_id) WHERE status = 'pending_deposit';

-- Idempotency records: the key is stored as a hash and the answer
-- encrypted with a key derived from it (only its holder can read it back);
-- the consultation an answer is about, so erasure finds it. Records written
-- before are dropped (they live a day, and held answers in clear).
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ADD COLUMN subject_id TEXT;
CREATE INDEX idempotency_keys_subject ON idempotency_keys (subject_id);
