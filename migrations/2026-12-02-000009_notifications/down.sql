ALTER TABLE consultations DROP COLUMN notify_sms;
ALTER TABLE consultations DROP COLUMN notify_email;
DROP TABLE manage_links;
DROP TABLE notifications;
