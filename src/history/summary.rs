//! `LD_summary`'s figures recomputed from stored names, by the same rules
//! as [`Summary`]'s own (`crate::figures`), so a stored run's summary is
//! exactly what `LD_summary` said when it was persisted.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{HistoryError, NameRecord};
use crate::figures::{new_histogram, Overall, PerName, Summary, Totals};

/// One name's figures.
pub(super) fn per_name(record: &NameRecord) -> PerName {
    PerName {
        bytes: record.bytes,
        ..PerName::from_histogram(record.successes, record.failures, &record.latency_us)
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
    Ok(Summary {
        totals: Totals::new(successes, failures),
        latency_overall: Overall::of(&merged(records)?),
        per_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::{Figures, RequestOutcome};
    use std::time::Duration;

    #[test]
    fn equals_the_figures_own_summary() {
        let mut f = Figures::default();
        for ms in 1..=250 {
            let outcome = if ms % 7 == 0 {
                RequestOutcome::failed(Some(503), "503")
            } else {
                RequestOutcome::ok(200)
            };
            f.record("a", Duration::from_micros(ms * 1_337), outcome);
            if ms % 3 == 0 {
                f.record("b", Duration::from_millis(ms * 2), RequestOutcome::ok(201));
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
            single.record("a", Duration::from_millis(ms), RequestOutcome::ok(200));
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
