//! The HTML report: one self-contained document (inline `<style>`, system
//! fonts, inline SVG charts, no script and no external reference), made
//! with maud so every piece of data is escaped as text.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::model::Report;
use super::svg::{Chart, Line};
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

fn charts(report: &Report) -> Markup {
    let seconds = |f: fn(&crate::figures::SecondPoint) -> f64| {
        report
            .series
            .iter()
            .map(|p| (p.second as f64, f(p)))
            .collect::<Vec<_>>()
    };
    let no_series = "No per-second data: no test has run yet";
    let rates = Chart {
        x_label: "seconds since start".into(),
        y_label: "per second".into(),
        lines: vec![
            Line {
                label: "requests/s".into(),
                colour: "#0969da",
                points: seconds(|p| p.requests as f64),
                area: true,
            },
            Line {
                label: "failures/s".into(),
                colour: "#cf222e",
                points: seconds(|p| p.failures as f64),
                area: true,
            },
        ],
        x_ticks: None,
        empty_text: no_series.into(),
    };
    let latency = Chart {
        x_label: "seconds since start".into(),
        y_label: "latency (ms)".into(),
        lines: vec![
            Line {
                label: "p50".into(),
                colour: "#1a7f37",
                points: seconds(|p| p.p50_ms),
                area: false,
            },
            Line {
                label: "p95".into(),
                colour: "#bf8700",
                points: seconds(|p| p.p95_ms),
                area: false,
            },
            Line {
                label: "p99".into(),
                colour: "#cf222e",
                points: seconds(|p| p.p99_ms),
                area: false,
            },
        ],
        x_ticks: None,
        empty_text: no_series.into(),
    };
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
                div { h3 { "Requests and failures per second" } (rates.render()) }
                div { h3 { "Latency over time (p50, p95, p99)" } (latency.render()) }
                div { h3 { "Latency distribution (by percentile)" } (distribution.render()) }
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

fn parameters_table(report: &Report) -> Markup {
    let rows = report.parameter_rows();
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
