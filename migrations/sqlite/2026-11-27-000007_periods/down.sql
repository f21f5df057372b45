DROP TABLE account_periods;
ALTER TABLE accounts DROP COLUMN period_first_order;
ALTER TABLE accounts DROP COLUMN period_first_transaction;
ALTER TABLE accounts DROP COLUMN period_started_at;
ALTER TABLE accounts DROP COLUMN period_start_cash;
ALTER TABLE accounts DROP COLUMN period;
