DROP TABLE faqs;
DROP TABLE treatments;
DROP TABLE api_keys;
DROP TABLE app_meta;
