//! [`ReplyBudget`]: how many bytes one command's reply may still hold.
//!
//! A command's reply is bounded while it is built, not after: every action
//! result, at any nesting depth, is measured ([`json_size`](crate::json_size::json_size):
//! serialized into a counter that stops at what is left) and charged as soon as the action returns. A result
//! that does not fit is replaced by a short error, and once the budget is
//! spent no further action of the command runs. So a request of at most
//! 1 MiB can neither build nor send a reply much larger than the limit,
//! however it nests.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The default limit of one reply, in bytes: 16 MiB (`--max-reply-bytes`).
pub const DEFAULT_MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of a reply's limit kept for the two lines that may end a reply cut
/// short (the result that did not fit, and how many actions did not run),
/// so that even then the whole reply stays within its limit.
const CLOSING_LINES: usize = 512;

/// What one command's reply may still hold. Cheap to clone: clones share the
/// count (nested action lists charge the same budget).
#[derive(Clone, Debug)]
pub struct ReplyBudget {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The limit of the whole reply.
    limit: usize,
    /// What results may take of it.
    usable: usize,
    /// Bytes charged so far.
    used: AtomicUsize,
    /// A result did not fit: run nothing more.
    spent: AtomicBool,
}

/// A result did not fit in what was left of the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// The reply's limit.
    pub limit: usize,
}

impl ReplyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        ReplyBudget {
            inner: Arc::new(Shared {
                limit,
                usable: limit.saturating_sub(CLOSING_LINES),
                used: AtomicUsize::new(0),
                spent: AtomicBool::new(false),
            }),
        }
    }

    /// The limit of the whole reply.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Bytes charged so far.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// Bytes still free for results.
    pub fn remaining(&self) -> usize {
        self.inner.usable.saturating_sub(self.used())
    }

    /// Whether a result did not fit (nothing more of this command runs).
    pub fn is_spent(&self) -> bool {
        self.inner.spent.load(Ordering::Relaxed)
    }

    /// Charges `bytes`, or marks the budget spent and fails if they do not fit.
    pub fn charge(&self, bytes: usize) -> Result<(), OverBudget> {
        let shared = &self.inner;
        let fits = shared
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes)
                    .filter(|&total| total <= shared.usable)
            })
            .is_ok();
        if fits {
            Ok(())
        } else {
            self.spend();
            Err(OverBudget {
                limit: shared.limit,
            })
        }
    }

    /// Marks the budget spent: nothing more of this command runs.
    pub fn spend(&self) {
        self.inner.spent.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_until_spent() {
        let budget = ReplyBudget::new(CLOSING_LINES + 10);
        assert_eq!(budget.charge(6), Ok(()));
        assert_eq!(budget.remaining(), 4);
        assert!(!budget.is_spent());
        assert_eq!(
            budget.charge(5),
            Err(OverBudget {
                limit: CLOSING_LINES + 10
            })
        );
        assert!(budget.is_spent());
        assert_eq!(budget.used(), 6, "a refused charge is not counted");
        let shared = budget.clone();
        assert!(shared.is_spent());
    }
}
