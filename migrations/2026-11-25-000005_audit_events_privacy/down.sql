ALTER TABLE consultations DROP COLUMN personal_data_removed_at;
ALTER TABLE clients DROP COLUMN erased_at;
DROP TABLE rate_limits;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE outbox_events;
DROP TABLE audit_events;
