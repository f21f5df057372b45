-- Orders placed with placeOrder: open ones rest until a tick fills them, they are cancelled or
-- they expire; closed ones stay as the account's order history. Prices and money are BIGINT
-- micro-units, times BIGINT ms since the Unix epoch (UTC).
CREATE TABLE orders (
    id              BIGINT PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    -- 0 buy, 1 sell
    side            INTEGER NOT NULL CHECK (side IN (0, 1)),
    symbol          TEXT NOT NULL,
    -- 0 market, 1 limit, 2 stop, 3 stop-limit
    kind            INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 3),
    quantity        BIGINT NOT NULL CHECK (quantity > 0),
    filled_quantity BIGINT NOT NULL CHECK (filled_quantity BETWEEN 0 AND quantity),
    limit_price     BIGINT CHECK (limit_price > 0),
    stop_price      BIGINT CHECK (stop_price > 0),
    -- 0 day, 1 gtc, 2 ioc, 3 fok
    time_in_force   INTEGER NOT NULL CHECK (time_in_force BETWEEN 0 AND 3),
    -- 0 new, 1 partially filled, 2 filled, 3 cancelled, 4 expired, 5 rejected
    status          INTEGER NOT NULL CHECK (status BETWEEN 0 AND 5),
    -- why it ended (a reason code), 0 otherwise
    reason          INTEGER NOT NULL,
    triggered       BOOLEAN NOT NULL,
    expires_at      BIGINT,
    -- price per unit a buy reserves cash at
    reserve_price   BIGINT NOT NULL CHECK (reserve_price >= 0),
    -- sum of price x units of its fills, and their commission
    filled_value    BIGINT NOT NULL,
    commission      BIGINT NOT NULL CHECK (commission >= 0),
    placed_at       BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    client_order_id TEXT,
    client_ip       TEXT NOT NULL,
    worker_uuid     TEXT
);
CREATE INDEX orders_account ON orders(account_id, id);
CREATE INDEX orders_open ON orders(status) WHERE status IN (0, 1);
CREATE UNIQUE INDEX orders_client_order_id ON orders(account_id, client_order_id);

-- Fills of orders are transactions too: which order, and the commission paid.
ALTER TABLE transactions ADD COLUMN order_id BIGINT REFERENCES orders(id);
ALTER TABLE transactions ADD COLUMN commission BIGINT NOT NULL DEFAULT 0 CHECK (commission >= 0);
