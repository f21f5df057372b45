ALTER TABLE transactions DROP COLUMN commission;
ALTER TABLE transactions DROP COLUMN order_id;
DROP TABLE orders;
