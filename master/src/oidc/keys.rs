//! A provider's signing keys: fetched from its JWKS (found through its discovery document
//! unless configured), cached by `kid` for as long as the JWKS response allows, refetched when
//! a token names an unknown `kid` or the cache has expired — at most once per
//! [`KeySettings::min_refresh`]. If a fetch fails, keys already cached keep working.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use slog::{info, warn, Logger};

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
    /// After a failed fetch, the next may come this soon (a provider that is back is used at
    /// once, whatever `min_refresh` says).
    pub retry_after_failure: Duration,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            min_refresh: Duration::from_secs(30),
            default_ttl: Duration::from_secs(3600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(86_400),
            retry_after_failure: Duration::from_secs(1),
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

/// The cached keys of one provider. A login whose key is cached never waits for a fetch, even
/// while the provider hangs; one whose key is not cached waits for a fetch in flight.
#[derive(Default)]
pub struct KeyCache {
    state: Mutex<KeyState>,
    /// Held for the length of a fetch.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, SigningKey>,
    fresh_until: Option<Instant>,
    last_fetch: Option<Instant>,
    /// When the last fetch finished (well or not).
    last_done: Option<Instant>,
    last_error: Option<String>,
    jwks_url: Option<String>,
}

impl KeyState {
    fn lookup(&self, kid: Option<&str>) -> Option<SigningKey> {
        match kid {
            Some(kid) => self.keys.get(kid).cloned(),
            None if self.keys.len() == 1 => self.keys.values().next().cloned(),
            None => None,
        }
    }

    /// Why no key could be found: the last fetch failed, or the provider publishes no such key.
    fn missing(&self, kid: Option<&str>) -> TokenError {
        match &self.last_error {
            Some(e) => TokenError::KeysUnavailable(e.clone()),
            None => TokenError::UnknownKey(kid.unwrap_or("none").to_owned()),
        }
    }
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

fn unavailable(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl KeyCache {
    fn state(&self) -> std::sync::MutexGuard<'_, KeyState> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key for `kid` (`None`: the token names no key, which works only when the provider
    /// publishes exactly one). Keys are fetched when the cache has none for `kid` or has
    /// expired, at most once per [`KeySettings::min_refresh`] (the first fetch at once, and
    /// after a failed one within [`KeySettings::retry_after_failure`]); until a fetch succeeds,
    /// the keys already cached keep being used.
    pub async fn key_for(
        &self,
        provider: &Provider,
        kid: Option<&str>,
        client: &reqwest::Client,
        settings: &KeySettings,
        log: &Logger,
    ) -> Result<SigningKey, TokenError> {
        let due = {
            let mut state = self.state();
            let now = Instant::now();
            let fresh = state.fresh_until.is_some_and(|t| now < t);
            let cached = state.lookup(kid);
            if let (true, Some(key)) = (fresh, &cached) {
                return Ok(key.clone());
            }
            let spacing = if state.last_error.is_some() {
                settings.retry_after_failure.min(settings.min_refresh)
            } else {
                settings.min_refresh
            };
            let due = state
                .last_fetch
                .is_none_or(|t| now.duration_since(t) >= spacing);
            if due {
                state.last_fetch = Some(now);
            } else if let Some(key) = cached {
                return Ok(key);
            }
            due.then_some(now)
        };
        if let Some(decided) = due {
            // Logins that decided to fetch while another fetch ran take its result instead
            // of fetching again one after the other.
            let _fetching = self.fetching.lock().await;
            let done_since = self.state().last_done.is_some_and(|t| t >= decided);
            if !done_since {
                self.fetch_now(provider, client, settings, log).await;
            }
        } else {
            // A fetch may be in flight (started by another login): its keys may hold ours.
            drop(self.fetching.lock().await);
        }
        let state = self.state();
        state.lookup(kid).ok_or_else(|| state.missing(kid))
    }

    /// Fetches the provider's keys now and keeps them (or the error). The log says when
    /// fetching starts failing and when it works again, once each.
    pub async fn refresh(
        &self,
        provider: &Provider,
        client: &reqwest::Client,
        settings: &KeySettings,
        log: &Logger,
    ) {
        let _fetching = self.fetching.lock().await;
        self.fetch_now(provider, client, settings, log).await;
    }

    /// The fetch itself; the caller holds `fetching`.
    async fn fetch_now(
        &self,
        provider: &Provider,
        client: &reqwest::Client,
        settings: &KeySettings,
        log: &Logger,
    ) {
        let jwks_url = {
            let mut state = self.state();
            state.last_fetch = Some(Instant::now());
            provider.jwks_url.clone().or_else(|| state.jwks_url.clone())
        };
        let fetched = fetch(provider, jwks_url, client).await;
        let mut state = self.state();
        state.last_done = Some(Instant::now());
        match fetched {
            Ok(fetched) => {
                let ttl = fetched
                    .max_age
                    .unwrap_or(settings.default_ttl)
                    .clamp(settings.min_ttl, settings.max_ttl);
                if state.last_error.is_some() || state.fresh_until.is_none() {
                    info!(log, "identity provider keys fetched";
                        "provider" => &provider.name, "keys" => fetched.keys.len(),
                        "fresh_for_secs" => ttl.as_secs());
                }
                state.keys = fetched.keys;
                state.fresh_until = Some(Instant::now() + ttl);
                state.jwks_url = fetched.discovered;
                state.last_error = None;
            }
            Err(e) => {
                if state.last_error.is_none() {
                    warn!(log, "identity provider keys cannot be fetched; logins with its \
                                cached keys go on, others get Unavailable";
                        "provider" => &provider.name, "error" => &e,
                        "cached_keys" => state.keys.len());
                }
                // The discovered URL may have moved: look it up again next time.
                state.jwks_url = None;
                state.last_error = Some(e);
            }
        }
    }
}

/// What one fetch brought.
struct Fetched {
    keys: HashMap<String, SigningKey>,
    max_age: Option<Duration>,
    /// The JWKS URL found through discovery, to reuse.
    discovered: Option<String>,
}

/// The JWKS URL from the provider's discovery document.
async fn discover(provider: &Provider, client: &reqwest::Client) -> Result<String, String> {
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
        return Err(format!(
            "the discovery document names issuer {:?} but the master's oidc_providers entry \
             says {:?}: the configuration must use the provider's exact issuer",
            discovery.issuer, provider.issuer
        ));
    }
    if !is_secure_url(&discovery.jwks_uri) {
        return Err(unavailable(
            "discovery document",
            "jwks_uri is not https:// (nor http:// to a loopback address)",
        ));
    }
    Ok(discovery.jwks_uri)
}

/// The provider's signature keys by `kid` (from `jwks_url`, or the one its discovery names).
async fn fetch(
    provider: &Provider,
    jwks_url: Option<String>,
    client: &reqwest::Client,
) -> Result<Fetched, String> {
    let (url, discovered) = match jwks_url {
        Some(url) => (url.clone(), provider.jwks_url.is_none().then_some(url)),
        None => {
            let url = discover(provider, client).await?;
            (url.clone(), Some(url))
        }
    };
    let response = client
        .get(&url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| unavailable("JWKS", e))?;
    let max_age = response
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
    Ok(Fetched {
        keys,
        max_age,
        discovered,
    })
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

    fn provider_at(jwks_url: &str) -> Provider {
        Provider::from_config(&super::super::provider::ProviderConfig {
            name: "p".into(),
            issuer: "http://127.0.0.1:1".into(),
            audiences: vec!["a".into()],
            jwks_url: Some(jwks_url.into()),
            discovery_url: None,
            algorithms: vec!["RS256".into()],
        })
        .unwrap()
    }

    #[tokio::test]
    async fn expired_keys_keep_working_while_the_provider_is_unreachable() {
        let cache = KeyCache::default();
        {
            let mut state = cache.state();
            let key = DecodingKey::from_rsa_components("AQAB", "AQAB").unwrap();
            state
                .keys
                .insert("k1".into(), SigningKey { key, alg: None });
            // Expired a minute ago: a fetch is due.
            state.fresh_until = Instant::now().checked_sub(Duration::from_secs(60));
        }
        // Nothing listens on port 1: the fetch fails at once.
        let provider = provider_at("http://127.0.0.1:1/jwks");
        let client = reqwest::Client::new();
        let settings = KeySettings::default();
        let log = Logger::root(slog::Discard, slog::o!());
        assert!(cache
            .key_for(&provider, Some("k1"), &client, &settings, &log)
            .await
            .is_ok());
        // A key that was never cached: the outage is the reason, not the key.
        assert!(matches!(
            cache
                .key_for(&provider, Some("k2"), &client, &settings, &log)
                .await,
            Err(TokenError::KeysUnavailable(_))
        ));
    }

    #[test]
    fn symmetric_keys_in_a_jwks_are_never_used() {
        let oct: Jwk =
            serde_json::from_value(serde_json::json!({"kty": "oct", "kid": "k", "k": "c2VjcmV0"}))
                .unwrap();
        assert!(usable(oct).is_none());
    }
}
