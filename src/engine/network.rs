//! [`Network`]: how the engine reaches its targets, set by whoever runs it
//! (`serve` and `run*` flags), not by the actions: which certificate
//! authorities https targets may present (the Mozilla roots, plus CA files
//! for private or test services), and [`ConnectTo`] overrides that send the
//! connections for one host and port elsewhere while the requests keep
//! their URL, `Host` header and TLS name (curl's `--connect-to`), so an
//! action file written for production runs unchanged against staging.
//!
//! A task may set its own TLS ([`TlsOptions`], the `verify` and `cert` task
//! keys): [`Network::tls_for`] builds its configuration once, when the test
//! is planned, reading the files through the server's [`Paths`] rule.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WantsClientCert;
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, ConfigBuilder, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::paths::{PathError, Paths};
use crate::policy::{file_limit, file_over, TargetPolicy};

/// How the engine reaches its targets.
#[derive(Clone)]
pub struct Network {
    /// TLS for https targets.
    pub tls: Arc<ClientConfig>,
    /// Connection overrides, the first match wins.
    pub connect_to: Vec<ConnectTo>,
    /// The certificate authorities `tls` trusts, for the configurations of
    /// tasks with a client certificate.
    roots: Arc<RootCertStore>,
    /// Which addresses connections may go to (`--allow-target`,
    /// `--deny-target`), checked by [`dial`](super::dial) on every one.
    policy: Arc<TargetPolicy>,
}

impl Default for Network {
    /// The Mozilla roots, no override.
    fn default() -> Self {
        let roots = Arc::new(mozilla_roots());
        Network {
            tls: default_config(&roots),
            connect_to: Vec::new(),
            roots,
            policy: Arc::default(),
        }
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("connect_to", &self.connect_to)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The TLS configuration of users: [`crate::tls::provider`], TLS 1.2 and 1.3, HTTP/1.1 by
/// ALPN, trusting `roots`, no client certificate.
fn default_config(roots: &Arc<RootCertStore>) -> Arc<ClientConfig> {
    match config_with(Trust::Roots(Arc::clone(roots)), None) {
        Ok(config) => config,
        // Only a client certificate can be refused; this arm is not reached.
        Err(_) => Arc::new(
            ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}

/// Which server certificates a configuration accepts.
enum Trust {
    /// Those these authorities signed, for the name connected to.
    Roots(Arc<RootCertStore>),
    /// Any (`verify: false`).
    Any,
}

/// A user TLS configuration: [`crate::tls::provider`], TLS 1.2 and 1.3, HTTP/1.1 by ALPN,
/// trusting `trust`, presenting `client` (a certificate chain and its key)
/// when the server asks for one.
fn config_with(
    trust: Trust,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = crate::tls::provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder: ConfigBuilder<ClientConfig, WantsClientCert> = match trust {
        Trust::Roots(roots) => builder.with_root_certificates(roots),
        Trust::Any => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate::new(&provider))),
    };
    let mut config = match client {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `verify: false`: any certificate, for any name, is accepted; the
/// handshake's signatures are still checked (with the provider's
/// algorithms), so the connection is with whoever holds the key of the
/// certificate presented, whoever that is.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyCertificate {
    fn new(provider: &CryptoProvider) -> Self {
        AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn mozilla_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

/// Why a [`Network`] cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A CA file cannot be read or holds no usable certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A task's TLS file (its CA bundle, client certificate or key) cannot
    /// be opened: the path rule refused it, or it is not there.
    #[error("{role}: {source}")]
    TlsPath {
        /// Which file: "CA bundle", "client certificate", "client key".
        role: &'static str,
        /// Why.
        source: PathError,
    },
    /// A task's TLS file cannot be used.
    #[error("{role} {path:?}: {reason}")]
    TlsFile {
        /// Which file: "CA bundle", "client certificate", "client key".
        role: &'static str,
        /// The file, as the task gave it.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The largest TLS file (PEM) a task may name.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Which server certificates a task's https requests accept (`verify`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// Those the network trusts (the Mozilla roots and `--ca-file`s):
    /// `verify: true`, the default.
    #[default]
    Network,
    /// Any certificate (`verify: false`), as requests does; the handshake
    /// is still checked.
    Off,
    /// Those signed by the CA certificates of this PEM bundle, and no
    /// other (`verify: "path/to/bundle.pem"`, as requests does).
    CaBundle(PathBuf),
}

/// A client certificate for mutual TLS (`cert`, or `client_cert`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCert {
    /// One PEM file holding the certificate chain and the private key
    /// (`cert: "client.pem"`).
    Combined(PathBuf),
    /// The certificate chain and the private key in two PEM files
    /// (`cert: ["client.crt", "client.key"]`).
    Pair {
        /// The certificate chain, the client's own first.
        cert: PathBuf,
        /// The private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
        key: PathBuf,
    },
}

/// A task's TLS settings; the default is the network's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Which server certificates are accepted.
    pub verify: Verify,
    /// The certificate presented when a server asks for one.
    pub client_cert: Option<ClientCert>,
}

impl Network {
    /// The Mozilla roots and the CA certificates of `ca_files` (PEM, one or
    /// more `CERTIFICATE` blocks each), with `connect_to` overrides.
    pub fn new(ca_files: &[PathBuf], connect_to: Vec<ConnectTo>) -> Result<Self, NetworkError> {
        let mut roots = mozilla_roots();
        for path in ca_files {
            add_ca_file(&mut roots, path)?;
        }
        let roots = Arc::new(roots);
        Ok(Network {
            tls: default_config(&roots),
            connect_to,
            roots,
            policy: Arc::default(),
        })
    }

    /// This network with its connections judged by `policy`.
    pub fn with_policy(mut self, policy: TargetPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Which addresses connections may go to.
    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// The TLS configuration of a task's `options`, built when the test is
    /// planned (it reads files: blocking, and not for each request), to put
    /// in its [`SendOptions`](crate::engine::SendOptions). The default
    /// options give [`Network::tls`] itself (the same `Arc`); other ones a
    /// new configuration each call (build it once for options that several
    /// tasks share: connections are only shared by requests with the same
    /// `Arc`). Files are opened through `paths` (a served agent's rule), up
    /// to [`MAX_PEM_BYTES`] each; an error names the file and what is wrong
    /// with it.
    pub fn tls_for(
        &self,
        options: &TlsOptions,
        paths: &Paths,
    ) -> Result<Arc<ClientConfig>, NetworkError> {
        let trust = match &options.verify {
            Verify::Network if options.client_cert.is_none() => return Ok(Arc::clone(&self.tls)),
            Verify::Network => Trust::Roots(Arc::clone(&self.roots)),
            Verify::Off => Trust::Any,
            Verify::CaBundle(path) => {
                const ROLE: &str = "CA bundle";
                let pem = read_pem(paths, path, ROLE)?;
                let mut roots = RootCertStore::empty();
                add_ca_pem(&mut roots, &pem).map_err(|reason| NetworkError::TlsFile {
                    role: ROLE,
                    path: path.clone(),
                    reason,
                })?;
                Trust::Roots(Arc::new(roots))
            }
        };
        let client = match &options.client_cert {
            None => None,
            Some(ClientCert::Combined(path)) => {
                let pem = read_pem(paths, path, "client certificate")?;
                Some((
                    chain_of(&pem, path)?,
                    key_of(&pem, path, "client certificate")?,
                ))
            }
            Some(ClientCert::Pair { cert, key }) => {
                let chain = chain_of(&read_pem(paths, cert, "client certificate")?, cert)?;
                let key_pem = read_pem(paths, key, "client key")?;
                Some((chain, key_of(&key_pem, key, "client key")?))
            }
        };
        config_with(trust, client).map_err(|e| client_cert_error(options, e))
    }

    /// Where to connect for `host`:`port`: an override's destination, or
    /// the same.
    pub fn destination<'a>(&'a self, host: &'a str, port: u16) -> (&'a str, u16) {
        self.connect_to
            .iter()
            .find(|c| c.matches(host, port))
            .map_or((host, port), |c| {
                (
                    c.to_host.as_deref().unwrap_or(host),
                    c.to_port.unwrap_or(port),
                )
            })
    }
}

/// The TLS configurations of a test's tasks, made once per distinct
/// [`TlsOptions`] (files read once, never per request): tasks asking for
/// the same share one `Arc`, and so their connections. One ALPN list for
/// all (a kind speaks one protocol).
#[derive(Debug, Default)]
pub struct TlsConfigs {
    /// The ALPN protocols offered; `None`: the agent's (HTTP/1.1).
    alpn: Option<&'static [&'static [u8]]>,
    made: Vec<(TlsOptions, Arc<ClientConfig>)>,
}

impl TlsConfigs {
    /// Configurations offering `alpn` (`None`: the agent's HTTP/1.1;
    /// `Some(&[])`: none).
    pub fn offering(alpn: Option<&'static [&'static [u8]]>) -> TlsConfigs {
        TlsConfigs {
            alpn,
            made: Vec::new(),
        }
    }

    /// The configuration for `options` (see [`Network::tls_for`]), and its
    /// index among those made (equal for equal options).
    pub fn get(
        &mut self,
        network: &Network,
        paths: &Paths,
        options: &TlsOptions,
    ) -> Result<(usize, Arc<ClientConfig>), NetworkError> {
        if let Some(index) = self.made.iter().position(|(o, _)| o == options) {
            return Ok((index, Arc::clone(&self.made[index].1)));
        }
        let mut config = network.tls_for(options, paths)?;
        if let Some(alpn) = self.alpn {
            config = with_alpn(&config, alpn);
        }
        self.made.push((options.clone(), Arc::clone(&config)));
        Ok((self.made.len() - 1, config))
    }
}

/// `config` offering `alpn` instead of its own ALPN protocols (HTTP/1.1
/// for the agent's default): `h2` for gRPC and HTTP/2, none for raw TLS.
pub fn with_alpn(config: &Arc<ClientConfig>, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut config = ClientConfig::clone(config);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Why rustls refused a task's client certificate and key.
fn client_cert_error(options: &TlsOptions, error: rustls::Error) -> NetworkError {
    let mismatch = matches!(
        error,
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)
    );
    let (role, path, reason) = match &options.client_cert {
        Some(ClientCert::Combined(path)) if mismatch => (
            "client certificate",
            path,
            "its private key does not match its certificate".to_owned(),
        ),
        Some(ClientCert::Pair { cert, key }) if mismatch => (
            "client key",
            key,
            format!("does not match the certificate of {cert:?}"),
        ),
        Some(ClientCert::Combined(path)) => (
            "client certificate",
            path,
            format!("cannot be used: {error}"),
        ),
        Some(ClientCert::Pair { key, .. }) => {
            ("client key", key, format!("cannot be used: {error}"))
        }
        // Without a client certificate nothing is refused; not reached.
        None => {
            return NetworkError::TlsFile {
                role: "TLS",
                path: PathBuf::new(),
                reason: error.to_string(),
            }
        }
    };
    NetworkError::TlsFile {
        role,
        path: path.clone(),
        reason,
    }
}

/// A task's PEM file, through the path rule, at most [`MAX_PEM_BYTES`]
/// (or the agent's `--max-file-bytes`, if lower).
fn read_pem(paths: &Paths, path: &Path, role: &'static str) -> Result<Vec<u8>, NetworkError> {
    let file = paths
        .resolve(path)
        .and_then(|resolved| resolved.open())
        .map_err(|source| NetworkError::TlsPath { role, source })?;
    let error = |reason: String| NetworkError::TlsFile {
        role,
        path: path.to_owned(),
        reason,
    };
    let mut pem = Vec::new();
    let (max, agents) = file_limit(paths.max_file_bytes(), MAX_PEM_BYTES);
    file.take(max + 1)
        .read_to_end(&mut pem)
        .map_err(|e| error(format!("cannot read it: {e}")))?;
    if pem.len() as u64 > max {
        return Err(error(if agents {
            file_over("it", max)
        } else {
            format!(
                "larger than {} MiB, too large for a PEM file",
                MAX_PEM_BYTES / (1024 * 1024)
            )
        }));
    }
    Ok(pem)
}

/// The certificate chain of a PEM file.
fn chain_of(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, NetworkError> {
    let error = |reason: String| NetworkError::TlsFile {
        role: "client certificate",
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(error("no certificate (CERTIFICATE block) found".into()));
    }
    Ok(chain)
}

/// The private key of a PEM file.
fn key_of(
    pem: &[u8],
    path: &Path,
    role: &'static str,
) -> Result<PrivateKeyDer<'static>, NetworkError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| NetworkError::TlsFile {
        role,
        path: path.to_owned(),
        reason: match e {
            pem::Error::NoItemsFound => "no private key (PRIVATE KEY, RSA PRIVATE KEY or \
                                         EC PRIVATE KEY block) found"
                .to_owned(),
            other => format!("not valid PEM: {other}"),
        },
    })
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), NetworkError> {
    let error = |reason: String| NetworkError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    add_ca_pem(roots, &pem).map_err(error)
}

/// Adds the CA certificates of `pem` (one or more `CERTIFICATE` blocks).
fn add_ca_pem(roots: &mut RootCertStore, pem: &[u8]) -> Result<(), String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    if certificates.is_empty() {
        return Err("no CERTIFICATE block found".into());
    }
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    Ok(())
}

/// Connections for `HOST1:PORT1` go to `HOST2:PORT2` (curl's
/// `--connect-to` syntax). An empty `HOST1` or `PORT1` matches any; an
/// empty `HOST2` or `PORT2` keeps the request's. IPv6 addresses go in
/// brackets: `example.com:443:[::1]:8443`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    from_host: Option<String>,
    from_port: Option<u16>,
    to_host: Option<String>,
    to_port: Option<u16>,
}

impl ConnectTo {
    fn matches(&self, host: &str, port: u16) -> bool {
        self.from_host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(host))
            && self.from_port.is_none_or(|p| p == port)
    }
}

impl FromStr for ConnectTo {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let fields = split_fields(text).ok_or_else(|| {
            format!("{text:?}: expected HOST1:PORT1:HOST2:PORT2 (IPv6 in brackets)")
        })?;
        let host = |field: &str| (!field.is_empty()).then(|| field.to_owned());
        let port = |field: &str, which: &str| -> Result<Option<u16>, String> {
            if field.is_empty() {
                return Ok(None);
            }
            match field.parse::<u16>() {
                Ok(port) if port > 0 => Ok(Some(port)),
                _ => Err(format!(
                    "{text:?}: {which} {field:?} is not a port (1-65535)"
                )),
            }
        };
        Ok(ConnectTo {
            from_host: host(&fields[0]),
            from_port: port(&fields[1], "PORT1")?,
            to_host: host(&fields[2]),
            to_port: port(&fields[3], "PORT2")?,
        })
    }
}

impl fmt::Display for ConnectTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = |h: &Option<String>| match h {
            Some(h) if h.contains(':') => format!("[{h}]"),
            Some(h) => h.clone(),
            None => String::new(),
        };
        let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
        write!(
            f,
            "{}:{}:{}:{}",
            host(&self.from_host),
            port(self.from_port),
            host(&self.to_host),
            port(self.to_port)
        )
    }
}

/// The four `:`-separated fields of `text`, a bracketed field taken whole
/// (brackets removed); `None` unless there are exactly four.
fn split_fields(text: &str) -> Option<[String; 4]> {
    let mut fields = Vec::with_capacity(4);
    let mut rest = text;
    loop {
        let (field, after) = match rest.strip_prefix('[') {
            Some(inner) => {
                let close = inner.find(']')?;
                let after = &inner[close + 1..];
                if !(after.is_empty() || after.starts_with(':')) {
                    return None;
                }
                (&inner[..close], after)
            }
            None => match rest.find(':') {
                Some(at) => (&rest[..at], &rest[at..]),
                None => (rest, ""),
            },
        };
        fields.push(field.to_owned());
        match after.strip_prefix(':') {
            Some(next) => rest = next,
            None => break,
        }
    }
    fields.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(overrides: &[&str]) -> Network {
        Network {
            connect_to: overrides.iter().map(|o| o.parse().unwrap()).collect(),
            ..Network::default()
        }
    }

    #[test]
    fn overrides_match_host_and_port_first_one_wins() {
        let n = network(&[
            "httpbin.org:443:127.0.0.1:8443",
            "HTTPBIN.org::localhost:",
            ":80::8080",
        ]);
        assert_eq!(n.destination("httpbin.org", 443), ("127.0.0.1", 8443));
        assert_eq!(n.destination("httpbin.org", 444), ("localhost", 444));
        assert_eq!(n.destination("example.com", 80), ("example.com", 8080));
        assert_eq!(n.destination("example.com", 81), ("example.com", 81));
    }

    #[test]
    fn ipv6_in_brackets_and_display_round_trips() {
        let c: ConnectTo = "[::1]:443:[fe80::2]:8443".parse().unwrap();
        assert_eq!(c.to_string(), "[::1]:443:[fe80::2]:8443");
        let n = Network {
            connect_to: vec![c],
            ..Network::default()
        };
        assert_eq!(n.destination("::1", 443), ("fe80::2", 8443));
        let c: ConnectTo = "a.example::b.example:".parse().unwrap();
        assert_eq!(c.to_string(), "a.example::b.example:");
    }

    #[test]
    fn malformed_overrides_say_what_is_wrong() {
        for (text, says) in [
            (
                "httpbin.org:443:127.0.0.1",
                "expected HOST1:PORT1:HOST2:PORT2",
            ),
            ("a:1:b:2:c", "expected HOST1:PORT1:HOST2:PORT2"),
            ("[::1:443:b:2", "expected HOST1:PORT1:HOST2:PORT2"),
            ("a:https:b:2", "PORT1 \"https\" is not a port"),
            ("a:1:b:70000", "PORT2 \"70000\" is not a port"),
            ("a:0:b:1", "PORT1 \"0\" is not a port"),
        ] {
            let error = text.parse::<ConnectTo>().unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn default_tls_options_are_the_networks_own_configuration() {
        let network = Network::default();
        let paths = Paths::default();
        let own = network.tls_for(&TlsOptions::default(), &paths).unwrap();
        assert!(Arc::ptr_eq(&own, &network.tls));
        let off = TlsOptions {
            verify: Verify::Off,
            client_cert: None,
        };
        let first = network.tls_for(&off, &paths).unwrap();
        assert!(!Arc::ptr_eq(&first, &network.tls));
        assert_eq!(first.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(!Arc::ptr_eq(
            &first,
            &network.tls_for(&off, &paths).unwrap()
        ));
    }

    #[test]
    fn ca_files_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = Network::new(&[empty], Vec::new()).unwrap_err().to_string();
        assert!(error.contains("no CERTIFICATE block found"), "{error}");
        let missing = dir.path().join("missing.pem");
        let error = Network::new(&[missing], Vec::new())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("CA file "), "{error}");
    }
}
