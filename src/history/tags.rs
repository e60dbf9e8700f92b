//! Tags on runs (LoadDensity's `utils/governance/run_tagging.py`): text
//! key/value pairs kept per run (`run_tags`, schema 4), one value per key,
//! and the runs that carry a given pair.

use std::collections::BTreeMap;

use rusqlite::{params, TransactionBehavior};
use serde::Serialize;

use super::store::started_at;
use super::{HistoryError, Store};

/// The most tags one call sets.
pub const MAX_TAGS_PER_CALL: usize = 100;

/// The most tags a run carries.
pub const MAX_TAGS_PER_RUN: u64 = 1_000;

/// The longest tag key, in bytes.
pub const MAX_TAG_KEY_BYTES: usize = 256;

/// The longest tag value, in bytes.
pub const MAX_TAG_VALUE_BYTES: usize = 4_096;

/// The most runs a search by tag returns (the newest).
pub const MAX_TAGGED_RUNS: u32 = 1_000;

/// A run carrying a searched tag.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaggedRun {
    /// Its id.
    pub id: i64,
    /// When it was persisted, as LoadDensity writes it
    /// (`2026-01-02T03:04:05+00:00`).
    pub started_at: String,
    /// Its label.
    pub label: Option<String>,
}

/// A tag's key or value within its bound.
fn within(what: &str, text: &str, max: usize) -> Result<(), HistoryError> {
    if text.len() > max {
        return Err(HistoryError::Bound(format!(
            "{what} {:?}...: {} bytes, at most {max}",
            text.chars().take(32).collect::<String>(),
            text.len()
        )));
    }
    Ok(())
}

impl Store {
    /// Sets `tags` on the run of id `id` (a key it has already is
    /// overwritten), in one transaction; [`HistoryError::UnknownRun`] if no
    /// run has that id. Bounds: [`MAX_TAGS_PER_CALL`],
    /// [`MAX_TAG_KEY_BYTES`], [`MAX_TAG_VALUE_BYTES`], [`MAX_TAGS_PER_RUN`].
    pub fn tag(&mut self, id: i64, tags: &[(String, String)]) -> Result<(), HistoryError> {
        if tags.len() > MAX_TAGS_PER_CALL {
            return Err(HistoryError::Bound(format!(
                "tags: {} in one call, at most {MAX_TAGS_PER_CALL}",
                tags.len()
            )));
        }
        for (key, value) in tags {
            within("tag key", key, MAX_TAG_KEY_BYTES)?;
            within(&format!("tag {key:?}'s value"), value, MAX_TAG_VALUE_BYTES)?;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = tx.query_row(
            "SELECT count(*) FROM runs WHERE id = ?1",
            params![id],
            |r| r.get::<_, i64>(0),
        )?;
        if exists == 0 {
            return Err(HistoryError::UnknownRun(id));
        }
        {
            let mut upsert = tx.prepare(
                "INSERT INTO run_tags (run_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            )?;
            for (key, value) in tags {
                upsert.execute(params![id, key, value])?;
            }
        }
        let carried: u64 = tx.query_row(
            "SELECT count(*) FROM run_tags WHERE run_id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        if carried > MAX_TAGS_PER_RUN {
            // Dropping the transaction undoes the upserts.
            return Err(HistoryError::Bound(format!(
                "run {id} would carry {carried} tags, at most {MAX_TAGS_PER_RUN}"
            )));
        }
        tx.commit()?;
        Ok(())
    }

    /// The tags of the run of id `id`, by key; [`HistoryError::UnknownRun`]
    /// if no run has that id.
    pub fn tags(&self, id: i64) -> Result<BTreeMap<String, String>, HistoryError> {
        self.check_run(id)?;
        let mut select = self
            .conn
            .prepare("SELECT key, value FROM run_tags WHERE run_id = ?1 ORDER BY key")?;
        let rows = select.query_map(params![id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The runs whose tag `key` is exactly `value`, newest first (at most
    /// the newest [`MAX_TAGGED_RUNS`]).
    pub fn search_by_tag(&self, key: &str, value: &str) -> Result<Vec<TaggedRun>, HistoryError> {
        let mut select = self.conn.prepare(
            "SELECT r.id, r.created_at, r.label FROM runs r
             JOIN run_tags t ON t.run_id = r.id
             WHERE t.key = ?1 AND t.value = ?2 ORDER BY r.id DESC LIMIT ?3",
        )?;
        let rows = select.query_map(params![key, value, MAX_TAGGED_RUNS], |row| {
            Ok(TaggedRun {
                id: row.get(0)?,
                started_at: started_at(&row.get::<_, String>(1)?),
                label: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
