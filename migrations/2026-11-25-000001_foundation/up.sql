-- Foundation: API keys, treatment catalogue, FAQ, service metadata.
-- Portable types only: TEXT ids (UUID strings), TIMESTAMP in UTC, BIGINT
-- money in minor units, BOOLEAN. JSON lists are stored as TEXT.

CREATE TABLE app_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'partner')),
    prefix TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    last_used_at TIMESTAMP
);

CREATE TABLE treatments (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    summary TEXT NOT NULL,
    description TEXT NOT NULL,
    injectables TEXT NOT NULL,
    session_min_minutes INTEGER NOT NULL CHECK (session_min_minutes > 0),
    session_max_minutes INTEGER NOT NULL CHECK (session_max_minutes >= session_min_minutes),
    effect_durations TEXT NOT NULL,
    results_onset TEXT NOT NULL,
    anaesthetic TEXT NOT NULL,
    side_effects TEXT NOT NULL,
    contraindications TEXT NOT NULL,
    from_price_amount BIGINT CHECK (from_price_amount IS NULL OR from_price_amount >= 0),
    from_price_currency TEXT,
    display_order INTEGER NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX treatments_active_order ON treatments (active, display_order);

CREATE TABLE faqs (
    id TEXT PRIMARY KEY NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    topic TEXT NOT NULL,
    treatment_id TEXT REFERENCES treatments (id),
    position INTEGER NOT NULL,
    published BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX faqs_position ON faqs (position, id);
