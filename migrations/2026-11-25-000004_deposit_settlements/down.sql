DROP TABLE processed_events;
DROP TABLE refunds;
DROP TABLE redemptions;
