//! The client-side password hash (the spec's `hashedPass`).
//!
//! `hashedPass = lowercase_hex(SHA-256("papertrader:v1:" ‖ username ‖ ":" ‖ password))`,
//! with `username` and `password` as UTF-8 bytes: 64 hex characters. The master stores only
//! `bcrypt(hashedPass)`, so the plain password never leaves the client.

use sha2::{Digest, Sha256};

/// The `hashedPass` argument of `login` and `register` for this username and password.
pub fn client_password_hash(username: &str, password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"papertrader:v1:");
    hasher.update(username.as_bytes());
    hasher.update(b":");
    hasher.update(password.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_vector() {
        // Same vector as docs/PROTOCOL.md, computed with `printf 'papertrader:v1:alice:hunter2' | sha256sum`.
        assert_eq!(
            client_password_hash("alice", "hunter2"),
            "0180f5e03e6f40282e7ea510fcc86e387beaff26122082377c64427109762caa"
        );
    }
}
