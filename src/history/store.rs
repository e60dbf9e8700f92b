//! [`Store`]: a run history in one SQLite file. Every persist is one
//! transaction (a failure part-way leaves the file as it was); every
//! statement takes its values as parameters, never spliced into the SQL.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::record::{NameRecord, NewRun};
use super::{codec, schema, summary, HistoryError};
use crate::figures::{NamePoint, SecondPoint, Summary};
use crate::paths::Links;
use crate::thresholds::Verdict;

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether [`Store::open_with`] may create the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Create the file (and the tables) if absent.
    Create,
    /// The file must exist.
    Existing,
}

/// An open run history.
#[derive(Debug)]
pub struct Store {
    pub(super) conn: Connection,
}

/// One run as `LD_list_runs` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListedRun {
    /// The run's id.
    pub id: i64,
    /// When it was persisted (RFC 3339, UTC).
    pub created_at: String,
    /// The user's label.
    pub label: Option<String>,
    /// The user's metadata (a JSON object).
    pub metadata: Value,
    /// All its requests.
    pub requests: u64,
    /// Its failed requests.
    pub failures: u64,
    /// How long the test ran, in seconds.
    pub elapsed_s: f64,
}

/// A run read back from the history.
#[derive(Clone, Debug)]
pub struct StoredRun {
    /// What the list shows of it.
    pub info: ListedRun,
    /// `LD_start_test`'s parameters.
    pub parameters: Value,
    /// The figures per name, by name.
    pub names: Vec<NameRecord>,
    /// The per-second series.
    pub series: Vec<SecondPoint>,
    /// The thresholds' verdicts.
    pub verdicts: Vec<Verdict>,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn json_text(value: &impl Serialize) -> Result<String, HistoryError> {
    serde_json::to_string(value).map_err(|e| HistoryError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, HistoryError> {
    serde_json::from_str(text).map_err(|e| HistoryError::Corrupt(format!("{what}: {e}")))
}

impl Store {
    /// Opens the history at `path`, creating the file, its parent
    /// directories and the tables if absent. The path is a file name, never
    /// an SQLite URI (`file:...` is not interpreted).
    pub fn open(path: &Path) -> Result<Store, HistoryError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| HistoryError::Directory(parent.to_owned(), e))?;
        }
        Store::open_with(path, Open::Create, Links::Follow)
    }

    /// Opens the history at `path` as `open` says, its directories already
    /// made (none is created here). With [`Links::Refuse`], SQLite refuses
    /// the path if any of its components is a symbolic link
    /// (`SQLITE_OPEN_NOFOLLOW`): give it an absolute path.
    pub fn open_with(path: &Path, open: Open, links: Links) -> Result<Store, HistoryError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        match open {
            Open::Create => flags |= OpenFlags::SQLITE_OPEN_CREATE,
            Open::Existing => {
                let exists = match links {
                    Links::Follow => path.is_file(),
                    Links::Refuse => std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()),
                };
                if !exists {
                    return Err(HistoryError::NoDatabase(path.to_owned()));
                }
            }
        }
        if links == Links::Refuse {
            flags |= OpenFlags::SQLITE_OPEN_NOFOLLOW;
        }
        match Connection::open_with_flags(path, flags) {
            Ok(conn) => Store::with(conn),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CANTOPEN_SYMLINK =>
            {
                Err(HistoryError::Link(path.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A history kept in memory (for tests and trials).
    pub fn in_memory() -> Result<Store, HistoryError> {
        Store::with(Connection::open_in_memory()?)
    }

    fn with(mut conn: Connection) -> Result<Store, HistoryError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        schema::ensure(&mut conn)?;
        Ok(Store { conn })
    }

    /// The SQLite connection, for queries of your own.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Stores `run` as a new run, in one transaction; its id.
    pub fn persist(&mut self, run: &NewRun) -> Result<i64, HistoryError> {
        if run.names.is_empty() {
            return Err(HistoryError::NoRecords);
        }
        let summary = summary::summary(&run.names)?;
        let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO runs (created_at, label, metadata, parameters, elapsed_s, requests, failures)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                created_at,
                run.label,
                json_text(&run.metadata)?,
                json_text(&run.parameters)?,
                run.elapsed_s,
                to_i64(summary.totals.requests),
                to_i64(summary.totals.failures),
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare(
                "INSERT INTO run_names (run_id, name, count, successes, failures, min_ms, mean_ms,
                     p50_ms, p90_ms, p95_ms, p99_ms, max_ms, statuses, failures_sample, histogram,
                     bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            for record in &run.names {
                let p = summary::per_name(record);
                let sample = json!({
                    "messages": record.failure_messages,
                    "others": record.failure_others,
                });
                insert.execute(params![
                    id,
                    record.name,
                    to_i64(p.count),
                    to_i64(p.successes),
                    to_i64(p.failures),
                    p.min_ms,
                    p.mean_ms,
                    p.p50_ms,
                    p.p90_ms,
                    p.p95_ms,
                    p.p99_ms,
                    p.max_ms,
                    json_text(&record.statuses)?,
                    json_text(&sample)?,
                    codec::encode(&record.latency_us)?,
                    record.bytes.map(to_i64),
                ])?;
            }
            let mut insert = tx.prepare(
                "INSERT INTO run_series (run_id, second, requests, failures, p50_ms, p95_ms, p99_ms,
                     users, statuses)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut insert_name = tx.prepare(
                "INSERT INTO run_series_names (run_id, second, name, requests, failures,
                     p50_ms, p95_ms, p99_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for point in &run.series {
                insert.execute(params![
                    id,
                    to_i64(point.second),
                    to_i64(point.requests),
                    to_i64(point.failures),
                    point.p50_ms,
                    point.p95_ms,
                    point.p99_ms,
                    to_i64(point.users),
                    json_text(&point.statuses)?,
                ])?;
                for (name, p) in &point.per_name {
                    insert_name.execute(params![
                        id,
                        to_i64(point.second),
                        name,
                        to_i64(p.requests),
                        to_i64(p.failures),
                        p.p50_ms,
                        p.p95_ms,
                        p.p99_ms,
                    ])?;
                }
            }
            let mut insert = tx.prepare(
                "INSERT INTO run_thresholds (run_id, position, scope, metric, limit_value, actual, passed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (position, v) in run.verdicts.iter().enumerate() {
                let actual = Some(v.actual).filter(|a| a.is_finite());
                insert.execute(params![
                    id,
                    to_i64(position as u64),
                    v.scope,
                    v.metric,
                    v.limit,
                    actual,
                    v.passed,
                ])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    /// The newest `limit` runs, newest first.
    pub fn list(&self, limit: u32) -> Result<Vec<ListedRun>, HistoryError> {
        let mut select = self.conn.prepare(
            "SELECT id, created_at, label, metadata, requests, failures, elapsed_s
             FROM runs ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = select.query_map(params![limit], listed_row)?;
        let mut runs = Vec::new();
        for row in rows {
            runs.push(listed(row?)?);
        }
        Ok(runs)
    }

    /// The run of id `id`, or [`HistoryError::UnknownRun`].
    pub fn fetch(&self, id: i64) -> Result<StoredRun, HistoryError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, created_at, label, metadata, requests, failures, elapsed_s, parameters
                 FROM runs WHERE id = ?1",
                params![id],
                |row| Ok((listed_row(row)?, row.get::<_, String>(7)?)),
            )
            .optional()?;
        let Some((row, parameters)) = row else {
            return Err(HistoryError::UnknownRun(id));
        };
        let info = listed(row)?;
        let parameters = from_json(&parameters, "parameters")?;
        Ok(StoredRun {
            info,
            parameters,
            names: self.names(id, None)?,
            series: self.series(id)?,
            verdicts: self.verdicts(id)?,
        })
    }

    /// [`HistoryError::UnknownRun`] unless a run has id `id`.
    pub fn check_run(&self, id: i64) -> Result<(), HistoryError> {
        let found = self
            .conn
            .query_row("SELECT 1 FROM runs WHERE id = ?1", params![id], |_| Ok(()))
            .optional()?;
        found.ok_or(HistoryError::UnknownRun(id))
    }

    /// The figures per name of the run of id `id` (by name), or
    /// [`HistoryError::UnknownRun`]: what [`Store::fetch`] reads, without
    /// its series and verdicts.
    pub fn run_names(&self, id: i64) -> Result<Vec<NameRecord>, HistoryError> {
        self.check_run(id)?;
        self.names(id, None)
    }

    /// The run's names (by name), only those holding `containing` when
    /// given (a substring, case counts).
    pub(super) fn names(
        &self,
        id: i64,
        containing: Option<&str>,
    ) -> Result<Vec<NameRecord>, HistoryError> {
        let mut select = self.conn.prepare(
            "SELECT name, successes, failures, statuses, failures_sample, histogram, bytes
             FROM run_names WHERE run_id = ?1 AND (?2 IS NULL OR instr(name, ?2) > 0)
             ORDER BY name",
        )?;
        let rows = select.query_map(params![id, containing], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Vec<u8>>(5)?,
                row.get::<_, Option<i64>>(6)?,
            ))
        })?;
        let mut names = Vec::new();
        for row in rows {
            let (name, successes, failures, statuses, sample, histogram, bytes) = row?;
            #[derive(serde::Deserialize)]
            struct Sample {
                messages: BTreeMap<String, u64>,
                others: u64,
            }
            let sample: Sample = from_json(&sample, "failures_sample")?;
            names.push(NameRecord {
                statuses: from_json(&statuses, "statuses")?,
                latency_us: codec::decode(&histogram, &name)?,
                name,
                successes: to_u64(successes),
                failures: to_u64(failures),
                failure_messages: sample.messages,
                failure_others: sample.others,
                bytes: bytes.map(to_u64),
            });
        }
        Ok(names)
    }

    /// The run's series: runs stored before schema 3 have no users (0),
    /// statuses or names in their points (they were not kept).
    fn series(&self, id: i64) -> Result<Vec<SecondPoint>, HistoryError> {
        let mut select = self.conn.prepare(
            "SELECT second, requests, failures, p50_ms, p95_ms, p99_ms, users, statuses
             FROM run_series WHERE run_id = ?1 ORDER BY second",
        )?;
        let rows = select.query_map(params![id], |row| {
            Ok((
                SecondPoint {
                    second: to_u64(row.get(0)?),
                    requests: to_u64(row.get(1)?),
                    failures: to_u64(row.get(2)?),
                    p50_ms: row.get(3)?,
                    p95_ms: row.get(4)?,
                    p99_ms: row.get(5)?,
                    users: row.get::<_, Option<i64>>(6)?.map_or(0, to_u64),
                    ..SecondPoint::default()
                },
                row.get::<_, Option<String>>(7)?,
            ))
        })?;
        let mut points = Vec::new();
        for row in rows {
            let (mut point, statuses) = row?;
            if let Some(statuses) = statuses {
                point.statuses = from_json(&statuses, "statuses")?;
            }
            points.push(point);
        }
        let mut select = self.conn.prepare(
            "SELECT second, name, requests, failures, p50_ms, p95_ms, p99_ms
             FROM run_series_names WHERE run_id = ?1 ORDER BY second, name",
        )?;
        let rows = select.query_map(params![id], |row| {
            Ok((
                to_u64(row.get(0)?),
                row.get::<_, String>(1)?,
                NamePoint {
                    requests: to_u64(row.get(2)?),
                    failures: to_u64(row.get(3)?),
                    p50_ms: row.get(4)?,
                    p95_ms: row.get(5)?,
                    p99_ms: row.get(6)?,
                },
            ))
        })?;
        // Both in second order: each name row finds its point moving forward.
        let mut at = 0;
        for row in rows {
            let (second, name, figures) = row?;
            while points.get(at).is_some_and(|p| p.second < second) {
                at += 1;
            }
            match points.get_mut(at) {
                Some(point) if point.second == second => {
                    point.per_name.insert(name, figures);
                }
                _ => {
                    return Err(HistoryError::Corrupt(format!(
                        "the figures of {name:?} at second {second} have no point"
                    )))
                }
            }
        }
        Ok(points)
    }

    fn verdicts(&self, id: i64) -> Result<Vec<Verdict>, HistoryError> {
        let mut select = self.conn.prepare(
            "SELECT scope, metric, limit_value, actual, passed
             FROM run_thresholds WHERE run_id = ?1 ORDER BY position",
        )?;
        let rows = select.query_map(params![id], |row| {
            Ok(Verdict {
                scope: row.get(0)?,
                metric: row.get(1)?,
                limit: row.get(2)?,
                actual: row.get::<_, Option<f64>>(3)?.unwrap_or(f64::NAN),
                passed: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A run's `created_at` (RFC 3339 with microseconds) as LoadDensity writes
/// its `started_at`: UTC, to the second, `+00:00`
/// (`datetime.isoformat(timespec="seconds")`); as it is if unreadable.
pub(super) fn started_at(created_at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(created_at).map_or_else(
        |_| created_at.to_owned(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S+00:00")
                .to_string()
        },
    )
}

/// A `runs` row before its metadata is parsed.
type ListedRow = (i64, String, Option<String>, String, i64, i64, f64);

fn listed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ListedRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn listed(row: ListedRow) -> Result<ListedRun, HistoryError> {
    let (id, created_at, label, metadata, requests, failures, elapsed_s) = row;
    Ok(ListedRun {
        id,
        created_at,
        label,
        metadata: from_json(&metadata, "metadata")?,
        requests: to_u64(requests),
        failures: to_u64(failures),
        elapsed_s,
    })
}

impl StoredRun {
    /// `LD_summary`'s figures of this run, recomputed from its histograms
    /// and counts: what `LD_summary` said when it was persisted.
    pub fn summary(&self) -> Result<Summary, HistoryError> {
        summary::summary(&self.names)
    }

    /// `LD_fetch_run_records`' result: the summary's keys (`totals`,
    /// `latency_overall`, `per_name`), then the run's `id`, `created_at`,
    /// `label`, `metadata`, `parameters`, `elapsed_s`, `series`, `verdicts`,
    /// and per name its `statuses` and `failure_samples`.
    pub fn to_json(&self) -> Result<Value, HistoryError> {
        let summary = serde_json::to_value(self.summary()?)
            .map_err(|e| HistoryError::Corrupt(e.to_string()))?;
        let mut out = match summary {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let info = &self.info;
        out.insert("id".into(), json!(info.id));
        out.insert("created_at".into(), json!(info.created_at));
        out.insert("label".into(), json!(info.label));
        out.insert("metadata".into(), info.metadata.clone());
        out.insert("parameters".into(), self.parameters.clone());
        out.insert("elapsed_s".into(), json!(info.elapsed_s));
        out.insert("series".into(), json!(self.series));
        out.insert("verdicts".into(), json!(self.verdicts));
        let statuses: Map<String, Value> = self
            .names
            .iter()
            .map(|n| (n.name.clone(), json!(n.statuses)))
            .collect();
        let samples: Map<String, Value> = self
            .names
            .iter()
            .map(|n| {
                let sample = json!({"messages": n.failure_messages, "others": n.failure_others});
                (n.name.clone(), sample)
            })
            .collect();
        out.insert("statuses".into(), Value::Object(statuses));
        out.insert("failure_samples".into(), Value::Object(samples));
        Ok(Value::Object(out))
    }
}
