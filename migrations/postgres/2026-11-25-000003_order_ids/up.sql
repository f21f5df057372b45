-- The outcome of every order that carried a clientOrderId, written in the same transaction as
-- its settlement: the same id again returns this outcome instead of trading again.
CREATE TABLE order_ids (
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    client_order_id TEXT NOT NULL,
    side            INTEGER NOT NULL,
    symbol          TEXT NOT NULL,
    quantity        BIGINT NOT NULL,
    -- the settled trade, or NULL when the order was refused
    transaction_id  BIGINT REFERENCES transactions(id),
    -- the refusal's reason code and message, when refused
    reason          INTEGER,
    message         TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_order_id),
    CHECK ((transaction_id IS NULL) <> (reason IS NULL))
);
