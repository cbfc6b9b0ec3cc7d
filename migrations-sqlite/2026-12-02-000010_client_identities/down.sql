PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE clients_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    full_name TEXT NOT NULL,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,
    date_of_birth DATE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    erased_at TIMESTAMP
);
INSERT INTO clients_rebuilt
    (id, full_name, email, email_normalized, phone, date_of_birth, created_at, updated_at, erased_at)
    SELECT id, full_name, email, email_normalized, phone, date_of_birth, created_at, updated_at, erased_at
    FROM clients;
DROP TABLE clients;
ALTER TABLE clients_rebuilt RENAME TO clients;
COMMIT;
PRAGMA foreign_keys = ON;
