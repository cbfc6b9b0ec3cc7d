-- One client record per identity (email, date of birth and name), not per
-- email: a booking made with someone else's email never attaches to, or
-- rewrites, their record. The email stays indexed for lookups.
--
-- SQLite's procedure for a schema change ALTER TABLE cannot make: rebuild
-- the table with foreign keys off, in a transaction, and check them before
-- committing.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE clients_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    full_name TEXT NOT NULL,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    phone TEXT NOT NULL,
    date_of_birth DATE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    erased_at TIMESTAMP,
    identity_key TEXT
);
INSERT INTO clients_rebuilt
    (id, full_name, email, email_normalized, phone, date_of_birth, created_at, updated_at, erased_at, identity_key)
    SELECT id, full_name, email, email_normalized, phone, date_of_birth, created_at, updated_at, erased_at, id
    FROM clients;
DROP TABLE clients;
ALTER TABLE clients_rebuilt RENAME TO clients;
CREATE INDEX clients_email ON clients (email_normalized);
CREATE UNIQUE INDEX clients_identity ON clients (identity_key);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
