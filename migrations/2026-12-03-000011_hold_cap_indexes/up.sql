-- The holds caps count live unpaid holds (status pending_deposit, hold not
-- yet expired) of one contact, source or partner. With the hold's expiry in
-- each index the count is read from the index alone, and the expiry index
-- is no longer the cheaper-looking plan for a contact's count.
DROP INDEX consultations_pending_email;
DROP INDEX consultations_pending_phone;
DROP INDEX consultations_pending_source;
DROP INDEX consultations_pending_partner;
CREATE INDEX consultations_pending_email ON consultations (client_email_key, hold_expires_at) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_phone ON consultations (client_phone_key, hold_expires_at) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_source ON consultations (source_key, hold_expires_at) WHERE status = 'pending_deposit';
CREATE INDEX consultations_pending_partner ON consultations (booked_by_key_id, hold_expires_at) WHERE status = 'pending_deposit';
