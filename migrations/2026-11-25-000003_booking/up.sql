-- Booking: practitioners and their schedule, clients, consultations, the
-- slot claims that make double booking impossible, deposits, and the
-- idempotency records shared by every instance.

CREATE TABLE practitioners (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Weekly opening windows in clinic-local wall-clock minutes since midnight.
CREATE TABLE opening_hours (
    id TEXT PRIMARY KEY NOT NULL,
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens_minute INTEGER NOT NULL CHECK (opens_minute >= 0 AND opens_minute < 1440),
    closes_minute INTEGER NOT NULL CHECK (closes_minute > opens_minute AND closes_minute < 1440)
);
CREATE INDEX opening_hours_practitioner ON opening_hours (practitioner_id, weekday);

-- Holidays and blocked periods; a NULL practitioner closes the whole clinic.
CREATE TABLE closures (
    id TEXT PRIMARY KEY NOT NULL,
    practitioner_id TEXT REFERENCES practitioners (id) ON DELETE CASCADE,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL CHECK (ends_at > starts_at),
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX closures_range ON closures (starts_at, ends_at);

CREATE TABLE clients (
    id TEXT PRIMARY KEY NOT NULL,
    full_name TEXT NOT NULL,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,
    date_of_birth DATE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE consultations (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id),
    -- The contact details given with this booking (the client record keeps
    -- the latest; a later booking never rewrites an earlier one's).
    client_full_name TEXT NOT NULL,
    client_email TEXT NOT NULL,
    client_phone TEXT NOT NULL,
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id),
    treatment_id TEXT REFERENCES treatments (id),
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL CHECK (ends_at > starts_at),
    status TEXT NOT NULL CHECK (status IN ('pending_deposit', 'confirmed', 'attended', 'no_show', 'cancelled', 'expired')),
    hold_expires_at TIMESTAMP,
    notes TEXT,
    needs_review BOOLEAN NOT NULL,
    manage_token_hash TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL CHECK (channel IN ('direct', 'partner', 'staff')),
    booked_by_key_id TEXT,
    policy_accepted_at TIMESTAMP NOT NULL,
    cancelled_by TEXT CHECK (cancelled_by IS NULL OR cancelled_by IN ('client', 'clinic')),
    end_reason TEXT,
    sequence INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX consultations_starts ON consultations (starts_at, id);
CREATE INDEX consultations_practitioner_starts ON consultations (practitioner_id, starts_at);
CREATE INDEX consultations_client ON consultations (client_id);
CREATE INDEX consultations_pending_holds ON consultations (hold_expires_at) WHERE status = 'pending_deposit';

-- The database's guarantee against double booking: a consultation that holds
-- its slot claims every five-minute cell it covers, and a cell can be claimed
-- once per practitioner. Overlapping bookings collide on a shared cell even
-- when the application's own check races.
CREATE TABLE slot_claims (
    practitioner_id TEXT NOT NULL,
    cell_start TIMESTAMP NOT NULL,
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    PRIMARY KEY (practitioner_id, cell_start)
);
CREATE INDEX slot_claims_consultation ON slot_claims (consultation_id);

CREATE TABLE deposits (
    id TEXT PRIMARY KEY NOT NULL,
    consultation_id TEXT NOT NULL UNIQUE REFERENCES consultations (id) ON DELETE CASCADE,
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'redeemed', 'refunded', 'forfeited', 'cancelled')),
    provider TEXT NOT NULL CHECK (provider IN ('manual', 'stripe')),
    provider_payment_id TEXT UNIQUE,
    client_secret TEXT,
    payment_reference TEXT,
    paid_at TIMESTAMP,
    settled_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX deposits_status ON deposits (status, created_at);

-- Idempotency-Key records (IETF httpapi draft): one per caller scope and key.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    resource_id TEXT,
    response_status INTEGER,
    response_body TEXT,
    response_location TEXT,
    locked_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
