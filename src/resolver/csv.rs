//! CSV sources: a file streamed into one compact buffer once, and the cursor
//! all virtual users share (one row each, in order, cycling or not).
//!
//! The rows are kept in one buffer, each row's fields one after the other
//! separated by the byte `0xFF` (which UTF-8 text never holds), with one
//! offset per row: the file's bytes plus about 8 bytes a row, instead of a
//! record (two allocations, an offset per field and a position) per row.
//! While a row is parsed the reader holds it whole, so one enormous row
//! briefly takes its size twice (still within what the budget let be read).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::cursor::Cursor;
use super::loader::{LoadError, Meter, Reservation, SourceBudget};
use super::ResolverError;

/// Separates fields in [`Rows::text`]: never part of UTF-8 text.
const SEPARATOR: u8 = 0xFF;

/// What one row costs besides its text: its offset.
const ROW_BYTES: u64 = std::mem::size_of::<usize>() as u64;

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
    rows: Rows,
    /// Which row comes next, for every user; cycling or not.
    cursor: Cursor,
    /// Its bytes of the budget for data sources, given back when the last
    /// holder drops it.
    held: Reservation,
}

/// Rows in one buffer.
#[derive(Default)]
struct Rows {
    /// Every row's fields, separated by [`SEPARATOR`]; rows follow each
    /// other with nothing between.
    text: Vec<u8>,
    /// Where each row starts in `text`; it ends where the next starts.
    starts: Vec<usize>,
}

impl Rows {
    fn push(&mut self, record: &csv::StringRecord) {
        self.starts.push(self.text.len());
        for (i, field) in record.iter().enumerate() {
            if i > 0 {
                self.text.push(SEPARATOR);
            }
            self.text.extend_from_slice(field.as_bytes());
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    /// Field `index` of `row`, if the row has it.
    fn field(&self, row: usize, index: usize) -> Option<&str> {
        let start = *self.starts.get(row)?;
        let end = self.starts.get(row + 1).copied().unwrap_or(self.text.len());
        let line = self.text.get(start..end)?;
        let field = line.split(|byte| *byte == SEPARATOR).nth(index)?;
        // Always UTF-8: cut from UTF-8 text at a byte UTF-8 never uses.
        std::str::from_utf8(field).ok()
    }

    /// The bytes kept, once trimmed.
    fn bytes(&self) -> u64 {
        self.text.len() as u64 + self.starts.len() as u64 * ROW_BYTES
    }

    fn trim(&mut self) {
        self.text.shrink_to_fit();
        self.starts.shrink_to_fit();
    }
}

/// Which of a CSV file's data rows one agent of a fleet keeps. The rows
/// are dealt to the fleet's `of` users like cards, row `r` to user
/// `r % of`, and an agent keeps the rows of its users, `from` to `to - 1`:
/// agents with users that do not overlap keep rows no two share, in
/// proportion to their users, and together every row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowShare {
    /// The agent's first user, from 0.
    pub from: u64,
    /// One past its last user.
    pub to: u64,
    /// The fleet's users.
    pub of: u64,
}

impl RowShare {
    /// Every row.
    pub const ALL: RowShare = RowShare {
        from: 0,
        to: 1,
        of: 1,
    };

    /// Whether data row `row` is this share's.
    pub fn keeps(self, row: u64) -> bool {
        self.of <= 1 || (self.from..self.to).contains(&(row % self.of))
    }
}

impl CsvSource {
    /// Reads `path` at once, with no budget and no cancellation (for
    /// [`Resolver::register_csv_source`](super::Resolver::register_csv_source);
    /// the server loads through a [`Loader`](super::Loader) and
    /// [`CsvSource::read_from`]).
    pub(super) fn read(path: &Path, cycle: bool) -> Result<CsvSource, ResolverError> {
        let file = std::fs::File::open(path).map_err(|error| ResolverError::Open {
            path: path.to_owned(),
            error,
        })?;
        let meter = Meter::new(
            &SourceBudget::unlimited(),
            tokio_util::sync::CancellationToken::new(),
        );
        CsvSource::read_from(path, file, cycle, RowShare::ALL, meter)
    }

    /// Streams `file` (named `path` in messages): a header row naming the
    /// columns, then the data rows (UTF-8; blank lines skipped; rows of any
    /// length). A regular file's size is reserved of `meter`'s budget
    /// first (refused unread when it does not fit); every byte read and
    /// every row kept is counted by `meter`, which stops the read when over
    /// its budget (a FIFO, a growing file) or cancelled. Only the data rows
    /// of `share` are kept (every row with [`RowShare::ALL`]).
    pub fn read_from(
        path: &Path,
        file: std::fs::File,
        cycle: bool,
        share: RowShare,
        meter: Meter,
    ) -> Result<CsvSource, ResolverError> {
        let stopped = |error: LoadError| ResolverError::Load {
            path: path.to_owned(),
            error,
        };
        let failed = |meter: &Meter, error: csv::Error| match meter.stopped() {
            Some(stop) => stopped(stop.clone()),
            None => ResolverError::Read {
                path: path.to_owned(),
                error,
            },
        };
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let mut rows = Rows::default();
        if let Some(size) = size {
            meter.reserve(size).map_err(stopped)?;
            // Pages are touched only as they are written: the unused rest
            // costs no memory, and the buffer need not move as it grows.
            let _ = rows.text.try_reserve(usize::try_from(size).unwrap_or(0));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(meter.reader(file));
        let columns = reader
            .headers()
            .map_err(|e| failed(&meter, e))?
            .iter()
            .enumerate()
            .map(|(index, name)| (Box::from(name), index))
            .collect();
        let mut record = csv::StringRecord::new();
        let mut row: u64 = 0;
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {
                    if share.keeps(row) {
                        rows.push(&record);
                        meter.charge(ROW_BYTES).map_err(stopped)?;
                    }
                    row += 1;
                }
                Ok(false) => break,
                Err(error) => return Err(failed(&meter, error)),
            }
        }
        drop(reader);
        rows.trim();
        let held = meter.finish(rows.bytes());
        Ok(CsvSource {
            path: path.to_owned(),
            columns,
            rows,
            cursor: Cursor::new(cycle),
            held,
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

    /// The bytes it holds in memory (its text and its rows' offsets), as
    /// charged to the budget for data sources.
    pub fn bytes(&self) -> u64 {
        self.held.bytes()
    }

    /// Whether it starts again at the first row once all are used.
    pub fn cycles(&self) -> bool {
        self.cursor.cycles()
    }

    /// The column names, in no particular order.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.columns.keys().map(|name| &**name)
    }

    /// Takes the next row's index, or `None` when a non-cycling source is
    /// exhausted (or the source is empty).
    pub(super) fn next_row(&self) -> Option<usize> {
        self.cursor.next(self.rows.len())
    }

    /// The field of `row` in `column`, if the column exists and the row has it.
    pub(super) fn field(&self, row: usize, column: &str) -> Option<&str> {
        let index = *self.columns.get(column)?;
        self.rows.field(row, index)
    }
}

impl fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvSource")
            .field("path", &self.path)
            .field("rows", &self.rows.len())
            .field("bytes", &self.bytes())
            .field("columns", &self.columns.len())
            .field("cycle", &self.cursor.cycles())
            .field("cursor", &self.cursor.taken())
            .finish()
    }
}
