//! A user's gRPC channel: HTTP/2 (hyper's client) over the engine's own
//! dial (so `--connect-to`, the descriptor budget and the agent's rustls
//! setup apply, with `h2` offered by ALPN), driven by tonic's client; and
//! the codec that carries messages as bytes (encoded from, and checked
//! against, the method's descriptors by the caller).
//!
//! Limits: a received message is at most [`MAX_MESSAGE`] bytes (larger:
//! the call fails with `ResourceExhausted`); response headers and trailers
//! at most [`MAX_HEADER_LIST`] bytes; HTTP/2 frames at hyper's default
//! 16 KiB; flow-control windows at hyper's defaults.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls::ClientConfig;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use super::target::Target;
use crate::engine::dial::{self, Held};
use crate::engine::network::Network;
use crate::engine::Descriptors;

/// The largest message a call receives: 16 MiB.
pub(super) const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The most bytes of response headers (or trailers) a call accepts: 64 KiB.
pub(super) const MAX_HEADER_LIST: u32 = 64 * 1024;

/// A gRPC channel: one HTTP/2 connection.
pub(super) type Channel = tonic::client::Grpc<H2>;

/// Opens a channel to `target` (TLS with `tls` when given), with a handle
/// on its connection (to see whether it closed); the error says what
/// failed and where.
pub(super) async fn open(
    network: &Network,
    connections: &Arc<Descriptors>,
    target: &Target,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<(Channel, H2), String> {
    let tcp = dial::tcp(network, connections, &target.host, target.port).await?;
    let send = match tls {
        None => handshake(Wire(tcp)).await?,
        Some(config) => handshake(Wire(dial::tls(config, &target.host, tcp).await?)).await?,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let origin = format!("{scheme}://{}:{}", target.host, target.port);
    let origin: http::Uri = origin
        .parse()
        .map_err(|e| format!("{origin}: not a URI: {e}"))?;
    let probe = H2(send.clone());
    let channel =
        tonic::client::Grpc::with_origin(H2(send), origin).max_decoding_message_size(MAX_MESSAGE);
    Ok((channel, probe))
}

/// The HTTP/2 handshake over `io`; the connection is driven by a task of
/// its own, which ends when the channel is dropped (or the peer closes).
async fn handshake<S>(io: Wire<S>) -> Result<SendRequest<tonic::body::Body>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .max_header_list_size(MAX_HEADER_LIST)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP/2 handshake failed: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(send)
}

/// A socket that keeps its place in the descriptor budget while hyper
/// holds it.
struct Wire<S>(Held<S>);

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0.socket).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0.socket).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0.socket).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.socket.is_write_vectored()
    }
}

/// hyper's HTTP/2 sender as the tower service tonic's client drives.
#[derive(Clone, Debug)]
pub(super) struct H2(SendRequest<tonic::body::Body>);

impl H2 {
    /// Whether the connection is gone (closed by the peer, or failed).
    pub(super) fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

type Responding = Pin<
    Box<dyn Future<Output = Result<http::Response<hyper::body::Incoming>, hyper::Error>> + Send>,
>;

impl tower::Service<http::Request<tonic::body::Body>> for H2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = Responding;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Responding {
        Box::pin(self.0.send_request(request))
    }
}

/// Messages as their encoded bytes, both ways: requests are encoded (and
/// responses checked) by the caller against the method's descriptors.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
