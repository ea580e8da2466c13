//! HTTPS: a rustls server configuration whose certificate SIGHUP can replace while the
//! listener keeps running (new handshakes get the new certificate).

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsFiles;

/// The PEM texts of a certificate chain and its private key.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Pem {
    pub certificate: String,
    pub private_key: String,
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pem { .. }")
    }
}

/// Why a certificate or key cannot be read, parsed or made; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: cannot read the {what}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{path}: not a PEM certificate: {reason}")]
    NotCertificate { path: String, reason: String },
    #[error("{0}: holds no PEM certificate")]
    NoCertificate(String),
    #[error("{path}: not a PEM private key: {reason}")]
    NotPrivateKey { path: String, reason: String },
    #[error("{path}: unsupported private key: {reason}")]
    UnsupportedKey { path: String, reason: String },
    #[error("{certificate} and {key} do not belong together: {reason}")]
    Mismatch {
        certificate: String,
        key: String,
        reason: String,
    },
    #[error("TLS setup failed: {0}")]
    Setup(rustls::Error),
    #[error("a certificate needs a host name or an IP address")]
    NoName,
    #[error("cannot make a self-signed certificate: {0}")]
    SelfSigned(rcgen::Error),
    #[error("cannot read the date {0:?}")]
    Date(String),
}

/// For the callers that still report startup errors as text.
impl From<TlsError> for String {
    fn from(e: TlsError) -> String {
        e.to_string()
    }
}

/// Reads the two files (as whoever may: a worker that dropped privileges gets the text from
/// its supervisor instead).
pub fn read(files: &TlsFiles) -> Result<Pem, TlsError> {
    let read = |path: &std::path::Path, what: &'static str| {
        std::fs::read_to_string(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            what,
            source,
        })
    };
    Ok(Pem {
        certificate: read(&files.certificate, "certificate")?,
        private_key: read(&files.private_key, "private key")?,
    })
}

/// Parses and checks a certificate chain and its private key.
pub fn parse(files: &TlsFiles, pem: &Pem) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_path = files.certificate.display().to_string();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pem.certificate.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::NotCertificate {
                path: cert_path.clone(),
                reason: e.to_string(),
            })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path));
    }
    let key_path = files.private_key.display().to_string();
    let key = PrivateKeyDer::from_pem_slice(pem.private_key.as_bytes()).map_err(|e| {
        TlsError::NotPrivateKey {
            path: key_path.clone(),
            reason: e.to_string(),
        }
    })?;
    let signing_key =
        provider::sign::any_supported_type(&key).map_err(|e| TlsError::UnsupportedKey {
            path: key_path.clone(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(certs, signing_key);
    certified.keys_match().map_err(|e| TlsError::Mismatch {
        certificate: cert_path,
        key: key_path,
        reason: e.to_string(),
    })?;
    Ok(Arc::new(certified))
}

/// Reads and checks a certificate chain and its private key.
pub fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    parse(files, &read(files)?)
}

/// Serves whichever certificate was loaded last.
pub struct Reloadable {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for Reloadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reloadable certificate")
    }
}

impl Reloadable {
    pub fn new(key: Arc<CertifiedKey>) -> Arc<Reloadable> {
        Arc::new(Reloadable {
            current: RwLock::new(key),
        })
    }

    pub fn replace(&self, key: Arc<CertifiedKey>) {
        if let Ok(mut current) = self.current.write() {
            *current = key;
        }
    }
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|k| k.clone())
    }
}

pub fn server_config(certs: Arc<Reloadable>) -> Result<rustls::ServerConfig, TlsError> {
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Setup)?
            .with_no_client_auth()
            .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// How long a generated certificate is valid: 825 days, the most Apple's TLS clients accept
/// for a server certificate.
const SELF_SIGNED_DAYS: u32 = 825;

/// A self-signed certificate and its new private key (ECDSA P-256) for `names`: host names
/// (`*.host` included) and IP addresses, the first also the subject's common name.
pub fn self_signed(names: &[String]) -> Result<Pem, TlsError> {
    let first = names.first().ok_or(TlsError::NoName)?;
    let fail = TlsError::SelfSigned;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(fail)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, first.as_str());
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "LibreS3 self-signed");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    // From yesterday, so that a client whose clock is a little behind accepts it at once.
    let now = std::time::SystemTime::now();
    let day = std::time::Duration::from_secs(86_400);
    let (y, m, d) = calendar_day(now - day)?;
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = calendar_day(now + day * SELF_SIGNED_DAYS)?;
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let certificate = params.self_signed(&key).map_err(fail)?;
    Ok(Pem {
        certificate: certificate.pem(),
        private_key: key.serialize_pem(),
    })
}

/// The (UTC) calendar day `t` falls in: year, month, day.
fn calendar_day(t: std::time::SystemTime) -> Result<(i32, u8, u8), TlsError> {
    // "2026-11-22T04:17:43.000Z"
    let stamp = crate::time::iso8601(t);
    let field =
        |range: std::ops::Range<usize>| stamp.get(range).and_then(|d| d.parse::<i32>().ok());
    let small = |n: Option<i32>| n.and_then(|n| u8::try_from(n).ok());
    match (field(0..4), small(field(5..7)), small(field(8..10))) {
        (Some(year), Some(month), Some(day)) => Ok((year, month, day)),
        _ => Err(TlsError::Date(stamp)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_loads_with_its_key() {
        let names = vec![
            "s3.example.com".to_string(),
            "*.s3.example.com".to_string(),
            "192.0.2.7".to_string(),
        ];
        let pem = self_signed(&names).unwrap();
        assert!(pem.certificate.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pem.private_key.contains("PRIVATE KEY-----"));
        let files = TlsFiles {
            certificate: "cert.pem".into(),
            private_key: "key.pem".into(),
        };
        let key = parse(&files, &pem).unwrap();
        assert_eq!(key.cert.len(), 1);
        // Another call, another key.
        assert_ne!(self_signed(&names).unwrap().private_key, pem.private_key);
        assert!(self_signed(&[]).is_err());
        assert_eq!(
            calendar_day(std::time::SystemTime::UNIX_EPOCH).ok(),
            Some((1970, 1, 1))
        );
    }
}
