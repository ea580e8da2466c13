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

/// Reads the two files (as whoever may: a worker that dropped privileges gets the text from
/// its supervisor instead).
pub fn read(files: &TlsFiles) -> Result<Pem, String> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read the {what}: {e}", path.display()))
    };
    Ok(Pem {
        certificate: read(&files.certificate, "certificate")?,
        private_key: read(&files.private_key, "private key")?,
    })
}

/// Parses and checks a certificate chain and its private key.
pub fn parse(files: &TlsFiles, pem: &Pem) -> Result<Arc<CertifiedKey>, String> {
    let cert_path = files.certificate.display();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pem.certificate.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{cert_path}: not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{cert_path}: holds no PEM certificate"));
    }
    let key_path = files.private_key.display();
    let key = PrivateKeyDer::from_pem_slice(pem.private_key.as_bytes())
        .map_err(|e| format!("{key_path}: not a PEM private key: {e}"))?;
    let signing_key = provider::sign::any_supported_type(&key)
        .map_err(|e| format!("{key_path}: unsupported private key: {e}"))?;
    let certified = CertifiedKey::new(certs, signing_key);
    certified
        .keys_match()
        .map_err(|e| format!("{cert_path} and {key_path} do not belong together: {e}"))?;
    Ok(Arc::new(certified))
}

/// Reads and checks a certificate chain and its private key.
pub fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, String> {
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

pub fn server_config(certs: Arc<Reloadable>) -> Result<rustls::ServerConfig, String> {
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
