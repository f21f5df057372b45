//! Sessions as the rest of the master sees them: who holds one, until when, bound to which
//! connection; and the form a session token is kept in.

use std::net::IpAddr;

use rand::RngCore;
use sha2::{Digest, Sha256};

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
