DROP TABLE idempotency_keys;
DROP TABLE deposits;
DROP TABLE slot_claims;
DROP TABLE consultations;
DROP TABLE clients;
DROP TABLE closures;
DROP TABLE opening_hours;
DROP TABLE practitioners;
