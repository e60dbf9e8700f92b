//! `LD_summary`'s figures recomputed from stored names, by the same rules
//! as [`Summary`]'s own (`crate::figures`), so a stored run's summary is
//! exactly what `LD_summary` said when it was persisted.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{HistoryError, NameRecord};
use crate::figures::{new_histogram, Overall, PerName, Summary, Totals};

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The `q` quantile in milliseconds, 0 for an empty histogram.
pub(super) fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.value_at_quantile(q))
    }
}

/// The largest latency in milliseconds, 0 for an empty histogram.
pub(super) fn max_ms(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.max())
    }
}

/// One name's figures.
pub(super) fn per_name(record: &NameRecord) -> PerName {
    let h = &record.latency_us;
    let empty = h.is_empty();
    PerName {
        count: record.count(),
        successes: record.successes,
        failures: record.failures,
        min_ms: if empty { 0.0 } else { ms(h.min()) },
        max_ms: max_ms(h),
        mean_ms: if empty { 0.0 } else { h.mean() / 1000.0 },
        p50_ms: quantile_ms(h, 0.50),
        p90_ms: quantile_ms(h, 0.90),
        p95_ms: quantile_ms(h, 0.95),
        p99_ms: quantile_ms(h, 0.99),
    }
}

/// Every name's latency in one histogram.
pub(super) fn merged<'a>(
    records: impl IntoIterator<Item = &'a NameRecord>,
) -> Result<Histogram<u64>, HistoryError> {
    let mut all = new_histogram();
    for record in records {
        all.add(&record.latency_us).map_err(|e| {
            HistoryError::Corrupt(format!(
                "the histogram of {:?} does not fit the latency range: {e:?}",
                record.name
            ))
        })?;
    }
    Ok(all)
}

/// `LD_summary`'s figures of `records`.
pub(super) fn summary(records: &[NameRecord]) -> Result<Summary, HistoryError> {
    let per_name: BTreeMap<String, PerName> = records
        .iter()
        .map(|r| (r.name.clone(), self::per_name(r)))
        .collect();
    let successes: u64 = records.iter().map(|r| r.successes).sum();
    let failures: u64 = records.iter().map(|r| r.failures).sum();
    let requests = successes + failures;
    let all = merged(records)?;
    let latency_overall = Overall {
        count: all.len(),
        p50_ms: quantile_ms(&all, 0.50),
        p90_ms: quantile_ms(&all, 0.90),
        p95_ms: quantile_ms(&all, 0.95),
        p99_ms: quantile_ms(&all, 0.99),
        max_ms: max_ms(&all),
    };
    Ok(Summary {
        totals: Totals {
            requests,
            successes,
            failures,
            failure_rate: if requests == 0 {
                0.0
            } else {
                failures as f64 / requests as f64
            },
        },
        latency_overall,
        per_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::{Figures, Outcome};
    use std::time::Duration;

    #[test]
    fn equals_the_figures_own_summary() {
        let mut f = Figures::default();
        for ms in 1..=250 {
            let outcome = if ms % 7 == 0 {
                Outcome::failed(Some(503), "503")
            } else {
                Outcome::ok(200)
            };
            f.record("a", Duration::from_micros(ms * 1_337), outcome);
            if ms % 3 == 0 {
                f.record("b", Duration::from_millis(ms * 2), Outcome::ok(201));
            }
        }
        let records: Vec<NameRecord> = f
            .per_name()
            .iter()
            .map(|(n, x)| NameRecord::of(n, x))
            .collect();
        assert_eq!(summary(&records).expect("sums"), f.summary());
        // One name: `Summary` takes its histogram as the overall one.
        let mut single = Figures::default();
        for ms in [3_u64, 9, 27, 81] {
            single.record("a", Duration::from_millis(ms), Outcome::ok(200));
        }
        let records: Vec<NameRecord> = single
            .per_name()
            .iter()
            .map(|(n, x)| NameRecord::of(n, x))
            .collect();
        assert_eq!(summary(&records).expect("sums"), single.summary());
        assert_eq!(summary(&[]).expect("sums"), Figures::default().summary());
    }
}
