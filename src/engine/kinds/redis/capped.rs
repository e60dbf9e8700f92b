//! The bytes a Redis connection may read for one step's reply: the
//! `redis` crate buffers a reply whole, whatever length the server
//! announces, so the stream under it counts what it reads and fails past
//! [`MAX_REPLY_BYTES`], which fails the step and drops the connection.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a step's reply may take.
pub(super) const MAX_REPLY_BYTES: u64 = 16 << 20;

/// Bytes read since the step began, shared by the user and the stream.
#[derive(Clone, Debug, Default)]
pub(super) struct Counter(Arc<AtomicU64>);

impl Counter {
    /// A new step: nothing read yet.
    pub(super) fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// A stream whose reads count against a [`Counter`].
#[derive(Debug)]
pub(super) struct Capped<S> {
    inner: S,
    read: Counter,
}

impl<S> Capped<S> {
    /// `inner`, its reads counted in `read`.
    pub(super) fn new(inner: S, read: Counter) -> Self {
        Capped { inner, read }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let n = (buf.filled().len() - before) as u64;
            let total = this.read.0.fetch_add(n, Ordering::Relaxed) + n;
            if total > MAX_REPLY_BYTES {
                return Poll::Ready(Err(io::Error::other(format!(
                    "reply over {MAX_REPLY_BYTES} bytes"
                ))));
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
