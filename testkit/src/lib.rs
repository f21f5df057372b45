//! Fixtures shared by PaperTrader's test suites.
//!
//! [`oidc::TestProvider`] is a local OpenID Connect provider: an HTTP server serving a
//! discovery document and a JWKS, with keys generated at test time, and tokens signed by them.
//! [`ops`] asks a server's ops endpoint.

pub mod oidc;
pub mod ops;
