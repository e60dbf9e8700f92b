//! A user's WebSocket connection: TCP (and TLS for `wss://`) opened by
//! [`dial`] (the descriptor budget, `--connect-to`, the agent's or the
//! step's rustls configuration), then tokio-tungstenite's client handshake
//! over it. Incoming messages and frames are capped at
//! [`MAX_MESSAGE_BYTES`]; pings are answered and a server's close frame is
//! answered by the library.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::engine::dial::{self, Stream};
use crate::engine::kinds::steps::Failure;
use crate::engine::network::Network;
use crate::engine::Descriptors;

/// The largest message (and frame) a server may send: a larger one fails
/// the step and closes the connection.
pub(super) const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// An open WebSocket connection.
pub(super) type Socket = WebSocketStream<Stream>;

/// Where a `ws://` or `wss://` URL connects.
pub(super) type Target = dial::Endpoint;

/// `url`'s target; the error says what is wrong with it.
pub(super) fn target(url: &str) -> Result<Target, String> {
    dial::Endpoint::of_url(url, "ws", "wss").map(|(target, _)| target)
}

/// The library's settings: incoming messages and frames capped.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
}

/// Opens `url` (whose target is `target`), TLS with `tls` for `wss://`.
pub(super) async fn open(
    url: &str,
    target: &Target,
    network: &Network,
    connections: &Arc<Descriptors>,
    tls: &Arc<ClientConfig>,
) -> Result<Socket, Failure> {
    let tcp = dial::tcp(network, connections, &target.host, target.port).await?;
    let io = if target.secure {
        Stream::Tls(Box::new(dial::tls(tls, &target.host, tcp).await?))
    } else {
        Stream::Plain(tcp)
    };
    match tokio_tungstenite::client_async_with_config(url, io, Some(config())).await {
        Ok((socket, _response)) => Ok(socket),
        Err(WsError::Http(response)) => Err(Failure {
            status: Some(response.status().as_u16()),
            reason: format!(
                "WebSocket handshake with {url} refused: HTTP {}",
                response.status()
            ),
        }),
        Err(e) => Err(format!("WebSocket handshake with {url} failed: {e}").into()),
    }
}

/// A message received: its text (binary messages read as UTF-8, lossily,
/// for `expect`) and its length in bytes.
#[derive(Debug)]
pub(super) struct Received {
    /// The message (text or binary), as received.
    message: Message,
    /// Its length in bytes, as sent.
    pub(super) bytes: u64,
}

impl Received {
    /// Whether it contains `expect` (a binary message read as UTF-8,
    /// invalid sequences replaced); copied only for a binary one.
    pub(super) fn contains(&self, expect: &str) -> bool {
        match &self.message {
            Message::Text(text) => text.as_str().contains(expect),
            Message::Binary(data) => String::from_utf8_lossy(data).contains(expect),
            _ => false,
        }
    }
}

/// Why waiting for a message failed: the connection is gone either way.
pub(super) fn lost(e: &WsError) -> String {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            "connection closed by the server".to_owned()
        }
        WsError::Capacity(e) => format!("message over {MAX_MESSAGE_BYTES} bytes: {e}"),
        other => format!("connection lost: {other}"),
    }
}

/// Waits for the next data message (pings and pongs are the library's).
/// A close frame from the server is answered (the connection drained until
/// its end) and reported as the error.
pub(super) async fn receive(socket: &mut Socket) -> Result<Received, String> {
    loop {
        match socket.next().await {
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                let bytes = message.len() as u64;
                return Ok(Received { message, bytes });
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                // Reading on sends the library's reply to the close.
                while let Some(Ok(_)) = socket.next().await {}
                return Err(match frame {
                    Some(frame) if !frame.reason.is_empty() => format!(
                        "connection closed by the server (code {}: {})",
                        u16::from(frame.code),
                        frame.reason
                    ),
                    Some(frame) => format!(
                        "connection closed by the server (code {})",
                        u16::from(frame.code)
                    ),
                    None => "connection closed by the server".to_owned(),
                });
            }
            Some(Err(e)) => return Err(lost(&e)),
            None => return Err("connection closed by the server".to_owned()),
        }
    }
}
