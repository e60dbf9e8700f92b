//! [`FleetSlot`]: the fleet test a coordinator runs, as `LD_test_status`
//! and `LD_stop_test` on the coordinator see it.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The running fleet test.
#[derive(Debug)]
pub struct FleetLive {
    /// Cancelled by `LD_stop_test` (or shutdown): every agent is stopped.
    stop: CancellationToken,
    /// The fleet's merged status, refreshed at each poll of the agents.
    status: Mutex<Value>,
}

impl FleetLive {
    /// Asks the coordinator to stop every agent.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Cancelled once the test is to stop.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stop
    }

    /// Replaces the merged status.
    pub fn set_status(&self, status: Value) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }

    /// The merged status.
    pub fn status(&self) -> Value {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// At most one fleet test per coordinator.
#[derive(Debug, Default)]
pub struct FleetSlot {
    live: Mutex<Option<Arc<FleetLive>>>,
    /// The last fleet test's final status, until a local test starts.
    last: Mutex<Option<Value>>,
}

/// Holds the slot while a fleet test runs; frees it when dropped.
#[derive(Debug)]
pub struct Claim<'a> {
    slot: &'a FleetSlot,
    live: Arc<FleetLive>,
}

impl Claim<'_> {
    /// The test claimed.
    pub fn live(&self) -> &Arc<FleetLive> {
        &self.live
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        *self.slot.lock() = None;
    }
}

impl FleetSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<FleetLive>>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the slot for a fleet test whose stop follows `parent` (the
    /// server's shutdown); `None` when one runs already.
    pub fn claim(&self, parent: &CancellationToken, status: Value) -> Option<Claim<'_>> {
        let mut slot = self.lock();
        if slot.is_some() {
            return None;
        }
        let live = Arc::new(FleetLive {
            stop: parent.child_token(),
            status: Mutex::new(status),
        });
        *slot = Some(Arc::clone(&live));
        Some(Claim { slot: self, live })
    }

    /// Keeps `status` as the last fleet test's final one.
    pub fn keep_last(&self, status: Value) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
    }

    /// Forgets the last fleet test's status (a local test starts: the
    /// engine's status is the latest again).
    pub fn forget_last(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The last fleet test's final status, if it is the latest test.
    pub fn last(&self) -> Option<Value> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The fleet test running, if any.
    pub fn running(&self) -> Option<Arc<FleetLive>> {
        self.lock().clone()
    }
}
