//! [`TlsAcceptor`]: a TLS 1.2/1.3 server session (tokio-rustls, with
//! [`crate::tls`]'s provider and session resumption).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

use super::Acceptor;

/// Serves TLS 1.2 and 1.3 with one certificate chain and key.
#[derive(Clone)]
pub struct TlsAcceptor {
    /// The rustls acceptor, sharing one server configuration.
    inner: tokio_rustls::TlsAcceptor,
}

/// Why a TLS configuration could not be built. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The certificate file is unreadable or holds no PEM certificate.
    #[error("cannot read a PEM certificate chain from {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file is unreadable or holds no PEM private key.
    #[error("cannot read a PEM private key from {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the pair (for instance the key does not match the certificate).
    #[error("the certificate and key cannot be used together: {0}")]
    Mismatch(String),
    /// The session ticket keys could not be made (no system randomness).
    #[error("cannot make session ticket keys: {0}")]
    Resumption(String),
}

impl TlsAcceptor {
    /// Loads a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsSetupError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TlsSetupError::Certificate {
                path: cert.to_owned(),
                reason: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsSetupError::Certificate {
                path: cert.to_owned(),
                reason: "no CERTIFICATE block found".into(),
            });
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsSetupError::Key {
            path: key.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_der(chain, key_der)
    }

    /// Builds the acceptor from DER certificates and key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsSetupError> {
        let mut config = ServerConfig::builder_with_provider(crate::tls::provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsSetupError::Mismatch(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsSetupError::Mismatch(e.to_string()))?;
        crate::tls::configure_server(&mut config)
            .map_err(|e| TlsSetupError::Resumption(e.to_string()))?;
        Ok(TlsAcceptor {
            inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

impl Acceptor for TlsAcceptor {
    type Io = TlsStream<TcpStream>;

    async fn accept(&self, tcp: TcpStream) -> io::Result<Self::Io> {
        self.inner.accept(tcp).await
    }
}
