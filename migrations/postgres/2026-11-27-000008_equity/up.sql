-- Every account's equity (cash + holdings at the tick's closes) at each equity step of the
-- day (resolution 0, kept 7 days) and at each UTC day's last tick (resolution 1, kept).
CREATE TABLE equity_points (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    resolution INTEGER NOT NULL CHECK (resolution IN (0, 1)),
    -- the tick's time (resolution 0) or the start of the UTC day (resolution 1)
    at         BIGINT NOT NULL,
    period     BIGINT NOT NULL,
    equity     BIGINT NOT NULL,
    cash       BIGINT NOT NULL,
    PRIMARY KEY (account_id, resolution, at)
);
