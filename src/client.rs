//! A client for the control socket, both framings, plain or TLS: what
//! `ld-tower send` uses, and a library API for tools of your own.
//!
//! ```no_run
//! use ld_tower::client::{Client, ClientConfig};
//! use ld_tower::codec::Framing;
//!
//! # async fn run() -> Result<(), ld_tower::client::ClientError> {
//! let config = ClientConfig { framing: Framing::Framed, token: Some("ROTATE_ME".into()), ..ClientConfig::default() };
//! let client = Client::new("127.0.0.1:9940", config);
//! let response = client.send(r#"{"load_density": [["LD_summary", {}]]}"#).await?;
//! for line in &response.lines {
//!     println!("{line}");
//! }
//! # Ok(()) }
//! ```

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig as RustlsConfig, HandshakeKind, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::codec::Framing;
use crate::protocol::{END, MAX_REQUEST_BYTES, QUIT_WORD};

mod mismatch;

pub use mismatch::Mismatch;

/// The largest reply frame a client accepts (a report can be large; a
/// broken or hostile server's 4 GiB length is refused, not allocated).
const MAX_REPLY_FRAME: usize = 256 * 1024 * 1024;

/// How to reach a server.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The server's framing.
    pub framing: Framing,
    /// TLS, when the server serves it.
    pub tls: Option<ClientTls>,
    /// The shared secret: requests are then wrapped in envelopes.
    pub token: Option<String>,
    /// How long the server may send nothing while a reply is awaited;
    /// [`Duration::ZERO`] (the default): no limit. A server sends nothing
    /// while a command runs, so a limit bounds the whole command: a load
    /// test longer than it is given up on. Without a limit, TCP keepalive
    /// still notices a server whose machine vanished (within about two
    /// minutes).
    pub timeout: Duration,
    /// How long connecting, the TLS handshake and writing a request may
    /// take (default 10 s).
    pub connect_timeout: Duration,
    /// The most bytes of a reply's lines (default 256 MiB, as one frame
    /// may be): a server sending more is cut off with
    /// [`ClientError::BadReply`], not buffered.
    pub max_reply_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            framing: Framing::Legacy,
            tls: None,
            token: None,
            timeout: Duration::ZERO,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_reply_bytes: MAX_REPLY_FRAME,
        }
    }
}

/// [`ClientConfig::connect_timeout`]'s default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalive while a reply is awaited: the first probe after this much
/// silence, then one every [`KEEPALIVE_INTERVAL`] (Linux gives up after 9).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// See [`KEEPALIVE_IDLE`].
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// What a TLS client trusts and whom it expects. It remembers the
/// server's session tickets (rustls's in-memory store: 8 tickets for each of
/// up to 32 server names), shared by its clones, so that a client's next
/// connections resume instead of a full handshake.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Trusts the CA certificates of a PEM file; expects `server_name` (a
    /// DNS name or an IP address) in the server's certificate.
    pub fn from_ca_file(ca: &Path, server_name: &str) -> Result<Self, ClientError> {
        Self::from_ca_der(read_ca(ca)?, server_name)
    }

    /// Trusts `certs`; expects `server_name` in the server's certificate.
    pub fn from_ca_der(
        certs: Vec<CertificateDer<'static>>,
        server_name: &str,
    ) -> Result<Self, ClientError> {
        Self::with_identity(certs, server_name, None)
    }

    /// Trusts the CA certificates of the PEM file `ca`, expects
    /// `server_name`, and presents the client certificate chain `cert` with
    /// its private key `key` (PEM files) to a server that requires one
    /// (mutual TLS, `serve --tls-client-ca`).
    pub fn with_client_cert_files(
        ca: &Path,
        server_name: &str,
        cert: &Path,
        key: &Path,
    ) -> Result<Self, ClientError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                ClientError::Tls(format!(
                    "cannot read a certificate chain from {}: {e}",
                    cert.display()
                ))
            })?;
        if chain.is_empty() {
            return Err(ClientError::Tls(format!(
                "no CERTIFICATE block in {}",
                cert.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            ClientError::Tls(format!(
                "cannot read a private key from {}: {e}",
                key.display()
            ))
        })?;
        Self::with_identity(read_ca(ca)?, server_name, Some((chain, key)))
    }

    /// Trusts `certs`, expects `server_name`, presents `identity` (a
    /// certificate chain and its key) if given.
    pub fn with_identity(
        certs: Vec<CertificateDer<'static>>,
        server_name: &str,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<Self, ClientError> {
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| ClientError::Tls(format!("bad CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(ClientError::Tls("no CA certificate given".into()));
        }
        let builder = RustlsConfig::builder_with_provider(crate::tls::provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| ClientError::Tls(format!("bad client certificate or key: {e}")))?,
        };
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| ClientError::Tls(format!("bad server name {server_name:?}: {e}")))?;
        Ok(ClientTls {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }
}

/// The CA certificates of a PEM file.
fn read_ca(ca: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    CertificateDer::pem_file_iter(ca)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            ClientError::Tls(format!(
                "cannot read CA certificates from {}: {e}",
                ca.display()
            ))
        })
}

/// Why a request could not be made or answered. Each names the server's
/// address; the hints name `ld-tower send`'s flags.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed (refused, unreachable, a name that does not resolve).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The server's address.
        addr: String,
        /// What the system said.
        source: io::Error,
    },
    /// Reading or writing failed once connected.
    #[error("the connection to {addr} failed: {source}")]
    Io {
        /// The server's address.
        addr: String,
        /// What the system said.
        source: io::Error,
    },
    /// The TLS setup failed (files, names).
    #[error("TLS: {0}")]
    Tls(String),
    /// The TLS handshake failed for another reason than a plain server.
    #[error("the TLS handshake with {addr} failed: {source}")]
    Handshake {
        /// The server's address.
        addr: String,
        /// What rustls said.
        source: io::Error,
    },
    /// Connecting, the handshake or writing took longer than
    /// [`ClientConfig::connect_timeout`].
    #[error("no connection to {addr} within {after:?} (--connect-timeout)")]
    ConnectTimeout {
        /// The server's address.
        addr: String,
        /// The limit.
        after: Duration,
    },
    /// The server sent nothing for [`ClientConfig::timeout`] while a reply
    /// was awaited.
    #[error(
        "the server at {addr} sent nothing for {after:?} while a reply was awaited \
         (--timeout; 0 waits as long as the command runs)"
    )]
    Timeout {
        /// The server's address.
        addr: String,
        /// The limit.
        after: Duration,
    },
    /// The request cannot be sent as it is.
    #[error("{0}")]
    BadRequest(String),
    /// The server broke the framing.
    #[error("bad reply from {addr}: {message}")]
    BadReply {
        /// The server's address.
        addr: String,
        /// What was wrong.
        message: String,
    },
    /// The server speaks another framing or transport than the client.
    #[error("{}", .mismatch.explain(.addr))]
    Mismatch {
        /// The server's address.
        addr: String,
        /// What it speaks instead.
        mismatch: Mismatch,
    },
}

/// The server's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The result lines, without their line breaks and without the terminator.
    pub lines: Vec<String>,
    /// Whether the terminator came (refusals and quit replies have none).
    pub terminated: bool,
}

impl Response {
    /// Whether any line is an error.
    pub fn has_errors(&self) -> bool {
        self.lines.iter().any(|line| line.starts_with("Error: "))
    }
}

/// A client of one server.
#[derive(Clone, Debug)]
pub struct Client {
    addr: String,
    config: ClientConfig,
}

/// Any stream a session runs over.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl Client {
    /// A client of the server at `addr` (`host:port`).
    pub fn new(addr: impl Into<String>, config: ClientConfig) -> Self {
        Client {
            addr: addr.into(),
            config,
        }
    }

    /// The server's address, as given.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The request body for `request` (action JSON or `quit_server`): as it
    /// is without a token; with one, wrapped in an envelope (`quit_server`
    /// becomes `{"token": ..., "op": "quit"}`).
    pub fn body(&self, request: &str) -> Result<Vec<u8>, ClientError> {
        let Some(token) = &self.config.token else {
            return Ok(request.as_bytes().to_vec());
        };
        let request = request.trim();
        let envelope = if request == QUIT_WORD {
            json!({"token": token, "op": "quit"})
        } else {
            let command: Value = serde_json::from_str(request)
                .map_err(|e| ClientError::BadRequest(format!("the request is not JSON: {e}")))?;
            json!({"token": token, "command": command})
        };
        Ok(envelope.to_string().into_bytes())
    }

    /// Sends one request on a new connection and reads its reply, waiting
    /// as [`ClientConfig::timeout`] says.
    pub async fn send(&self, request: &str) -> Result<Response, ClientError> {
        let body = self.body(request)?;
        let mut session = self.connect().await?;
        session.request(&body).await
    }

    /// Opens a connection for several requests (framed servers keep it
    /// open), within [`ClientConfig::connect_timeout`].
    pub async fn connect(&self) -> Result<Session, ClientError> {
        let after = self.config.connect_timeout;
        tokio::time::timeout(after, self.connect_now())
            .await
            .map_err(|_| ClientError::ConnectTimeout {
                addr: self.addr.clone(),
                after,
            })?
    }

    async fn connect_now(&self) -> Result<Session, ClientError> {
        let addr = &self.addr;
        let connect = |source| ClientError::Connect {
            addr: addr.clone(),
            source,
        };
        let tcp = TcpStream::connect(addr).await.map_err(connect)?;
        tcp.set_nodelay(true).map_err(connect)?;
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL);
        socket2::SockRef::from(&tcp)
            .set_tcp_keepalive(&keepalive)
            .map_err(connect)?;
        let (io, resumed): (Box<dyn Io>, bool) = match &self.config.tls {
            None => (Box::new(tcp), false),
            Some(tls) => {
                let stream = tls
                    .connector
                    .connect(tls.server_name.clone(), tcp)
                    .await
                    .map_err(|source| {
                        if mismatch::is_plain_server(&source) {
                            ClientError::Mismatch {
                                addr: addr.clone(),
                                mismatch: Mismatch::PlainServer,
                            }
                        } else {
                            ClientError::Handshake {
                                addr: addr.clone(),
                                source,
                            }
                        }
                    })?;
                let resumed = stream.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
                (Box::new(stream), resumed)
            }
        };
        Ok(Session {
            io,
            resumed,
            addr: addr.clone(),
            framing: self.config.framing,
            tls: self.config.tls.is_some(),
            timeout: self.config.timeout,
            connect_timeout: self.config.connect_timeout,
            max_reply_bytes: self.config.max_reply_bytes,
            buffer: BytesMut::with_capacity(4096),
        })
    }
}

/// An open connection.
pub struct Session {
    io: Box<dyn Io>,
    /// The TLS handshake resumed an earlier session.
    resumed: bool,
    /// The server's address, for errors.
    addr: String,
    framing: Framing,
    /// Whether the connection is TLS (a TLS record read on a plain one
    /// means the server speaks TLS).
    tls: bool,
    /// [`ClientConfig::timeout`].
    timeout: Duration,
    /// [`ClientConfig::connect_timeout`], which bounds writing a request.
    connect_timeout: Duration,
    /// [`ClientConfig::max_reply_bytes`].
    max_reply_bytes: usize,
    buffer: BytesMut,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("addr", &self.addr)
            .field("framing", &self.framing)
            .field("resumed", &self.resumed)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Whether the connection's TLS handshake resumed an earlier session
    /// (false for plain TCP and for full handshakes).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// Sends one request body (already enveloped if need be) and reads its
    /// reply: framed, until the terminator frame or the end of the stream;
    /// legacy, until the server closes. Writing is bounded by
    /// [`ClientConfig::connect_timeout`], each wait for the server's next
    /// bytes by [`ClientConfig::timeout`] (if not zero).
    pub async fn request(&mut self, body: &[u8]) -> Result<Response, ClientError> {
        match self.framing {
            Framing::Framed => {
                let len = u32::try_from(body.len())
                    .ok()
                    .filter(|len| *len as usize <= MAX_REQUEST_BYTES)
                    .ok_or_else(|| ClientError::BadRequest("the request is over 1 MiB".into()))?;
                let mut frame = Vec::with_capacity(body.len() + 4);
                frame.extend_from_slice(&len.to_be_bytes());
                frame.extend_from_slice(body);
                self.write(&frame).await?;
                let mut lines = Vec::new();
                let mut bytes = 0usize;
                while let Some(piece) = self.read_frame().await? {
                    bytes = bytes.saturating_add(piece.len());
                    if bytes > self.max_reply_bytes {
                        return Err(self.over_max_reply());
                    }
                    if piece == END {
                        return Ok(Response {
                            lines,
                            terminated: true,
                        });
                    }
                    lines.push(text_line(&piece));
                }
                Ok(Response {
                    lines,
                    terminated: false,
                })
            }
            Framing::Legacy => {
                self.write(body).await?;
                while self.read_more().await? > 0 {
                    if self.buffer.len() > self.max_reply_bytes {
                        return Err(self.over_max_reply());
                    }
                }
                let all = std::mem::take(&mut self.buffer);
                if !self.tls && mismatch::is_tls_record(&all) {
                    return Err(self.mismatch(Mismatch::TlsServer));
                }
                let mut lines: Vec<String> = all
                    .split_inclusive(|b| *b == b'\n')
                    .map(text_line)
                    .collect();
                let terminated = lines.last().map(|l| l.as_bytes()) == Some(&END[..END.len() - 1]);
                if terminated {
                    lines.pop();
                }
                Ok(Response { lines, terminated })
            }
        }
    }

    /// Writes and flushes `bytes` within the connect timeout.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let write = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.connect_timeout, write).await {
            Ok(written) => written.map_err(|source| self.io_error(source)),
            Err(_) => Err(ClientError::ConnectTimeout {
                addr: self.addr.clone(),
                after: self.connect_timeout,
            }),
        }
    }

    /// Reads what the server sends next into the buffer (0 at the end of
    /// the stream), within the timeout if there is one.
    async fn read_more(&mut self) -> Result<usize, ClientError> {
        let read = if self.timeout.is_zero() {
            self.io.read_buf(&mut self.buffer).await
        } else {
            match tokio::time::timeout(self.timeout, self.io.read_buf(&mut self.buffer)).await {
                Ok(read) => read,
                Err(_) => {
                    return Err(ClientError::Timeout {
                        addr: self.addr.clone(),
                        after: self.timeout,
                    })
                }
            }
        };
        read.map_err(|source| self.io_error(source))
    }

    /// Reads one frame's body; `None` at the end of the stream.
    async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        loop {
            if let Some(header) = self.buffer.first_chunk::<4>() {
                let len = u32::from_be_bytes(*header) as usize;
                if len > MAX_REPLY_FRAME {
                    return Err(if !self.tls && mismatch::is_tls_record(header) {
                        self.mismatch(Mismatch::TlsServer)
                    } else if mismatch::is_text(header) {
                        self.mismatch(Mismatch::LegacyServer)
                    } else {
                        self.bad_reply(format!("a frame of {len} bytes"))
                    });
                }
                if self.buffer.len() >= 4 + len {
                    self.buffer.advance(4);
                    return Ok(Some(self.buffer.split_to(len).to_vec()));
                }
                self.buffer.reserve(4 + len - self.buffer.len());
            }
            if self.read_more().await? == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else if !self.tls && mismatch::is_tls_record(&self.buffer) {
                    Err(self.mismatch(Mismatch::TlsServer))
                } else {
                    Err(self.bad_reply("the stream ended inside a frame".into()))
                };
            }
        }
    }

    fn over_max_reply(&self) -> ClientError {
        self.bad_reply(format!(
            "a reply over {} bytes (the client's limit)",
            self.max_reply_bytes
        ))
    }

    fn mismatch(&self, mismatch: Mismatch) -> ClientError {
        ClientError::Mismatch {
            addr: self.addr.clone(),
            mismatch,
        }
    }

    fn bad_reply(&self, message: String) -> ClientError {
        ClientError::BadReply {
            addr: self.addr.clone(),
            message,
        }
    }

    fn io_error(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            addr: self.addr.clone(),
            source,
        }
    }

    /// Closes the connection (TLS `close_notify`, then FIN).
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.io
            .shutdown()
            .await
            .map_err(|source| self.io_error(source))
    }
}

fn text_line(piece: &[u8]) -> String {
    let piece = piece.strip_suffix(b"\n").unwrap_or(piece);
    String::from_utf8_lossy(piece).into_owned()
}
