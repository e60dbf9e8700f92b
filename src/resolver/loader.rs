//! Loading data sources off the runtime: a [`Loader`] runs a source's
//! blocking read on tokio's blocking pool (never on a runtime worker, never
//! under a lock), counts its bytes as they are read against a
//! [`SourceBudget`] shared by every source loaded or loading, and stops it at
//! its next read once the server begins shutting down or the command that
//! asked for it is gone.
//!
//! CSV sources ([`CsvSource`](super::CsvSource)) and database sources
//! ([`DbSource`](super::DbSource)) load through it.

use std::cell::{Cell, OnceCell};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How many sources are read at once at most; others wait their turn
/// (without holding anything). Reading is CPU-bound: more would only share
/// the same cores.
const CONCURRENT_LOADS: usize = 2;

/// Why a load stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The budget for data sources would be passed.
    #[error("over the {limit}-byte budget for data sources (--max-source-bytes; {held} bytes held now by sources loaded or loading; LD_clear_resolver frees registered ones)")]
    OverBudget {
        /// The budget, in bytes.
        limit: u64,
        /// What sources held when this one was refused.
        held: u64,
    },
    /// The server is shutting down, or the command was cancelled.
    #[error("loading stopped: the server is shutting down or the command was cancelled")]
    Cancelled,
    /// The blocking task ended without an answer (it panicked).
    #[error("the loading task failed: {0}")]
    Failed(String),
}

/// The bytes all data sources may hold at once, loaded or loading: shared
/// by every [`Loader`] cloned from one and every source they loaded.
#[derive(Clone, Debug)]
pub struct SourceBudget {
    /// Shared with the reservations taken from it.
    inner: Arc<Budget>,
}

/// A budget's count.
#[derive(Debug)]
struct Budget {
    /// `None`: no limit (a local run).
    limit: Option<u64>,
    /// Bytes reserved now.
    held: AtomicU64,
}

impl SourceBudget {
    /// No limit: what `ld-tower run` uses (its user owns the machine).
    pub fn unlimited() -> Self {
        SourceBudget::with_limit(None)
    }

    /// At most `bytes` held at once by all sources.
    pub fn limited(bytes: u64) -> Self {
        SourceBudget::with_limit(Some(bytes))
    }

    fn with_limit(limit: Option<u64>) -> Self {
        SourceBudget {
            inner: Arc::new(Budget {
                limit,
                held: AtomicU64::new(0),
            }),
        }
    }

    /// The bytes sources hold now, loaded or loading.
    #[cfg(test)]
    fn held(&self) -> u64 {
        self.inner.held.load(Ordering::Relaxed)
    }

    /// An empty reservation, to grow.
    fn reserve(&self) -> Reservation {
        Reservation {
            budget: Arc::clone(&self.inner),
            bytes: AtomicU64::new(0),
        }
    }
}

/// Bytes of a [`SourceBudget`] that one source holds; given back when it is
/// dropped (a registered source: when the resolver and every running test
/// let go of it).
#[derive(Debug)]
pub(super) struct Reservation {
    /// Where the bytes come from.
    budget: Arc<Budget>,
    /// How many this one holds.
    bytes: AtomicU64,
}

impl Reservation {
    /// Takes `n` more bytes, or refuses when that would pass the limit.
    fn grow(&self, n: u64) -> Result<(), LoadError> {
        let held = &self.budget.held;
        match self.budget.limit {
            None => {
                held.fetch_add(n, Ordering::Relaxed);
            }
            Some(limit) => {
                held.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                    now.checked_add(n).filter(|next| *next <= limit)
                })
                .map_err(|held| LoadError::OverBudget { limit, held })?;
            }
        }
        self.bytes.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Gives back what is over `n` bytes (when what is kept is less than
    /// what was counted while reading).
    fn shrink_to(&self, n: u64) {
        let bytes = self.bytes.load(Ordering::Relaxed);
        if n < bytes {
            self.bytes.store(n, Ordering::Relaxed);
            self.budget.held.fetch_sub(bytes - n, Ordering::Relaxed);
        }
    }

    /// The bytes it holds.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget
            .held
            .fetch_sub(*self.bytes.get_mut(), Ordering::Relaxed);
    }
}

/// What a load's blocking work counts with: bytes charged to its
/// reservation, and the cancellation it checks. Used on one thread.
#[derive(Debug)]
pub struct Meter {
    /// What this load holds of the budget: what was reserved up front or
    /// what was counted, whichever is more.
    reservation: Reservation,
    /// The bytes counted so far.
    counted: Cell<u64>,
    /// Cancelled at shutdown or when the command is dropped.
    cancel: CancellationToken,
    /// Why a [`Meter::reader`] stopped reading, if it did (the reader's
    /// caller sees only an `io::Error`).
    stopped: OnceCell<LoadError>,
}

impl Meter {
    /// A meter on `budget`, stopped by `cancel`.
    pub fn new(budget: &SourceBudget, cancel: CancellationToken) -> Self {
        Meter {
            reservation: budget.reserve(),
            counted: Cell::new(0),
            cancel,
            stopped: OnceCell::new(),
        }
    }

    /// Errors once the load is cancelled.
    pub fn check(&self) -> Result<(), LoadError> {
        if self.cancel.is_cancelled() {
            return Err(self.stop(LoadError::Cancelled));
        }
        Ok(())
    }

    /// Counts `n` more bytes: errors once cancelled or over the budget.
    /// Bytes reserved up front ([`Meter::reserve`]) are counted against
    /// first; past them, the budget is asked for more.
    pub fn charge(&self, n: u64) -> Result<(), LoadError> {
        self.check()?;
        let counted = self.counted.get().saturating_add(n);
        let held = self.reservation.bytes();
        if counted > held {
            self.reservation
                .grow(counted - held)
                .map_err(|e| self.stop(e))?;
        }
        self.counted.set(counted);
        Ok(())
    }

    /// Takes `n` bytes of the budget at once (a file's size, before it is
    /// read): a load that cannot fit is refused before it reads a byte, and
    /// two loads cannot both count on the same room.
    pub fn reserve(&self, n: u64) -> Result<(), LoadError> {
        let held = self.reservation.bytes();
        if n > held {
            self.reservation.grow(n - held).map_err(|e| self.stop(e))?;
        }
        Ok(())
    }

    /// `inner`, each read checked for cancellation and its bytes charged.
    pub(super) fn reader<R: Read>(&self, inner: R) -> MeteredRead<'_, R> {
        MeteredRead { meter: self, inner }
    }

    /// What cancels this load, for a check that must be `Send` (SQLite's
    /// progress handler, which stops a query): the meter itself is not.
    #[cfg_attr(not(feature = "db-sources"), allow(dead_code))]
    pub(super) fn cancellation(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Why reading stopped, if the meter stopped it.
    pub fn stopped(&self) -> Option<&LoadError> {
        self.stopped.get()
    }

    /// The bytes counted so far.
    #[cfg(test)]
    fn charged(&self) -> u64 {
        self.counted.get()
    }

    /// Done: the reservation, cut down to the `kept` bytes the source holds.
    pub(super) fn finish(self, kept: u64) -> Reservation {
        self.reservation.shrink_to(kept);
        self.reservation
    }

    fn stop(&self, error: LoadError) -> LoadError {
        let _ = self.stopped.set(error.clone());
        error
    }
}

/// A reader whose every read is checked and charged by a [`Meter`].
#[derive(Debug)]
pub(super) struct MeteredRead<'a, R> {
    /// Checks and counts.
    meter: &'a Meter,
    /// The file (or anything read).
    inner: R,
}

impl<R: Read> Read for MeteredRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.meter.check().map_err(io::Error::other)?;
        let n = self.inner.read(buf)?;
        self.meter.charge(n as u64).map_err(io::Error::other)?;
        Ok(n)
    }
}

/// Runs loads on the blocking pool, `CONCURRENT_LOADS` (2) at most at once,
/// charged to one budget and stopped by one cancellation. Clones share all
/// three.
#[derive(Clone, Debug)]
pub struct Loader {
    /// What all sources may hold.
    budget: SourceBudget,
    /// Cancelled when the server shuts down.
    cancel: CancellationToken,
    /// Permits to read.
    readers: Arc<Semaphore>,
}

impl Loader {
    /// Loads charged to `budget`, stopped when `cancel` is.
    pub fn new(budget: SourceBudget, cancel: CancellationToken) -> Self {
        Loader {
            budget,
            cancel,
            readers: Arc::new(Semaphore::new(CONCURRENT_LOADS)),
        }
    }

    /// Runs `work` on the blocking pool with a fresh [`Meter`] and returns
    /// what it returns. It waits (asynchronously) for a turn to read; it is
    /// stopped at its next read when the loader's cancellation fires or
    /// this future is dropped (a command timed out, a client gone).
    pub async fn load<T, E>(
        &self,
        work: impl FnOnce(Meter) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<LoadError> + Send + 'static,
    {
        let permit = tokio::select! {
            biased;
            () = self.cancel.cancelled() => return Err(LoadError::Cancelled.into()),
            permit = Arc::clone(&self.readers).acquire_owned() => permit
                .map_err(|_| LoadError::Cancelled)?,
        };
        let cancel = self.cancel.child_token();
        // Dropping this future (and so the guard) cancels the work.
        let _stop_when_dropped = cancel.clone().drop_guard();
        let meter = Meter::new(&self.budget, cancel);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(meter)
        });
        task.await.map_err(|e| LoadError::Failed(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use super::*;

    /// Reads `a` forever; cancels `token` at its `cancel_at`th read.
    struct Endless {
        reads: usize,
        cancel_at: usize,
        token: CancellationToken,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.reads == self.cancel_at {
                self.token.cancel();
            }
            buf.fill(b'a');
            Ok(buf.len())
        }
    }

    #[test]
    fn the_budget_is_shared_and_given_back() {
        let budget = SourceBudget::limited(100);
        let first = budget.reserve();
        first.grow(60).expect("fits");
        let second = budget.reserve();
        assert_eq!(
            second.grow(41),
            Err(LoadError::OverBudget {
                limit: 100,
                held: 60
            })
        );
        second.grow(40).expect("fits exactly");
        assert_eq!(budget.held(), 100);
        first.shrink_to(10);
        assert_eq!(budget.held(), 50);
        drop(first);
        drop(second);
        assert_eq!(budget.held(), 0);
        let message = LoadError::OverBudget {
            limit: 100,
            held: 60,
        }
        .to_string();
        assert!(message.contains("--max-source-bytes"), "{message}");
    }

    #[test]
    fn a_reservation_up_front_is_counted_against_first() {
        let budget = SourceBudget::limited(100);
        let first = Meter::new(&budget, CancellationToken::new());
        first.reserve(60).expect("fits");
        let second = Meter::new(&budget, CancellationToken::new());
        assert!(matches!(
            second.reserve(60),
            Err(LoadError::OverBudget { held: 60, .. })
        ));
        first.charge(50).expect("within what was reserved");
        assert_eq!(budget.held(), 60);
        first.charge(20).expect("past it: 10 more");
        assert_eq!(budget.held(), 70);
        let kept = first.finish(30);
        assert_eq!((kept.bytes(), budget.held()), (30, 30));
    }

    #[test]
    fn a_reader_stops_at_the_budget_and_says_why() {
        let budget = SourceBudget::limited(64 << 10);
        let meter = Meter::new(&budget, CancellationToken::new());
        let mut sink = Vec::new();
        let error = io::copy(&mut meter.reader(io::repeat(b'x')), &mut sink).expect_err("stops");
        assert!(error.to_string().contains("--max-source-bytes"), "{error}");
        assert!(matches!(
            meter.stopped(),
            Some(LoadError::OverBudget { limit, .. }) if *limit == 64 << 10
        ));
        assert!(meter.charged() <= 64 << 10);
        drop(meter);
        assert_eq!(budget.held(), 0, "a failed load gives its bytes back");
    }

    #[test]
    fn a_reader_stops_at_its_next_read_once_cancelled() {
        let token = CancellationToken::new();
        let meter = Meter::new(&SourceBudget::unlimited(), token.clone());
        let mut endless = meter.reader(Endless {
            reads: 0,
            cancel_at: 10,
            token,
        });
        let mut buf = [0u8; 16];
        for _ in 0..9 {
            assert_eq!(endless.read(&mut buf).expect("reads"), 16);
        }
        // The read during which it was cancelled already fails, uncharged.
        assert!(endless.read(&mut buf).is_err());
        assert_eq!(meter.stopped(), Some(&LoadError::Cancelled));
        assert_eq!(meter.charged(), 9 * 16);
    }

    #[tokio::test]
    async fn dropping_the_load_cancels_its_work() {
        let loader = Loader::new(SourceBudget::unlimited(), CancellationToken::new());
        let (started, started_rx) = std::sync::mpsc::channel();
        let (done, done_rx) = std::sync::mpsc::channel();
        let load = async move {
            loader
                .load(move |meter| {
                    let _ = started.send(());
                    // Spins until the meter says stop; never ends otherwise.
                    let result = loop {
                        if let Err(e) = meter.check() {
                            break e;
                        }
                        std::thread::yield_now();
                    };
                    let _ = done.send(result);
                    Ok::<(), LoadError>(())
                })
                .await
        };
        let load = tokio::spawn(load);
        tokio::task::spawn_blocking(move || started_rx.recv_timeout(Duration::from_secs(20)))
            .await
            .expect("join")
            .expect("the work started");
        load.abort();
        let stopped =
            tokio::task::spawn_blocking(move || done_rx.recv_timeout(Duration::from_secs(20)))
                .await
                .expect("join")
                .expect("the work stopped");
        assert_eq!(stopped, LoadError::Cancelled);
    }

    #[tokio::test]
    async fn a_cancelled_loader_starts_nothing() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let loader = Loader::new(SourceBudget::unlimited(), cancel);
        let result: Result<(), LoadError> = loader.load(|_| panic!("never runs")).await;
        assert_eq!(result, Err(LoadError::Cancelled));
    }
}
