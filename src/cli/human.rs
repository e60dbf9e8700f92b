//! What a person reads: `ld-tower demo`'s summary (totals, one row per
//! request name, each threshold passed or `FAILED`, a breaking-point
//! search's probes), which `run` also ends with on a terminal, and `run`'s
//! one short line per action there.

use std::io::{self, Write};

use serde_json::Value;

use ld_tower::breaking::{Outcome, Searched};
use ld_tower::figures::Summary;
use ld_tower::protocol::{Reply, END};
use ld_tower::state::LastRun;

/// The name column's width at least (the header's `name`, and the demo's
/// names line up as they always did).
const NAME_WIDTH: usize = 10;

/// The thresholds' scope column's width at least (`overall`, a short name).
const SCOPE_WIDTH: usize = 8;

/// Writes the totals, one row per name and, if the last test had
/// thresholds, each verdict with the failed ones marked `FAILED`.
pub(super) fn write_summary(
    out: &mut impl Write,
    summary: &Summary,
    last: Option<&LastRun>,
) -> io::Result<()> {
    let t = &summary.totals;
    writeln!(
        out,
        "\n{} requests, {} failed ({:.2}%); latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms\n",
        t.requests,
        t.failures,
        t.failure_rate * 100.0,
        summary.latency_overall.p50_ms,
        summary.latency_overall.p95_ms,
        summary.latency_overall.p99_ms
    )?;
    let width = summary
        .per_name
        .keys()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0)
        .max(NAME_WIDTH);
    writeln!(
        out,
        "  {:<width$} {:>9} {:>8} {:>9} {:>9} {:>9}",
        "name", "requests", "failed", "p50 ms", "p95 ms", "p99 ms"
    )?;
    for (name, p) in &summary.per_name {
        writeln!(
            out,
            "  {:<width$} {:>9} {:>8} {:>9.1} {:>9.1} {:>9.1}",
            name, p.count, p.failures, p.p50_ms, p.p95_ms, p.p99_ms
        )?;
    }
    let verdicts = last.map_or(&[][..], |last| &last.verdicts[..]);
    if !verdicts.is_empty() {
        writeln!(out, "\nThresholds:")?;
        let width = verdicts
            .iter()
            .map(|v| v.scope.chars().count())
            .max()
            .unwrap_or(0)
            .max(SCOPE_WIDTH);
        for v in verdicts {
            writeln!(
                out,
                "  {:<6} {:<width$} {:<13} limit {:>8.3}  actual {:>8.3}",
                if v.passed { "passed" } else { "FAILED" },
                v.scope,
                v.metric,
                v.limit,
                v.actual
            )?;
        }
    }
    if let Some(search) = last
        .and_then(|last| last.parameters.get("breaking_point"))
        .and_then(Outcome::from_json)
    {
        write_search(out, &search)?;
    }
    Ok(())
}

/// Writes a breaking-point search's result and one row per probe.
fn write_search(out: &mut impl Write, search: &Outcome) -> io::Result<()> {
    let (what, level) = match search.searched {
        Searched::Users => ("users", "users"),
        Searched::ArrivalRate { .. } => ("arrival rate", "rate/s"),
    };
    let breaking = search
        .breaking
        .map_or_else(|| "none found".to_owned(), |b| b.to_string());
    writeln!(
        out,
        "\nBreaking point: safe {what} {}, breaking at {breaking}{}",
        search.safe,
        if search.stopped_early {
            " (stopped early)"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "  {:>8} {:>9} {:>8} {:>9} {:>9}  result",
        level, "requests", "failed", "fail %", "p95 ms"
    )?;
    for probe in &search.history {
        let m = &probe.measured;
        writeln!(
            out,
            "  {:>8} {:>9} {:>8} {:>9.2} {:>9.1}  {}",
            probe.level,
            m.requests,
            m.failures + m.abandoned,
            m.failure_rate() * 100.0,
            m.p95_ms,
            match &probe.reason {
                None => "safe".to_owned(),
                Some(reason) => format!("UNSAFE: {reason}"),
            }
        )?;
    }
    Ok(())
}

/// The action names of an action list (`{"load_density": [...]}` or
/// `[...]`), in order; a malformed action counts as `?`.
pub(super) fn action_names(actions: &Value) -> Vec<String> {
    let list = match actions {
        Value::Array(list) => list.as_slice(),
        Value::Object(map) => map
            .get("load_density")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    list.iter()
        .map(|action| {
            action
                .get(0)
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

/// Writes one line per action of `reply` for a person: an error as it is;
/// a result as `NAME: RESULT` when that fits in `width` columns, else
/// `NAME: ok` and the result's size (`--json` prints it). When the reply
/// does not have one line per name (a list that is no action list), its
/// lines as they are.
pub(super) fn write_results(
    out: &mut impl Write,
    names: &[String],
    reply: &Reply,
    width: usize,
) -> io::Result<()> {
    let lines: Vec<String> = reply
        .pieces()
        .iter()
        .filter(|piece| piece.as_ref() != END)
        .map(|piece| String::from_utf8_lossy(piece).trim_end().to_owned())
        .collect();
    if lines.len() != names.len() {
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    for (name, line) in names.iter().zip(&lines) {
        if line.starts_with("Error: ") {
            writeln!(out, "{line}")?;
        } else if name.chars().count() + 2 + line.chars().count() <= width {
            writeln!(out, "{name}: {line}")?;
        } else {
            writeln!(
                out,
                "{name}: ok ({} bytes of result; --json prints it)",
                line.len()
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    fn written(names: &[&str], lines: &[&str], width: usize) -> String {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let lines = lines
            .iter()
            .map(|l| Bytes::from(format!("{l}\n")))
            .collect();
        let reply = Reply::lines(lines, 0);
        let mut out = Vec::new();
        write_results(&mut out, &names, &reply, width).unwrap_or_default();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn short_results_show_long_ones_are_sized_errors_stay() {
        let long = format!("{{\"totals\":{}}}", "1".repeat(100));
        assert_eq!(
            written(
                &["LD_clear_records", "LD_summary", "LD_nope"],
                &[
                    "{\"status\":\"cleared\"}",
                    &long,
                    "Error: LD_nope: unknown action"
                ],
                80
            ),
            format!(
                "LD_clear_records: {{\"status\":\"cleared\"}}\nLD_summary: ok ({} bytes of result; \
                 --json prints it)\nError: LD_nope: unknown action\n",
                long.len()
            )
        );
        // Not one line per name: the lines as they are.
        assert_eq!(
            written(&[], &["Error: not a list"], 80),
            "Error: not a list\n"
        );
    }

    #[test]
    fn a_search_ends_the_summary_with_its_probes() {
        use ld_tower::breaking::{Bounds, Limits, Measured, Search};
        let mut search = Search::new(
            Bounds {
                min: 1,
                max: 100,
                max_iterations: 12,
            },
            Limits {
                failure_threshold: 0.0,
                latency: None,
            },
        );
        let probe = |requests, failures, p95_ms| Measured {
            users: 10,
            requests,
            failures,
            p95_ms,
            ..Measured::default()
        };
        search.record(50, probe(200, 0, 12.5));
        search.record(75, probe(300, 30, 40.0));
        let mut out = Vec::new();
        write_search(
            &mut out,
            &search.outcome(Searched::ArrivalRate { users: 10 }, true),
        )
        .unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "\nBreaking point: safe arrival rate 50, breaking at 75 (stopped early)\n\
             \x20   rate/s  requests   failed    fail %    p95 ms  result\n\
             \x20       50       200        0      0.00      12.5  safe\n\
             \x20       75       300       30     10.00      40.0  UNSAFE: failure rate 0.1000 over failure_threshold 0\n"
        );
    }

    #[test]
    fn names_of_both_forms() {
        assert_eq!(
            action_names(&json!({"load_density": [["LD_a", {}], ["LD_b"], [1]]})),
            ["LD_a", "LD_b", "?"]
        );
        assert_eq!(action_names(&json!([["LD_a"]])), ["LD_a"]);
        assert!(action_names(&json!({"x": 1})).is_empty());
    }
}
