//! Run history: the records of tests kept in a SQLite file, so runs can be
//! listed, fetched and compared later (`LD_persist_records`, `LD_list_runs`,
//! `LD_fetch_run_records`, `LD_compare_runs`).
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
//! - [`compare()`]: the deltas and verdicts between two stored runs.

mod codec;
mod compare;
mod error;
mod record;
mod schema;
mod store;
mod summary;

pub use compare::{
    compare, Change, Comparison, Delta, Metrics, NameComparison, RunRef, DEFAULT_TOLERANCE_PCT,
};
pub use error::HistoryError;
pub use record::{NameRecord, NewRun};
pub use schema::SCHEMA_VERSION;
pub use store::{ListedRun, Open, Store, StoredRun};
