//! The HTML report: one self-contained document (inline `<style>`, system
//! fonts, inline SVG charts, no script and no external reference), made
//! with maud so every piece of data is escaped as text.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::model::Report;
use super::svg::{Chart, Line};
use crate::breaking::Searched;
use crate::figures::{NamePoint, SecondPoint};
use crate::thresholds::Verdict;

/// The document's stylesheet (inline: the report is one file).
const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 1.5rem; }
header .meta { color: #d0d7de; font-size: 0.9rem; }
main { padding: 16px 32px 48px; max-width: 1200px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 16px 20px; margin: 16px 0; }
h2 { font-size: 1.15rem; margin: 0 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.card { background: #32383f; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card .value { font-size: 1.3rem; font-weight: 600; }
.card .label { font-size: 0.8rem; color: #d0d7de; }
.notice { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 12px 16px; margin: 16px 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { word-break: break-all; }
.pass { color: #1a7f37; font-weight: 600; }
.fail { color: #cf222e; font-weight: 600; }
.muted { color: #57606a; fill: #57606a; }
svg.chart { width: 100%; height: auto; display: block; font-size: 11px; fill: #57606a; }
svg.chart .axis-title { font-size: 12px; fill: #1f2328; }
svg.chart .legend text { fill: #1f2328; }
svg.chart .empty { font-size: 15px; fill: #57606a; }
th.num { white-space: nowrap; }
#parameters th { width: 30%; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
.charts h3 { font-size: 1rem; margin: 0 0 6px; }
"#;

/// A number with `decimals` decimals; "-" when it is not finite.
fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "-".to_owned()
    }
}

/// A percentage of a 0..1 ratio.
fn percent(ratio: f64) -> String {
    format!("{}%", num(ratio * 100.0, 2))
}

/// The threshold's comparison, as its verdict reads.
pub fn comparison(v: &Verdict) -> &'static str {
    if v.metric == "min_rps" {
        ">="
    } else {
        "<="
    }
}

/// The report as a complete HTML document.
pub fn render(report: &Report) -> String {
    document(report).into_string()
}

fn document(report: &Report) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (report.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (header(report))
                main {
                    @if report.is_empty() {
                        p class="notice" {
                            "No test has run yet: nothing has been recorded, so every figure below is zero."
                        }
                    }
                    (charts(report))
                    (names_table(report))
                    (failures_table(report))
                    (thresholds_table(report))
                    (breaking_table(report))
                    (parameters_table(report))
                }
            }
        }
    }
}

fn header(report: &Report) -> Markup {
    let totals = &report.summary.totals;
    let overall = &report.summary.latency_overall;
    let cards: Vec<(String, &str)> = vec![
        (totals.requests.to_string(), "requests"),
        (totals.failures.to_string(), "failures"),
        (percent(totals.failure_rate), "failure rate"),
        (num(report.rps, 1), "requests/s"),
        (num(overall.p50_ms, 2), "p50 ms"),
        (num(overall.p95_ms, 2), "p95 ms"),
        (num(overall.p99_ms, 2), "p99 ms"),
        (num(overall.max_ms, 2), "max ms"),
        (
            report
                .series
                .iter()
                .map(|p| p.users)
                .max()
                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
            "peak users",
        ),
        (
            report
                .elapsed_s
                .map_or_else(|| "-".to_owned(), |s| num(s, 1)),
            "duration s",
        ),
    ];
    html! {
        header {
            h1 { (report.title) }
            div class="meta" {
                "Generated " (report.generated_at) " by ld-tower"
                @if !report.thresholds.is_empty() {
                    " · thresholds: "
                    @if report.thresholds_passed() {
                        span class="pass" { "passed" }
                    } @else {
                        span class="fail" { "failed" }
                    }
                }
            }
            div class="cards" {
                @for (value, label) in &cards {
                    div class="card" {
                        div class="value" { (value) }
                        div class="label" { (label) }
                    }
                }
            }
        }
    }
}

/// The x ticks of the distribution chart: the percentile's "nines".
fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).max(1e-4).log10()
}

/// Charts of latency over time drawn per name, at most: the names with
/// the most requests (the rest are named under the charts).
pub const MAX_NAME_CHARTS: usize = 12;

/// The colour of status `code`'s line: greens for 2xx, blues for 3xx,
/// ambers for 4xx, reds for 5xx, grey for no response, purple for no code;
/// `nth` tells apart codes of one class.
fn status_colour(code: &str, nth: usize) -> &'static str {
    const GREENS: [&str; 3] = ["#1a7f37", "#4ac26b", "#116329"];
    const BLUES: [&str; 3] = ["#0969da", "#54aeff", "#0a3069"];
    const AMBERS: [&str; 3] = ["#bf8700", "#d4a72c", "#7d4e00"];
    const REDS: [&str; 3] = ["#cf222e", "#ff8182", "#82071e"];
    let class = match code.as_bytes().first() {
        Some(b'2') => GREENS,
        Some(b'3') => BLUES,
        Some(b'4') => AMBERS,
        Some(b'5') => REDS,
        _ if code == crate::figures::NO_RESPONSE => return "#57606a",
        _ if code == crate::figures::NO_STATUS => return "#8250df",
        _ => ["#6e7781", "#8c959f", "#424a53"],
    };
    class[nth % class.len()]
}

/// A chart over the series' seconds.
fn over_time(y_label: &str, lines: Vec<Line>) -> Chart {
    Chart {
        x_label: "seconds since start".into(),
        y_label: y_label.into(),
        lines,
        x_ticks: None,
        empty_text: "No per-second data: no test has run yet".into(),
    }
}

fn charts(report: &Report) -> Markup {
    let seconds = |f: &dyn Fn(&SecondPoint) -> f64| {
        report
            .series
            .iter()
            .map(|p| (p.second as f64, f(p)))
            .collect::<Vec<_>>()
    };
    let line =
        |label: &str, colour: &'static str, area: bool, f: &dyn Fn(&SecondPoint) -> f64| Line {
            label: label.into(),
            colour,
            points: seconds(f),
            area,
        };
    let users = over_time(
        "users",
        vec![line("active users", "#0969da", true, &|p| p.users as f64)],
    );
    let requests = over_time(
        "requests per second",
        vec![line("requests/s", "#1a7f37", true, &|p| p.requests as f64)],
    );
    let failures = over_time(
        "failures per second",
        vec![line("failures/s", "#cf222e", true, &|p| p.failures as f64)],
    );
    let mut class_seen = std::collections::BTreeMap::new();
    let statuses = over_time(
        "responses per second",
        report
            .series_statuses()
            .into_iter()
            .map(|code| {
                let nth = class_seen.entry(code.chars().next()).or_insert(0);
                let colour = status_colour(code, *nth);
                *nth += 1;
                line(code, colour, false, &|p| {
                    p.statuses.get(code).copied().unwrap_or(0) as f64
                })
            })
            .collect(),
    );
    let latency = over_time(
        "latency (ms)",
        vec![
            line("p50", "#1a7f37", false, &|p| p.p50_ms),
            line("p95", "#bf8700", false, &|p| p.p95_ms),
            line("p99", "#cf222e", false, &|p| p.p99_ms),
        ],
    );
    let distribution = Chart {
        x_label: "percentile".into(),
        y_label: "latency (ms)".into(),
        lines: vec![Line {
            label: "latency".into(),
            colour: "#8250df",
            points: report
                .distribution
                .iter()
                .map(|p| (nines(p.percentile), p.latency_ms))
                .collect(),
            area: true,
        }],
        x_ticks: Some(
            [0.0, 90.0, 99.0, 99.9, 99.99]
                .iter()
                .map(|p| (nines(*p), format!("{p}%")))
                .collect(),
        ),
        empty_text: "No latency recorded yet".into(),
    };
    html! {
        section {
            h2 { "Charts" }
            div class="charts" {
                div id="chart-users" { h3 { "Active users" } (users.render()) }
                div id="chart-requests" { h3 { "Requests per second" } (requests.render()) }
                div id="chart-failures" { h3 { "Failures per second" } (failures.render()) }
                div id="chart-statuses" { h3 { "Responses per second by status" } (statuses.render()) }
                div id="chart-latency" { h3 { "Latency over time (p50, p95, p99)" } (latency.render()) }
                div id="chart-distribution" { h3 { "Latency distribution (by percentile)" } (distribution.render()) }
            }
        }
        (name_charts(report))
    }
}

/// Latency over time per request name: p50, p95 and p99 of each second it
/// completed requests in.
fn name_charts(report: &Report) -> Markup {
    let mut names = report.series_names();
    let total = |name: &str| {
        report
            .series
            .iter()
            .filter_map(|p| p.per_name.get(name))
            .map(|n| n.requests)
            .sum::<u64>()
    };
    // Most requests first; ties by name (the sort is stable).
    names.sort_by_key(|name| std::cmp::Reverse(total(name)));
    let left_out = names.split_off(names.len().min(MAX_NAME_CHARTS));
    let chart = |name: &str| {
        let of = |f: fn(&NamePoint) -> f64| {
            report
                .series
                .iter()
                .filter_map(|p| p.per_name.get(name).map(|n| (p.second as f64, f(n))))
                .collect::<Vec<_>>()
        };
        over_time(
            "latency (ms)",
            vec![
                Line {
                    label: "p50".into(),
                    colour: "#1a7f37",
                    points: of(|n| n.p50_ms),
                    area: false,
                },
                Line {
                    label: "p95".into(),
                    colour: "#bf8700",
                    points: of(|n| n.p95_ms),
                    area: false,
                },
                Line {
                    label: "p99".into(),
                    colour: "#cf222e",
                    points: of(|n| n.p99_ms),
                    area: false,
                },
            ],
        )
    };
    html! {
        @if !names.is_empty() {
            section id="name-charts" {
                h2 { "Latency over time by name (p50, p95, p99)" }
                div class="charts" {
                    @for name in &names {
                        div class="name-chart" data-name=(name) {
                            h3 class="text" { (name) } (chart(name).render())
                        }
                    }
                }
                @if !left_out.is_empty() {
                    p class="muted" {
                        (left_out.len()) " more names, with fewer requests, are not drawn: "
                        (left_out.join(", "))
                    }
                }
            }
        }
    }
}

fn names_table(report: &Report) -> Markup {
    html! {
        section {
            h2 { "Requests by name" }
            @if report.per_name.is_empty() {
                p class="muted" { "No request recorded." }
            } @else {
                table id="per-name" {
                    thead {
                        tr {
                            th { "name" }
                            @for h in ["count", "failures", "rps", "min ms", "mean ms", "p50 ms",
                                "p90 ms", "p95 ms", "p99 ms", "max ms"] {
                                th class="num" { (h) }
                            }
                            th { "statuses" }
                        }
                    }
                    tbody {
                        @for n in &report.per_name {
                            tr {
                                td class="text" { (n.name) }
                                td class="num" { (n.count) }
                                td class="num" {
                                    @if n.failures > 0 { span class="fail" { (n.failures) } }
                                    @else { (n.failures) }
                                }
                                td class="num" { (num(n.rps, 2)) }
                                @for v in [n.min_ms, n.mean_ms, n.p50_ms, n.p90_ms, n.p95_ms, n.p99_ms, n.max_ms] {
                                    td class="num" { (num(v, 2)) }
                                }
                                td {
                                    @for (i, (status, count)) in n.statuses.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        (status) ": " (count)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn failures_table(report: &Report) -> Markup {
    let rows: Vec<(&str, String, u64)> = report
        .per_name
        .iter()
        .flat_map(|n| {
            n.failure_reasons
                .iter()
                .map(|r| (n.name.as_str(), r.message.clone(), r.count))
                .chain((n.other_failures > 0).then(|| {
                    (
                        n.name.as_str(),
                        "(other messages, not kept)".to_owned(),
                        n.other_failures,
                    )
                }))
        })
        .collect();
    html! {
        section {
            h2 { "Failures" }
            @if rows.is_empty() {
                p class="muted" { "No failure recorded." }
            } @else {
                table id="failures" {
                    thead { tr { th { "name" } th { "message" } th class="num" { "count" } } }
                    tbody {
                        @for (name, message, count) in &rows {
                            tr { td class="text" { (name) } td class="text" { (message) } td class="num" { (count) } }
                        }
                    }
                }
            }
        }
    }
}

fn thresholds_table(report: &Report) -> Markup {
    html! {
        section {
            h2 { "Thresholds" }
            @if report.thresholds.is_empty() {
                p class="muted" { "The last test set no threshold." }
            } @else {
                table id="thresholds" {
                    thead {
                        tr { th { "scope" } th { "metric" } th class="num" { "limit" }
                             th class="num" { "actual" } th { "result" } }
                    }
                    tbody {
                        @for v in &report.thresholds {
                            tr {
                                td class="text" { (v.scope) }
                                td { (v.metric) " " (comparison(v)) }
                                td class="num" { (num(v.limit, 3)) }
                                td class="num" { (num(v.actual, 3)) }
                                td {
                                    @if v.passed { span class="pass" { "passed" } }
                                    @else { span class="fail" { "failed" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A breaking-point search's probes, when the last test was one.
fn breaking_table(report: &Report) -> Markup {
    let Some(search) = &report.breaking_point else {
        return html! {};
    };
    let (level, safe_label) = match search.searched {
        Searched::Users => ("users", "safe users"),
        Searched::ArrivalRate { .. } => ("arrival rate /s", "safe arrival rate"),
    };
    let latency = search.limits.latency;
    html! {
        section {
            h2 { "Breaking point" }
            p {
                (safe_label) ": " strong { (search.safe) }
                @if let Some(breaking) = search.breaking {
                    " · breaking at " strong { (breaking) }
                } @else {
                    " · no probe broke the limits"
                }
                " · failure threshold " (search.limits.failure_threshold)
                @if let Some(limit) = latency {
                    " · p" (limit.percentile) " latency limit " (limit.limit_ms) " ms"
                }
                @if search.stopped_early {
                    " · " span class="fail" { "stopped early" }
                }
                @if let Some(kept) = search.kept {
                    " · the figures above are those of the probe at " (kept)
                }
            }
            table id="probes" {
                thead {
                    tr {
                        th class="num" { "#" } th class="num" { (level) }
                        th class="num" { "requests" } th class="num" { "failures" }
                        th class="num" { "failure rate" } th class="num" { "p50 ms" }
                        th class="num" { "p95 ms" } th class="num" { "p99 ms" }
                        @if let Some(limit) = latency {
                            th class="num" { "p" (limit.percentile) " ms (limit " (limit.limit_ms) ")" }
                        }
                        th { "result" }
                    }
                }
                tbody {
                    @for (n, probe) in search.history.iter().enumerate() {
                        @let m = &probe.measured;
                        tr {
                            td class="num" { (n + 1) }
                            td class="num" { (probe.level) }
                            td class="num" { (m.requests) }
                            td class="num" { (m.failures + m.abandoned) }
                            td class="num" { (percent(m.failure_rate())) }
                            td class="num" { (num(m.p50_ms, 2)) }
                            td class="num" { (num(m.p95_ms, 2)) }
                            td class="num" { (num(m.p99_ms, 2)) }
                            @if latency.is_some() { td class="num" { (num(m.latency_ms.unwrap_or(0.0), 2)) } }
                            td class="text" {
                                @if probe.safe { span class="pass" { "safe" } }
                                @else { span class="fail" { "unsafe" } " " (probe.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn parameters_table(report: &Report) -> Markup {
    // The tasks have their own table.
    let rows: Vec<(String, String)> = report
        .parameter_rows()
        .into_iter()
        .filter(|(key, _)| key != "tasks")
        .collect();
    let (tasks, more) = report.tasks();
    html! {
        section {
            h2 { "Test parameters" }
            @if rows.is_empty() {
                p class="muted" { "No test has run yet." }
            } @else {
                table id="parameters" {
                    tbody {
                        @for (key, value) in &rows {
                            tr { th { (key) } td class="text" { (value) } }
                        }
                        @if let Some(s) = report.elapsed_s {
                            tr { th { "elapsed_s" } td { (num(s, 3)) } }
                        }
                    }
                }
            }
            @if !tasks.is_empty() {
                h3 { "Tasks" }
                table id="tasks" {
                    thead { tr { th { "method" } th { "URL or name" } th { "name" } th class="num" { "weight" } } }
                    tbody {
                        @for task in &tasks {
                            tr {
                                td { (task.method.as_deref().unwrap_or("-")) }
                                td class="text" { (task.target()) }
                                td class="text" { (task.name.as_deref().unwrap_or("")) }
                                td class="num" { (task.weight.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if more > 0 {
                    p class="muted" { (more) " more tasks are not listed." }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;
    use crate::state::State;

    #[test]
    fn empty_report_says_so() {
        let html = render(&Report::from_state(&State::new(Paths::default()), "<t>"));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("No test has run yet"));
        assert!(html.contains("&lt;t&gt;") && !html.contains("<t>"));
        assert!(!html.contains("NaN") && !html.contains("http"));
    }

    #[test]
    fn nines_are_finite() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(99.0) - 2.0).abs() < 1e-9);
        assert!((nines(100.0) - 4.0).abs() < 1e-9);
    }
}
