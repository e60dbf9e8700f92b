//! [`Transport`]: a framed connection as the pipeline server sees it.
//!
//! It wraps a tokio-util `Framed` and owns the per-connection rules that
//! tokio-tower does not know:
//! - **reading**: the read timeout (counted only while no request is in
//!   flight, so a client waiting for a long command is not cut off; what
//!   was read of a request by then is taken as the codec takes it at the
//!   end of the stream: a legacy request is answered, with its parse error,
//!   part of a frame is dropped); reading
//!   stops at shutdown, after a reply that closes the connection (legacy
//!   mode, refusals, quit), on a client's framing mistake (replies already
//!   in flight are still sent), and *pauses* while the connection has
//!   [`Limits::max_in_flight`](super::Limits) requests unanswered or
//!   [`MAX_UNSENT`] reply bytes its peer has not taken, so a peer that does
//!   not read cannot make replies pile up;
//! - **writing**: a peer that takes no reply byte for the read timeout,
//!   while some wait, is cut off;
//! - **strangers**: on a connection never admitted (see
//!   [`Admission`](crate::protocol::Admission)), the [`MAX_STRIKES`]th
//!   rejected request closes it, and requests from an address that failed
//!   to authenticate too often wait for their turn ([`Peers::gate`]).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};
use tokio_util::codec::{Decoder, Encoder, Framed};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use ld_tower_layers::logging::Escaped;

use super::peers::{Gate, Peers};
use super::table::Member;
use crate::codec::Decoded;
use crate::protocol::{Reply, Request};

/// Reply bytes a peer may leave untaken before its connection stops reading
/// requests (until it takes them).
pub const MAX_UNSENT: usize = 256 * 1024;

/// A connection's read or write buffer grown past this (by a large request
/// or reply) gives back what it does not use: a thousand idle connections
/// do not each keep the largest reply they ever sent.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Rejected requests (not a command: bad UTF-8, bad JSON, too large) a
/// connection that was never admitted may send; the last one's reply closes
/// it.
pub const MAX_STRIKES: u8 = 3;

/// What a transport needs besides its stream and codec.
pub(crate) struct Rules {
    /// The peer, stamped on every request for the logs.
    pub(crate) peer: Option<SocketAddr>,
    /// The read timeout, also the longest a peer may leave a reply untaken.
    pub(crate) read_timeout: Duration,
    /// Requests unanswered at most before reading pauses.
    pub(crate) max_in_flight: usize,
    /// Legacy mode: one request per connection.
    pub(crate) one_shot: bool,
    /// Cancelled when the server begins shutting down.
    pub(crate) shutdown: CancellationToken,
    /// The connection's place in the server's table.
    pub(crate) member: Member,
    /// What the server remembers of client addresses.
    pub(crate) peers: Arc<Peers>,
}

pin_project! {
    /// A connection's request stream and reply sink.
    pub(crate) struct Transport<IO, C> {
        #[pin]
        framed: Framed<IO, C>,
        peer: Option<SocketAddr>,
        // Fires when the connection has been idle for the read timeout.
        #[pin]
        idle: Sleep,
        read_timeout: Duration,
        // Fires when the peer has taken no reply byte for the read timeout.
        #[pin]
        stall: Sleep,
        // Whether `stall` is set for the bytes now waiting.
        stall_armed: bool,
        // Fires when the server begins shutting down.
        #[pin]
        shutdown: WaitForCancellationFutureOwned,
        // A stranger's request waiting for its address's turn.
        held: Option<Request>,
        #[pin]
        turn: Sleep,
        max_in_flight: usize,
        // The sizes of the requests handed out and not yet answered, in
        // order: what they hold counts against the server's budget until
        // their replies take their place.
        asked: VecDeque<usize>,
        // Rejected requests of a connection never admitted.
        strikes: u8,
        // Legacy mode: one request per connection.
        one_shot: bool,
        // Whether more requests are read.
        reading: bool,
        // A reply that closes the connection has been sent: later ones are dropped.
        closing: bool,
        // The client closed its side: nothing is left unread.
        client_closed: bool,
        member: Member,
        peers: Arc<Peers>,
    }
}

impl<IO, C> Transport<IO, C>
where
    IO: AsyncRead + AsyncWrite,
{
    /// Wraps `io` with `codec`.
    pub(crate) fn new(io: IO, codec: C, rules: Rules) -> Self {
        let far = Instant::now() + rules.read_timeout;
        Transport {
            framed: Framed::new(io, codec),
            peer: rules.peer,
            idle: tokio::time::sleep(rules.read_timeout),
            read_timeout: rules.read_timeout,
            stall: tokio::time::sleep_until(far),
            stall_armed: false,
            shutdown: rules.shutdown.cancelled_owned(),
            held: None,
            turn: tokio::time::sleep_until(far),
            max_in_flight: rules.max_in_flight.max(1),
            asked: VecDeque::new(),
            strikes: 0,
            one_shot: rules.one_shot,
            reading: true,
            closing: false,
            client_closed: false,
            member: rules.member,
            peers: rules.peers,
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
    IO: AsyncRead + AsyncWrite + Unpin,
    C: Decoder<Item = Decoded, Error = io::Error> + Unpin,
{
    type Item = Result<Request, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if !*this.reading {
            return Poll::Ready(None);
        }
        if this.shutdown.as_mut().poll(cx).is_ready() {
            *this.reading = false;
            return Poll::Ready(None);
        }
        if this.held.is_some() {
            // A stranger's request waits for its address's turn.
            if this.turn.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            return Poll::Ready(this.held.take().map(|request| {
                hand_out(
                    &request,
                    this.asked,
                    this.reading,
                    *this.one_shot,
                    this.member,
                );
                Ok(request)
            }));
        }
        // Backpressure: nothing more is read while answers wait.
        if this.asked.len() >= *this.max_in_flight || this.framed.write_buffer().len() >= MAX_UNSENT
        {
            return Poll::Pending;
        }
        let mut polled = this.framed.as_mut().poll_next(cx);
        // Past the read timeout, what was read of a request is taken as it
        // is, as at the end of the stream (the codec decides: a legacy
        // request is answered with its parse error, part of a frame is
        // dropped), and it is the connection's last request.
        let mut last = false;
        if polled.is_pending() && this.asked.is_empty() && this.idle.as_mut().poll(cx).is_ready() {
            tracing::debug!(peer = ?this.peer, "read timeout");
            let framed = this.framed.as_mut().get_mut();
            let mut rest = std::mem::take(framed.read_buffer_mut());
            match framed.codec_mut().decode_eof(&mut rest).transpose() {
                None => {
                    *this.reading = false;
                    this.member.partial(0);
                    return Poll::Ready(None);
                }
                Some(item) => {
                    last = true;
                    polled = Poll::Ready(Some(item));
                }
            }
        }
        this.member.partial(this.framed.read_buffer().len());
        match polled {
            Poll::Ready(Some(Ok(Decoded::Request(body)))) => {
                fit(this.framed.as_mut().get_mut().read_buffer_mut());
                let admission = this.member.slot.admission.clone();
                let request = Request::on(*this.peer, body, admission);
                if !request.admission.is_admitted() {
                    if let Some(peer) = this.peer {
                        match this.peers.gate(peer.ip()) {
                            Gate::Open => {}
                            Gate::At(at) => {
                                this.turn.as_mut().reset(at);
                                *this.held = Some(request);
                                // Registers the timer's wake-up.
                                let _ = this.turn.poll(cx);
                                return Poll::Pending;
                            }
                            Gate::Closed => {
                                tracing::warn!(
                                    peer = %peer,
                                    "closing connection: too many authentication attempts from its address are waiting"
                                );
                                *this.reading = false;
                                return Poll::Ready(None);
                            }
                        }
                    }
                }
                hand_out(
                    &request,
                    this.asked,
                    this.reading,
                    *this.one_shot || last,
                    this.member,
                );
                Poll::Ready(Some(Ok(request)))
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
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Counts a request handed to the pipeline.
fn hand_out(
    request: &Request,
    asked: &mut VecDeque<usize>,
    reading: &mut bool,
    one_shot: bool,
    member: &Member,
) {
    asked.push_back(request.body.len());
    member.queued(request.body.len());
    member.slot.in_flight.store(asked.len(), Ordering::Relaxed);
    member.progressed();
    *reading = !one_shot;
}

/// Gives back most of a buffer's memory once most of it is unused (past
/// [`KEEP_CAPACITY`]): what a connection holds is then at most about twice
/// what the server's budgets count, and the bytes moved over a reply's
/// drain are at most its size again (each move halves what is left).
fn fit(buffer: &mut bytes::BytesMut) {
    if buffer.capacity() > KEEP_CAPACITY && buffer.capacity() / 2 > buffer.len() {
        let mut fitted = bytes::BytesMut::with_capacity(buffer.len());
        fitted.extend_from_slice(buffer);
        *buffer = fitted;
    }
}

impl<IO, C> Transport<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: Encoder<Reply, Error = io::Error> + Unpin,
{
    /// Runs `op` (a flush, or a readiness check that may flush) on the framed
    /// stream, counting the bytes the peer took; fails once the peer has
    /// taken nothing for the read timeout while bytes wait.
    fn watch_writes(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut Framed<IO, C>>, &mut Context<'_>) -> Poll<io::Result<()>>,
    ) -> Poll<io::Result<()>> {
        let mut this = self.project();
        let before = this.framed.write_buffer().len();
        let result = op(this.framed.as_mut(), cx);
        let after = this.framed.write_buffer().len();
        let took = before.saturating_sub(after);
        this.member.sent(took);
        if after == 0 || took > 0 {
            *this.stall_armed = false;
        }
        if took > 0 {
            fit(this.framed.as_mut().get_mut().write_buffer_mut());
        }
        if result.is_ready() || after == 0 {
            return result;
        }
        if !*this.stall_armed {
            this.stall
                .as_mut()
                .reset(Instant::now() + *this.read_timeout);
            *this.stall_armed = true;
        }
        if this.stall.poll(cx).is_ready() {
            tracing::debug!(peer = ?this.peer, unsent = after, "the peer is not reading its replies");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer took no reply byte for the read timeout",
            )));
        }
        Poll::Pending
    }
}

impl<IO, C> Sink<Reply> for Transport<IO, C>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    C: Encoder<Reply, Error = io::Error> + Unpin,
{
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        self.watch_writes(cx, Sink::<Reply>::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, reply: Reply) -> Result<(), io::Error> {
        let this = self.project();
        // The reply was counted when it was made; its bytes now count in the
        // buffer, or not at all if it is dropped.
        this.member.released(reply.size());
        // The request's bytes no longer count, its reply's do.
        this.member.released(this.asked.pop_front().unwrap_or(0));
        this.member
            .slot
            .in_flight
            .store(this.asked.len(), Ordering::Relaxed);
        if this.asked.is_empty() {
            this.idle.reset(Instant::now() + *this.read_timeout);
            this.member.progressed();
        }
        if *this.closing {
            return Ok(());
        }
        let mut closes = reply.closes();
        if reply.is_rejection() && !this.member.slot.admission.is_admitted() {
            *this.strikes += 1;
            if let Some(peer) = this.peer {
                if let Some(count) = this.peers.protocol_error(peer.ip()) {
                    tracing::info!(
                        peer = %peer,
                        reason = %Escaped(&reply.first_line()),
                        from_address = count,
                        "request rejected: not a command"
                    );
                }
            }
            if *this.strikes >= MAX_STRIKES {
                tracing::debug!(peer = ?this.peer, "closing a stranger's connection after {MAX_STRIKES} rejected requests");
                closes = true;
            }
        }
        if reply.is_refusal() {
            if let Some(peer) = this.peer {
                let failure = this.peers.auth_failed(peer.ip());
                let told = reply.first_line();
                tracing::warn!(
                    peer = %peer,
                    reason = %Escaped(reply.refusal_cause().unwrap_or(&told)),
                    told = %Escaped(&told),
                    failures_from_address = failure.count,
                    next_attempt_delay_ms = failure.delay.as_millis() as u64,
                    "authentication refused"
                );
            }
        }
        if closes {
            *this.closing = true;
            *this.reading = false;
        }
        let mut framed = this.framed;
        let before = framed.write_buffer().len();
        let sent = framed.as_mut().start_send(reply);
        let after = framed.write_buffer().len();
        this.member.queued(after.saturating_sub(before));
        sent
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        self.watch_writes(cx, Sink::<Reply>::poll_flush)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        self.watch_writes(cx, Sink::<Reply>::poll_close)
    }
}
