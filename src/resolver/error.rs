//! What can go wrong while registering resolver data.

use std::path::PathBuf;
use std::time::Duration;

use super::LoadError;
use crate::paths::PathError;

/// Registering a CSV or database source failed; the message names the
/// file (or the database) and the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolverError {
    /// The file could not be opened.
    #[error("cannot open CSV source {}: {error}", path.display())]
    Open {
        /// The file, as given.
        path: PathBuf,
        /// Why it could not be opened.
        error: std::io::Error,
    },
    /// The file could not be read as UTF-8 CSV (the error says where).
    #[error("cannot read CSV source {}: {error}", path.display())]
    Read {
        /// The file, as given.
        path: PathBuf,
        /// What is wrong, with the record and line.
        error: csv::Error,
    },
    /// The path rule refused the file, or it could not be opened through it.
    #[error("CSV source: {0}")]
    Path(#[from] PathError),
    /// Loading stopped: over the budget for data sources, or cancelled.
    #[error("CSV source {}: {error}", path.display())]
    Load {
        /// The file, as given.
        path: PathBuf,
        /// Why it stopped.
        error: LoadError,
    },
    /// A load stopped before it began (while waiting for its turn).
    #[error("CSV source not loaded: {0}")]
    Stopped(#[from] LoadError),
    /// A connection string that does not name an SQLite database the way
    /// ld-tower reads one. Only the scheme is quoted: the rest may hold a
    /// password.
    #[error("database source: {reason}; ld-tower reads SQLite databases only: sqlite:///relative/path.db (relative to the working directory), sqlite:////absolute/path.db or sqlite:///:memory:")]
    Unsupported {
        /// What is wrong with it.
        reason: String,
    },
    /// The path rule refused the database file, or it is not one.
    #[error("database source: {0}")]
    DbPath(PathError),
    /// The database could not be opened.
    #[error("cannot open database source {database}: {reason}")]
    DbOpen {
        /// The connection string.
        database: String,
        /// Why it could not be opened.
        reason: String,
    },
    /// The query is not one statement that only reads.
    #[error("database source {database}: the query must be one statement that only reads (a SELECT): {reason}")]
    NotRead {
        /// The connection string.
        database: String,
        /// Why it was refused.
        reason: String,
    },
    /// The query failed.
    #[error("database source {database}: the query failed: {error}")]
    Query {
        /// The connection string.
        database: String,
        /// SQLite's message.
        error: String,
    },
    /// The query ran longer than it may and was interrupted.
    #[error("database source {database}: the query ran longer than {}s and was stopped (a database source's rows are read once, when it is registered: a query must take at most {}s)", limit.as_secs_f64(), limit.as_secs_f64())]
    TooLong {
        /// The connection string.
        database: String,
        /// How long a query may run.
        limit: Duration,
    },
    /// Loading stopped: over the budget for data sources, or cancelled.
    #[error("database source {database}: {error}")]
    DbLoad {
        /// The connection string.
        database: String,
        /// Why it stopped.
        error: LoadError,
    },
}
