//! Sessions as the rest of the master sees them: who holds one, until when, bound to which
//! connection; and the form a session token is kept in.

use std::net::IpAddr;

use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::identities::TokenError;

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
    /// Unknown username or wrong password (the two are not told apart).
    #[error("unknown username or wrong password")]
    WrongCredentials,
    /// The account signs in through a third party and has no password yet; the providers it
    /// can use.
    #[error(
        "this account has no password: it signs in through {}; log in with an ID token from \
         there, then set a password to use both",
        .0.join(", ")
    )]
    PasswordNotSet(Vec<String>),
    /// The ID token was refused.
    #[error("{0}")]
    Token(TokenError),
    /// The token's identity belongs to no account.
    #[error(
        "no account signs in with this {0} identity; register an account with it, or link it \
         to an existing account"
    )]
    UnknownIdentity(String),
    /// The email was to come from the token, which does not say it is verified.
    #[error(
        "the ID token's email is not verified; give the account's email with the registration"
    )]
    EmailNotVerified,
    /// The email was to come from the token, which carries none.
    #[error("the ID token carries no email; give the account's email with the registration")]
    NoEmail,
    /// The identity already signs in to an account.
    #[error("this {0} identity already signs in to an account")]
    IdentityLinked(String),
    /// The identity already signs in to the caller's own account.
    #[error("this {0} identity is already linked to your account")]
    AlreadyYours(String),
    /// The account already has an identity from the provider.
    #[error("the account already has a {0} identity; unlink it first")]
    ProviderLinked(String),
    /// The account has no identity from the provider.
    #[error("the account has no identity from a provider named {0}")]
    NotLinked(String),
    /// Removing the identity would leave the account no way in.
    #[error(
        "{0} is the account's only way to sign in; set a password or link another provider first"
    )]
    LastSignInMethod(String),
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
