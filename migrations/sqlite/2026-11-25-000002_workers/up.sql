-- Registered workers (spec 3.1.5): only these may connect, from their allowed addresses,
-- proving their OpenPGP key. A booted-off worker stays registered but disabled.
CREATE TABLE workers (
    uuid        TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    address     TEXT NOT NULL,
    allowed_ips TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL
);
