//! Part 1: decoding N agents' figures documents and merging them into one
//! [`Figures`], as a coordinator does after `LD_fetch_figures`: the bytes,
//! the CPU and wall time per merge, and the check that the merge is exact.

use hdrhistogram::Histogram;
use ld_tower::figures::{Figures, TestFigures};
use ld_tower::fleet::merge::merge;

use crate::cpu::{spread, CpuClock};
use crate::Result;

/// The quantiles the exactness check compares (and max).
pub(crate) const QUANTILES: [(f64, &str); 3] = [(0.50, "p50"), (0.95, "p95"), (0.99, "p99")];

/// Decodes every document and merges its figures into one. (The series
/// are decoded too, but `ld_tower::figures` has no public way to merge
/// them, so they are dropped.)
pub(crate) fn decode_and_merge<S: AsRef<str>>(documents: &[S]) -> Result<Figures> {
    let mut decoded = Vec::with_capacity(documents.len());
    for (i, text) in documents.iter().enumerate() {
        decoded.push(
            TestFigures::from_json(text.as_ref())
                .map_err(|e| format!("agent {i}'s figures document: {e}"))?,
        );
    }
    // The coordinator's own merge: figures exactly, series aligned.
    let (merged, _series, _start) = merge(&decoded.iter().collect::<Vec<_>>());
    Ok(merged)
}

/// One N's figures.
#[derive(Clone, Debug)]
pub(crate) struct MergeRow {
    pub(crate) agents: usize,
    pub(crate) bytes: Vec<usize>,
    /// CPU ms per merge, per round.
    pub(crate) cpu_ms: Vec<f64>,
    /// Wall ms per merge, per round.
    pub(crate) wall_ms: Vec<f64>,
    /// Quantiles and names compared by the exactness check.
    pub(crate) compared: usize,
}

/// Times `rounds` decode-and-merge rounds of `documents`, then checks the
/// last merge against `single`, the figures that recorded every sample.
pub(crate) fn measure(documents: &[String], single: &Figures, rounds: u32) -> Result<MergeRow> {
    let mut row = MergeRow {
        agents: documents.len(),
        bytes: documents.iter().map(String::len).collect(),
        cpu_ms: Vec::new(),
        wall_ms: Vec::new(),
        compared: 0,
    };
    let mut merged = Figures::default();
    for _ in 0..rounds.max(1) {
        let clock = CpuClock::start();
        merged = decode_and_merge(documents)?;
        row.cpu_ms.push(clock.cpu_ms());
        row.wall_ms.push(clock.wall_ms());
    }
    row.compared = check_exact(&merged, single)?;
    Ok(row)
}

/// A histogram of every name's latencies.
pub(crate) fn overall(figures: &Figures) -> Result<Histogram<u64>> {
    let mut all = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    for name in figures.per_name().values() {
        all.add(name.latency_us())?;
    }
    Ok(all)
}

/// Whether `merged` gives, per name and over all names, the same count,
/// p50, p95, p99 and max as `single`; the values compared, or which differ.
pub(crate) fn check_exact(merged: &Figures, single: &Figures) -> Result<usize> {
    let theirs: Vec<&String> = single.per_name().keys().collect();
    let ours: Vec<&String> = merged.per_name().keys().collect();
    if ours != theirs {
        return Err(format!("NOT EXACT: the merged names {ours:?} are not {theirs:?}").into());
    }
    let mut pairs = Vec::new();
    for (name, f) in merged.per_name() {
        let g = &single.per_name()[name];
        if (f.count(), f.failures(), f.statuses()) != (g.count(), g.failures(), g.statuses()) {
            return Err(format!("NOT EXACT: {name}: counts differ after the merge").into());
        }
        pairs.push((name.clone(), f.latency_us().clone(), g.latency_us().clone()));
    }
    pairs.push(("(all names)".into(), overall(merged)?, overall(single)?));
    let mut compared = 0;
    for (name, a, b) in &pairs {
        let mut values: Vec<(&str, u64, u64)> = QUANTILES
            .iter()
            .map(|(q, label)| (*label, a.value_at_quantile(*q), b.value_at_quantile(*q)))
            .collect();
        values.push(("max", a.max(), b.max()));
        values.push(("count", a.len(), b.len()));
        for (label, x, y) in values {
            if x != y {
                return Err(format!(
                    "NOT EXACT: {name} {label}: merged {x} us, one histogram of every sample {y} us"
                )
                .into());
            }
            compared += 1;
        }
    }
    Ok(compared)
}

/// Prints part 1's table.
pub(crate) fn print_rows(rows: &[MergeRow], encode_cpu_ms: &[f64]) {
    println!(
        "  {:>4}  {:>11}  {:>9}  {:>26}  {:>10}  {:>12}  {:>8}",
        "N",
        "bytes/agent",
        "total MB",
        "CPU ms/merge min/med/max",
        "wall ms",
        "CPU us/agent",
        "exact"
    );
    for row in rows {
        let total: usize = row.bytes.iter().sum();
        let per_agent = total / row.agents.max(1);
        let [lo, med, hi] = spread(&row.cpu_ms);
        let [_, wall, _] = spread(&row.wall_ms);
        println!(
            "  {:>4}  {:>11}  {:>9.2}  {:>26}  {:>10.1}  {:>12.0}  {:>8}",
            row.agents,
            per_agent,
            total as f64 / 1e6,
            format!("{lo:.1} / {med:.1} / {hi:.1}"),
            wall,
            med * 1000.0 / row.agents as f64,
            format!("yes ({})", row.compared)
        );
    }
    let [lo, med, hi] = spread(encode_cpu_ms);
    println!(
        "  an agent's side: encoding its document (to_json + text) took {med:.1} ms CPU (min {lo:.1}, max {hi:.1})"
    );
}
