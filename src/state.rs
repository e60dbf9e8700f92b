//! [`State`]: what belongs to the running server (or run) and is shared by
//! its connections: the records' figures.

use std::sync::Mutex;

use crate::figures::Figures;

/// The server's shared state.
#[derive(Debug, Default)]
pub struct State {
    /// The records kept so far, as figures.
    figures: Mutex<Figures>,
}

impl State {
    /// Runs `f` with the figures locked. A panic elsewhere that poisoned the
    /// lock does not make the figures unreachable.
    pub fn figures<T>(&self, f: impl FnOnce(&mut Figures) -> T) -> T {
        let mut figures = self
            .figures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut figures)
    }
}
