//! [`PreparedSlot`]: the one test an agent holds ready for
//! `LD_start_prepared`, until it is started, replaced, or expires.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::load::Ready;
use super::ActionError;
use crate::state::State;

/// What became of the last prepared test that is no longer held, so a
/// client asking for it learns why.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Gone {
    /// Not started within its `expires_s`.
    Expired(Duration),
    /// Another `LD_prepare_test` took its place.
    Replaced(String),
    /// `LD_start_prepared` started it.
    Started,
}

/// The test held.
struct Held {
    id: String,
    ready: Ready,
    /// Which hold this is: the expiry frees only its own.
    generation: u64,
    /// When it expires: past it, it is never started, whether or not
    /// `expiry` has run yet.
    deadline: Instant,
    /// How long it was held for.
    expires: Duration,
    /// Frees it at its deadline; aborted when it leaves earlier.
    expiry: Option<AbortHandle>,
}

#[derive(Default)]
struct Slot {
    held: Option<Held>,
    /// The last test that left the slot, and why.
    gone: Option<(String, Gone)>,
    generations: u64,
}

/// At most one prepared test: a second `LD_prepare_test` replaces the
/// first (so a coordinator that lost a reply may prepare again); a test not
/// started within its time is dropped, its memory freed.
#[derive(Default)]
pub(crate) struct PreparedSlot {
    slot: Mutex<Slot>,
}

impl fmt::Debug for PreparedSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot = self.lock();
        f.debug_struct("PreparedSlot")
            .field("held", &slot.held.as_ref().map(|h| h.id.as_str()))
            .finish()
    }
}

impl PreparedSlot {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `ready` as `id` for `expires`, in `state`'s slot (this one);
    /// returns the id of the test it replaced, if any.
    pub(super) fn hold(
        &self,
        state: &Arc<State>,
        id: String,
        ready: Ready,
        expires: Duration,
    ) -> Option<String> {
        let mut slot = self.lock();
        slot.generations += 1;
        let generation = slot.generations;
        let state: Weak<State> = Arc::downgrade(state);
        let deadline = Instant::now() + expires;
        let expiry = tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            if let Some(state) = state.upgrade() {
                state.prepared().expire(generation);
            }
        });
        let replaced = slot.held.replace(Held {
            id: id.clone(),
            ready,
            generation,
            deadline,
            expires,
            expiry: Some(expiry.abort_handle()),
        });
        let replaced = replaced.map(|mut old| {
            if let Some(expiry) = old.expiry.take() {
                expiry.abort();
            }
            old.id
        });
        if let Some(old) = &replaced {
            slot.gone = Some((old.clone(), Gone::Replaced(id)));
        }
        replaced
    }

    /// Drops hold `generation` if it is still held.
    fn expire(&self, generation: u64) {
        let mut slot = self.lock();
        slot.drop_if(|held| held.generation == generation);
    }

    /// Fails unless `id` is the test held (with why it is not).
    pub(super) fn check(&self, id: &str) -> Result<(), ActionError> {
        let mut slot = self.lock();
        slot.drop_expired();
        match &slot.held {
            Some(held) if held.id == id => Ok(()),
            _ => Err(not_held(&slot, id)),
        }
    }

    /// Takes the test held as `id` out of the slot, to start it.
    pub(super) fn take(&self, id: &str) -> Result<Ready, ActionError> {
        let mut slot = self.lock();
        slot.drop_expired();
        match slot.held.take_if(|held| held.id == id) {
            Some(mut held) => {
                if let Some(expiry) = held.expiry.take() {
                    expiry.abort();
                }
                slot.gone = Some((held.id, Gone::Started));
                Ok(held.ready)
            }
            None => Err(not_held(&slot, id)),
        }
    }
}

impl Slot {
    /// Drops the test held, as expired, if `due` says so.
    fn drop_if(&mut self, due: impl FnOnce(&Held) -> bool) {
        if let Some(mut held) = self.held.take_if(|held| due(held)) {
            if let Some(expiry) = held.expiry.take() {
                expiry.abort();
            }
            self.gone = Some((held.id, Gone::Expired(held.expires)));
        }
    }

    /// Drops the test held if its deadline has passed.
    fn drop_expired(&mut self) {
        let now = Instant::now();
        self.drop_if(|held| held.deadline <= now);
    }
}

/// Why `id` is not held.
fn not_held(slot: &Slot, id: &str) -> ActionError {
    let why = match &slot.gone {
        Some((gone, why)) if gone == id => match why {
            Gone::Expired(after) => format!(
                "expired: not started within {}s of LD_prepare_test; prepare it again",
                after.as_secs_f64()
            ),
            Gone::Replaced(by) => format!("replaced by the prepared test {by:?}"),
            Gone::Started => "already started (a prepared test starts once)".to_owned(),
        },
        _ => "no such prepared test (prepare it with LD_prepare_test)".to_owned(),
    };
    ActionError::new(format!("test_id {id:?}: {why}"))
}
