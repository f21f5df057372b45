-- Third-party (OpenID Connect) identities: an account may have several, one per issuer; an
-- identity (issuer, subject) belongs to at most one account. No token is ever stored.
CREATE TABLE identities (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    -- the provider's name in the master's configuration when it was linked
    provider   TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    linked_at  BIGINT NOT NULL,
    UNIQUE (issuer, subject),
    UNIQUE (account_id, issuer)
);
