//! TLS material for the TLS scenarios: a CA and a leaf for localhost,
//! written as PEM files for the servers, and a client connector trusting
//! the CA.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_rustls::rustls::{self, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::Result;

/// A CA and a leaf for localhost / 127.0.0.1, as PEM files in a tempdir.
pub(crate) struct TlsMaterial {
    _dir: tempfile::TempDir,
    /// The leaf's certificate (PEM).
    pub(crate) cert: PathBuf,
    /// The leaf's key (PEM).
    pub(crate) key: PathBuf,
    /// A client trusting the CA.
    pub(crate) connector: TlsConnector,
}

/// Makes the CA, the leaf and the connector.
pub(crate) fn tls_material() -> Result<TlsMaterial> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ld-tower bench CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let leaf_key = KeyPair::generate()?;
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsMaterial {
        _dir: dir,
        cert,
        key,
        connector: TlsConnector::from(Arc::new(config)),
    })
}
