//! TLS for the SX client: the system roots, a cluster CA pinned with `sx_ca_file`, or no
//! verification at all with `sx_verify_ssl = no`.

use std::sync::Arc;

use super::config::SxConfig;

/// Why the client's TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("TLS: {0}")]
    Tls(rustls::Error),
    #[error("TLS: {0}")]
    Verifier(rustls::client::VerifierBuilderError),
    #[error("sx_ca_file {}: {source}", .path.display())]
    CaFile {
        path: std::path::PathBuf,
        source: CaFileError,
    },
    #[error("sx_ca_file {}: no PEM certificate", .0.display())]
    NoCertificate(std::path::PathBuf),
}

/// What was wrong with the `sx_ca_file`.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("{0}")]
    Read(std::io::Error),
    #[error("{0}")]
    Certificate(rustls::Error),
}

pub(super) fn tls_config(cfg: &SxConfig) -> Result<Arc<rustls::ClientConfig>, SettingsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(SettingsError::Tls)?;
    let mut config = if cfg.verify_ssl {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut pinned = Vec::new();
        if let Some(path) = &cfg.ca_file {
            let bad_file = |source| SettingsError::CaFile {
                path: path.clone(),
                source,
            };
            let pem = std::fs::read(path).map_err(|e| bad_file(CaFileError::Read(e)))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| bad_file(CaFileError::Read(e)))?;
                roots
                    .add(cert.clone())
                    .map_err(|e| bad_file(CaFileError::Certificate(e)))?;
                pinned.push(cert);
            }
            if pinned.is_empty() {
                return Err(SettingsError::NoCertificate(path.clone()));
            }
        }
        if cfg.ca_file.is_some() {
            // A cluster CA (sxsetup makes one per cluster) pins the trust; nodes are reached
            // by IP address, which its certificates rarely name. Like libsxclient, the chain
            // is verified and the name is not.
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(SettingsError::Verifier)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ClusterCa { inner, pinned }))
                .with_no_client_auth()
        } else {
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    } else {
        log::warn!("sx_verify_ssl = no: the SX cluster's TLS certificate is NOT verified");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `sx_ca_file`: the node presents one of the file's certificates itself, or a chain leading
/// to one of them; the node's name is not checked.
///
/// `sxsetup` gives a new cluster one self-signed certificate (`basicConstraints=critical,
/// CA:true`, CN = the cluster name) that every node presents as its own, and SX's clients
/// trust it as the cluster's anchor. WebPKI refuses a CA certificate as a server's
/// (`CaUsedAsEndEntity`), so a node presenting exactly a configured certificate is accepted
/// here: the handshake's signature, which rustls still checks against that certificate's
/// key, proves the node holds its private key. Any other certificate goes through the
/// chain check.
#[derive(Debug)]
struct ClusterCa {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for ClusterCa {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        if self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(NotValidForName))
            | Err(rustls::Error::InvalidCertificate(NotValidForNameContext { .. })) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `sx_verify_ssl = no`: accept any certificate (signatures are still checked).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::store::sx) fn cfg(pairs: &[(&str, &str)]) -> SxConfig {
        let mut all = vec![
            ("sx_host".to_owned(), "10.0.0.1".to_owned()),
            (
                "secret_key".to_owned(),
                "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA".to_owned(),
            ),
        ];
        all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        SxConfig::from_pairs(&all).unwrap()
    }

    #[test]
    fn tls_settings() {
        assert!(tls_config(&cfg(&[])).is_ok());
        assert!(tls_config(&cfg(&[("sx_verify_ssl", "no")])).is_ok());
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/sx/testdata/ca.pem");
        assert!(tls_config(&cfg(&[("sx_ca_file", ca)])).is_ok());
        let e = tls_config(&cfg(&[("sx_ca_file", file!())]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("sx_ca_file"), "{e}");
        let e = tls_config(&cfg(&[("sx_ca_file", "/nonexistent/ca.pem")]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("sx_ca_file /nonexistent/ca.pem"), "{e}");
    }
}
