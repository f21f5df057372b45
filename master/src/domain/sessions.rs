//! Sessions as the rest of the master sees them: who holds one, until when, bound to which
//! connection; and the form a session token is kept in.

use std::net::IpAddr;

use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The connection (for connection-bound sessions).
    pub connection_id: u64,
    /// The client's address.
    pub client_ip: IpAddr,
}

/// A live session as the other actors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// Database id of the session.
    pub session_id: i64,
    /// Owner account.
    pub account_id: i64,
    /// Owner username.
    pub username: String,
    /// Expiry, ms.
    pub expires_at: i64,
    /// False: the session ends with `connection`.
    pub is_expirable: bool,
    /// The connection a non-expirable session is bound to.
    pub connection: Option<u64>,
}

/// SHA-256 hex of a session token: the only form stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new session token: 128 random bits, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Why an account or session request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    /// Registering a username that exists (whatever its case).
    #[error("that username is taken")]
    UsernameTaken,
    /// Registering an email that exists (whatever its case).
    #[error("that email is already registered")]
    EmailTaken,
    /// No account has that username.
    #[error("no such user")]
    UnknownUser,
    /// Unknown username or wrong password (the two are not told apart).
    #[error("unknown username or wrong password")]
    WrongCredentials,
    /// The account signs in through a third party and has no password yet.
    #[error("this account signs in through a third party; set a password first")]
    PasswordNotSet,
    /// The login throttle refused the attempt; the text says for what and how long.
    #[error("{0}")]
    Throttled(String),
    /// Too many logins wait for bcrypt or for a throttle place.
    #[error("too many logins in progress; try again shortly")]
    TooManyLogins,
    /// Unknown, logged-out or revoked session, or a connection-bound one whose connection
    /// closed.
    #[error("unknown or ended session; log in again")]
    Invalid,
    /// The session's lifetime is over.
    #[error("the session has expired; log in again")]
    Expired,
    /// Resuming a connection-bound session from another connection.
    #[error(
        "a connection-bound session (isExpirable = false) ends with the connection that logged \
         in and cannot be resumed elsewhere; log in again"
    )]
    BoundToItsConnection,
    /// The hashing threads are gone.
    #[error("password hashing stopped")]
    HashingStopped,
    /// bcrypt failed.
    #[error("password hashing failed")]
    HashingFailed,
    /// The database failed; nothing was changed.
    #[error("the database is unavailable; nothing was changed")]
    Unavailable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_kept_only_as_their_hash() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
