//! The clients: framed, token-wrapped `LD_summary` commands over plain TCP
//! or TLS, one per connection or on kept connections, timed into a
//! histogram.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::HandshakeKind;
use tokio_rustls::TlsConnector;

use crate::tls::{TlsCase, TlsMaterial};
use crate::{Result, COMMAND_TIMEOUT, END, MAX_REPLY_FRAME};

/// Where and how the clients connect.
pub(crate) struct Target {
    /// The server's address.
    pub(crate) addr: SocketAddr,
    /// TLS, `None` for plain TCP.
    pub(crate) tls: Option<TargetTls>,
    /// The whole request: 4-byte length, then the envelope.
    pub(crate) frame: Vec<u8>,
}

/// A TLS target: its material, the case measured and the name to verify.
pub(crate) struct TargetTls {
    /// The certificate kind and the handshakes made.
    pub(crate) case: TlsCase,
    /// The CA the clients trust.
    pub(crate) material: Arc<TlsMaterial>,
    /// The name the clients expect in the certificate.
    pub(crate) name: ServerName<'static>,
}

/// One client connection.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One client's way to the target: its own TLS connector (and so its own
/// session store, for resumed handshakes).
struct Dialer<'a> {
    target: &'a Target,
    connector: Option<TlsConnector>,
}

impl<'a> Dialer<'a> {
    fn new(target: &'a Target) -> Self {
        let connector = target
            .tls
            .as_ref()
            .map(|tls| tls.material.connector(tls.case.handshake));
        Dialer { target, connector }
    }

    /// Connects (and shakes hands, for TLS); the connection and whether
    /// its TLS handshake resumed a session.
    async fn connect(&self) -> Result<(Conn, bool), String> {
        let tcp = TcpStream::connect(self.target.addr)
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("nodelay: {}", e.kind()))?;
        match (&self.connector, &self.target.tls) {
            (Some(connector), Some(tls)) => {
                let stream = connector
                    .connect(tls.name.clone(), tcp)
                    .await
                    .map_err(|e| format!("TLS handshake: {e}"))?;
                let resumed = stream.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
                Ok((Conn::Tls(Box::new(stream)), resumed))
            }
            _ => Ok((Conn::Plain(tcp), false)),
        }
    }
}

impl Conn {
    /// One command on this connection.
    async fn command(&mut self, frame: &[u8], buf: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Conn::Plain(stream) => exchange(stream, frame, buf).await,
            Conn::Tls(stream) => exchange(&mut **stream, frame, buf).await,
        }
    }

    /// Closes: plain, FIN (drop); TLS, `close_notify` then FIN. A server
    /// that already closed makes this fail, which is fine.
    async fn close(self) {
        if let Conn::Tls(mut stream) = self {
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        }
    }
}

/// Sends one request frame and reads reply frames up to the terminator;
/// a reply with no result line or an `Error: ` line is an error.
async fn exchange<S>(stream: &mut S, frame: &[u8], buf: &mut Vec<u8>) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(frame)
        .await
        .map_err(|e| format!("write: {}", e.kind()))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("flush: {}", e.kind()))?;
    buf.clear();
    let mut start = 0;
    let mut lines = 0usize;
    loop {
        while let Some(header) = buf.get(start..start + 4) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            if len > MAX_REPLY_FRAME {
                return Err(format!("reply frame of {len} bytes"));
            }
            let Some(body) = buf.get(start + 4..start + 4 + len) else {
                break;
            };
            start += 4 + len;
            if body == END {
                if start != buf.len() {
                    return Err("bytes after the terminator".into());
                }
                if lines == 0 {
                    return Err("terminator with no result line".into());
                }
                return Ok(());
            }
            if body.starts_with(b"Error: ") {
                let text = String::from_utf8_lossy(body);
                return Err(format!("server replied {:?}", text.trim_end()));
            }
            lines += 1;
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        match stream.read_buf(buf).await {
            Ok(0) => return Err("closed before the terminator".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("read: {}", e.kind())),
        }
    }
}

/// One command per connection, or connections kept for many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Connect, one command, close.
    PerConnection,
    /// One connection for every command of a client.
    Kept,
}

/// When completions count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// Completions from here count.
    pub(crate) start: Instant,
    /// Clients stop here.
    pub(crate) end: Instant,
}

/// What one client saw.
pub(crate) struct ClientStats {
    /// Latency of the commands completed in the window, microseconds.
    pub(crate) latency_us: Histogram<u64>,
    /// Commands completed in the window.
    pub(crate) commands: u64,
    /// Of the TLS handshakes of those commands' connections, how many
    /// resumed a session.
    pub(crate) resumed: u64,
    /// Failed commands by reason.
    pub(crate) errors: BTreeMap<String, u64>,
}

/// An empty latency histogram (1 us to 120 s).
pub(crate) fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 120_000_000, 3)?)
}

/// One client: commands back to back until the window ends.
pub(crate) async fn client(target: Arc<Target>, mode: Mode, window: Window) -> Result<ClientStats> {
    let mut stats = ClientStats {
        latency_us: histogram()?,
        commands: 0,
        resumed: 0,
        errors: BTreeMap::new(),
    };
    let dialer = Dialer::new(&target);
    let mut kept: Option<Conn> = None;
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let began = Instant::now();
        if began >= window.end {
            break;
        }
        let attempt = tokio::time::timeout(COMMAND_TIMEOUT, async {
            match mode {
                Mode::PerConnection => {
                    let (mut conn, resumed) = dialer.connect().await?;
                    let result = conn.command(&target.frame, &mut buf).await;
                    let done = Instant::now();
                    conn.close().await;
                    result.map(|()| (done, resumed))
                }
                Mode::Kept => {
                    let mut resumed = false;
                    if kept.is_none() {
                        let (conn, was_resumed) = dialer.connect().await?;
                        kept = Some(conn);
                        resumed = was_resumed;
                    }
                    let conn = kept.as_mut().ok_or("no connection")?;
                    conn.command(&target.frame, &mut buf).await?;
                    Ok((Instant::now(), resumed))
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("no complete reply within {COMMAND_TIMEOUT:?}")));
        match attempt {
            Ok((done, resumed)) => {
                if done >= window.start && done < window.end {
                    stats.resumed += u64::from(resumed);
                    let micros = u64::try_from(done.duration_since(began).as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1);
                    stats.latency_us.saturating_record(micros);
                    stats.commands += 1;
                }
            }
            Err(why) => {
                kept = None;
                *stats.errors.entry(why).or_insert(0) += 1;
                // An error is often immediate (refused, reset): do not spin.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    if let Some(conn) = kept {
        conn.close().await;
    }
    Ok(stats)
}

/// Whether the server keeps a framed connection open after a reply.
pub(crate) async fn keeps_connections(target: &Target) -> Result<bool> {
    tokio::time::timeout(COMMAND_TIMEOUT, async {
        let (mut conn, _) = Dialer::new(target).connect().await?;
        let mut buf = Vec::with_capacity(16 * 1024);
        conn.command(&target.frame, &mut buf).await?;
        let mut byte = [0u8; 1];
        let next = tokio::time::timeout(Duration::from_millis(300), async {
            match &mut conn {
                Conn::Plain(stream) => stream.read(&mut byte).await,
                Conn::Tls(stream) => stream.read(&mut byte).await,
            }
        })
        .await;
        conn.close().await;
        // Timed out waiting: still open. End of stream or an error: closed.
        Ok::<bool, String>(next.is_err())
    })
    .await
    .map_err(|_| "probe timed out")?
    .map_err(|why| format!("probe command failed: {why}").into())
}
