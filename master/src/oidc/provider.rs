//! Identity providers as configured: who issues the tokens, for which client ids, where their
//! keys are, which algorithms they may sign with.

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One OpenID Connect provider in the master's configuration (`[[oidc_providers]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The name clients use (`google`): 1–32 characters of `a-z 0-9 _ -`.
    pub name: String,
    /// The exact `iss` of its tokens (`https://accounts.google.com`).
    pub issuer: String,
    /// Client ids the tokens must name in `aud` (at least one).
    pub audiences: Vec<String>,
    /// Where its keys are listed; default: the `jwks_uri` of its discovery document.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Its discovery document; default `<issuer>/.well-known/openid-configuration`.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// Signature algorithms accepted; default `["RS256", "ES256"]`. HMAC algorithms are
    /// refused (a provider's public key is no shared secret).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into()]
}

/// Why a provider's configuration was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProviderConfigError {
    /// The name breaks the naming rule.
    #[error("oidc provider name {0:?}: must be 1 to 32 characters of a-z 0-9 _ -")]
    Name(String),
    /// Two providers share a name or an issuer.
    #[error("oidc providers: {0:?} is configured twice")]
    Duplicate(String),
    /// No audience.
    #[error("oidc provider {0}: audiences must name at least one client id")]
    NoAudience(String),
    /// A URL that is neither HTTPS nor HTTP to a loopback address.
    #[error("oidc provider {name}: {url} must be https:// (http:// only to a loopback address)")]
    Insecure {
        /// Provider.
        name: String,
        /// The URL.
        url: String,
    },
    /// An algorithm that is unknown or not allowed.
    #[error(
        "oidc provider {name}: algorithm {alg:?} is not allowed (RS256, RS384, RS512, PS256, \
         PS384, PS512, ES256, ES384, EdDSA)"
    )]
    Algorithm {
        /// Provider.
        name: String,
        /// The algorithm.
        alg: String,
    },
}

/// A provider whose configuration passed [`Provider::from_config`].
#[derive(Debug, Clone)]
pub struct Provider {
    /// Name.
    pub name: String,
    /// `iss`.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    /// The JWKS URL, if configured.
    pub jwks_url: Option<String>,
    /// The discovery URL.
    pub discovery_url: String,
    /// Accepted algorithms.
    pub algorithms: Vec<Algorithm>,
}

/// Whether `url` may carry keys: HTTPS, or HTTP to a loopback host (tests, a local provider).
pub fn is_secure_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    match parsed.scheme() {
        "https" => true,
        "http" => match parsed.host_str() {
            Some("localhost") => true,
            Some(host) => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()),
            None => false,
        },
        _ => false,
    }
}

impl Provider {
    /// Checks a configured provider.
    pub fn from_config(config: &ProviderConfig) -> Result<Self, ProviderConfigError> {
        let name = config.name.clone();
        if papertrader_protocol::limits::check_provider(&name).is_err() {
            return Err(ProviderConfigError::Name(name));
        }
        if config.audiences.is_empty() {
            return Err(ProviderConfigError::NoAudience(name));
        }
        let issuer = config.issuer.trim_end_matches('/');
        let discovery_url = config
            .discovery_url
            .clone()
            .unwrap_or_else(|| format!("{issuer}/.well-known/openid-configuration"));
        for url in std::iter::once(&discovery_url).chain(config.jwks_url.iter()) {
            if !is_secure_url(url) {
                return Err(ProviderConfigError::Insecure {
                    name,
                    url: url.clone(),
                });
            }
        }
        let algorithms = config
            .algorithms
            .iter()
            .map(|alg| match alg.parse::<Algorithm>() {
                Ok(a) if !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) => {
                    Ok(a)
                }
                _ => Err(ProviderConfigError::Algorithm {
                    name: name.clone(),
                    alg: alg.clone(),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            name,
            issuer: config.issuer.clone(),
            audiences: config.audiences.clone(),
            jwks_url: config.jwks_url.clone(),
            discovery_url,
            algorithms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ProviderConfig {
        ProviderConfig {
            name: "google".into(),
            issuer: "https://accounts.google.com".into(),
            audiences: vec!["client".into()],
            jwks_url: None,
            discovery_url: None,
            algorithms: default_algorithms(),
        }
    }

    #[test]
    fn discovery_defaults_to_the_issuers_well_known_document() {
        let p = Provider::from_config(&config()).unwrap();
        assert_eq!(
            p.discovery_url,
            "https://accounts.google.com/.well-known/openid-configuration"
        );
        assert_eq!(p.algorithms, vec![Algorithm::RS256, Algorithm::ES256]);
    }

    #[test]
    fn hmac_plain_http_and_bad_names_are_refused() {
        let mut c = config();
        c.algorithms = vec!["HS256".into()];
        assert!(matches!(
            Provider::from_config(&c),
            Err(ProviderConfigError::Algorithm { .. })
        ));
        let mut c = config();
        c.jwks_url = Some("http://keys.example.com/jwks".into());
        assert!(matches!(
            Provider::from_config(&c),
            Err(ProviderConfigError::Insecure { .. })
        ));
        let mut c = config();
        c.jwks_url = Some("http://127.0.0.1:9/jwks".into());
        assert!(Provider::from_config(&c).is_ok());
        let mut c = config();
        c.name = "Google".into();
        assert!(matches!(
            Provider::from_config(&c),
            Err(ProviderConfigError::Name(_))
        ));
        let mut c = config();
        c.audiences.clear();
        assert!(matches!(
            Provider::from_config(&c),
            Err(ProviderConfigError::NoAudience(_))
        ));
    }
}
