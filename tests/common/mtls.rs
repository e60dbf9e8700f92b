//! TLS material for mutual TLS: a CA made by rcgen, client certificates
//! (ECDSA and RSA; PKCS#8, SEC1 and PKCS#1 keys) in files as tasks name
//! them, and a server that requires a client certificate and records it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ld_tower::acceptor::Acceptor;
use ld_tower::paths::Paths;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// A certificate authority made by rcgen.
pub struct Ca {
    pub cert: rcgen::Certificate,
    pub key: rcgen::KeyPair,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        Ca {
            cert: params.self_signed(&key).unwrap(),
            key,
        }
    }

    /// A client certificate for `key`, signed by this CA.
    pub fn client(&self, name: &str, key: &rcgen::KeyPair) -> rcgen::Certificate {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.signed_by(key, &self.cert, &self.key).unwrap()
    }
}

/// A fixed test-only RSA key (PKCS#8), so the tests need not generate one.
pub const RSA_KEY: &str = include_str!("../fixtures/test-only-rsa-key.pem");

/// The private key inside a PKCS#8 key: PKCS#1 for RSA, SEC1 for EC
/// (`PrivateKeyInfo ::= SEQUENCE { version, algorithm, OCTET STRING key }`).
pub fn unwrap_pkcs8(der: &[u8]) -> Vec<u8> {
    /// One DER item: its tag, its contents, what follows it.
    fn item(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (der[0], der[1]);
        let (length, start) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7f) as usize;
            let length = der[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (length, 2 + n)
        };
        (tag, &der[start..start + length], &der[start + length..])
    }
    let (tag, info, _) = item(der);
    assert_eq!(tag, 0x30, "a SEQUENCE");
    let (_, _, rest) = item(info); // version
    let (_, _, rest) = item(rest); // algorithm
    let (tag, key, _) = item(rest);
    assert_eq!(tag, 0x04, "an OCTET STRING");
    key.to_vec()
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Client certificates in files, as tasks name them (relative to `dir`).
pub struct ClientFiles {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    /// An ECDSA certificate and its PKCS#8 key in one file.
    pub ec_combined: PathBuf,
    /// An ECDSA certificate, and its key as SEC1 (`EC PRIVATE KEY`).
    pub ec_cert: PathBuf,
    pub ec_sec1_key: PathBuf,
    pub ec_der: CertificateDer<'static>,
    /// An RSA certificate, and its key as PKCS#1 (`RSA PRIVATE KEY`).
    pub rsa_cert: PathBuf,
    pub rsa_pkcs1_key: PathBuf,
    pub rsa_der: CertificateDer<'static>,
}

impl ClientFiles {
    pub fn new() -> ClientFiles {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).unwrap();
            PathBuf::from(name)
        };
        let ca = Ca::new("client CA");
        let ec_key = rcgen::KeyPair::generate().unwrap();
        let ec = ca.client("ec client", &ec_key);
        let rsa_key = rcgen::KeyPair::from_pem(RSA_KEY).unwrap();
        let rsa = ca.client("rsa client", &rsa_key);
        ClientFiles {
            ec_combined: write(
                "ec-combined.pem",
                &format!("{}{}", ec.pem(), ec_key.serialize_pem()),
            ),
            ec_cert: write("ec.crt", &ec.pem()),
            ec_sec1_key: write(
                "ec.key",
                &pem("EC PRIVATE KEY", &unwrap_pkcs8(&ec_key.serialize_der())),
            ),
            ec_der: ec.der().clone(),
            rsa_cert: write("rsa.crt", &rsa.pem()),
            rsa_pkcs1_key: write(
                "rsa.key",
                &pem("RSA PRIVATE KEY", &unwrap_pkcs8(&rsa_key.serialize_der())),
            ),
            rsa_der: rsa.der().clone(),
            ca,
            dir,
        }
    }

    /// The rule of a served agent, confined to the files' folder.
    pub fn paths(&self) -> Paths {
        Paths::confined(self.dir.path())
    }

    pub fn write(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        std::fs::write(self.dir.path().join(name), text).unwrap();
        PathBuf::from(name)
    }
}

/// A TLS server that requires a client certificate from `client_ca`, and
/// records each client's certificate.
pub struct MutualTls {
    pub inner: tokio_rustls::TlsAcceptor,
    pub clients: Arc<Mutex<Vec<CertificateDer<'static>>>>,
}

impl MutualTls {
    pub fn new(server: &super::TlsFiles, client_ca: &Ca) -> MutualTls {
        let provider = ld_tower::tls::provider();
        let mut roots = RootCertStore::empty();
        roots.add(client_ca.cert.der().clone()).unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .unwrap();
        let key = PrivateKeyDer::try_from(server.key_der.clone()).unwrap();
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server.cert_der.clone()], key)
            .unwrap();
        MutualTls {
            inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            clients: Arc::default(),
        }
    }
}

impl Acceptor for MutualTls {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;

    async fn accept(&self, tcp: TcpStream) -> std::io::Result<Self::Io> {
        let tls = self.inner.accept(tcp).await?;
        if let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
            self.clients.lock().unwrap().push(cert.clone().into_owned());
        }
        Ok(tls)
    }
}
