//! A local OpenID Connect provider for tests.
//!
//! It serves `/.well-known/openid-configuration` and `/jwks` over HTTP on 127.0.0.1 (the
//! master accepts plain HTTP only to loopback addresses) and signs ID tokens with keys
//! generated once per test process: two RSA keys and two P-256 keys. Which keys the JWKS
//! publishes can change (rotation), and the provider can go down (503) and come back.

use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One of the test process's signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKey {
    /// RSA 2048, kid `rsa-1`: published from the start.
    Rsa1,
    /// RSA 2048, kid `rsa-2`: published after [`TestProvider::rotate`].
    Rsa2,
    /// P-256, kid `ec-1`: published from the start.
    Ec1,
    /// P-256, kid `ec-2`: never published (a stranger's key).
    Ec2,
}

impl TestKey {
    /// The key's `kid`.
    pub fn kid(self) -> &'static str {
        match self {
            TestKey::Rsa1 => "rsa-1",
            TestKey::Rsa2 => "rsa-2",
            TestKey::Ec1 => "ec-1",
            TestKey::Ec2 => "ec-2",
        }
    }

    /// Its algorithm.
    pub fn alg(self) -> Algorithm {
        match self {
            TestKey::Rsa1 | TestKey::Rsa2 => Algorithm::RS256,
            TestKey::Ec1 | TestKey::Ec2 => Algorithm::ES256,
        }
    }

    fn encoding(self) -> &'static EncodingKey {
        let keys = keys();
        match self {
            TestKey::Rsa1 => &keys[0],
            TestKey::Rsa2 => &keys[1],
            TestKey::Ec1 => &keys[2],
            TestKey::Ec2 => &keys[3],
        }
    }

    /// The public key as a JWK (with `kid`, `alg` and `use`).
    pub fn jwk(self) -> Value {
        let mut jwk = match Jwk::from_encoding_key(self.encoding(), self.alg()) {
            Ok(jwk) => serde_json::to_value(jwk).unwrap_or(Value::Null),
            Err(e) => panic!("test key {self:?} has no JWK: {e}"),
        };
        jwk["kid"] = json!(self.kid());
        jwk["use"] = json!("sig");
        jwk
    }

    /// The bytes of the public key as an attacker would find them (the RSA modulus), for the
    /// "HMAC signed with the public key" confusion.
    pub fn public_bytes(self) -> Vec<u8> {
        let jwk = self.jwk();
        let n = jwk["n"].as_str().or(jwk["x"].as_str()).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(n)
            .unwrap_or_default()
    }
}

/// The process's keys, generated on first use (RSA generation takes a moment).
fn keys() -> &'static [EncodingKey; 4] {
    static KEYS: OnceLock<[EncodingKey; 4]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::OsRng;
        let rsa = |rng: &mut rand::rngs::OsRng| {
            let key = rsa::RsaPrivateKey::new(rng, 2048).expect("RSA test key");
            let der = key.to_pkcs1_der().expect("RSA test key DER");
            EncodingKey::from_rsa_der(der.as_bytes())
        };
        let ec = |rng: &mut rand::rngs::OsRng| {
            use p256::pkcs8::EncodePrivateKey as _;
            let key = p256::SecretKey::random(rng);
            let der = key.to_pkcs8_der().expect("P-256 test key DER");
            EncodingKey::from_ec_der(der.as_bytes())
        };
        [rsa(&mut rng), rsa(&mut rng), ec(&mut rng), ec(&mut rng)]
    })
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A running local provider.
pub struct TestProvider {
    server: MockServer,
    published: Mutex<Vec<TestKey>>,
    /// The audience (client id) its tokens name by default.
    pub audience: String,
}

impl TestProvider {
    /// Starts a provider publishing `rsa-1` and `ec-1`.
    pub async fn start() -> Self {
        // Generate the keys off the async threads.
        tokio::task::spawn_blocking(keys)
            .await
            .expect("key generation");
        let provider = Self {
            server: MockServer::start().await,
            published: Mutex::new(vec![TestKey::Rsa1, TestKey::Ec1]),
            audience: "papertrader-test-client".into(),
        };
        provider.serve().await;
        provider
    }

    /// The issuer (`iss`): the server's base URL.
    pub fn issuer(&self) -> String {
        self.server.uri()
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.server.uri())
    }

    fn published(&self) -> Vec<TestKey> {
        self.published.lock().map(|p| p.clone()).unwrap_or_default()
    }

    async fn serve(&self) {
        self.server.reset().await;
        let discovery = json!({
            "issuer": self.issuer(),
            "jwks_uri": self.jwks_url(),
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        });
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(discovery))
            .mount(&self.server)
            .await;
        let keys: Vec<Value> = self.published().into_iter().map(TestKey::jwk).collect();
        let jwks = json!({ "keys": keys });
        // Make sure the JWKS parses as one.
        let _: JwkSet = serde_json::from_value(jwks.clone()).expect("test JWKS");
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("cache-control", "public, max-age=3600")
                    .set_body_json(jwks),
            )
            .mount(&self.server)
            .await;
    }

    /// Key rotation: `rsa-2` joins the JWKS and `rsa-1` leaves it.
    pub async fn rotate(&self) {
        if let Ok(mut published) = self.published.lock() {
            published.retain(|k| *k != TestKey::Rsa1);
            published.push(TestKey::Rsa2);
        }
        self.serve().await;
    }

    /// Every request answers 503 until [`TestProvider::come_back`].
    pub async fn go_down(&self) {
        self.server.reset().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(503))
            .mount(&self.server)
            .await;
    }

    /// Serves again after [`TestProvider::go_down`].
    pub async fn come_back(&self) {
        self.serve().await;
    }

    /// How many JWKS requests the provider has answered since it last changed.
    pub async fn jwks_requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/jwks")
            .count()
    }

    /// Valid claims for `subject`: issued now, valid for an hour, for the default audience,
    /// with a verified email `<subject>@example.com`.
    pub fn claims(&self, subject: &str) -> Value {
        let now = now_secs();
        json!({
            "iss": self.issuer(),
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + 3600,
            "email": format!("{subject}@example.com"),
            "email_verified": true,
        })
    }

    /// An ID token for `subject`, signed with `rsa-1`.
    pub fn token(&self, subject: &str) -> String {
        sign(TestKey::Rsa1, &self.claims(subject))
    }
}

/// `claims` signed with `key` (its `kid` and algorithm in the header).
pub fn sign(key: TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg());
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, claims, key.encoding()).expect("signing a test token")
}

/// `claims` as an unsigned token (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    let enc = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        enc(&json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"})),
        enc(claims)
    )
}

/// `claims` signed with HS256 using the public key of `key` as the secret (the algorithm
/// confusion attack on verifiers that take the key material at face value).
pub fn hmac_with_public_key(key: TestKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid().to_owned());
    let secret = EncodingKey::from_secret(&key.public_bytes());
    jsonwebtoken::encode(&header, claims, &secret).expect("signing a test token")
}

/// `token` with one byte of its signature changed.
pub fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap_or_default()
}
