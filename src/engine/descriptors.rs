//! Descriptors for the operator: the engine's connections are counted
//! against a budget below the process's open-file limit, so a test can never
//! take the descriptors the control socket (and the files actions write)
//! need. A test of more users than the budget is refused before it starts;
//! a connection past it (a user talking to several origins) fails at once
//! with the reason, instead of failing `accept` on the control socket.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustix::process::{getrlimit, setrlimit, Resource};

/// Descriptors kept for files: the listener, standard streams, reports,
/// SQLite run history and its journal, CSV and action files being read.
const FILES_RESERVE: usize = 64;

/// Descriptors kept beside the engine's connections: `control` for the
/// control socket's connections, 64 for files (`FILES_RESERVE`), and two per
/// worker runtime a test starts (its epoll and its waker).
pub fn kept_descriptors(control: usize) -> usize {
    control + FILES_RESERVE + 2 * super::workers::count()
}

/// Raises the soft open-file limit (`RLIMIT_NOFILE`) to the hard one, as
/// servers that hold many sockets do at start; the soft limit now in force,
/// `None` when it cannot be read (or is unlimited).
pub fn raise_open_file_limit() -> Option<usize> {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
    getrlimit(Resource::Nofile)
        .current
        .and_then(|n| usize::try_from(n).ok())
}

/// The connections the engine may hold open at once.
#[derive(Debug)]
pub struct Descriptors {
    /// The most at once; `usize::MAX`: no limit.
    budget: usize,
    /// What the budget was made of, for messages.
    why: String,
    /// Connections open (or being opened) now.
    open: AtomicUsize,
}

impl Default for Descriptors {
    /// No limit (the open-file limit alone then stops a test that takes too many).
    fn default() -> Self {
        Descriptors {
            budget: usize::MAX,
            why: String::new(),
            open: AtomicUsize::new(0),
        }
    }
}

/// One connection's place in the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit(Arc<Descriptors>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Descriptors {
    /// The budget under an open-file `limit` (`None`: unknown, no budget),
    /// keeping [`kept_descriptors`]`(control)`.
    pub fn under_limit(limit: Option<usize>, control: usize) -> Descriptors {
        let Some(limit) = limit else {
            return Descriptors::default();
        };
        let kept = kept_descriptors(control);
        let budget = limit.saturating_sub(kept);
        let others = kept - control;
        let why = if control > 0 {
            format!(
                "the open-file limit is {limit}, less {control} kept for the control socket (--max-connections) and {others} for files and threads"
            )
        } else {
            format!("the open-file limit is {limit}, less {others} kept for files and threads")
        };
        Descriptors {
            budget,
            why,
            open: AtomicUsize::new(0),
        }
    }

    /// The most connections at once.
    #[cfg(test)]
    fn budget(&self) -> usize {
        self.budget
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// A place for one more connection, if the budget has one.
    pub(crate) fn try_open(self: &Arc<Self>) -> Option<Permit> {
        self.open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                (open < self.budget).then_some(open + 1)
            })
            .ok()
            .map(|_| Permit(Arc::clone(self)))
    }

    /// Why a connection could not be opened: the failure's reason.
    pub(crate) fn exhausted(&self) -> String {
        format!(
            "no descriptor left: the test's connections hold all {} the engine may open ({}); raise the open-file limit (ulimit -n, LimitNOFILE)",
            self.budget, self.why
        )
    }

    /// Refuses a test of `users` users (one connection each) that cannot
    /// fit; `what` names where that count comes from (`user_count 10`).
    pub(super) fn admit(&self, users: usize, what: &str) -> Result<(), String> {
        if users <= self.budget {
            return Ok(());
        }
        Err(format!(
            "{what} needs {users} connections, but the engine may hold only {} open ({}): raise the open-file limit (ulimit -n, systemd's LimitNOFILE) or lower the users",
            self.budget, self.why
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_stop_at_the_budget_and_come_back() {
        let d = Arc::new(Descriptors::under_limit(Some(kept_descriptors(10) + 2), 10));
        assert_eq!(d.budget(), 2);
        let a = d.try_open().expect("first");
        let _b = d.try_open().expect("second");
        assert!(d.try_open().is_none(), "over the budget");
        assert_eq!(d.open(), 2);
        drop(a);
        assert!(
            d.try_open().is_some(),
            "a closed connection's place is free again"
        );
        assert!(d.exhausted().contains("all 2"));
        assert!(d.admit(2, "user_count 2").is_ok());
        let refused = d.admit(3, "user_count 3").unwrap_err();
        assert!(
            refused.contains("--max-connections") && refused.contains("ulimit -n"),
            "{refused}"
        );
    }

    #[test]
    fn a_limit_below_the_reserve_leaves_nothing() {
        assert_eq!(Descriptors::under_limit(Some(50), 1024).budget(), 0);
        assert_eq!(Descriptors::under_limit(None, 1024).budget(), usize::MAX);
    }
}
