//! Third-party identities as the rest of the master sees them: who a verified ID token says
//! the user is, and why a token was refused.

use thiserror::Error;

/// What a verified OpenID Connect ID token establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider's configured name.
    pub provider: String,
    /// `iss`: the provider's issuer URL.
    pub issuer: String,
    /// `sub`: the provider's stable id of the user.
    pub subject: String,
    /// `email`, if the token carries one.
    pub email: Option<String>,
    /// `email_verified` (false when absent).
    pub email_verified: bool,
}

/// Why an ID token was refused. Texts name the check, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// No provider of that name is configured.
    #[error("no identity provider named {0:?} is configured here")]
    UnknownProvider(String),
    /// Not a well-formed JWS / JWT.
    #[error("the ID token is malformed: {0}")]
    Malformed(String),
    /// The algorithm is `none`, an HMAC, or not one the provider allows.
    #[error("the ID token's algorithm is refused: {0}")]
    Algorithm(String),
    /// No key of the provider's JWKS has the token's `kid`, even after refreshing it.
    #[error("the ID token was signed by a key the provider does not publish (kid {0:?})")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the ID token's signature does not verify")]
    Signature,
    /// `exp` is past (beyond the allowed clock skew).
    #[error("the ID token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the allowed clock skew).
    #[error("the ID token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` is in the future (beyond the allowed clock skew).
    #[error("the ID token was issued in the future (iat)")]
    IssuedInFuture,
    /// `iss` is not the provider's issuer.
    #[error("the ID token's issuer is not {0}")]
    WrongIssuer(String),
    /// `aud` names none of the configured client ids.
    #[error("the ID token is not for this service (aud)")]
    WrongAudience,
    /// A required claim is missing or has the wrong type.
    #[error("the ID token's claim {0} is missing or not of the right type")]
    MissingClaim(String),
    /// The provider's keys could not be fetched and none is cached for the token's key; the
    /// text (the cause, for the log) is not shown to clients.
    #[error("the identity provider's keys cannot be fetched right now; try again shortly")]
    KeysUnavailable(String),
}

impl TokenError {
    /// Whether the refusal says something about the credentials (counted by the login
    /// throttle as a failed attempt) rather than about this server or its configuration.
    pub fn counts_as_failure(&self) -> bool {
        !matches!(
            self,
            TokenError::UnknownProvider(_) | TokenError::KeysUnavailable(_)
        )
    }
}
