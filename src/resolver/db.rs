//! Database sources (`${db.SOURCE.COLUMN}`): the rows of one SQLite query,
//! read once when the source is registered (as LoadDensity did), kept in
//! one compact buffer, and handed out by a cursor all virtual users share.
//!
//! # Values
//!
//! Each value is kept as the text Python's `str()` gives it: an integer as
//! `1`, a real as `1.5` or `1.0` (see `pystr`), text as it is, a blob as
//! its bytes read as UTF-8 (invalid sequences replaced by U+FFFD; Python
//! would have written `b'...'`). NULL is kept as NULL: its placeholder
//! stays as written, as LoadDensity left it.
//!
//! # Bounds
//!
//! A client chooses the query, so reading it must not cost the server
//! unbounded time, memory or access:
//!
//! - the connection is opened read-only (`SQLITE_OPEN_READ_ONLY`), and an
//!   authorizer lets the statement do nothing but read tables and call
//!   functions: no `ATTACH` (which could open any file), no `PRAGMA`, no
//!   write of any kind; the query must be one statement;
//! - it runs for [`QUERY_TIME_LIMIT`] (5 s) at most: SQLite's progress
//!   handler interrupts it then (a `WITH RECURSIVE` that never ends, a
//!   huge sort), or as soon as the load is cancelled (shutdown, the command
//!   gone);
//! - the rows' buffers are charged to the budget for data sources
//!   (`--max-source-bytes`) before they grow, so the load stops at it;
//!   a single value is at most [`MAX_VALUE_BYTES`] (`SQLITE_LIMIT_LENGTH`),
//!   so no `randomblob(1e9)` is ever built.
//!
//! A sort over more rows than SQLite keeps in memory spills to temporary
//! files, deleted when the connection closes; the time limit bounds them.

// Without SQLite (no `db-sources` feature) only the rows' storage is
// left: what reads them is compiled out.
#![cfg_attr(not(feature = "db-sources"), allow(dead_code, unused_imports))]

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::Duration;
#[cfg(feature = "db-sources")]
use std::time::Instant;

#[cfg(feature = "db-sources")]
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
#[cfg(feature = "db-sources")]
use rusqlite::limits::Limit;
#[cfg(feature = "db-sources")]
use rusqlite::types::ValueRef;
#[cfg(feature = "db-sources")]
use rusqlite::{Batch, Connection, ErrorCode, OpenFlags};

use super::cursor::Cursor;
use super::loader::{LoadError, Meter, Reservation, SourceBudget};
use super::ResolverError;
use crate::paths::{Links, SqlitePath};

/// How long a database source's query may run.
pub const QUERY_TIME_LIMIT: Duration = Duration::from_secs(5);

/// The largest single value (string or blob) a query may produce, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 << 20;

/// How many of SQLite's virtual machine instructions run between two checks
/// of the time limit and of cancellation (a few microseconds' work).
const PROGRESS_STEPS: i32 = 1000;

/// How long SQLite waits for a database another process has locked.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// Marks a NULL field in [`Table::ends`]: no end offset reaches it.
const NULL: usize = 1 << (usize::BITS - 1);

/// A database as LoadDensity's connection strings (SQLAlchemy URLs) name
/// one; ld-tower reads SQLite only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// `sqlite://` or `sqlite:///:memory:`: an empty database in memory
    /// (only a query that reads no table returns rows).
    Memory,
    /// `sqlite:///relative/path.db` (relative to the working directory) or
    /// `sqlite:////absolute/path.db`: this file.
    File(PathBuf),
}

impl Database {
    /// Parses a connection string: `sqlite` (or `sqlite+pysqlite`), `://`,
    /// no host, then `/` and the file's path, as SQLAlchemy reads them.
    /// Any other database is an error naming its scheme only (the rest may
    /// hold a password), as are a host and URL query parameters.
    pub fn parse(connection_string: &str) -> Result<Database, ResolverError> {
        let unsupported = |reason: String| ResolverError::Unsupported { reason };
        let Some((scheme, rest)) = connection_string.split_once("://") else {
            return Err(unsupported(
                "a connection string is a URL such as sqlite:///data.db".into(),
            ));
        };
        if !matches!(scheme, "sqlite" | "sqlite+pysqlite") {
            // Only the scheme, and only if it looks like one.
            let shown = if scheme.len() <= 32
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                format!("{scheme:?}")
            } else {
                "this URL's".into()
            };
            return Err(unsupported(format!("the {shown} scheme is not supported")));
        }
        if rest.is_empty() {
            return Ok(Database::Memory);
        }
        let Some(path) = rest.strip_prefix('/') else {
            return Err(unsupported(format!(
                "{connection_string:?} names a host: write sqlite:/// and the file's path"
            )));
        };
        if path.contains('?') {
            return Err(unsupported(format!(
                "{connection_string:?}: URL query parameters are not supported"
            )));
        }
        Ok(match path {
            "" | ":memory:" => Database::Memory,
            path => Database::File(PathBuf::from(path)),
        })
    }
}

/// A registered database source: its rows in memory and one cursor that
/// every session forked from the same [`Resolver`](super::Resolver)
/// advances.
pub struct DbSource {
    /// The connection string, for status and messages.
    database: String,
    /// Column name to index; a name the query repeats keeps its last
    /// index, as Python's `dict(zip(keys, row))` does.
    columns: HashMap<Box<str>, usize>,
    /// The rows' values.
    table: Table,
    /// Which row comes next, for every user; cycling or not.
    cursor: Cursor,
    /// Its bytes of the budget for data sources, given back when the last
    /// holder drops it.
    held: Reservation,
}

/// Rows of `width` fields in two buffers.
#[derive(Default)]
struct Table {
    /// Fields per row (the query's columns).
    width: usize,
    /// Every non-NULL field's text, one after the other.
    text: String,
    /// For each field, row after row: where its text ends in `text` (it
    /// starts where the field before ends), with [`NULL`] set for NULL.
    ends: Vec<usize>,
}

impl Table {
    fn rows(&self) -> usize {
        self.ends.len().checked_div(self.width).unwrap_or(0)
    }

    /// Field `column` of `row`; `None` for NULL.
    fn field(&self, row: usize, column: usize) -> Option<&str> {
        let index = row.checked_mul(self.width)?.checked_add(column)?;
        let end = *self.ends.get(index)?;
        if end & NULL != 0 {
            return None;
        }
        let start = match index {
            0 => 0,
            _ => self.ends.get(index - 1)? & !NULL,
        };
        self.text.get(start..end)
    }

    /// Appends one value, charging `meter` for what its buffers grow by
    /// before they grow.
    #[cfg(feature = "db-sources")]
    fn push(
        &mut self,
        value: ValueRef<'_>,
        scratch: &mut String,
        meter: &Meter,
    ) -> Result<(), LoadError> {
        let text: &str = match value {
            ValueRef::Null => {
                grow(&mut self.ends, 1, meter)?;
                self.ends.push(self.text.len() | NULL);
                return Ok(());
            }
            ValueRef::Integer(n) => {
                scratch.clear();
                let _ = write!(scratch, "{n}");
                scratch
            }
            ValueRef::Real(x) => {
                scratch.clear();
                super::pystr::push_float(scratch, x);
                scratch
            }
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => match String::from_utf8_lossy(bytes) {
                std::borrow::Cow::Borrowed(text) => text,
                std::borrow::Cow::Owned(text) => {
                    *scratch = text;
                    scratch
                }
            },
        };
        grow_text(&mut self.text, text.len(), meter)?;
        grow(&mut self.ends, 1, meter)?;
        self.text.push_str(text);
        self.ends.push(self.text.len());
        Ok(())
    }

    /// The bytes its buffers hold.
    fn bytes(&self) -> u64 {
        (self.text.capacity() + self.ends.capacity() * size_of::<usize>()) as u64
    }

    fn trim(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Makes room in `buffer` for `extra` more items, doubling as `Vec` does,
/// having charged `meter` for the growth first.
#[cfg(feature = "db-sources")]
fn grow<T>(buffer: &mut Vec<T>, extra: usize, meter: &Meter) -> Result<(), LoadError> {
    let capacity = buffer.capacity();
    let needed = buffer.len().saturating_add(extra);
    if needed <= capacity {
        return Ok(());
    }
    let target = needed.max(capacity.saturating_mul(2)).max(64);
    meter.charge(((target - capacity) * size_of::<T>()) as u64)?;
    buffer.reserve_exact(target - buffer.len());
    Ok(())
}

/// [`grow`] for a `String`.
#[cfg(feature = "db-sources")]
fn grow_text(text: &mut String, extra: usize, meter: &Meter) -> Result<(), LoadError> {
    let capacity = text.capacity();
    let needed = text.len().saturating_add(extra);
    if needed <= capacity {
        return Ok(());
    }
    let target = needed.max(capacity.saturating_mul(2)).max(256);
    meter.charge((target - capacity) as u64)?;
    text.reserve_exact(target - text.len());
    Ok(())
}

impl DbSource {
    /// Runs `query` on the database `connection_string` names, at once,
    /// with no budget and no cancellation, its file (if any) opened as given
    /// (for [`Resolver::register_db_source`](super::Resolver::register_db_source);
    /// the server applies its path rule and loads through a
    /// [`Loader`](super::Loader) and [`DbSource::read_from`]).
    pub(super) fn read(
        connection_string: &str,
        query: &str,
        cycle: bool,
    ) -> Result<DbSource, ResolverError> {
        let file = match Database::parse(connection_string)? {
            Database::Memory => None,
            Database::File(path) => Some(SqlitePath {
                path,
                links: Links::Follow,
            }),
        };
        let meter = Meter::new(
            &SourceBudget::unlimited(),
            tokio_util::sync::CancellationToken::new(),
        );
        DbSource::read_from(connection_string, file.as_ref(), query, cycle, meter)
    }

    /// Runs `query` on `file` (`None`: an empty database in memory), named
    /// `connection_string` in messages, and keeps its rows: the statement
    /// must only read (see the module's documentation); it is interrupted
    /// after [`QUERY_TIME_LIMIT`] or when `meter` is cancelled, and its
    /// rows' buffers are charged to `meter`'s budget as they grow.
    pub fn read_from(
        connection_string: &str,
        file: Option<&SqlitePath>,
        query: &str,
        cycle: bool,
        meter: Meter,
    ) -> Result<DbSource, ResolverError> {
        DbSource::read_within(
            connection_string,
            file,
            query,
            cycle,
            meter,
            QUERY_TIME_LIMIT,
        )
    }

    /// [`DbSource::read_from`] in a build without SQLite: an error that
    /// says so.
    #[cfg(not(feature = "db-sources"))]
    pub(super) fn read_within(
        connection_string: &str,
        _file: Option<&SqlitePath>,
        _query: &str,
        _cycle: bool,
        _meter: Meter,
        _limit: Duration,
    ) -> Result<DbSource, ResolverError> {
        Err(ResolverError::DbOpen {
            database: connection_string.to_owned(),
            reason: "this ld-tower was built without database sources (cargo feature db-sources)"
                .to_owned(),
        })
    }

    /// [`DbSource::read_from`] with the query's time limit given.
    #[cfg(feature = "db-sources")]
    pub(super) fn read_within(
        connection_string: &str,
        file: Option<&SqlitePath>,
        query: &str,
        cycle: bool,
        meter: Meter,
        limit: Duration,
    ) -> Result<DbSource, ResolverError> {
        let database = || connection_string.to_owned();
        let stopped = |error: LoadError| ResolverError::DbLoad {
            database: database(),
            error,
        };
        meter.check().map_err(stopped)?;
        let deadline = Instant::now() + limit;
        let conn = open(connection_string, file)?;
        confine(&conn, &meter, deadline);
        // An error while the query runs: why it was interrupted, if it was.
        let failed = |error: rusqlite::Error| {
            if error.sqlite_error_code() == Some(ErrorCode::OperationInterrupted) {
                if let Err(stop) = meter.check() {
                    return stopped(stop);
                }
                if Instant::now() >= deadline {
                    return ResolverError::TooLong {
                        database: database(),
                        limit,
                    };
                }
            }
            ResolverError::Query {
                database: database(),
                error: error.to_string(),
            }
        };
        let refused = |reason: String| ResolverError::NotRead {
            database: database(),
            reason,
        };
        let mut batch = Batch::new(&conn, query);
        let mut statement = match batch.next() {
            Ok(Some(statement)) => statement,
            Ok(None) => return Err(refused("there is none".into())),
            Err(error)
                if error.sqlite_error_code()
                    == Some(ErrorCode::AuthorizationForStatementDenied) =>
            {
                return Err(refused(format!("{error}")));
            }
            Err(error) => return Err(failed(error)),
        };
        match batch.next() {
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => {
                return Err(refused(
                    "it holds more than one statement (write one SELECT)".into(),
                ))
            }
        }
        if !statement.readonly() {
            return Err(refused("it would write".into()));
        }
        let columns = statement
            .column_names()
            .into_iter()
            .enumerate()
            .map(|(index, name)| (Box::from(name), index))
            .collect();
        let mut table = Table {
            width: statement.column_count(),
            ..Table::default()
        };
        let mut scratch = String::new();
        let mut rows = statement.query([]).map_err(failed)?;
        while let Some(row) = rows.next().map_err(failed)? {
            for column in 0..table.width {
                let value = row.get_ref(column).map_err(failed)?;
                table.push(value, &mut scratch, &meter).map_err(stopped)?;
            }
            meter.check().map_err(stopped)?;
        }
        // SQLite's memory is freed before the rows' buffers are trimmed.
        drop(rows);
        drop(statement);
        drop(conn);
        table.trim();
        let held = meter.finish(table.bytes());
        Ok(DbSource {
            database: database(),
            columns,
            table,
            cursor: Cursor::new(cycle),
            held,
        })
    }

    /// The connection string it was read from.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// How many rows it holds.
    pub fn rows(&self) -> usize {
        self.table.rows()
    }

    /// The bytes it holds in memory (its values' text and their offsets), as
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
        self.cursor.next(self.table.rows())
    }

    /// The value of `row` in `column`, if the column exists and the value
    /// is not NULL.
    pub(super) fn field(&self, row: usize, column: &str) -> Option<&str> {
        self.table.field(row, *self.columns.get(column)?)
    }
}

impl fmt::Debug for DbSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbSource")
            .field("database", &self.database)
            .field("rows", &self.table.rows())
            .field("bytes", &self.bytes())
            .field("columns", &self.columns.len())
            .field("cycle", &self.cursor.cycles())
            .field("cursor", &self.cursor.taken())
            .finish()
    }
}

/// Opens `file` read-only (`None`: an empty database in memory). A file
/// must be a regular one (SQLite would wait on a FIFO for a writer); with
/// [`Links::Refuse`], SQLite refuses a path with a link in it.
#[cfg(feature = "db-sources")]
fn open(connection_string: &str, file: Option<&SqlitePath>) -> Result<Connection, ResolverError> {
    let cannot = |reason: String| ResolverError::DbOpen {
        database: connection_string.to_owned(),
        reason,
    };
    let mut flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match file {
        None => Connection::open_in_memory_with_flags(flags),
        Some(file) => {
            let meta = match file.links {
                Links::Follow => std::fs::metadata(&file.path),
                Links::Refuse => std::fs::symlink_metadata(&file.path),
            };
            match meta {
                Ok(meta) if meta.is_file() => {}
                Ok(meta) if meta.is_symlink() => return Err(cannot(link())),
                Ok(_) => return Err(cannot("it is not a regular file".into())),
                Err(error) => return Err(cannot(error.to_string())),
            }
            if file.links == Links::Refuse {
                flags |= OpenFlags::SQLITE_OPEN_NOFOLLOW;
            }
            Connection::open_with_flags(&file.path, flags)
        }
    };
    let conn = conn.map_err(|error| match error {
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CANTOPEN_SYMLINK =>
        {
            cannot(link())
        }
        error => cannot(error.to_string()),
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|error| cannot(error.to_string()))?;
    Ok(conn)
}

/// Why a path with a link in it is refused.
#[cfg(feature = "db-sources")]
fn link() -> String {
    "a symbolic link is in its path, and this server follows none below its working directory (start it with --allow-any-path to lift that)".into()
}

/// Lets `conn` run only statements that read, each value at most
/// [`MAX_VALUE_BYTES`], until `deadline` or until `meter` is cancelled.
#[cfg(feature = "db-sources")]
fn confine(conn: &Connection, meter: &Meter, deadline: Instant) {
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0);
    conn.set_limit(
        Limit::SQLITE_LIMIT_LENGTH,
        i32::try_from(MAX_VALUE_BYTES).unwrap_or(i32::MAX),
    );
    conn.authorizer(Some(|context: AuthContext<'_>| match context.action {
        AuthAction::Select
        | AuthAction::Read { .. }
        | AuthAction::Function { .. }
        | AuthAction::Recursive => Authorization::Allow,
        _ => Authorization::Deny,
    }));
    let cancel = meter.cancellation();
    conn.progress_handler(
        PROGRESS_STEPS,
        Some(move || cancel.is_cancelled() || Instant::now() >= deadline),
    );
}
