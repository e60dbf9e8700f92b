//! The database's tables, created when absent, and its version
//! (`PRAGMA user_version`).

use rusqlite::{Connection, TransactionBehavior};

use super::HistoryError;

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = 4;

/// Version 1: a run, its names (with their serialized HDR histograms), its
/// per-second series and its thresholds' verdicts.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY,
    created_at  TEXT    NOT NULL,
    label       TEXT,
    metadata    TEXT    NOT NULL,
    parameters  TEXT    NOT NULL,
    elapsed_s   REAL    NOT NULL,
    requests    INTEGER NOT NULL,
    failures    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS run_names (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    count           INTEGER NOT NULL,
    successes       INTEGER NOT NULL,
    failures        INTEGER NOT NULL,
    min_ms          REAL    NOT NULL,
    mean_ms         REAL    NOT NULL,
    p50_ms          REAL    NOT NULL,
    p90_ms          REAL    NOT NULL,
    p95_ms          REAL    NOT NULL,
    p99_ms          REAL    NOT NULL,
    max_ms          REAL    NOT NULL,
    statuses        TEXT    NOT NULL,
    failures_sample TEXT    NOT NULL,
    histogram       BLOB    NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS run_series (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    second    INTEGER NOT NULL,
    requests  INTEGER NOT NULL,
    failures  INTEGER NOT NULL,
    p50_ms    REAL    NOT NULL,
    p95_ms    REAL    NOT NULL,
    p99_ms    REAL    NOT NULL,
    PRIMARY KEY (run_id, second)
);
CREATE TABLE IF NOT EXISTS run_thresholds (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    scope       TEXT    NOT NULL,
    metric      TEXT    NOT NULL,
    limit_value REAL    NOT NULL,
    actual      REAL,
    passed      INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
);
";

/// Version 2: a name's bytes (`NULL` for the runs stored before it,
/// whose bytes were not kept).
const SCHEMA_V2: &str = "ALTER TABLE run_names ADD COLUMN bytes INTEGER;";

/// Version 3: per second, the users running and the responses by status
/// (a JSON object, as the series' `statuses`; both `NULL` for the runs
/// stored before it, which did not keep them), and the seconds' figures per
/// request name.
const SCHEMA_V3: &str = "
ALTER TABLE run_series ADD COLUMN users INTEGER;
ALTER TABLE run_series ADD COLUMN statuses TEXT;
CREATE TABLE IF NOT EXISTS run_series_names (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    second    INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    requests  INTEGER NOT NULL,
    failures  INTEGER NOT NULL,
    p50_ms    REAL    NOT NULL,
    p95_ms    REAL    NOT NULL,
    p99_ms    REAL    NOT NULL,
    PRIMARY KEY (run_id, second, name)
);
";

/// Version 4: tags on runs (`LD_tag_run`), one value per run and key,
/// searched by key and value.
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS run_tags (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS run_tags_key_value ON run_tags (key, value);
";

/// Creates the tables if the file has none yet, or brings an older
/// version's up to this one; refuses a file written by
/// a newer schema. Done in one transaction, so two processes opening a new
/// file at once do not both create it.
pub(super) fn ensure(conn: &mut Connection) -> Result<(), HistoryError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(HistoryError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < 1 {
        tx.execute_batch(SCHEMA_V1)?;
    }
    if found < 2 {
        tx.execute_batch(SCHEMA_V2)?;
    }
    if found < 3 {
        tx.execute_batch(SCHEMA_V3)?;
    }
    if found < 4 {
        tx.execute_batch(SCHEMA_V4)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}
