//! [`Transport`]: a framed connection as the pipeline server sees it.
//!
//! It wraps a tokio-util `Framed` and owns the per-connection rules that
//! tokio-tower does not know: the read timeout (counted only while no
//! request is in flight, so a client waiting for a long command is not cut
//! off), the end of reading at shutdown or after a reply that closes the
//! connection (legacy mode, refusals, quit), and the end of the stream on a
//! client's framing mistake, so replies already in flight are still sent.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};
use tokio_util::codec::{Decoder, Encoder, Framed};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::codec::Decoded;
use crate::protocol::{Reply, Request};

pin_project! {
    /// A connection's request stream and reply sink.
    #[derive(Debug)]
    pub(crate) struct Transport<IO, C> {
        #[pin]
        framed: Framed<IO, C>,
        // The peer, stamped on every request for the logs.
        peer: Option<SocketAddr>,
        // Fires when the connection has been idle for the read timeout.
        #[pin]
        idle: Sleep,
        read_timeout: Duration,
        // Fires when the server begins shutting down.
        #[pin]
        shutdown: WaitForCancellationFutureOwned,
        // Requests handed out and not yet answered.
        in_flight: usize,
        // Legacy mode: one request per connection.
        one_shot: bool,
        // Whether more requests are read.
        reading: bool,
        // A reply that closes the connection has been sent: later ones are dropped.
        closing: bool,
        // The client closed its side: nothing is left unread.
        client_closed: bool,
    }
}

impl<IO, C> Transport<IO, C>
where
    IO: AsyncRead + AsyncWrite,
{
    /// Wraps `io` with `codec`.
    pub(crate) fn new(
        io: IO,
        codec: C,
        peer: Option<SocketAddr>,
        read_timeout: Duration,
        one_shot: bool,
        shutdown: CancellationToken,
    ) -> Self {
        Transport {
            framed: Framed::new(io, codec),
            peer,
            idle: tokio::time::sleep(read_timeout),
            read_timeout,
            shutdown: shutdown.cancelled_owned(),
            in_flight: 0,
            one_shot,
            reading: true,
            closing: false,
            client_closed: false,
        }
    }
}

impl<IO, C> Transport<IO, C> {
    /// Whether the client closed its side (its end of stream was read).
    pub(crate) fn client_closed(&self) -> bool {
        self.client_closed
    }
}

impl<IO: Unpin, C> Transport<IO, C> {
    /// The underlying stream, for the last reads before closing.
    pub(crate) fn io(self: Pin<&mut Self>) -> Pin<&mut IO> {
        self.project().framed.get_pin_mut()
    }
}

impl<IO, C> Stream for Transport<IO, C>
where
    IO: AsyncRead + AsyncWrite,
    C: Decoder<Item = Decoded, Error = io::Error>,
{
    type Item = Result<Request, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if !*this.reading {
            return Poll::Ready(None);
        }
        if this.shutdown.poll(cx).is_ready() {
            *this.reading = false;
            return Poll::Ready(None);
        }
        match this.framed.poll_next(cx) {
            Poll::Ready(Some(Ok(Decoded::Request(body)))) => {
                *this.in_flight += 1;
                *this.reading = !*this.one_shot;
                Poll::Ready(Some(Ok(Request::new(*this.peer, body))))
            }
            Poll::Ready(Some(Ok(Decoded::Close(why)))) => {
                tracing::debug!(peer = ?this.peer, why, "closing connection");
                *this.reading = false;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                tracing::debug!(peer = ?this.peer, %error, "read failed");
                *this.reading = false;
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                *this.reading = false;
                *this.client_closed = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if *this.in_flight == 0 && this.idle.poll(cx).is_ready() {
                    tracing::debug!(peer = ?this.peer, "read timeout");
                    *this.reading = false;
                    return Poll::Ready(None);
                }
                Poll::Pending
            }
        }
    }
}

impl<IO, C> Sink<Reply> for Transport<IO, C>
where
    IO: AsyncRead + AsyncWrite,
    C: Encoder<Reply, Error = io::Error>,
{
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Sink::<Reply>::poll_ready(self.project().framed, cx)
    }

    fn start_send(self: Pin<&mut Self>, reply: Reply) -> Result<(), io::Error> {
        let this = self.project();
        *this.in_flight = this.in_flight.saturating_sub(1);
        if *this.in_flight == 0 {
            this.idle.reset(Instant::now() + *this.read_timeout);
        }
        if *this.closing {
            return Ok(());
        }
        if reply.closes() {
            *this.closing = true;
            *this.reading = false;
        }
        this.framed.start_send(reply)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Sink::<Reply>::poll_flush(self.project().framed, cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Sink::<Reply>::poll_close(self.project().framed, cx)
    }
}
