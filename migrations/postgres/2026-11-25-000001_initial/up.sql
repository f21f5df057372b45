-- Times are BIGINT milliseconds since the Unix epoch (UTC); money and prices are BIGINT
-- micro-units (10^-6); quantities are BIGINT whole units. Same shape as migrations/sqlite.
CREATE TABLE accounts (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 24),
    email         TEXT NOT NULL UNIQUE CHECK (length(email) <= 321),
    password_hash TEXT,
    is_password   BOOLEAN NOT NULL,
    cash          BIGINT NOT NULL CHECK (cash >= 0),
    created_at    BIGINT NOT NULL,
    CHECK (is_password = (password_hash IS NOT NULL))
);

CREATE TABLE sessions (
    id           BIGSERIAL PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    client_ip    TEXT NOT NULL,
    is_active    BOOLEAN NOT NULL,
    is_expirable BOOLEAN NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE holdings (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    symbol     TEXT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (account_id, symbol)
);

CREATE TABLE transactions (
    id          BIGINT PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    side        INTEGER NOT NULL CHECK (side IN (0, 1)),
    symbol      TEXT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    price       BIGINT NOT NULL CHECK (price > 0),
    cash_after  BIGINT NOT NULL CHECK (cash_after >= 0),
    placed_at   BIGINT NOT NULL,
    settled_at  BIGINT NOT NULL,
    tick        BIGINT NOT NULL,
    client_ip   TEXT NOT NULL,
    worker_uuid TEXT
);
CREATE INDEX transactions_account ON transactions(account_id, id);

CREATE TABLE assets (
    symbol   TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    currency TEXT NOT NULL
);

-- Intraday points at update-interval resolution.
CREATE TABLE price_ticks (
    symbol TEXT NOT NULL,
    at     BIGINT NOT NULL,
    open   BIGINT NOT NULL,
    high   BIGINT NOT NULL,
    low    BIGINT NOT NULL,
    close  BIGINT NOT NULL,
    volume BIGINT NOT NULL,
    PRIMARY KEY (symbol, at)
);

-- resolution 1 = daily, 2 = monthly; at = start of the UTC day or month.
CREATE TABLE price_bars (
    symbol     TEXT NOT NULL,
    resolution INTEGER NOT NULL CHECK (resolution IN (1, 2)),
    at         BIGINT NOT NULL,
    open       BIGINT NOT NULL,
    high       BIGINT NOT NULL,
    low        BIGINT NOT NULL,
    close      BIGINT NOT NULL,
    volume     BIGINT NOT NULL,
    PRIMARY KEY (symbol, resolution, at)
);
