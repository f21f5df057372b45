//! A provider's signing keys: fetched from its JWKS (found through its discovery document
//! unless configured), cached by `kid` for as long as the JWKS response allows, refetched when
//! a token names an unknown `kid` (at most once per [`KeySettings::min_refresh`]) or when the
//! cache has expired. If a fetch fails, keys already cached keep working.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::provider::{is_secure_url, Provider};
use crate::domain::identities::TokenError;

/// How keys are fetched and kept.
#[derive(Debug, Clone, Copy)]
pub struct KeySettings {
    /// Fewest time between two fetches caused by unknown `kid`s.
    pub min_refresh: Duration,
    /// How long keys are fresh when the JWKS response gives no `max-age`.
    pub default_ttl: Duration,
    /// Bounds on a response's `max-age`.
    pub min_ttl: Duration,
    /// Upper bound on a response's `max-age`.
    pub max_ttl: Duration,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            min_refresh: Duration::from_secs(30),
            default_ttl: Duration::from_secs(3600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(86_400),
        }
    }
}

/// One usable public key.
#[derive(Clone)]
pub struct SigningKey {
    /// The key.
    pub key: DecodingKey,
    /// The algorithm the JWKS pins it to, if it does.
    pub alg: Option<Algorithm>,
}

/// The cached keys of one provider.
#[derive(Default)]
pub struct KeyCache {
    keys: HashMap<String, SigningKey>,
    fresh_until: Option<Instant>,
    last_fetch: Option<Instant>,
    jwks_url: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> TokenError {
    TokenError::KeysUnavailable(format!("{what}: {e}"))
}

impl KeyCache {
    /// The key for `kid` (`None`: the token names no key, which works only when the provider
    /// publishes exactly one).
    pub async fn key_for(
        &mut self,
        provider: &Provider,
        kid: Option<&str>,
        client: &reqwest::Client,
        settings: &KeySettings,
    ) -> Result<SigningKey, TokenError> {
        let now = Instant::now();
        let fresh = self.fresh_until.is_some_and(|t| now < t);
        if fresh {
            if let Some(key) = self.lookup(kid) {
                return Ok(key);
            }
        }
        let may_fetch = !fresh
            || self
                .last_fetch
                .is_none_or(|t| now.duration_since(t) >= settings.min_refresh);
        if may_fetch {
            self.last_fetch = Some(now);
            match self.fetch(provider, client).await {
                Ok((keys, ttl)) => {
                    self.keys = keys;
                    let ttl = ttl
                        .unwrap_or(settings.default_ttl)
                        .clamp(settings.min_ttl, settings.max_ttl);
                    self.fresh_until = Some(Instant::now() + ttl);
                }
                Err(e) => {
                    // An outage: keys we have still verify the tokens they signed.
                    return self.lookup(kid).ok_or(e);
                }
            }
        }
        self.lookup(kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.unwrap_or("none").to_owned()))
    }

    fn lookup(&self, kid: Option<&str>) -> Option<SigningKey> {
        match kid {
            Some(kid) => self.keys.get(kid).cloned(),
            None if self.keys.len() == 1 => self.keys.values().next().cloned(),
            None => None,
        }
    }

    async fn jwks_url(
        &mut self,
        provider: &Provider,
        client: &reqwest::Client,
    ) -> Result<String, TokenError> {
        if let Some(url) = provider.jwks_url.clone().or_else(|| self.jwks_url.clone()) {
            return Ok(url);
        }
        let response = client
            .get(&provider.discovery_url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable("discovery", e))?;
        let discovery: Discovery = response
            .json()
            .await
            .map_err(|e| unavailable("discovery document", e))?;
        if discovery.issuer != provider.issuer {
            return Err(unavailable(
                "discovery document",
                format!(
                    "names issuer {:?}, configured {:?}",
                    discovery.issuer, provider.issuer
                ),
            ));
        }
        if !is_secure_url(&discovery.jwks_uri) {
            return Err(unavailable(
                "discovery document",
                "jwks_uri is not https:// (nor http:// to a loopback address)",
            ));
        }
        self.jwks_url = Some(discovery.jwks_uri.clone());
        Ok(discovery.jwks_uri)
    }

    /// The provider's signature keys by `kid`, and how long the response says they are fresh.
    async fn fetch(
        &mut self,
        provider: &Provider,
        client: &reqwest::Client,
    ) -> Result<(HashMap<String, SigningKey>, Option<Duration>), TokenError> {
        let url = self.jwks_url(provider, client).await?;
        let response = client
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| {
                // The discovered URL may have moved: look it up again next time.
                self.jwks_url = None;
                unavailable("JWKS", e)
            })?;
        let ttl = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let raw: RawJwks = response.json().await.map_err(|e| unavailable("JWKS", e))?;
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(usable)
            .collect();
        Ok((keys, ttl))
    }
}

/// A JWKS entry as (kid, key), if it is a public signature key of a supported kind.
fn usable(jwk: Jwk) -> Option<(String, SigningKey)> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    // A symmetric key in a JWKS is never trusted: HMAC with a published key proves nothing.
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::HS256 | KeyAlgorithm::HS384 | KeyAlgorithm::HS512) => return None,
        Some(a) => Some(a.to_string().parse::<Algorithm>().ok()?),
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    let kid = jwk.common.key_id.unwrap_or_default();
    Some((kid, SigningKey { key, alg }))
}

/// The `max-age` of a `Cache-Control` value.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|part| {
        let secs = part.trim().strip_prefix("max-age=")?;
        secs.trim().parse::<u64>().ok().map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=19800, must-revalidate"),
            Some(Duration::from_secs(19800))
        );
        assert_eq!(max_age("no-cache"), None);
    }

    #[test]
    fn symmetric_keys_in_a_jwks_are_never_used() {
        let oct: Jwk =
            serde_json::from_value(serde_json::json!({"kty": "oct", "kid": "k", "k": "c2VjcmV0"}))
                .unwrap();
        assert!(usable(oct).is_none());
    }
}
