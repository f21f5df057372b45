//! A local certificate authority and the server certificates it signs (rcgen), as PEM files:
//! what `papertrader certs` and `papertrader up --tls` make.
//!
//! - `ca.pem` / `ca.key.pem`: the CA (10 years). Clients trust `ca.pem`; the key stays with
//!   whoever issues certificates.
//! - `NAME.pem` / `NAME.key.pem`: a server certificate for the given DNS names and IP addresses
//!   (1 year), signed by the CA.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

/// Why certificates could not be made.
#[derive(Debug, Error)]
pub enum CertError {
    /// rcgen failed.
    #[error("making a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A name is neither an IP address nor a valid DNS name.
    #[error("{0:?} is not a host name or IP address")]
    BadName(String),
}

/// A CA able to sign server certificates.
pub struct Authority {
    params: CertificateParams,
    key: KeyPair,
    /// Its certificate, PEM.
    pub cert_pem: String,
}

/// Writes `text` to `path`; a private key is created with mode 0600 from the start (never
/// readable by others, not even briefly).
fn write(path: &Path, text: &str, private: bool) -> Result<(), CertError> {
    use std::io::Write;
    let io = |e| CertError::Io(path.to_owned(), e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path).map_err(io)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        // An existing file keeps its mode on open: set it before writing the key.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    file.write_all(text.as_bytes()).map_err(io)
}

impl Authority {
    /// The CA in `dir` (`ca.pem`, `ca.key.pem`), made there if it is not.
    pub fn load_or_create(dir: &Path) -> Result<Self, CertError> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key.pem"));
        let params = ca_params()?;
        if cert_path.exists() != key_path.exists() {
            return Err(CertError::Io(
                dir.to_owned(),
                std::io::Error::other(
                    "holds ca.pem or ca.key.pem but not both: restore the missing one, or move \
                     both away to make a new CA (clients then need the new ca.pem)",
                ),
            ));
        }
        if cert_path.exists() {
            let io = |p: &Path| {
                let p = p.to_owned();
                move |e| CertError::Io(p, e)
            };
            let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
            let key = KeyPair::from_pem(&key_pem)?;
            return Ok(Self {
                params,
                key,
                cert_pem,
            });
        }
        let key = KeyPair::generate()?;
        let cert_pem = params.self_signed(&key)?.pem();
        write(&key_path, &key.serialize_pem(), true)?;
        write(&cert_path, &cert_pem, false)?;
        Ok(Self {
            params,
            key,
            cert_pem,
        })
    }

    /// Issues `dir/NAME.pem` and `dir/NAME.key.pem` for `hosts` (DNS names or IP addresses),
    /// valid from `not_before` for `days`. Returns the two paths.
    pub fn issue(
        &self,
        dir: &Path,
        name: &str,
        hosts: &[String],
        not_before: OffsetDateTime,
        days: i64,
    ) -> Result<(PathBuf, PathBuf), CertError> {
        if name == "ca" {
            return Err(CertError::BadName(
                "ca (the CA's own files are named so)".into(),
            ));
        }
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("PaperTrader {name}"));
        params.distinguished_name = dn;
        params.subject_alt_names = hosts
            .iter()
            .map(|h| match h.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => h
                    .clone()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|_| CertError::BadName(h.clone())),
            })
            .collect::<Result<_, _>>()?;
        params.not_before = not_before;
        params.not_after = not_before + Duration::days(days);
        // ECDSA keys sign; they never encipher.
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        let (cert_path, key_path) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key.pem")),
        );
        write(&key_path, &key.serialize_pem(), true)?;
        write(&cert_path, &cert.pem(), false)?;
        Ok((cert_path, key_path))
    }
}

fn ca_params() -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "PaperTrader local CA");
    params.distinguished_name = dn;
    // It signs server certificates only, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(3650);
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_from_the_start_and_the_ca_files_go_together() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::load_or_create(dir.path()).unwrap();
        let hosts = ["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (cert, key) = ca
            .issue(dir.path(), "server", &hosts, OffsetDateTime::now_utc(), 1)
            .unwrap();
        assert!(std::fs::read_to_string(cert)
            .unwrap()
            .contains("BEGIN CERTIFICATE"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for file in [key, dir.path().join("ca.key.pem")] {
                let mode = std::fs::metadata(&file).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", file.display());
            }
        }
        // The same CA is loaded again, and cannot be overwritten through `issue`.
        let again = Authority::load_or_create(dir.path()).unwrap();
        assert_eq!(again.cert_pem, ca.cert_pem);
        assert!(matches!(
            again.issue(dir.path(), "ca", &hosts, OffsetDateTime::now_utc(), 1),
            Err(CertError::BadName(_))
        ));
        // A CA certificate without its key is an error, not a silent new CA.
        std::fs::remove_file(dir.path().join("ca.key.pem")).unwrap();
        assert!(Authority::load_or_create(dir.path()).is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
            ca.cert_pem
        );
    }
}
