//! TLS (rustls) on a server's port (clients, and workers on the master's port); the client side
//! (also a worker's link to the master) is `papertrader_client::tls`.
//!
//! A TLS port takes TLS first, then the same frames as a plain one. A peer that sends a plain
//! frame to a TLS port (first byte `0x01`, the protocol version, where TLS starts with `0x16`)
//! gets a plain `error` frame (Malformed, "this port requires TLS …") and is closed, so a
//! client that forgot TLS learns why. Certificates and keys are PEM files; see [`certs`] for
//! making a local CA and server certificates.

pub mod certs;

use std::path::Path;
use std::sync::Arc;
use tokio::time::Instant;

use papertrader_client::tls::{provider, read_certs, TlsError};
pub use papertrader_client::tls::{Duplex, PeerStream};
use papertrader_protocol::{Failure, Message, ReasonCode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::listener::write_and_close;

/// The server side: this port requires TLS with this certificate.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

/// What became of a peer on a TLS port.
pub enum Accepted {
    /// The handshake completed.
    Tls(PeerStream),
    /// Nothing usable: the handshake failed, timed out, or the peer spoke plain protocol (it
    /// was told, then closed).
    Refused,
}

/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

impl ServerTls {
    /// Loads the certificate chain (leaf first) and its private key, both PEM.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, TlsError> {
        let certs = read_certs(cert_file)?;
        let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| TlsError::File {
            path: key_file.display().to_string(),
            why: e.to_string(),
        })?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The TLS of a server configured with `cert_file` and `key_file`; `None` when neither is
    /// set (a plain port). Configurations validate that they come together.
    pub fn from_files(
        cert_file: Option<&Path>,
        key_file: Option<&Path>,
    ) -> Result<Option<Self>, TlsError> {
        match (cert_file, key_file) {
            (Some(cert), Some(key)) => Self::load(cert, key).map(Some),
            _ => Ok(None),
        }
    }

    /// Completes the handshake by `deadline` (the connection's first-frame deadline, which
    /// the first frame then shares). A peer whose first byte is not a TLS handshake is told (a
    /// plain `error` frame) and closed.
    pub async fn accept(&self, stream: TcpStream, deadline: Instant) -> Accepted {
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first)).await;
        match peeked {
            Ok(Ok(1)) if first[0] == TLS_HANDSHAKE => {}
            Ok(Ok(1)) => {
                let told = Message::Error(Failure::new(
                    ReasonCode::Malformed,
                    "this port requires TLS: connect with TLS (a tls:// address, and the \
                     deployment's CA certificate)",
                ));
                write_and_close(stream, &told).await;
                return Accepted::Refused;
            }
            _ => return Accepted::Refused,
        }
        match tokio::time::timeout_at(deadline, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Accepted::Tls(Box::new(tls)),
            _ => Accepted::Refused,
        }
    }
}
