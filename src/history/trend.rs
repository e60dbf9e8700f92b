//! [`Store::trend`]: LoadDensity's `LD_trend_runs`
//! (`utils/regression/multi_run_trend.py`): the latest runs' figures, oldest
//! first, overall and per request name, percentiles by nearest rank over
//! each histogram's values ([`super::rank::nearest_rank_ms`]).

use std::collections::BTreeMap;

use rusqlite::params;
use serde::Serialize;

use super::store::started_at;
use super::summary::merged;
use super::{rank, HistoryError, NameRecord, Store};

/// The most runs one trend reads.
pub const MAX_TREND_RUNS: u32 = 1_000;

/// The most request names' figures (a run's name each) one trend reads.
pub const MAX_TREND_NAMES: u64 = 10_000;

/// The figures of some requests.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrendFigures {
    /// Requests.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// `failures / requests`, 0 with none.
    pub failure_rate: f64,
    /// Mean latency, ms (0 with none).
    pub mean_ms: f64,
    /// Median latency, ms (nearest rank).
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// One run of `per_run`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunTrend {
    /// The run's id.
    pub run_id: i64,
    /// When it was persisted, as LoadDensity writes it
    /// (`2026-01-02T03:04:05+00:00`).
    pub started_at: String,
    /// Its label.
    pub label: Option<String>,
    /// The figures of its names (those matching the filter).
    #[serde(flatten)]
    pub figures: TrendFigures,
}

/// One run of a name's list in `per_name`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NameTrend {
    /// The run's id.
    pub run_id: i64,
    /// The name's figures in that run.
    #[serde(flatten)]
    pub figures: TrendFigures,
}

/// `LD_trend_runs`' result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trend {
    /// The runs, oldest first.
    pub per_run: Vec<RunTrend>,
    /// Per request name (in name order), the runs that have it, oldest
    /// first.
    pub per_name: BTreeMap<String, Vec<NameTrend>>,
}

fn figures(records: &[NameRecord]) -> Result<TrendFigures, HistoryError> {
    let all = merged(records)?;
    let requests: u64 = records.iter().map(NameRecord::count).sum();
    let failures: u64 = records.iter().map(|r| r.failures).sum();
    Ok(TrendFigures {
        requests,
        failures,
        failure_rate: if requests == 0 {
            0.0
        } else {
            failures as f64 / requests as f64
        },
        mean_ms: if all.is_empty() {
            0.0
        } else {
            all.mean() / 1000.0
        },
        p50_ms: rank::nearest_rank_ms(&all, 50.0),
        p95_ms: rank::nearest_rank_ms(&all, 95.0),
        p99_ms: rank::nearest_rank_ms(&all, 99.0),
    })
}

impl Store {
    /// The newest `limit` runs (at most [`MAX_TREND_RUNS`]), oldest first,
    /// each over its names holding `name_filter` (a substring, case counts;
    /// none or empty: every name); refused when that reads more than
    /// [`MAX_TREND_NAMES`] names' figures.
    pub fn trend(&self, limit: u32, name_filter: Option<&str>) -> Result<Trend, HistoryError> {
        if limit > MAX_TREND_RUNS {
            return Err(HistoryError::Bound(format!(
                "limit: {limit} runs, at most {MAX_TREND_RUNS}"
            )));
        }
        let filter = name_filter.filter(|f| !f.is_empty());
        let names: u64 = self.conn.query_row(
            "SELECT count(*) FROM run_names
             WHERE run_id IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?1)
               AND (?2 IS NULL OR instr(name, ?2) > 0)",
            params![limit, filter],
            |row| row.get(0),
        )?;
        if names > MAX_TREND_NAMES {
            return Err(HistoryError::Bound(format!(
                "the latest {limit} runs hold {names} request names' figures to read, at most \
                 {MAX_TREND_NAMES}: lower limit or give a name_filter"
            )));
        }
        let mut trend = Trend {
            per_run: Vec::new(),
            per_name: BTreeMap::new(),
        };
        for run in self.list(limit)?.into_iter().rev() {
            let records = self.names(run.id, filter)?;
            trend.per_run.push(RunTrend {
                run_id: run.id,
                started_at: started_at(&run.created_at),
                label: run.label,
                figures: figures(&records)?,
            });
            for record in records {
                let figures = figures(std::slice::from_ref(&record))?;
                trend
                    .per_name
                    .entry(record.name)
                    .or_default()
                    .push(NameTrend {
                        run_id: run.id,
                        figures,
                    });
            }
        }
        Ok(trend)
    }
}
