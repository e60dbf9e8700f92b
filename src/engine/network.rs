//! [`Network`]: how the engine reaches its targets, set by whoever runs it
//! (`serve` and `run*` flags), not by the actions: which certificate
//! authorities https targets may present (the Mozilla roots, plus CA files
//! for private or test services), and [`ConnectTo`] overrides that send the
//! connections for one host and port elsewhere while the requests keep
//! their URL, `Host` header and TLS name (curl's `--connect-to`), so an
//! action file written for production runs unchanged against staging.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// How the engine reaches its targets.
#[derive(Clone)]
pub struct Network {
    /// TLS for https targets.
    pub tls: Arc<ClientConfig>,
    /// Connection overrides, the first match wins.
    pub connect_to: Vec<ConnectTo>,
}

impl Default for Network {
    /// The Mozilla roots, no override.
    fn default() -> Self {
        Network {
            tls: tls_config_with(mozilla_roots()),
            connect_to: Vec::new(),
        }
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("connect_to", &self.connect_to)
            .finish_non_exhaustive()
    }
}

/// The TLS configuration of users: ring, TLS 1.2 and 1.3, HTTP/1.1 by
/// ALPN, trusting `roots`.
fn tls_config_with(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config =
        match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
            Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
            // The ring provider supports the default versions; this arm is not reached.
            Err(_) => {
                return Arc::new(
                    ClientConfig::builder()
                        .with_root_certificates(RootCertStore::empty())
                        .with_no_client_auth(),
                )
            }
        };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
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
}

impl Network {
    /// The Mozilla roots and the CA certificates of `ca_files` (PEM, one or
    /// more `CERTIFICATE` blocks each), with `connect_to` overrides.
    pub fn new(ca_files: &[PathBuf], connect_to: Vec<ConnectTo>) -> Result<Self, NetworkError> {
        let mut roots = mozilla_roots();
        for path in ca_files {
            add_ca_file(&mut roots, path)?;
        }
        Ok(Network {
            tls: tls_config_with(roots),
            connect_to,
        })
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

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), NetworkError> {
    let error = |reason: String| NetworkError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| error(e.to_string()))?;
    if certificates.is_empty() {
        return Err(error("no CERTIFICATE block found".into()));
    }
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|e| error(format!("not a usable CA certificate: {e}")))?;
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
