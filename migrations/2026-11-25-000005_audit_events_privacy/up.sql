-- Audit trail, outbound events for partners, and abuse limits.

-- Who did what, when; appended in the same transaction as the change.
-- Before/after states never carry health data or dates of birth.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT
);
CREATE INDEX audit_events_time ON audit_events (occurred_at, id);
CREATE INDEX audit_events_subject ON audit_events (subject_type, subject_id);

-- Domain events for webhook subscribers, written with the change they
-- describe (the transactional outbox) and fanned out to deliveries.
CREATE TABLE outbox_events (
    id TEXT PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    consultation_id TEXT NOT NULL,
    partner_key_id TEXT,
    payload TEXT NOT NULL,
    dispatched BOOLEAN NOT NULL
);
CREATE INDEX outbox_events_undispatched ON outbox_events (dispatched, occurred_at);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    owner_key_id TEXT NOT NULL,
    owner_role TEXT NOT NULL CHECK (owner_role IN ('admin', 'staff', 'partner')),
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    disabled_reason TEXT,
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES outbox_events (id),
    event_occurred_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'abandoned')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status_code INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, endpoint_id, event_occurred_at);

-- Fixed-window request counters per client address and route group,
-- shared by every instance.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

ALTER TABLE clients ADD COLUMN erased_at TIMESTAMP;
ALTER TABLE consultations ADD COLUMN personal_data_removed_at TIMESTAMP;
