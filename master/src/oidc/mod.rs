//! OpenID Connect ID-token verification: the master's only judge of third-party logins.
//!
//! A token is accepted when, in this order: its provider is configured; its header's `alg` is
//! one the provider allows (never `none`, never an HMAC); the provider publishes a key with its
//! `kid` (see [`keys`]) pinned to no other algorithm; the signature verifies with that key; `iss`
//! is the provider's issuer; `aud` names one of its client ids; `exp` is not past, `nbf` (if
//! present) not ahead and `iat` not ahead, each by more than the allowed clock skew; and `sub`
//! is present. Tokens are never logged or stored: refusals name the failed check only.

pub mod keys;
pub mod provider;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use slog::Logger;

use crate::domain::identities::{TokenError, VerifiedIdentity};
use keys::{KeyCache, KeySettings};
use provider::{Provider, ProviderConfig, ProviderConfigError};

/// Longest `sub` accepted (OpenID Connect: at most 255 ASCII characters).
const MAX_SUBJECT_BYTES: usize = 255;

/// Verification settings shared by every provider.
#[derive(Debug, Clone, Copy)]
pub struct VerifierSettings {
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub clock_skew: Duration,
    /// Timeout of one discovery or JWKS request.
    pub http_timeout: Duration,
    /// Key caching.
    pub keys: KeySettings,
}

impl Default for VerifierSettings {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(60),
            http_timeout: Duration::from_secs(5),
            keys: KeySettings::default(),
        }
    }
}

struct ProviderState {
    provider: Provider,
    keys: KeyCache,
}

/// Verifies ID tokens of the configured providers. Cheap to clone; clones share the key cache.
#[derive(Clone)]
pub struct IdTokenVerifier {
    providers: Arc<HashMap<String, ProviderState>>,
    client: reqwest::Client,
    settings: VerifierSettings,
    log: Logger,
}

/// Why the verifier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// A provider's configuration is wrong.
    #[error(transparent)]
    Config(#[from] ProviderConfigError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    iat: Option<serde_json::Value>,
    email: Option<String>,
    email_verified: Option<serde_json::Value>,
}

impl IdTokenVerifier {
    /// A verifier for `configs` (none: every token login is refused with UnknownProvider).
    pub fn new(
        configs: &[ProviderConfig],
        settings: VerifierSettings,
        log: Logger,
    ) -> Result<Self, VerifierError> {
        let mut providers = HashMap::new();
        let mut issuers = std::collections::HashSet::new();
        for config in configs {
            let provider = Provider::from_config(config)?;
            if !issuers.insert(provider.issuer.clone()) {
                return Err(ProviderConfigError::Duplicate(provider.issuer).into());
            }
            let name = provider.name.clone();
            let state = ProviderState {
                provider,
                keys: KeyCache::default(),
            };
            if providers.insert(name.clone(), state).is_some() {
                return Err(ProviderConfigError::Duplicate(name).into());
            }
        }
        let client = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            providers: Arc::new(providers),
            client,
            settings,
            log,
        })
    }

    /// Fetches every provider's keys once, so a provider that is misconfigured or unreachable
    /// shows in the log at start rather than at the first login.
    pub async fn prefetch(&self) {
        let fetches = self.providers.values().map(|state| {
            state.keys.refresh(
                &state.provider,
                &self.client,
                &self.settings.keys,
                &self.log,
            )
        });
        futures::future::join_all(fetches).await;
    }

    /// The configured provider names, sorted.
    pub fn provider_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.providers.keys().cloned().collect();
        names.sort();
        names
    }

    /// The issuers of every configured provider.
    pub fn issuers(&self) -> Vec<String> {
        self.providers
            .values()
            .map(|p| p.provider.issuer.clone())
            .collect()
    }

    /// The issuer of a configured provider.
    pub fn issuer_of(&self, provider: &str) -> Option<&str> {
        self.providers
            .get(provider)
            .map(|p| p.provider.issuer.as_str())
    }

    /// The name to show for an identity of `issuer` stored under `stored`: the name its
    /// provider is configured under now, or `stored` if it no longer is.
    pub fn provider_name(&self, issuer: &str, stored: String) -> String {
        self.providers
            .values()
            .find(|p| p.provider.issuer == issuer)
            .map_or(stored, |p| p.provider.name.clone())
    }

    /// Verifies `token` as an ID token from `provider`.
    pub async fn verify(
        &self,
        provider: &str,
        token: &str,
    ) -> Result<VerifiedIdentity, TokenError> {
        let state = self
            .providers
            .get(provider)
            .ok_or_else(|| TokenError::UnknownProvider(provider.to_owned()))?;
        let p = &state.provider;
        let alg = checked_algorithm(token, &p.algorithms)?;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        let key = state
            .keys
            .key_for(
                p,
                header.kid.as_deref(),
                &self.client,
                &self.settings.keys,
                &self.log,
            )
            .await?;
        if key.alg.is_some_and(|pinned| pinned != alg) {
            return Err(TokenError::Algorithm(format!(
                "{alg:?} with a key published for another algorithm"
            )));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.settings.clock_skew.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&p.issuer]);
        validation.set_audience(&p.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| refusal(e.into_kind(), &p.issuer))?;
        let claims = data.claims;
        let iat = claims
            .iat
            .as_ref()
            .and_then(|v| v.as_f64())
            .ok_or_else(|| TokenError::MissingClaim("iat".into()))?;
        let now = jsonwebtoken::get_current_timestamp() as f64;
        if iat > now + self.settings.clock_skew.as_secs_f64() {
            return Err(TokenError::IssuedInFuture);
        }
        let subject = claims
            .sub
            .filter(|s| !s.is_empty() && s.len() <= MAX_SUBJECT_BYTES)
            .ok_or_else(|| TokenError::MissingClaim("sub".into()))?;
        let email_verified = match claims.email_verified {
            Some(serde_json::Value::Bool(b)) => b,
            // Some providers send the string "true".
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        Ok(VerifiedIdentity {
            provider: p.name.clone(),
            issuer: p.issuer.clone(),
            subject,
            email: claims.email,
            email_verified,
        })
    }
}

/// The token's `alg`, read before anything else: `none`, HMAC and algorithms the provider does
/// not allow are refused here, so no key is ever tried with them.
fn checked_algorithm(token: &str, allowed: &[Algorithm]) -> Result<Algorithm, TokenError> {
    let header = token
        .split('.')
        .next()
        .ok_or_else(|| TokenError::Malformed("no header".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed("the header is not base64url".into()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Malformed("the header is not JSON".into()))?;
    let name = value
        .get("alg")
        .and_then(|a| a.as_str())
        .ok_or_else(|| TokenError::Malformed("the header has no alg".into()))?;
    if name.eq_ignore_ascii_case("none") {
        return Err(TokenError::Algorithm("none (an unsigned token)".into()));
    }
    match name.parse::<Algorithm>() {
        Ok(alg) if allowed.contains(&alg) => Ok(alg),
        _ => Err(TokenError::Algorithm(format!(
            "{name} (this provider allows {})",
            allowed
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A verification error of the JWT library as the refusal a client gets.
fn refusal(kind: ErrorKind, issuer: &str) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::Signature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer(issuer.to_owned()),
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            TokenError::MissingClaim(claim)
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenError::Algorithm("does not match the key".into())
        }
        other => TokenError::Malformed(jsonwebtoken::errors::Error::from(other).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with_header(header: &str) -> String {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.", enc(header), enc("{}"))
    }

    #[test]
    fn none_and_hmac_are_refused_before_any_key_is_looked_at() {
        let allowed = [Algorithm::RS256, Algorithm::ES256];
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"NONE"}"#,
            r#"{"alg":"HS256"}"#,
        ] {
            assert!(matches!(
                checked_algorithm(&token_with_header(header), &allowed),
                Err(TokenError::Algorithm(_))
            ));
        }
        assert_eq!(
            checked_algorithm(&token_with_header(r#"{"alg":"ES256"}"#), &allowed),
            Ok(Algorithm::ES256)
        );
        assert!(matches!(
            checked_algorithm("not.a.jwt", &allowed),
            Err(TokenError::Malformed(_))
        ));
    }
}
