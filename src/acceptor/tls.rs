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

use super::{Acceptor, ClientCerts};
use ld_tower_layers::Principal;

/// Serves TLS 1.2 and 1.3 with one certificate chain and key; with
/// [`ClientCerts`], requires and verifies client certificates (mutual TLS).
#[derive(Clone)]
pub struct TlsAcceptor {
    /// The rustls acceptor, sharing one server configuration.
    inner: tokio_rustls::TlsAcceptor,
    /// Mutual TLS: what client certificates must be, and who they are.
    clients: Option<ClientCerts>,
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
        Self::from_pem_files_with_clients(cert, key, None)
    }

    /// Loads a PEM certificate chain and a PEM private key; with `clients`,
    /// every client must present a certificate they accept.
    pub fn from_pem_files_with_clients(
        cert: &Path,
        key: &Path,
        clients: Option<ClientCerts>,
    ) -> Result<Self, TlsSetupError> {
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
        Self::from_der_with_clients(chain, key_der, clients)
    }

    /// Builds the acceptor from DER certificates and key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsSetupError> {
        Self::from_der_with_clients(chain, key, None)
    }

    /// Builds the acceptor from DER certificates and key; with `clients`,
    /// every client must present a certificate they accept.
    pub fn from_der_with_clients(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        clients: Option<ClientCerts>,
    ) -> Result<Self, TlsSetupError> {
        let provider = crate::tls::provider();
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsSetupError::Mismatch(e.to_string()))?;
        let builder = match &clients {
            Some(clients) => builder.with_client_cert_verifier(clients.verifier(provider)?),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsSetupError::Mismatch(e.to_string()))?;
        crate::tls::configure_server(&mut config)
            .map_err(|e| TlsSetupError::Resumption(e.to_string()))?;
        Ok(TlsAcceptor {
            inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            clients,
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

    fn verifies_clients(&self) -> bool {
        self.clients.is_some()
    }

    /// rustls verified the chain and validity; the names are checked here,
    /// once, and give the principal.
    fn identify(&self, io: &Self::Io) -> io::Result<Option<Principal>> {
        let Some(clients) = &self.clients else {
            return Ok(None);
        };
        let cert = io.get_ref().1.peer_certificates().and_then(|c| c.first());
        let cert = cert.ok_or_else(|| {
            io::Error::new(io::ErrorKind::PermissionDenied, "no client certificate")
        })?;
        clients.admit(cert)
    }
}
