//! TLS (rustls) on the client side of a link: a client to a worker or the master, and a worker
//! to the master. Addresses written `tls://host:port` ask for it; the server's certificate must
//! be signed by the CA given ([`ClientTls::load`]). Failures are explained in words
//! ([`explain`]): wrong CA, expired certificate, a plain port.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A byte stream a connection may run over: plain TCP or TLS over TCP.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Duplex for T {}

/// A connection's stream, whichever it is.
pub type PeerStream = Box<dyn Duplex>;

/// How long a client (or a worker's link) waits for a server's TLS handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why TLS could not be set up from files.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: String,
        /// What was wrong.
        why: String,
    },
    /// rustls refused the certificate or key.
    #[error("TLS settings: {0}")]
    Config(#[from] rustls::Error),
}

pub(crate) fn file_error(path: &Path, why: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

/// The crypto provider: ring, as reqwest's rustls uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The PEM certificates in `path` (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// The client side: servers must present a certificate signed by this CA.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    ca: String,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientTls({})", self.ca)
    }
}

impl ClientTls {
    /// Trusts the CA certificate(s) in `ca_file` (PEM), and nothing else.
    pub fn load(ca_file: &Path) -> Result<Self, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certs(ca_file)? {
            roots.add(cert).map_err(|e| file_error(ca_file, e))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            ca: ca_file.display().to_string(),
        })
    }

    /// TLS over `stream` to the server named `host` (a DNS name or an IP address, as in its
    /// certificate), the handshake within [`HANDSHAKE_TIMEOUT`]. Errors say in words what went
    /// wrong (see [`explain`]).
    pub async fn connect(&self, host: &str, stream: TcpStream) -> io::Result<PeerStream> {
        let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
            .map_err(|_| io::Error::other(format!("{host} is not a valid TLS server name")))?;
        let handshake = self.connector.connect(name, stream);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(tls)) => Ok(Box::new(tls)),
            Ok(Err(e)) => Err(io::Error::new(e.kind(), explain(&e, host, &self.ca))),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the TLS handshake with {host} took more than {HANDSHAKE_TIMEOUT:?}"),
            )),
        }
    }
}

/// A TLS failure in words a user can act on.
pub fn explain(error: &io::Error, host: &str, ca: &str) -> String {
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            use rustls::CertificateError as C;
            match cert {
                C::UnknownIssuer | C::BadSignature => format!(
                    "the TLS certificate of {host} is not signed by the CA in {ca} (wrong CA file?)"
                ),
                C::Expired | C::ExpiredContext { .. } => {
                    format!("the TLS certificate of {host} has expired")
                }
                C::NotValidYet | C::NotValidYetContext { .. } => {
                    format!("the TLS certificate of {host} is not valid yet")
                }
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    format!("the TLS certificate of {host} is not made out for that name")
                }
                other => format!("the TLS certificate of {host} was refused: {other:?}"),
            }
        }
        Some(rustls::Error::InvalidMessage(_)) => format!(
            "{host} did not answer with TLS: is this port plain (no tls:// in its address)?"
        ),
        Some(other) => format!("TLS with {host} failed: {other}"),
        None if error.kind() == io::ErrorKind::UnexpectedEof => {
            format!("{host} closed the connection during the TLS handshake: is this port plain?")
        }
        None => format!("TLS with {host} failed: {error}"),
    }
}

/// The `host:port` of an address written `host:port` or `tls://host:port`, and whether it
/// asks for TLS.
pub fn parse_address(address: &str) -> (&str, bool) {
    match address.strip_prefix("tls://") {
        Some(rest) => (rest, true),
        None => (address, false),
    }
}

/// The host part of `host:port` (`[::1]:2049` → `::1`).
pub fn host_of(address: &str) -> &str {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => address,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}
