-- The cap on unpaid holds per contact (MAX_HOLDS_PER_CLIENT) counts a
-- booking's live holds by email (any case) or phone on every booking: these
-- indexes make that a lookup of the contact's own bookings, not a scan of
-- every live hold.
CREATE INDEX consultations_contact_email ON consultations (lower(client_email));
CREATE INDEX consultations_contact_phone ON consultations (client_phone);
