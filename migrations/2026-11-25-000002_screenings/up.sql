-- Eligibility screenings. Special category data: an eligible or needs-review
-- screening keeps the date of birth and the reason codes (the decision and
-- what the practitioner needs); an ineligible one keeps only its outcome.
-- Screenings never attached to a booking are purged after the retention period.
CREATE TABLE screenings (
    id TEXT PRIMARY KEY NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('eligible', 'needs_review', 'ineligible')),
    reason_codes TEXT NOT NULL,
    date_of_birth DATE,
    judged_on DATE NOT NULL,
    age INTEGER,
    token_hash TEXT UNIQUE,
    expires_at TIMESTAMP,
    consultation_id TEXT UNIQUE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX screenings_unattached_created ON screenings (created_at) WHERE consultation_id IS NULL;
