//! [`Feed`]: the dashboard's snapshots, made once for every reader. One
//! ticker makes a snapshot each refresh while an event stream listens and
//! puts it in a watch channel; each stream sends the latest one (never a
//! queue: a slow reader skips snapshots and holds at most two). `/snapshot`
//! reuses a snapshot begun after its request arrived, so a burst of
//! requests costs at most two computations, and what it shows is never
//! older than the request.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::{mpsc, watch, Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Settings, Snapshot};
use crate::observe::Body;
use crate::state::State;

/// The dashboard's snapshots.
#[derive(Debug)]
pub(super) struct Feed {
    /// Whose figures; weak, as the state holds the dashboard.
    state: Weak<State>,
    settings: Settings,
    /// The last snapshot made, with when it was begun.
    latest: Mutex<Option<(Instant, Bytes)>>,
    /// The latest event (`data: {json}\n\n`) for the streams.
    events: watch::Sender<Bytes>,
    /// One permit per open event stream.
    streams: Arc<Semaphore>,
    /// Cancelled when the dashboard stops: the ticker and streams end.
    stop: CancellationToken,
}

impl Feed {
    /// A feed of `state`'s figures, at most `max_streams` event streams at
    /// once; its ticker runs until `stop`.
    pub(super) fn start(
        state: Weak<State>,
        settings: Settings,
        max_streams: usize,
        stop: CancellationToken,
    ) -> Arc<Feed> {
        let feed = Arc::new(Feed {
            state,
            settings,
            latest: Mutex::new(None),
            events: watch::Sender::new(Bytes::new()),
            streams: Arc::new(Semaphore::new(max_streams)),
            stop,
        });
        tokio::spawn(Arc::clone(&feed).tick());
        feed
    }

    /// The snapshot as JSON, begun no earlier than this call; `None` once
    /// the state is gone (the agent is stopping).
    pub(super) async fn snapshot(&self) -> Option<Bytes> {
        let asked = Instant::now();
        let mut latest = self.latest.lock().await;
        if let Some((begun, json)) = latest.as_ref() {
            if *begun >= asked {
                return Some(json.clone());
            }
        }
        let state = self.state.upgrade()?;
        let begun = Instant::now();
        let snapshot = Snapshot::of(
            &state,
            self.settings.window_seconds,
            self.settings.refresh_seconds,
        );
        drop(state);
        // A snapshot holds numbers, strings and maps: it always serializes.
        let json = Bytes::from(serde_json::to_vec(&snapshot).unwrap_or_default());
        *latest = Some((begun, json.clone()));
        Some(json)
    }

    /// Makes a snapshot each refresh while a stream listens.
    async fn tick(self: Arc<Self>) {
        let mut every = tokio::time::interval(self.settings.refresh());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                _ = every.tick() => {}
            }
            if self.events.receiver_count() == 0 {
                continue;
            }
            match self.snapshot().await {
                Some(json) => {
                    self.events.send_replace(event(&json));
                }
                None => return,
            }
        }
    }

    /// An event stream's body, or `None` when [`Feed::start`]'s
    /// `max_streams` are open.
    pub(super) async fn events(&self) -> Option<Body> {
        let permit = Arc::clone(&self.streams).try_acquire_owned().ok()?;
        let mut latest = self.events.subscribe();
        latest.mark_unchanged();
        let first = event(&self.snapshot().await?);
        // One event waits in the channel, one in the sender: a slow reader
        // holds two at most (shared with the other streams: Bytes).
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(stream(first, latest, tx, self.stop.clone(), permit));
        Some(EventBody { rx }.boxed())
    }
}

/// One server-sent event carrying `json`.
fn event(json: &[u8]) -> Bytes {
    let mut event = Vec::with_capacity(json.len() + 8);
    event.extend_from_slice(b"data: ");
    event.extend_from_slice(json);
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

/// Feeds one stream: `first`, then each new event, until the dashboard
/// stops or the client goes.
async fn stream(
    first: Bytes,
    mut latest: watch::Receiver<Bytes>,
    tx: mpsc::Sender<Bytes>,
    stop: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let mut next = first;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            sent = tx.send(next) => if sent.is_err() { return },
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tx.closed() => return,
            changed = latest.changed() => if changed.is_err() { return },
        }
        next = latest.borrow_and_update().clone();
    }
}

/// The body of an event stream: what its feeder sends, until it ends.
#[derive(Debug)]
struct EventBody {
    rx: mpsc::Receiver<Bytes>,
}

impl HttpBody for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
