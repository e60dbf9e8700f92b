//! CSV sources: a file read into memory once, and the cursor all virtual
//! users share (one row each, in order, cycling or not).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::ResolverError;

/// A registered CSV source: its rows in memory and one cursor that every
/// session forked from the same [`Resolver`](super::Resolver) advances.
pub struct CsvSource {
    /// The file it was read from, for status and messages.
    path: PathBuf,
    /// Column name to field index, from the header row (a repeated name
    /// keeps its last index, as Python's `csv.DictReader` does).
    columns: HashMap<Box<str>, usize>,
    /// The data rows (the header row excluded); rows may be shorter or longer
    /// than the header.
    rows: Vec<csv::StringRecord>,
    /// Start again at the first row after the last, or stop.
    cycle: bool,
    /// How many rows were handed out. Cycling sources take it modulo the row
    /// count; others stop at the row count (it may pass it by the number of
    /// racing users, never more).
    cursor: AtomicUsize,
}

impl CsvSource {
    /// Reads `path`: a header row naming the columns, then the data rows
    /// (UTF-8; blank lines skipped; rows of any length).
    pub(super) fn read(path: &Path, cycle: bool) -> Result<CsvSource, ResolverError> {
        let read_error = |error| ResolverError::Read {
            path: path.to_owned(),
            error,
        };
        let file = std::fs::File::open(path).map_err(|error| ResolverError::Open {
            path: path.to_owned(),
            error,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(file);
        let columns = reader
            .headers()
            .map_err(read_error)?
            .iter()
            .enumerate()
            .map(|(index, name)| (Box::from(name), index))
            .collect();
        let rows = reader
            .into_records()
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_error)?;
        Ok(CsvSource {
            path: path.to_owned(),
            columns,
            rows,
            cycle,
            cursor: AtomicUsize::new(0),
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many data rows it holds.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Whether it starts again at the first row once all are used.
    pub fn cycles(&self) -> bool {
        self.cycle
    }

    /// The column names, in no particular order.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.columns.keys().map(|name| &**name)
    }

    /// Takes the next row's index, or `None` when a non-cycling source is
    /// exhausted (or the source is empty).
    pub(super) fn next_row(&self) -> Option<usize> {
        let len = self.rows.len();
        if len == 0 {
            return None;
        }
        if self.cycle {
            // The counter wraps at usize::MAX, out of reach in practice.
            return Some(self.cursor.fetch_add(1, Ordering::Relaxed) % len);
        }
        if self.cursor.load(Ordering::Relaxed) >= len {
            // Exhausted: stop counting, so the counter cannot wrap.
            return None;
        }
        let row = self.cursor.fetch_add(1, Ordering::Relaxed);
        (row < len).then_some(row)
    }

    /// The field of `row` in `column`, if the column exists and the row has it.
    pub(super) fn field(&self, row: usize, column: &str) -> Option<&str> {
        let index = *self.columns.get(column)?;
        self.rows.get(row)?.get(index)
    }
}

impl fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvSource")
            .field("path", &self.path)
            .field("rows", &self.rows.len())
            .field("columns", &self.columns.len())
            .field("cycle", &self.cycle)
            .field("cursor", &self.cursor.load(Ordering::Relaxed))
            .finish()
    }
}
