//! Percentiles of a stored latency histogram taken as LoadDensity takes
//! them from its raw records: by the rank among the sorted latencies.
//! ld-tower keeps no records, so the sorted latencies are the histogram's
//! recorded values, each as the histogram gives it (its bucket's highest
//! equivalent value, as `value_at_quantile` and `LD_summary` give it:
//! within 0.1% of what was measured).

use hdrhistogram::Histogram;

/// The `index`th (0-based) of the histogram's values in ascending order,
/// in ms (0 past the end).
fn at_index_ms(h: &Histogram<u64>, index: u64) -> f64 {
    let mut below = 0;
    for v in h.iter_recorded() {
        below += v.count_at_value();
        if below > index {
            return h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0;
        }
    }
    0.0
}

/// `regression/diff.py`'s `_percentile`: rank `pct/100 · (n-1)`, linear
/// between the two values around it; 0 with no value.
pub(super) fn linear_ms(h: &Histogram<u64>, pct: f64) -> f64 {
    let n = h.len();
    if n == 0 {
        return 0.0;
    }
    let rank = pct / 100.0 * (n - 1) as f64;
    // `int(rank)`: rank is from 0 to n-1, so this truncation is exact.
    let lower = rank as u64;
    let upper = (lower + 1).min(n - 1);
    let fraction = rank - lower as f64;
    let (low, high) = (at_index_ms(h, lower), at_index_ms(h, upper));
    low + (high - low) * fraction
}

/// `regression/multi_run_trend.py`'s `_percentile`: the value at rank
/// `round(pct/100 · (n-1))` (Python's `round`: halves to even); 0 with no
/// value.
pub(super) fn nearest_rank_ms(h: &Histogram<u64>, pct: f64) -> f64 {
    let n = h.len();
    if n == 0 {
        return 0.0;
    }
    let rank = (pct / 100.0 * (n - 1) as f64).round_ties_even();
    at_index_ms(h, (rank as u64).min(n - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::new_histogram;

    #[test]
    fn ranks_as_loaddensity_over_its_records() {
        let mut h = new_histogram();
        // Below 2048 µs every value is kept exactly.
        for us in [1_000, 1_500, 1_200, 2_000] {
            h.record(us).expect("records");
        }
        // Sorted 1.0 1.2 1.5 2.0; rank 1.5 → 1.2 + 0.3·0.5.
        assert!((linear_ms(&h, 50.0) - 1.35).abs() < 1e-12);
        assert_eq!(linear_ms(&h, 0.0), 1.0);
        assert_eq!(linear_ms(&h, 100.0), 2.0);
        // round(1.5) = 2 → 1.5; round(2.85) = 3 → 2.0; round(0.5) = 0.
        assert_eq!(nearest_rank_ms(&h, 50.0), 1.5);
        assert_eq!(nearest_rank_ms(&h, 95.0), 2.0);
        let mut two = new_histogram();
        two.record(1_000).expect("records");
        two.record(1_100).expect("records");
        assert_eq!(nearest_rank_ms(&two, 50.0), 1.0);
        let empty = new_histogram();
        assert_eq!(
            (linear_ms(&empty, 50.0), nearest_rank_ms(&empty, 50.0)),
            (0.0, 0.0)
        );
    }
}
