//! The cursor a data source's rows are handed out by: one per source,
//! shared by every virtual user, so users walk through the rows together
//! (one row each, in order), cycling or not.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Which row comes next, for all users of one source.
#[derive(Debug)]
pub(super) struct Cursor {
    /// Start again at the first row after the last, or stop.
    cycle: bool,
    /// How many rows were handed out. Cycling sources take it modulo the row
    /// count; others stop at the row count (it may pass it by the number of
    /// racing users, never more).
    taken: AtomicUsize,
}

impl Cursor {
    /// A cursor at the first row.
    pub(super) fn new(cycle: bool) -> Self {
        Cursor {
            cycle,
            taken: AtomicUsize::new(0),
        }
    }

    /// Whether it starts again at the first row once all are used.
    pub(super) fn cycles(&self) -> bool {
        self.cycle
    }

    /// How many rows were handed out (for `Debug`).
    pub(super) fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// Takes the next of `len` rows, or `None` when a non-cycling source is
    /// exhausted (or there are no rows).
    pub(super) fn next(&self, len: usize) -> Option<usize> {
        if len == 0 {
            return None;
        }
        if self.cycle {
            // The counter wraps at usize::MAX, out of reach in practice.
            return Some(self.taken.fetch_add(1, Ordering::Relaxed) % len);
        }
        if self.taken.load(Ordering::Relaxed) >= len {
            // Exhausted: stop counting, so the counter cannot wrap.
            return None;
        }
        let row = self.taken.fetch_add(1, Ordering::Relaxed);
        (row < len).then_some(row)
    }
}
