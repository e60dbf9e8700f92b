//! Error types of [`Timeout`](super::Timeout).

use std::{fmt, time::Duration};

/// The request was not answered in time; its inner future was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    after: Duration,
}

impl Elapsed {
    pub(crate) fn new(after: Duration) -> Self {
        Elapsed { after }
    }

    /// The time the request was given.
    pub fn after(&self) -> Duration {
        self.after
    }
}

/// `timed out after 1.5s`, `250ms`, `40µs`...
impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {}", Humanish(self.after))
    }
}

impl std::error::Error for Elapsed {}

/// A duration in the largest unit it reaches (s, ms, µs or ns), with at
/// most three decimals and no trailing zeros.
struct Humanish(Duration);

impl fmt::Display for Humanish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        let (unit, per_unit) = match nanos {
            1_000_000_000.. => ("s", 1_000_000_000),
            1_000_000.. => ("ms", 1_000_000),
            1_000.. => ("µs", 1_000),
            _ => ("ns", 1),
        };
        let whole = nanos / per_unit;
        // Thousandths of the unit, rounded down.
        let thousandths = (nanos % per_unit) * 1000 / per_unit;
        if thousandths == 0 {
            return write!(f, "{whole}{unit}");
        }
        let decimals = format!("{thousandths:03}");
        write!(f, "{whole}.{}{unit}", decimals.trim_end_matches('0'))
    }
}
