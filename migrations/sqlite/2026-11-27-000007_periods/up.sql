-- Trading periods: a reset closes the account's current period (its trades and orders stay
-- readable) and starts a new one at the configured starting cash. A period's trades and
-- orders are those with ids from its first_* id on (ids only grow), so settlement writes no
-- period of its own.
ALTER TABLE accounts ADD COLUMN period BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN period_start_cash BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN period_started_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN period_first_transaction BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN period_first_order BIGINT NOT NULL DEFAULT 0;

-- Existing accounts: their period began at registration with the cash their history implies.
UPDATE accounts SET period_started_at = created_at,
    period_start_cash = cash + COALESCE((SELECT SUM(CASE WHEN t.side = 0
        THEN t.price * t.quantity + t.commission
        ELSE t.commission - t.price * t.quantity END)
        FROM transactions t WHERE t.account_id = accounts.id), 0);

CREATE TABLE account_periods (
    account_id        BIGINT NOT NULL REFERENCES accounts(id),
    period            BIGINT NOT NULL,
    started_at        BIGINT NOT NULL,
    ended_at          BIGINT NOT NULL,
    starting_cash     BIGINT NOT NULL,
    -- cash + holdings at the last prices when it ended
    ending_equity     BIGINT NOT NULL,
    -- its trades have ids first_transaction <= id < end_transaction; orders likewise
    first_transaction BIGINT NOT NULL,
    end_transaction   BIGINT NOT NULL,
    first_order       BIGINT NOT NULL,
    end_order         BIGINT NOT NULL,
    PRIMARY KEY (account_id, period)
);
