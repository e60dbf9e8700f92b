//! [`ClientCerts`]: mutual TLS. Which client certificates the TLS acceptor
//! requires (signed by `--tls-client-ca`, valid now, optionally naming one
//! of `--tls-client-san`), and which principal each proves.

use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use ld_tower_layers::Principal;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{crypto::CryptoProvider, RootCertStore};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::TlsSetupError;
use crate::auth::Principals;

/// What a TLS server asks of its clients' certificates.
#[derive(Clone, Debug)]
pub struct ClientCerts {
    roots: Arc<RootCertStore>,
    /// Names of which a certificate must carry one (lower case); empty: any.
    allowed: Vec<String>,
    principals: Principals,
}

impl ClientCerts {
    /// Requires certificates issued by the CAs of the PEM file `ca`; with
    /// `allowed` names, one of them among a certificate's subject
    /// alternative names (DNS names, IP addresses, e-mail addresses, URIs,
    /// matched without regard to case); each certificate's principal is
    /// found in `principals`.
    pub fn from_ca_file(
        ca: &Path,
        allowed: &[String],
        principals: Principals,
    ) -> Result<ClientCerts, TlsSetupError> {
        let unreadable = |reason: String| TlsSetupError::Certificate {
            path: ca.to_owned(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(ca)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| unreadable(e.to_string()))?;
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| unreadable(format!("not a usable CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(unreadable("no CERTIFICATE block found".into()));
        }
        Ok(ClientCerts {
            roots: Arc::new(roots),
            allowed: allowed
                .iter()
                .map(|name| name.to_ascii_lowercase())
                .collect(),
            principals,
        })
    }

    /// The rustls verifier: a certificate is required, chained to the CAs
    /// and valid now.
    pub(super) fn verifier(
        &self,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ClientCertVerifier>, TlsSetupError> {
        WebPkiClientVerifier::builder_with_provider(Arc::clone(&self.roots), provider)
            .build()
            .map_err(|e| TlsSetupError::Mismatch(e.to_string()))
    }

    /// Checks a verified certificate's names against the allowed ones and
    /// finds its principal.
    pub(super) fn admit(&self, cert: &CertificateDer<'_>) -> io::Result<Option<Principal>> {
        let names = names(cert);
        if !self.allowed.is_empty()
            && !names
                .iter()
                .any(|name| self.allowed.contains(&name.to_ascii_lowercase()))
        {
            let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "client certificate names {shown:?}, none of them allowed by --tls-client-san"
                ),
            ));
        }
        Ok(self.principals.for_certificate(&names))
    }
}

/// A certificate's subject alternative names: DNS names, IP addresses,
/// e-mail addresses and URIs, as text.
fn names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, parsed)) = X509Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::RFC822Name(mail) => Some((*mail).to_owned()),
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
