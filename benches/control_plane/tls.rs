//! TLS material for the TLS scenarios: for each certificate kind, a CA and
//! a leaf for localhost written as PEM files for the servers, and the
//! client configuration trusting the CA; and the two kinds of handshake
//! the clients make (full, resumed).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::ValueEnum;
use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::rustls::{self, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::Result;

/// The server certificate's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum CertKind {
    /// RSA 2048-bit (RSA-PSS signatures in TLS 1.3): the common kind.
    Rsa2048,
    /// ECDSA on P-256.
    EcdsaP256,
}

impl CertKind {
    /// Its name in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CertKind::Rsa2048 => "RSA-2048",
            CertKind::EcdsaP256 => "ECDSA P-256",
        }
    }

    /// A new key of this kind.
    fn key(self) -> Result<rcgen::KeyPair> {
        let algorithm = match self {
            CertKind::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
            CertKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        };
        Ok(rcgen::KeyPair::generate_for(algorithm)?)
    }
}

/// How a client's TLS handshakes go, one command per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Handshake {
    /// No session remembered: every connection is a full handshake
    /// (certificate, its signature, key exchange).
    Full,
    /// Each client remembers the server's session tickets: its next
    /// connections resume (key exchange only, no certificate).
    Resumed,
}

impl Handshake {
    /// Its name in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Handshake::Full => "full",
            Handshake::Resumed => "resumed",
        }
    }
}

/// A TLS scenario: the server's certificate kind and the clients' handshakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TlsCase {
    /// The server certificate's key.
    pub(crate) cert: CertKind,
    /// Full or resumed handshakes.
    pub(crate) handshake: Handshake,
}

/// A CA and a leaf for localhost / 127.0.0.1, as PEM files in a tempdir.
pub(crate) struct TlsMaterial {
    _dir: tempfile::TempDir,
    /// The leaf's certificate (PEM).
    pub(crate) cert: PathBuf,
    /// The leaf's key (PEM).
    pub(crate) key: PathBuf,
    /// A client configuration trusting the CA, remembering no session.
    config: Arc<rustls::ClientConfig>,
}

impl TlsMaterial {
    /// A connector for one client: with `Full`, it remembers no session;
    /// with `Resumed`, it has a session store of its own (as a separate
    /// control tool would), kept across its connections.
    pub(crate) fn connector(&self, handshake: Handshake) -> TlsConnector {
        match handshake {
            Handshake::Full => TlsConnector::from(Arc::clone(&self.config)),
            Handshake::Resumed => {
                let mut config = (*self.config).clone();
                config.resumption = Resumption::in_memory_sessions(8);
                TlsConnector::from(Arc::new(config))
            }
        }
    }
}

/// Makes a CA and a leaf with keys of `kind`, and the client configuration.
pub(crate) fn tls_material(kind: CertKind) -> Result<TlsMaterial> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, SanType};
    let ca_key = kind.key()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ld-tower bench CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let leaf_key = kind.key()?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()])?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key)?;
    let dir = tempfile::tempdir()?;
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, leaf.pem())?;
    std::fs::write(&key, leaf_key.serialize_pem())?;

    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone())?;
    let mut config = rustls::ClientConfig::builder_with_provider(ld_tower::tls::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(TlsMaterial {
        _dir: dir,
        cert,
        key,
        config: Arc::new(config),
    })
}
