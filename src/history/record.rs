//! [`NewRun`] and [`NameRecord`]: what a persist stores, taken from the
//! state's figures, series and last run.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::{Map, Value};

use super::HistoryError;
use crate::figures::{NameFigures, SecondPoint};
use crate::state::State;
use crate::thresholds::Verdict;

/// One request name's stored figures.
#[derive(Clone, Debug)]
pub struct NameRecord {
    /// The request name.
    pub name: String,
    /// Requests that succeeded.
    pub successes: u64,
    /// Requests that failed.
    pub failures: u64,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// The kept failure messages and their counts.
    pub failure_messages: BTreeMap<String, u64>,
    /// Failures whose message was not kept.
    pub failure_others: u64,
    /// Latency of every request, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Bytes they moved (`None` for a run stored before bytes were kept).
    pub bytes: Option<u64>,
}

impl NameRecord {
    /// The record of `figures`, kept under `name`.
    pub fn of(name: &str, figures: &NameFigures) -> NameRecord {
        NameRecord {
            name: name.to_owned(),
            successes: figures.successes(),
            failures: figures.failures(),
            statuses: figures.statuses().clone(),
            failure_messages: figures.failure_sample().messages().clone(),
            failure_others: figures.failure_sample().others(),
            latency_us: figures.latency_us().clone(),
            bytes: Some(figures.bytes()),
        }
    }

    /// All its requests.
    pub fn count(&self) -> u64 {
        self.successes + self.failures
    }
}

/// A run about to be persisted.
#[derive(Clone, Debug, Default)]
pub struct NewRun {
    /// A label of the user's (a build, a branch).
    pub label: Option<String>,
    /// Anything else the user wants kept with it (a JSON object).
    pub metadata: Map<String, Value>,
    /// `LD_start_test`'s parameters (`null` if no test ran on this state).
    pub parameters: Value,
    /// How long the test ran, in seconds (0 if unknown).
    pub elapsed_s: f64,
    /// The figures per name, names unique.
    pub names: Vec<NameRecord>,
    /// The per-second series.
    pub series: Vec<SecondPoint>,
    /// The thresholds' verdicts.
    pub verdicts: Vec<Verdict>,
}

impl NewRun {
    /// The records kept in `state` (figures, series, last run), or
    /// [`HistoryError::NoRecords`] if nothing was recorded.
    pub fn from_state(
        state: &State,
        label: Option<String>,
        metadata: Map<String, Value>,
    ) -> Result<NewRun, HistoryError> {
        let names: Vec<NameRecord> = state.figures(|figures| {
            figures
                .per_name()
                .iter()
                .map(|(name, f)| NameRecord::of(name, f))
                .collect()
        });
        if names.is_empty() {
            return Err(HistoryError::NoRecords);
        }
        let last = state.last_run().unwrap_or_default();
        Ok(NewRun {
            label,
            metadata,
            parameters: last.parameters,
            elapsed_s: last.elapsed_s,
            names,
            series: state.series().points().to_vec(),
            verdicts: last.verdicts,
        })
    }

    /// All requests.
    pub fn requests(&self) -> u64 {
        self.names.iter().map(NameRecord::count).sum()
    }

    /// All failed requests.
    pub fn failures(&self) -> u64 {
        self.names.iter().map(|n| n.failures).sum()
    }
}
