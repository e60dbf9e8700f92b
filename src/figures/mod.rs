//! Figures: per request name, an HDR histogram of latency (microseconds, 3
//! significant digits) and success/failure counts. Nothing here grows with
//! the number of requests; `LD_summary` is computed from these.

mod summary;

pub use summary::{Overall, PerName, Summary, Totals};

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// The largest latency kept: one hour, in microseconds. Longer ones count as this.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The figures of one request name.
#[derive(Clone, Debug)]
pub struct NameFigures {
    /// Latency of every request, in microseconds.
    latency_us: Histogram<u64>,
    /// Requests that succeeded.
    successes: u64,
    /// Requests that failed.
    failures: u64,
}

impl NameFigures {
    fn new() -> Self {
        NameFigures {
            latency_us: new_histogram(),
            successes: 0,
            failures: 0,
        }
    }

    /// Adds one request.
    pub fn record(&mut self, latency: Duration, success: bool) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us
            .saturating_record(us.clamp(1, MAX_LATENCY_US));
        if success {
            self.successes += 1;
        } else {
            self.failures += 1;
        }
    }

    /// The latency histogram, in microseconds.
    pub fn latency_us(&self) -> &Histogram<u64> {
        &self.latency_us
    }

    /// Requests that succeeded.
    pub fn successes(&self) -> u64 {
        self.successes
    }

    /// Requests that failed.
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

// The bounds are constants: `new_with_bounds` fails only for low < 1,
// high < 2 * low or more than 5 significant figures.
#[allow(clippy::expect_used)]
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant bounds are valid")
}

/// All figures of the records kept by a server (or a run).
#[derive(Clone, Debug, Default)]
pub struct Figures {
    per_name: BTreeMap<String, NameFigures>,
}

impl Figures {
    /// Adds one request under `name`.
    pub fn record(&mut self, name: &str, latency: Duration, success: bool) {
        if let Some(figures) = self.per_name.get_mut(name) {
            figures.record(latency, success);
            return;
        }
        let mut figures = NameFigures::new();
        figures.record(latency, success);
        self.per_name.insert(name.to_owned(), figures);
    }

    /// Forgets every record.
    pub fn clear(&mut self) {
        self.per_name.clear();
    }

    /// The figures per name.
    pub fn per_name(&self) -> &BTreeMap<String, NameFigures> {
        &self.per_name
    }

    /// `LD_summary`'s figures.
    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }
}
