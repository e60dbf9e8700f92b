//! [`Summary::of_records`]: `LD_summary(success, failures)` over records
//! given as JSON objects, computed as LoadDensity's `build_summary` did
//! (`generate_summary_report.py`), in [`Summary`]'s shape.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use super::python::{finite_number, fsum, str_of, truthy};
use super::{Overall, PerName, Summary, Totals};

/// A given record that is not a JSON object (the original failed on it too,
/// with `AttributeError: ... has no attribute 'get'`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{list}[{index}] is {what}, not a record (a JSON object)")]
pub struct NotARecord {
    /// `success` or `failures`.
    pub list: &'static str,
    /// Its place in that list, from 0.
    pub index: usize,
    /// What it is instead (`a string`, `a number`, ...).
    pub what: &'static str,
}

/// A record's latency as the original kept it: `response_time_ms` if it is
/// a finite, non-boolean number (or a string `float()` reads as one) >= 0.
fn latency(record: &serde_json::Map<String, Value>) -> Option<f64> {
    record
        .get("response_time_ms")
        .and_then(finite_number)
        .filter(|ms| *ms >= 0.0)
}

/// A record's name: its `name`, else its `test_url`, else `"unknown"` (the
/// first one that is truthy, as Python's `or` picks), as `str()` shows it.
fn name(record: &serde_json::Map<String, Value>) -> Cow<'_, str> {
    ["name", "test_url"]
        .iter()
        .find_map(|key| record.get(*key).filter(|v| truthy(v)))
        .map_or(Cow::Borrowed("unknown"), str_of)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The records of `list` as objects, or the first that is not one.
fn objects<'a>(
    list: &'static str,
    records: &'a [Value],
) -> Result<Vec<&'a serde_json::Map<String, Value>>, NotARecord> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            record.as_object().ok_or(NotARecord {
                list,
                index,
                what: kind(record),
            })
        })
        .collect()
}

/// Sorts latencies (stably, as Python's `sorted`: -0.0 and 0.0 keep their
/// order; there is no NaN).
fn sort(values: &mut [f64]) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
}

/// `_percentile` over sorted values: rank `p/100 * (n-1)`, linear
/// interpolation between the two values around it; 0 when there are none.
fn percentile(sorted: &[f64], pct: f64) -> f64 {
    match sorted {
        [] => 0.0,
        [only] => *only,
        _ => {
            let rank = (pct / 100.0) * (sorted.len() - 1) as f64;
            // rank is in [0, n-1]: the cast truncates as Python's int().
            let lower = rank as usize;
            let upper = (lower + 1).min(sorted.len() - 1);
            let fraction = rank - lower as f64;
            sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
        }
    }
}

/// Python's `max(values)` over sorted values: the first of the largest
/// (of equal -0.0 and 0.0, the one given first).
fn first_max(sorted: &[f64]) -> f64 {
    let Some(&last) = sorted.last() else {
        return 0.0;
    };
    let run = sorted.iter().rev().take_while(|v| **v == last).count();
    sorted[sorted.len() - run]
}

/// `latency_mean`: the mean of values scaled by the largest so the sum
/// cannot overflow, summed exactly (`math.fsum`); 0 when the largest is 0.
fn mean(sorted: &[f64]) -> f64 {
    let scale = first_max(sorted);
    if scale == 0.0 {
        return 0.0;
    }
    fsum(sorted.iter().map(|v| v / scale)) / sorted.len() as f64 * scale
}

impl Overall {
    /// The overall figures of sorted latencies (ms).
    fn of_sorted(sorted: &[f64]) -> Overall {
        Overall {
            count: sorted.len() as u64,
            p50_ms: percentile(sorted, 50.0),
            p90_ms: percentile(sorted, 90.0),
            p95_ms: percentile(sorted, 95.0),
            p99_ms: percentile(sorted, 99.0),
            max_ms: first_max(sorted),
        }
    }
}

impl PerName {
    /// A name's figures from the sorted latencies (ms) of its successes.
    fn of_sorted_successes(sorted: &[f64]) -> PerName {
        let count = sorted.len() as u64;
        PerName {
            count,
            successes: count,
            failures: 0,
            min_ms: sorted.first().copied().unwrap_or(0.0),
            max_ms: first_max(sorted),
            mean_ms: mean(sorted),
            p50_ms: percentile(sorted, 50.0),
            p90_ms: percentile(sorted, 90.0),
            p95_ms: percentile(sorted, 95.0),
            p99_ms: percentile(sorted, 99.0),
            bytes: None,
        }
    }
}

impl Summary {
    /// `LD_summary(success, failures)` over given records, as LoadDensity's
    /// `build_summary` computed it:
    ///
    /// - `totals` count every record of the two lists;
    /// - `latency_overall` is over the `response_time_ms` of both lists
    ///   that are finite, non-boolean numbers (or numeric strings) >= 0,
    ///   `count` being how many; other records are counted in the totals
    ///   only;
    /// - `per_name` is over the successes only, by `name`, else `test_url`,
    ///   else `"unknown"`, with the same latency filter: a name none of
    ///   whose successes has a latency is absent. Its `count` and
    ///   `successes` are those latencies' number, `failures` 0;
    /// - percentiles interpolate linearly at rank `p/100 * (n-1)`; the mean
    ///   is exactly rounded.
    ///
    /// Fails on the first record that is not a JSON object. Time O(n log n),
    /// memory O(n) for n records.
    pub fn of_records(success: &[Value], failures: &[Value]) -> Result<Summary, NotARecord> {
        let success = objects("success", success)?;
        let failures = objects("failures", failures)?;
        let mut overall: Vec<f64> = success
            .iter()
            .chain(&failures)
            .filter_map(|record| latency(record))
            .collect();
        sort(&mut overall);
        let mut grouped: BTreeMap<Cow<'_, str>, Vec<f64>> = BTreeMap::new();
        for record in &success {
            if let Some(ms) = latency(record) {
                grouped.entry(name(record)).or_default().push(ms);
            }
        }
        let per_name = grouped
            .into_iter()
            .map(|(name, mut values)| {
                sort(&mut values);
                (name.into_owned(), PerName::of_sorted_successes(&values))
            })
            .collect();
        Ok(Summary {
            totals: Totals::new(success.len() as u64, failures.len() as u64),
            latency_overall: Overall::of_sorted(&overall),
            per_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn records(name: &str, latencies: &[Value]) -> Vec<Value> {
        latencies
            .iter()
            .map(|ms| json!({"name": name, "response_time_ms": ms}))
            .collect()
    }

    fn summary(success: &[Value], failures: &[Value]) -> Value {
        let summary = Summary::of_records(success, failures).expect("records");
        serde_json::to_value(summary).expect("serializes")
    }

    #[test]
    fn the_compat_example() {
        let ms: Vec<Value> = [5, 7, 10, 30, 50, 100].iter().map(|v| json!(v)).collect();
        let got = summary(&records("a", &ms), &[]);
        // What the original's build_summary returned for these records.
        assert_eq!(
            got,
            json!({
                "totals": {"requests": 6, "successes": 6, "failures": 0, "failure_rate": 0.0},
                "latency_overall": {"count": 6, "p50_ms": 20.0, "p90_ms": 75.0, "p95_ms": 87.5, "p99_ms": 97.5, "max_ms": 100.0},
                "per_name": {"a": {"count": 6, "successes": 6, "failures": 0, "min_ms": 5.0, "max_ms": 100.0,
                    "mean_ms": 33.666666666666664, "p50_ms": 20.0, "p90_ms": 75.0, "p95_ms": 87.5, "p99_ms": 97.5}}
            })
        );
    }

    #[test]
    fn order_does_not_matter_and_failures_count_overall_only() {
        let ms: Vec<Value> = [100, 5, 50, 7, 30].iter().map(|v| json!(v)).collect();
        let failures = records("a", &[json!(10)]);
        let got = summary(&records("a", &ms), &failures);
        assert_eq!(got["totals"]["requests"], 6);
        assert_eq!(got["totals"]["failures"], 1);
        assert_eq!(got["totals"]["failure_rate"], 1.0 / 6.0);
        assert_eq!(got["latency_overall"]["p50_ms"], 20.0);
        assert_eq!(got["latency_overall"]["p90_ms"], 75.0);
        assert_eq!(got["per_name"]["a"]["count"], 5);
        assert_eq!(got["per_name"]["a"]["p50_ms"], 30.0);
    }

    #[test]
    fn latency_filter_as_the_original() {
        // Observed with the original: strings float() reads count, booleans,
        // nulls, negatives, containers and unreadable strings do not (and
        // are still counted in the totals).
        let success = records(
            "a",
            &[
                json!("12"),
                json!(" 13 "),
                json!("1_000"),
                json!("abc"),
                json!("nan"),
                json!("inf"),
                json!(true),
                json!(false),
                json!(null),
                json!(-1),
                json!([1]),
                json!({"x": 1}),
            ],
        );
        let got = summary(&success, &[json!({"name": "a"})]);
        assert_eq!(got["totals"]["requests"], 13);
        assert_eq!(
            got["latency_overall"],
            json!({"count": 3, "p50_ms": 13.0, "p90_ms": 802.6, "p95_ms": 901.3, "p99_ms": 980.26, "max_ms": 1000.0})
        );
        assert_eq!(got["per_name"]["a"]["mean_ms"], 341.66666666666663);
        assert_eq!(got["per_name"]["a"]["count"], 3);
    }

    #[test]
    fn huge_and_signed_zero_latencies() {
        let got = summary(&records("a", &[json!(1e308), json!(1e308)]), &[]);
        assert_eq!(got["per_name"]["a"]["mean_ms"], 1e308);
        assert_eq!(got["latency_overall"]["p99_ms"], 1e308);
        // The original kept -0.0 as given for one value, its mean 0.0.
        let got = summary(&records("a", &[json!(-0.0)]), &[]);
        let a = &got["per_name"]["a"];
        assert_eq!(a["min_ms"].as_f64().map(f64::is_sign_negative), Some(true));
        assert_eq!(a["max_ms"].as_f64().map(f64::is_sign_negative), Some(true));
        assert_eq!(a["mean_ms"].as_f64().map(f64::is_sign_positive), Some(true));
    }

    #[test]
    fn names_as_the_original() {
        let success = vec![
            json!({"name": "", "test_url": "u", "response_time_ms": 1}),
            json!({"name": 0, "test_url": "", "response_time_ms": 2}),
            json!({"name": 5, "response_time_ms": 3}),
            json!({"name": 1e20, "response_time_ms": 3}),
            json!({"name": [1, "a"], "response_time_ms": 3}),
            json!({"name": true, "response_time_ms": 3}),
            json!({"name": "no latency"}),
            json!({"name": "bad latency", "response_time_ms": "x"}),
        ];
        let failures = vec![json!({"name": "failed", "response_time_ms": 4})];
        let got = summary(&success, &failures);
        let names: Vec<&str> = got["per_name"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(names, ["1e+20", "5", "True", "[1, 'a']", "u", "unknown"]);
        assert_eq!(got["per_name"]["u"]["min_ms"], 1.0);
        assert_eq!(got["per_name"]["unknown"]["min_ms"], 2.0);
        assert_eq!(got["latency_overall"]["count"], 7);
        assert_eq!(got["totals"]["requests"], 9);
    }

    #[test]
    fn empty_lists_are_a_zeroed_summary() {
        assert_eq!(
            serde_json::to_string(&Summary::of_records(&[], &[]).expect("records"))
                .expect("serializes"),
            r#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}"#
        );
    }

    #[test]
    fn a_record_that_is_no_object_fails() {
        let ok = json!({"response_time_ms": 1});
        assert_eq!(
            Summary::of_records(std::slice::from_ref(&ok), &[ok.clone(), json!("x")]),
            Err(NotARecord {
                list: "failures",
                index: 1,
                what: "a string"
            })
        );
        let err = Summary::of_records(&[json!(5)], &[]).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("success[0] is a number, not a record (a JSON object)")
        );
    }

    #[test]
    fn percentile_interpolates() {
        let v = [5.0, 7.0, 10.0, 30.0, 50.0, 100.0];
        assert_eq!(percentile(&v, 50.0), 20.0);
        assert_eq!(percentile(&v, 90.0), 75.0);
        assert_eq!(percentile(&v, 0.0), 5.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
