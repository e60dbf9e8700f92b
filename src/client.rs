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
    /// How long one request (connect, send, every reply) may take.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            framing: Framing::Legacy,
            tls: None,
            token: None,
            timeout: Duration::from_secs(60),
        }
    }
}

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

/// Why a request could not be made or answered.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The TLS setup or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The request took longer than the configured timeout.
    #[error("no complete reply within {0:?}")]
    Timeout(Duration),
    /// The request cannot be sent as it is.
    #[error("{0}")]
    BadRequest(String),
    /// The server broke the framing.
    #[error("bad reply: {0}")]
    BadReply(String),
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

    /// Sends one request on a new connection and reads its reply.
    pub async fn send(&self, request: &str) -> Result<Response, ClientError> {
        let body = self.body(request)?;
        let timeout = self.config.timeout;
        tokio::time::timeout(timeout, async {
            let mut session = self.connect_now().await?;
            session.request(&body).await
        })
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
    }

    /// Opens a connection for several requests (framed servers keep it open).
    pub async fn connect(&self) -> Result<Session, ClientError> {
        let timeout = self.config.timeout;
        tokio::time::timeout(timeout, self.connect_now())
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }

    async fn connect_now(&self) -> Result<Session, ClientError> {
        let tcp = TcpStream::connect(&self.addr).await?;
        tcp.set_nodelay(true)?;
        let (io, resumed): (Box<dyn Io>, bool) = match &self.config.tls {
            None => (Box::new(tcp), false),
            Some(tls) => {
                let stream = tls
                    .connector
                    .connect(tls.server_name.clone(), tcp)
                    .await
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                let resumed = stream.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
                (Box::new(stream), resumed)
            }
        };
        Ok(Session {
            io,
            resumed,
            framing: self.config.framing,
            buffer: BytesMut::with_capacity(4096),
        })
    }
}

/// An open connection.
pub struct Session {
    io: Box<dyn Io>,
    /// The TLS handshake resumed an earlier session.
    resumed: bool,
    framing: Framing,
    buffer: BytesMut,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
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
    /// legacy, until the server closes.
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
                self.io.write_all(&frame).await?;
                self.io.flush().await?;
                let mut lines = Vec::new();
                while let Some(piece) = self.read_frame().await? {
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
                self.io.write_all(body).await?;
                self.io.flush().await?;
                let mut all = Vec::new();
                self.io.read_to_end(&mut all).await?;
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

    /// Reads one frame's body; `None` at the end of the stream.
    async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        loop {
            if let Some(header) = self.buffer.first_chunk::<4>() {
                let len = u32::from_be_bytes(*header) as usize;
                if len > MAX_REPLY_FRAME {
                    return Err(ClientError::BadReply(format!("a frame of {len} bytes")));
                }
                if self.buffer.len() >= 4 + len {
                    self.buffer.advance(4);
                    return Ok(Some(self.buffer.split_to(len).to_vec()));
                }
                self.buffer.reserve(4 + len - self.buffer.len());
            }
            if self.io.read_buf(&mut self.buffer).await? == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(ClientError::BadReply(
                        "the stream ended inside a frame".into(),
                    ))
                };
            }
        }
    }

    /// Closes the connection (TLS `close_notify`, then FIN).
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.io.shutdown().await?;
        Ok(())
    }
}

fn text_line(piece: &[u8]) -> String {
    let piece = piece.strip_suffix(b"\n").unwrap_or(piece);
    String::from_utf8_lossy(piece).into_owned()
}
