//! The CSV report: one row per request name under a header row.

use super::model::Report;

/// The header row.
pub const HEADER: [&str; 12] = [
    "name",
    "count",
    "successes",
    "failures",
    "rps",
    "min_ms",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
];

/// The report's per-name figures as CSV.
pub fn render(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADER)?;
    for n in &report.per_name {
        writer.write_record([
            n.name.clone(),
            n.count.to_string(),
            n.successes.to_string(),
            n.failures.to_string(),
            n.rps.to_string(),
            n.min_ms.to_string(),
            n.mean_ms.to_string(),
            n.p50_ms.to_string(),
            n.p90_ms.to_string(),
            n.p95_ms.to_string(),
            n.p99_ms.to_string(),
            n.max_ms.to_string(),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}
