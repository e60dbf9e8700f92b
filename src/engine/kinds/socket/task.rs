//! A compiled `socket_user` step: where it goes, what it sends, what of
//! the reply it reads and checks.

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::ClientConfig;

use crate::engine::task::{Head, Step, TlsSpec};
use crate::resolver::Template;

/// The most `expect_bytes` may ask for: 16 MiB.
pub(crate) const MAX_EXACT_BYTES: usize = 16 * 1024 * 1024;

/// One step of a socket user.
#[derive(Debug)]
pub(crate) struct SocketTask {
    /// Its name (`name`, else `protocol:target`).
    pub(crate) head: Head,
    /// TCP or UDP.
    pub(crate) transport: Transport,
    /// `host:port`, as written.
    pub(crate) target: Template,
    /// The target parsed once, when it has no placeholder.
    pub(crate) address: Option<Address>,
    /// What is sent.
    pub(crate) payload: Payload,
    /// What of the reply is read, and checked.
    pub(crate) reply: Reply,
    /// Its own timeout (else the test's default for sockets).
    pub(crate) timeout: Option<Duration>,
    /// TLS over TCP, when asked for.
    pub(crate) tls: Option<Tls>,
}

/// A step's transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// A TCP connection, kept by the user.
    Tcp,
    /// A connected UDP socket, kept by the user.
    Udp,
}

/// A target: host (no brackets) and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Address {
    /// The host name or IP address.
    pub(crate) host: String,
    /// The port.
    pub(crate) port: u16,
}

impl Address {
    /// `host:port` or `[v6]:port`; the error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Address, String> {
        let wrong = || format!("{text:?} is not host:port");
        let (host, port) = match text.strip_prefix('[') {
            Some(rest) => {
                let (host, after) = rest.split_once(']').ok_or_else(wrong)?;
                (host, after.strip_prefix(':').ok_or_else(wrong)?)
            }
            None => {
                let (host, port) = text.rsplit_once(':').ok_or_else(wrong)?;
                if host.contains(':') {
                    return Err(format!(
                        "{text:?} is not host:port (write an IPv6 address as [addr]:port)"
                    ));
                }
                (host, port)
            }
        };
        if host.is_empty() {
            return Err(wrong());
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{text:?}: the port must be from 1 to 65535"))?;
        Ok(Address {
            host: host.to_owned(),
            port,
        })
    }
}

/// What a step sends.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// Known before the test: these bytes.
    Bytes(Arc<[u8]>),
    /// Rendered per step, then read as [`payload_bytes`] does.
    Template(Template),
}

/// What of the reply a step reads.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reply {
    /// `expect_bytes`: read exactly this many bytes (fewer if the server
    /// closes first); 0: see `substring`.
    pub(crate) exact: usize,
    /// `expect_substring`: the reply must contain it. Without `exact`,
    /// TCP reads until it is seen (at most [`MAX_SEARCHED_BYTES`]) and UDP
    /// reads one datagram.
    pub(crate) substring: Option<Template>,
}

/// The most a TCP step reads looking for its `expect_substring` (with no
/// `expect_bytes`): 1 MiB.
pub(crate) const MAX_SEARCHED_BYTES: usize = 1024 * 1024;

/// A TCP step's TLS.
#[derive(Clone, Debug)]
pub(crate) struct Tls {
    /// `verify` and `cert`, as written.
    pub(crate) spec: TlsSpec,
    /// The name the server's certificate must carry (default: the host).
    pub(crate) server_name: Option<String>,
    /// The configuration (no ALPN), made once before the test.
    pub(crate) config: Option<Arc<ClientConfig>>,
    /// Which of the test's configurations it is: connections are kept per
    /// target and configuration.
    pub(crate) id: usize,
}

/// A payload's bytes, LoadDensity's way: `hex:` and the bytes in hex
/// (whitespace between bytes allowed, as Python's `bytes.fromhex`), else
/// the text's UTF-8.
pub(crate) fn payload_bytes(text: &str) -> Result<Vec<u8>, String> {
    let Some(hex) = text.strip_prefix("hex:") else {
        return Ok(text.as_bytes().to_vec());
    };
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err("hex: an odd number of hex digits".into());
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    };
    digits
        .chunks(2)
        .map(|pair| match (value(pair[0]), value(pair[1])) {
            (Some(high), Some(low)) => Ok(high << 4 | low),
            _ => Err(format!(
                "hex: {:?} is not a hex byte",
                String::from_utf8_lossy(pair)
            )),
        })
        .collect()
}

impl Step for SocketTask {
    fn head(&self) -> &Head {
        &self.head
    }

    fn head_mut(&mut self) -> &mut Head {
        &mut self.head
    }

    /// The target, the payload, the expected substring.
    fn env_names(&self) -> Vec<&str> {
        let mut templates = vec![&self.target];
        if let Payload::Template(payload) = &self.payload {
            templates.push(payload);
        }
        templates.extend(&self.reply.substring);
        templates
            .into_iter()
            .flat_map(Template::env_names)
            .chain(self.head.env_names())
            .collect()
    }
}
