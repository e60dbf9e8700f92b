//! Figures: per request name, an HDR histogram of latency (microseconds, 3
//! significant digits), counts by status code and a bounded sample of
//! failure messages; and a per-second time series for charts. Nothing here
//! grows with the number of requests; `LD_summary`, `LD_test_status` and the
//! reports are computed from these. `LD_summary` over records a client
//! gives (JSON objects, LoadDensity's `build_summary(success, failures)`) is
//! [`Summary::of_records`].

mod fleet;
mod name;
mod python;
mod records;
mod series;
mod summary;

pub use fleet::{
    unix_ms, FiguresDocumentError, TestFigures, HISTOGRAM_ENCODING, MAX_FIGURES_DOCUMENT_BYTES,
};
pub use name::{FailureSample, NameFigures, RESPONSE_SIZE_BOUNDS};
pub(crate) use python::{
    float as python_float, float_repr, repr_of, round as python_round, str_of, truthy,
};
pub use records::NotARecord;
pub use series::{NamePoint, SecondPoint, SecondWindow, TimeSeries, NO_RESPONSE, NO_STATUS};
#[cfg(feature = "history")]
pub(crate) use summary::{max_ms, quantile_ms};
pub use summary::{Overall, PerName, Summary, Totals};

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// The largest latency kept: one hour, in microseconds. Longer ones count as this.
pub(crate) const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A latency as whole microseconds, within what the histograms keep.
pub(crate) fn latency_us(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US)
}

// The bounds are constants: `new_with_bounds` fails only for low < 1,
// high < 2 * low or more than 5 significant figures.
#[allow(clippy::expect_used)]
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant bounds are valid")
}

/// How one request ended, as figures keep it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestOutcome<'a> {
    /// The response's status code, if a response came.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub failure: Option<&'a str>,
    /// The bytes it moved (sent and received, as the kind counts them:
    /// for HTTP, the response body; for a message, its payload).
    pub bytes: u64,
    /// What the exporters label it with, Locust's `request_type`: the HTTP
    /// method, else the kind (`WS`, `TCP`, `GRPC`...); empty: the engine
    /// fills in the kind's.
    pub request_type: &'a str,
}

impl<'a> RequestOutcome<'a> {
    /// A success with `status`.
    pub fn ok(status: u16) -> Self {
        RequestOutcome {
            status: Some(status),
            failure: None,
            bytes: 0,
            request_type: "",
        }
    }

    /// A success with no status code (a message, a stream's event).
    pub fn done() -> Self {
        RequestOutcome {
            status: None,
            failure: None,
            bytes: 0,
            request_type: "",
        }
    }

    /// The same, having moved `bytes`.
    pub fn with_bytes(self, bytes: u64) -> Self {
        RequestOutcome { bytes, ..self }
    }

    /// A failure for `reason`, with the response's `status` if one came.
    pub fn failed(status: Option<u16>, reason: &'a str) -> Self {
        RequestOutcome {
            status,
            failure: Some(reason),
            bytes: 0,
            request_type: "",
        }
    }
}

/// All figures of the records kept by a server (or a run), by request name.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    per_name: BTreeMap<String, NameFigures>,
}

impl Figures {
    /// Adds one request under `name`.
    pub fn record(&mut self, name: &str, latency: Duration, outcome: RequestOutcome<'_>) {
        match self.per_name.get_mut(name) {
            Some(figures) => figures.record(latency, outcome),
            None => {
                let mut figures = NameFigures::new();
                figures.record(latency, outcome);
                self.per_name.insert(name.to_owned(), figures);
            }
        }
    }

    /// Adds every figure of `other`.
    pub fn merge(&mut self, other: &Figures) {
        for (name, theirs) in &other.per_name {
            match self.per_name.get_mut(name) {
                Some(ours) => ours.merge(theirs),
                None => {
                    self.per_name.insert(name.clone(), theirs.clone());
                }
            }
        }
    }

    /// Adds every figure of `other`, keeping at most `max_names` names:
    /// the figures of a name past those are added under `overflow` (which
    /// may make one more name).
    pub fn merge_within(&mut self, other: &Figures, max_names: usize, overflow: &str) {
        for (name, theirs) in &other.per_name {
            let name = if self.per_name.contains_key(name) || self.per_name.len() < max_names {
                name.as_str()
            } else {
                overflow
            };
            match self.per_name.get_mut(name) {
                Some(ours) => ours.merge(theirs),
                None => {
                    self.per_name.insert(name.to_owned(), theirs.clone());
                }
            }
        }
    }

    /// Forgets every record.
    pub fn clear(&mut self) {
        self.per_name.clear();
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.per_name.is_empty()
    }

    /// The figures per name.
    pub fn per_name(&self) -> &BTreeMap<String, NameFigures> {
        &self.per_name
    }

    /// `LD_summary`'s figures.
    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }

    /// The latency histogram over every name (µs): one name's own, several
    /// merged; `None` when nothing was recorded.
    pub(crate) fn overall_latency(&self) -> Option<Cow<'_, Histogram<u64>>> {
        match self.per_name.len() {
            0 => None,
            1 => self
                .per_name
                .values()
                .next()
                .map(|f| Cow::Borrowed(f.latency_us())),
            _ => {
                let mut all = new_histogram();
                for f in self.per_name.values() {
                    // Same bounds on both sides: adding cannot fail.
                    let _ = all.add(f.latency_us());
                }
                Some(Cow::Owned(all))
            }
        }
    }

    /// The latency at `percentile` (0 to 100) over every name, ms; 0 when
    /// nothing was recorded.
    pub fn latency_percentile_ms(&self, percentile: f64) -> f64 {
        self.overall_latency()
            .map_or(0.0, |h| summary::quantile_ms(&h, percentile / 100.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_within_folds_names_past_the_cap() {
        let mut other = Figures::default();
        for name in ["a", "b", "c", "d"] {
            other.record(name, Duration::from_millis(5), RequestOutcome::ok(200));
        }
        let mut kept = Figures::default();
        kept.merge_within(&other, 2, "(other)");
        kept.merge_within(&other, 2, "(other)");
        let counts: Vec<(&str, u64)> = kept
            .per_name()
            .iter()
            .map(|(name, f)| (name.as_str(), f.count()))
            .collect();
        assert_eq!(counts, [("(other)", 4), ("a", 2), ("b", 2)]);
    }
}
