-- Client and clinic notifications (email, SMS): planned in the same
-- transaction as the booking change that causes them (an outbox), sent by
-- a background worker that claims each row in the database. The row keeps
-- the minimum: no message body, no address in clear (the worker reads the
-- address from the booking when it sends), a masked recipient for the log.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    audience TEXT NOT NULL CHECK (audience IN ('client', 'clinic')),
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    -- The booking's sequence the message is about (bumped by a move or a cancellation).
    version INTEGER NOT NULL,
    -- Reminders: how long before the appointment; 0 for other kinds.
    offset_minutes INTEGER NOT NULL,
    -- 0 for the planned message, n for the nth resend asked by staff.
    resend_number INTEGER NOT NULL,
    recipient_masked TEXT NOT NULL,
    -- Rescheduled: where the appointment was before the move.
    previous_starts_at TIMESTAMP,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'recorded', 'failed', 'dropped', 'skipped')),
    status_reason TEXT,
    attempts INTEGER NOT NULL,
    -- When it is due; next_attempt_at is the next try, or the lease of the
    -- instance sending it (status 'sending').
    send_after TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_error TEXT,
    provider_message_id TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- At most one message per (booking, kind, version), per channel and audience.
    UNIQUE (consultation_id, kind, offset_minutes, version, channel, audience, resend_number)
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_log ON notifications (consultation_id, created_at, id);
CREATE INDEX notifications_age ON notifications (created_at);

-- Manage links sent in messages: each message carries a token of its own
-- (shown only in that message, stored only as its hash) that opens the
-- booking like the manage token returned at booking time.
CREATE TABLE manage_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    notification_id TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX manage_links_consultation ON manage_links (consultation_id);

-- The client's choice of channels at booking time (SMS is opt-in).
ALTER TABLE consultations ADD COLUMN notify_email BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE consultations ADD COLUMN notify_sms BOOLEAN NOT NULL DEFAULT FALSE;
