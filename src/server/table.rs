//! [`Table`]: the open connections, and which to close when room is needed.
//!
//! Room is needed in three cases:
//! - **the connection cap is reached** and a new client connects: rather than
//!   turn the newcomer away (which let 1,100 strangers lock every client
//!   out), the server closes one connection that is doing nothing useful:
//!   first the oldest never admitted (see
//!   [`Admission`](crate::protocol::Admission)), then one whose peer stopped
//!   reading, then the longest idle. A connection whose command is running
//!   is never chosen;
//! - **bytes held for replies pass the server's budget**
//!   ([`Limits::max_unsent_bytes`]): the connections whose peers stopped
//!   reading are closed, those holding the most first, until the rest fits;
//! - **requests held pass the server's budget**
//!   ([`Limits::max_partial_bytes`]): the connections never admitted that
//!   hold the oldest partial requests are closed (a client sends its
//!   request at once; one that trickles a megabyte in over the read timeout
//!   is no client), then those whose peers stopped reading, until the rest
//!   fits.
//!
//! A closed connection leaves the table at once, giving back its place
//! under the cap; its task notices and ends a moment later.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[cfg(doc)]
use super::Limits;
use crate::protocol::Admission;

/// A peer that has not taken any of its reply for this long, while some is
/// waiting, counts as no longer reading (for choosing whom to close; the
/// connection itself is closed after the read timeout without progress).
pub(super) const STALLED_AFTER: Duration = Duration::from_millis(200);

/// What a connection shares with the table.
#[derive(Debug)]
pub(super) struct Slot {
    /// Whether it was admitted.
    pub(super) admission: Admission,
    /// Requests read and not yet answered.
    pub(super) in_flight: AtomicUsize,
    /// Bytes held for it until its peer takes them: its requests being
    /// answered (until their replies are made), its replies made and not
    /// yet written, written to its buffer and not yet taken.
    pub(super) unsent: AtomicUsize,
    /// When the peer last took reply bytes, or the connection last became
    /// idle (milliseconds since the table's epoch).
    pub(super) last_progress_ms: AtomicU64,
    /// Whether the table closed it (it is then out of the table, and counted
    /// among those closing until it ends).
    pub(super) evicted: AtomicBool,
    /// Bytes of a request received and not yet complete.
    pub(super) partial: AtomicUsize,
    /// When the partial request began (ms since the table's epoch).
    pub(super) partial_since_ms: AtomicU64,
    /// When the connection was accepted (ms since the table's epoch).
    pub(super) joined_ms: u64,
}

struct Entry {
    slot: Arc<Slot>,
    close: CancellationToken,
    /// The connection's place under the connection cap: given back the
    /// moment the table closes it (its task may take a moment to notice),
    /// or when the connection ends.
    _place: Option<OwnedSemaphorePermit>,
}

/// The open connections of a server.
pub(super) struct Table {
    entries: Mutex<BTreeMap<u64, Entry>>,
    next_id: AtomicU64,
    epoch: Instant,
    /// Bytes held for replies, of all connections.
    unsent: AtomicUsize,
    /// The budget of `unsent`.
    max_unsent: usize,
    /// Request bytes held, of all connections.
    partial: AtomicUsize,
    /// The budget of `partial`.
    max_partial: usize,
    /// Connections closed by the table whose tasks have not ended yet.
    closing: AtomicUsize,
}

/// A connection this young is not closed to make room for another: its
/// first request may not have been read yet (under load, a new connection's
/// task can wait its turn a while), and closing the newest strangers first
/// would let a flood of them turn every client away.
pub(super) const YOUNG: Duration = Duration::from_millis(500);

/// Connections closed by the table and not yet ended, at most: past it, no
/// more are closed to make room (their descriptors are still open).
const MAX_CLOSING: usize = 256;

/// A connection's place in the table; dropping it removes the connection
/// and returns its unsent bytes to the budget.
pub(super) struct Member {
    id: u64,
    pub(super) ledger: Ledger,
    /// Cancelled when the table closes this connection.
    pub(super) close: CancellationToken,
}

/// Counts a connection's reply bytes, from the moment a reply is made to
/// the moment its peer takes the last byte. Cheap to clone: the
/// connection's service counts replies as they are made, its transport as
/// they are written and taken.
#[derive(Clone)]
pub(super) struct Ledger {
    table: Arc<Table>,
    /// What the connection shares with the table.
    pub(super) slot: Arc<Slot>,
}

impl Table {
    pub(super) fn new(max_unsent: usize, max_partial: usize) -> Arc<Table> {
        Arc::new(Table {
            entries: Mutex::default(),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
            unsent: AtomicUsize::new(0),
            max_unsent,
            partial: AtomicUsize::new(0),
            max_partial,
            closing: AtomicUsize::new(0),
        })
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Milliseconds since the table was made.
    pub(super) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Enters a new connection, holding `place` (its permit under the
    /// connection cap) until it ends or the table closes it.
    pub(super) fn join(self: &Arc<Self>, place: Option<OwnedSemaphorePermit>) -> Member {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            admission: Admission::default(),
            in_flight: AtomicUsize::new(0),
            unsent: AtomicUsize::new(0),
            last_progress_ms: AtomicU64::new(self.now_ms()),
            evicted: AtomicBool::new(false),
            partial: AtomicUsize::new(0),
            partial_since_ms: AtomicU64::new(0),
            joined_ms: self.now_ms(),
        });
        let close = CancellationToken::new();
        self.entries().insert(
            id,
            Entry {
                slot: Arc::clone(&slot),
                close: close.clone(),
                _place: place,
            },
        );
        Member {
            id,
            ledger: Ledger {
                table: Arc::clone(self),
                slot,
            },
            close,
        }
    }

    /// Open connections.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }

    /// Closes one connection to make room for a new one: the oldest never
    /// admitted, else one whose peer stopped reading, else the longest idle.
    /// False if every connection is busy running a command.
    pub(super) fn evict_one(&self) -> bool {
        if self.closing.load(Ordering::Relaxed) >= MAX_CLOSING {
            return false;
        }
        let now = self.now_ms();
        let mut entries = self.entries();
        let idle = |slot: &Slot| {
            slot.in_flight.load(Ordering::Relaxed) == 0 && slot.unsent.load(Ordering::Relaxed) == 0
        };
        let young = u64::try_from(YOUNG.as_millis()).unwrap_or(u64::MAX);
        let stranger = entries.iter().find(|(_, e)| {
            !e.slot.admission.is_admitted()
                && e.slot.in_flight.load(Ordering::Relaxed) == 0
                && now.saturating_sub(e.slot.joined_ms) >= young
        });
        let victim = stranger
            .map(|(id, _)| (*id, "never admitted"))
            .or_else(|| {
                entries
                    .iter()
                    .find(|(_, e)| stalled(&e.slot, now))
                    .map(|(id, _)| (*id, "its peer is not reading"))
            })
            .or_else(|| {
                entries
                    .iter()
                    .filter(|(_, e)| idle(&e.slot))
                    .min_by_key(|(_, e)| e.slot.last_progress_ms.load(Ordering::Relaxed))
                    .map(|(id, _)| (*id, "idle"))
            });
        match victim {
            Some((id, why)) => {
                tracing::debug!(
                    why,
                    "connection limit reached: closing a connection to make room"
                );
                self.close(&mut entries, id);
                true
            }
            None => false,
        }
    }

    /// Closes connection `id`: its task is told, and its place under the
    /// connection cap is free at once.
    fn close(&self, entries: &mut BTreeMap<u64, Entry>, id: u64) {
        if let Some(entry) = entries.remove(&id) {
            entry.slot.evicted.store(true, Ordering::Relaxed);
            entry.close.cancel();
            self.closing.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// If unsent replies are over the budget, closes stalled connections,
    /// those holding the most first, until the rest fits. Called when bytes
    /// are queued, and regularly (a peer counts as stalled only after a
    /// while).
    pub(super) fn relieve(&self) {
        if self.unsent.load(Ordering::Relaxed) <= self.max_unsent {
            return;
        }
        let mut entries = self.entries();
        let stalled = self.stalled_biggest_first(&entries, |slot| &slot.unsent);
        self.close_until_fits(
            &mut entries,
            &self.unsent,
            self.max_unsent,
            stalled,
            "unsent replies over the server's budget: closing a connection whose peer is not reading",
        );
    }

    /// If the requests held (partial, or read ahead) are over the budget,
    /// closes the connections never admitted that hold the oldest partial
    /// ones, then those whose peers stopped reading, the biggest first,
    /// until the rest fits. Called when bytes arrive, and regularly.
    pub(super) fn relieve_partial(&self) {
        if self.partial.load(Ordering::Relaxed) <= self.max_partial {
            return;
        }
        let mut entries = self.entries();
        let holding = |e: &Entry| e.slot.partial.load(Ordering::Relaxed);
        let mut strangers: Vec<(u64, u64, usize)> = entries
            .iter()
            .filter(|(_, e)| !e.slot.admission.is_admitted() && holding(e) > 0)
            .map(|(id, e)| {
                let since = e.slot.partial_since_ms.load(Ordering::Relaxed);
                (since, *id, holding(e))
            })
            .collect();
        strangers.sort_unstable();
        self.close_until_fits(
            &mut entries,
            &self.partial,
            self.max_partial,
            strangers.into_iter().map(|(_, id, held)| (id, held)).collect(),
            "requests held over the server's budget: closing a stranger's connection holding the oldest partial one",
        );
        let stalled = self.stalled_biggest_first(&entries, |slot| &slot.partial);
        self.close_until_fits(
            &mut entries,
            &self.partial,
            self.max_partial,
            stalled,
            "requests held over the server's budget: closing a connection whose peer is not reading",
        );
    }

    /// The connections whose peers stopped reading and that hold bytes by
    /// `held`, with those bytes, the biggest first.
    fn stalled_biggest_first(
        &self,
        entries: &BTreeMap<u64, Entry>,
        held: impl Fn(&Slot) -> &AtomicUsize,
    ) -> Vec<(u64, usize)> {
        let now = self.now_ms();
        let mut stalled: Vec<(u64, usize)> = entries
            .iter()
            .filter(|(_, e)| stalled(&e.slot, now))
            .map(|(id, e)| (*id, held(&e.slot).load(Ordering::Relaxed)))
            .filter(|(_, bytes)| *bytes > 0)
            .collect();
        stalled.sort_by_key(|(_, bytes)| std::cmp::Reverse(*bytes));
        stalled
    }

    /// Closes `candidates` (each with the bytes it holds), in order, until
    /// what is left of `total` fits `budget`; logs each with `why`.
    fn close_until_fits(
        &self,
        entries: &mut BTreeMap<u64, Entry>,
        total: &AtomicUsize,
        budget: usize,
        candidates: Vec<(u64, usize)>,
        why: &str,
    ) {
        let mut total = total.load(Ordering::Relaxed);
        for (id, held) in candidates {
            if total <= budget {
                break;
            }
            tracing::warn!(held, total, budget, "{why}");
            self.close(entries, id);
            total = total.saturating_sub(held);
        }
    }
}

/// Whether the peer of `slot` has left reply bytes untaken for a while.
fn stalled(slot: &Slot, now_ms: u64) -> bool {
    slot.unsent.load(Ordering::Relaxed) > 0
        && now_ms.saturating_sub(slot.last_progress_ms.load(Ordering::Relaxed))
            >= u64::try_from(STALLED_AFTER.as_millis()).unwrap_or(u64::MAX)
}

impl Ledger {
    /// Counts `bytes` more held for the connection (a request being
    /// answered, its reply made, or written to the buffer); past the
    /// server's budget, stalled connections are closed.
    pub(super) fn queued(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        if self.slot.unsent.fetch_add(bytes, Ordering::Relaxed) == 0 {
            // The stall clock starts when there is something to take.
            self.progressed();
        }
        let total = self.table.unsent.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total > self.table.max_unsent {
            self.table.relieve();
        }
    }

    /// Counts `bytes` taken by the peer.
    pub(super) fn sent(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        self.released(bytes);
        self.progressed();
    }

    /// Counts `bytes` no longer held (a reply copied into the connection's
    /// buffer, which counts its own bytes, or dropped).
    pub(super) fn released(&self, bytes: usize) {
        let mut held = self.slot.unsent.load(Ordering::Relaxed);
        loop {
            let less = held.min(bytes);
            match self.slot.unsent.compare_exchange_weak(
                held,
                held - less,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.table.unsent.fetch_sub(less, Ordering::Relaxed);
                    return;
                }
                Err(now) => held = now,
            }
        }
    }

    /// Notes that the connection made progress (or became idle) now.
    pub(super) fn progressed(&self) {
        self.slot
            .last_progress_ms
            .store(self.table.now_ms(), Ordering::Relaxed);
    }
}

impl Member {
    /// Notes that `bytes` of a request not yet complete are buffered (0:
    /// none); past the server's budget, strangers are closed.
    pub(super) fn partial(&self, bytes: usize) {
        let slot = &self.ledger.slot;
        let table = &self.ledger.table;
        let before = slot.partial.swap(bytes, Ordering::Relaxed);
        if before == bytes {
            return;
        }
        if before == 0 {
            slot.partial_since_ms
                .store(table.now_ms(), Ordering::Relaxed);
        }
        if bytes > before {
            let total = table.partial.fetch_add(bytes - before, Ordering::Relaxed) + bytes - before;
            if total > table.max_partial {
                table.relieve_partial();
            }
        } else {
            table.partial.fetch_sub(before - bytes, Ordering::Relaxed);
        }
    }
}

impl std::ops::Deref for Member {
    type Target = Ledger;

    fn deref(&self) -> &Ledger {
        &self.ledger
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let table = &self.ledger.table;
        let slot = &self.ledger.slot;
        let unsent = slot.unsent.swap(0, Ordering::Relaxed);
        table.unsent.fetch_sub(unsent, Ordering::Relaxed);
        let partial = slot.partial.swap(0, Ordering::Relaxed);
        table.partial.fetch_sub(partial, Ordering::Relaxed);
        if slot.evicted.load(Ordering::Relaxed) {
            table.closing.fetch_sub(1, Ordering::Relaxed);
        } else {
            table.entries().remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn strangers_go_first_then_stalled_then_idle_never_busy() {
        let table = Table::new(usize::MAX, usize::MAX);
        let busy = table.join(None);
        busy.slot.admission.admit();
        busy.slot.in_flight.store(1, Ordering::Relaxed);
        let idle = table.join(None);
        idle.slot.admission.admit();
        let stalled = table.join(None);
        stalled.slot.admission.admit();
        stalled.queued(100);
        let stranger = table.join(None);
        tokio::time::advance(STALLED_AFTER).await;
        let newcomer = table.join(None);
        // A stranger too young to be closed: the stalled one goes first.
        assert!(table.evict_one());
        assert!(stalled.close.is_cancelled());
        assert!(!stranger.close.is_cancelled());
        drop(stalled);
        let stalled = table.join(None);
        stalled.slot.admission.admit();
        stalled.queued(100);
        tokio::time::advance(YOUNG).await;

        assert!(table.evict_one());
        assert!(stranger.close.is_cancelled());
        assert!(table.evict_one());
        assert!(newcomer.close.is_cancelled(), "strangers, oldest first");
        assert!(table.evict_one());
        assert!(stalled.close.is_cancelled());
        assert!(table.evict_one());
        assert!(idle.close.is_cancelled());
        assert!(!table.evict_one(), "a busy connection is never closed");
        assert!(!busy.close.is_cancelled());
        assert_eq!(table.len(), 1, "closed connections leave the table at once");
        assert_eq!(table.closing.load(Ordering::Relaxed), 4);
        drop((idle, stalled, stranger, newcomer));
        assert_eq!(table.closing.load(Ordering::Relaxed), 0);
        assert_eq!(table.unsent.load(Ordering::Relaxed), 0);
        busy.released(1);
    }

    #[tokio::test(start_paused = true)]
    async fn over_the_budget_the_biggest_stalled_connections_close() {
        let table = Table::new(1000, usize::MAX);
        let reader = table.join(None);
        let small = table.join(None);
        let big = table.join(None);
        small.queued(300);
        big.queued(600);
        tokio::time::advance(STALLED_AFTER).await;
        reader.queued(400); // 1300 > 1000: relieve
        assert!(big.close.is_cancelled());
        assert!(
            !small.close.is_cancelled(),
            "closing the biggest was enough"
        );
        assert!(
            !reader.close.is_cancelled(),
            "a reading peer is not stalled"
        );
        reader.sent(400);
        assert_eq!(reader.slot.unsent.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn over_the_partial_budget_strangers_with_the_oldest_requests_close() {
        let table = Table::new(usize::MAX, 1000);
        let client = table.join(None);
        client.slot.admission.admit();
        let old = table.join(None);
        let older = table.join(None);
        older.partial(300);
        tokio::time::advance(Duration::from_millis(10)).await;
        old.partial(300);
        client.partial(300);
        tokio::time::advance(Duration::from_millis(10)).await;
        let young = table.join(None);
        young.partial(300); // 1200 > 1000
        assert!(
            older.close.is_cancelled(),
            "the oldest partial request goes"
        );
        assert!(!old.close.is_cancelled(), "one was enough");
        assert!(
            !client.close.is_cancelled(),
            "an admitted client never goes"
        );
        assert!(!young.close.is_cancelled());
        young.partial(0);
        drop(older);
        assert_eq!(table.partial.load(Ordering::Relaxed), 600);
    }
}
