-- How paid deposits are settled, and the provider events already applied.
-- One redemption and one refund per deposit at most, enforced here: money is
-- never redeemed twice, refunded twice, or both (the deposit's status moves
-- only from 'paid', conditionally, in the same transaction).

CREATE TABLE redemptions (
    id TEXT PRIMARY KEY NOT NULL,
    deposit_id TEXT NOT NULL UNIQUE REFERENCES deposits (id),
    treatment_id TEXT NOT NULL REFERENCES treatments (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    note TEXT,
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY NOT NULL,
    deposit_id TEXT NOT NULL UNIQUE REFERENCES deposits (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    provider TEXT NOT NULL CHECK (provider IN ('manual', 'stripe')),
    provider_refund_id TEXT,
    reason TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    -- 'pending' reserves the deposit while the provider is asked; a pending
    -- refund is retried until it succeeds.
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded')),
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);
CREATE INDEX refunds_pending ON refunds (status);

-- Stripe webhook events applied; written in the same transaction as their effect.
CREATE TABLE processed_events (
    event_id TEXT PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    processed_at TIMESTAMP NOT NULL
);
