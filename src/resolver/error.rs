//! What can go wrong while registering resolver data.

use std::path::PathBuf;

use super::LoadError;
use crate::paths::PathError;

/// Registering a CSV source failed; the message names the file and the cause.
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
}
