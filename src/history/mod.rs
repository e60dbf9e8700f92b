//! Run history: the records of tests kept in a SQLite file, so runs can be
//! listed, fetched and compared later (`LD_persist_records`, `LD_list_runs`,
//! `LD_fetch_run_records`, `LD_compare_runs`; LoadDensity's `LD_diff_runs`,
//! `LD_trend_runs`, `LD_tag_run`, `LD_list_tags`, `LD_search_runs_by_tag`).
//!
//! A run is stored whole: per name its counts, statuses, failure sample and
//! its HDR latency histogram (serialized), so every figure `LD_summary` gave
//! is recomputed exactly from the database, and two runs are compared on
//! exact percentiles rather than on rounded report numbers.
//!
//! - [`Store`]: opens a database (busy timeout, foreign keys; the tables
//!   created when absent, versioned with `PRAGMA user_version`, see
//!   [`SCHEMA_VERSION`]) and persists, lists and fetches runs, each persist
//!   in one transaction;
//! - [`NewRun`] / [`NameRecord`]: what is persisted, taken from the state;
//! - [`StoredRun`]: a fetched run, whose [`StoredRun::summary`] is
//!   `LD_summary`'s shape;
//! - [`compare()`]: the deltas and verdicts between two stored runs;
//! - [`diff()`]: LoadDensity's `LD_diff_runs` between two stored runs;
//! - [`Store::trend`]: LoadDensity's `LD_trend_runs` over the latest runs;
//! - [`Store::tag`], [`Store::tags`], [`Store::search_by_tag`]: tags on
//!   runs (LoadDensity's run tagging, schema 4).

mod calibrate;
mod codec;
mod compare;
mod diff;
mod error;
mod rank;
mod record;
mod schema;
mod store;
mod summary;
mod tags;
mod trend;

pub use calibrate::calibrate;
pub use compare::{
    compare, Change, Comparison, Delta, Metrics, NameComparison, RunRef, DEFAULT_TOLERANCE_PCT,
};
pub use diff::{diff, Deltas, MetricDelta, NameDiff, Regression, RunDiff};
pub use error::HistoryError;
pub use record::{NameRecord, NewRun};
pub use schema::SCHEMA_VERSION;
pub use store::{ListedRun, Open, Store, StoredRun};
pub use tags::{
    TaggedRun, MAX_TAGGED_RUNS, MAX_TAGS_PER_CALL, MAX_TAGS_PER_RUN, MAX_TAG_KEY_BYTES,
    MAX_TAG_VALUE_BYTES,
};
pub use trend::{NameTrend, RunTrend, Trend, TrendFigures, MAX_TREND_NAMES, MAX_TREND_RUNS};
