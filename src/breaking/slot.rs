//! [`SearchSlot`]: the one breaking-point search an agent runs at a time.
//! While it is claimed, no other test starts (between two probes the
//! engine is idle, but the search is not over), and `LD_stop_test` stops
//! the search, not only the probe under way.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

/// Holds the running search's stop token, if one runs.
#[derive(Debug, Default)]
pub struct SearchSlot {
    running: Mutex<Option<CancellationToken>>,
}

/// The slot claimed by a search; freed when dropped.
#[derive(Debug)]
pub struct SearchClaim<'a> {
    slot: &'a SearchSlot,
    stop: CancellationToken,
}

impl SearchClaim<'_> {
    /// Cancelled when the search is to stop (`LD_stop_test`, shutdown):
    /// the probe under way stops with it, and no other starts.
    pub fn stop(&self) -> &CancellationToken {
        &self.stop
    }
}

impl Drop for SearchClaim<'_> {
    fn drop(&mut self) {
        *self.slot.lock() = None;
    }
}

impl SearchSlot {
    fn lock(&self) -> MutexGuard<'_, Option<CancellationToken>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the slot for a search whose stop follows `parent` (the
    /// server's shutdown); `None` when a search runs already.
    pub fn claim(&self, parent: &CancellationToken) -> Option<SearchClaim<'_>> {
        let mut slot = self.lock();
        if slot.is_some() {
            return None;
        }
        let stop = parent.child_token();
        *slot = Some(stop.clone());
        Some(SearchClaim { slot: self, stop })
    }

    /// Whether a search runs.
    pub fn running(&self) -> bool {
        self.lock().is_some()
    }

    /// Stops the running search; false if none runs.
    pub fn stop(&self) -> bool {
        match self.lock().as_ref() {
            Some(stop) => {
                stop.cancel();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_search_at_a_time_stopped_by_its_token_or_the_parent() {
        let slot = SearchSlot::default();
        let shutdown = CancellationToken::new();
        assert!(!slot.stop());
        {
            let claim = slot.claim(&shutdown);
            assert!(claim.is_some() && slot.running());
            assert!(slot.claim(&shutdown).is_none());
            assert!(slot.stop());
            assert!(claim.is_some_and(|c| c.stop().is_cancelled()));
        }
        assert!(!slot.running());
        let claim = slot.claim(&shutdown);
        shutdown.cancel();
        assert!(claim.is_some_and(|c| c.stop().is_cancelled()));
    }
}
