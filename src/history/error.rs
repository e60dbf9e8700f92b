//! [`HistoryError`]: why a history operation failed.

use std::io;
use std::path::PathBuf;

/// Why reading or writing the run history failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// There is nothing to persist.
    #[error("there are no records to persist: run a test first")]
    NoRecords,
    /// No run has that id.
    #[error("no run with id {0} in this database")]
    UnknownRun(i64),
    /// A read was asked of a database file that does not exist.
    #[error("no run history database at {0:?}: persist a run there first (LD_persist_records)")]
    NoDatabase(PathBuf),
    /// The database's directory could not be created.
    #[error("cannot create the directory {0:?}: {1}")]
    Directory(PathBuf, io::Error),
    /// The path rule refused the path, or its folders could not be made.
    #[error(transparent)]
    Path(#[from] crate::paths::PathError),
    /// SQLite refused the path: a component of it is a symbolic link.
    #[error("{0:?}: a part of this path is a symbolic link, and this server follows none below its working directory (start it with --allow-any-path to lift that)")]
    Link(PathBuf),
    /// The database was written by a newer ld-tower.
    #[error("the database's schema version is {found}, newer than this ld-tower's ({supported})")]
    SchemaTooNew {
        /// The file's `user_version`.
        found: i64,
        /// The version this build writes.
        supported: i64,
    },
    /// A request past one of the history's bounds (what it is and the
    /// bound are said).
    #[error("{0}")]
    Bound(String),
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be read back.
    #[error("corrupt run history: {0}")]
    Corrupt(String),
    /// A histogram could not be serialized.
    #[error("cannot serialize a latency histogram: {0}")]
    Histogram(String),
}
