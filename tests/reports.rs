//! The report actions, driven through an in-process [`Control`] over
//! confined paths: every format is read back with a real parser (serde_json,
//! the csv crate, quick-xml's reader) and checked against `LD_summary`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::target::Target;
use common::{confined, parse, run_lines, run_one, verdict};
use ld_tower::engine::Finished;
use ld_tower::figures::{Figures, NamePoint, RequestOutcome, SecondPoint, TimeSeries};
use ld_tower::state::{LastRun, State};
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};
use serde_json::{json, Value};

// ---------------------------------------------------------------- helpers

/// Names with a tricky one (markup, quotes, a URL that must stay text),
/// failures of two kinds, an all-failing name, a series and verdicts.
const TRICKY: &str = "api <script src=\"http://evil.example/x.js\"> & 'q'";

fn record(state: &State) {
    let mut figures = Figures::default();
    for ms in 1..=10 {
        figures.record("home", Duration::from_millis(ms), RequestOutcome::ok(200));
    }
    for ms in [3, 4, 5] {
        figures.record(TRICKY, Duration::from_millis(ms), RequestOutcome::ok(201));
    }
    figures.record(
        TRICKY,
        Duration::from_millis(40),
        RequestOutcome::failed(Some(500), "HTTP 500"),
    );
    figures.record(
        TRICKY,
        Duration::from_millis(50),
        RequestOutcome::failed(None, "connection refused <&>"),
    );
    figures.record(
        "gone",
        Duration::from_millis(7),
        RequestOutcome::failed(None, "timed out"),
    );
    let mut series = TimeSeries::default();
    for second in 0..3 {
        let failures = second % 2;
        let mut statuses = BTreeMap::from([("200".to_owned(), 5 + second - failures)]);
        if failures > 0 {
            statuses.insert("none".to_owned(), failures);
        }
        if second == 2 {
            statuses.insert("201".to_owned(), 1);
            *statuses.get_mut("200").unwrap() -= 1;
        }
        let mut per_name = BTreeMap::from([(
            "home".to_owned(),
            NamePoint {
                requests: 4,
                failures: 0,
                p50_ms: 4.0 + second as f64,
                p95_ms: 8.0,
                p99_ms: 9.0,
            },
        )]);
        per_name.insert(
            TRICKY.to_owned(),
            NamePoint {
                requests: 1 + second,
                failures,
                p50_ms: 40.0,
                p95_ms: 45.0,
                p99_ms: 45.0,
            },
        );
        series.push(SecondPoint {
            second,
            users: [1, 2, 2][second as usize],
            requests: 5 + second,
            failures,
            p50_ms: 4.0 + second as f64,
            p95_ms: 9.0,
            p99_ms: 45.0,
            statuses,
            per_name,
        });
    }
    state.keep_figures(&Finished {
        id: 1,
        figures,
        abandoned: 0,
        series,
        elapsed: Duration::from_secs(3),
        started_at: std::time::SystemTime::now(),
        users_started: 2,
        stopped_early: false,
        changes: Default::default(),
    });
    state.set_last_run(LastRun {
        parameters: json!({"user_detail": {"user": "fast_http_user", "host": "http://127.0.0.1:9/"},
                           "user_count": 2, "test_time": 3}),
        elapsed_s: 2.0,
        verdicts: vec![
            verdict("overall", "p95_ms", 200.0, 45.0, true),
            verdict("overall", "failure_rate", 0.01, 3.0 / 16.0, false),
            verdict("nowhere", "p50_ms", 1.0, f64::NAN, false),
        ],
    });
}

/// A parsed XML element.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, key: &str) -> &str {
        self.attrs
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("<{}> has no {key}: {self:?}", self.name))
    }

    fn child(&self, name: &str) -> &Node {
        self.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("<{}> has no <{name}>", self.name))
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Node {
    Node {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("attribute");
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.normalized_value(XmlVersion::Explicit1_0)
                        .expect("attribute value")
                        .into_owned(),
                )
            })
            .collect(),
        ..Node::default()
    }
}

/// Parses a whole document with quick-xml's reader; its root element.
fn parse_xml(text: &str) -> Node {
    let mut reader = Reader::from_str(text);
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(element(&e)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Text(t) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&t.xml10_content().unwrap()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().expect("char ref") {
                    Some(c) => c,
                    None => match &*r.decode().unwrap() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity {other}"),
                    },
                };
                stack.last_mut().unwrap().text.push(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element closed");
    let mut top = stack.pop().unwrap();
    assert_eq!(top.children.len(), 1, "one root element");
    top.children.pop().unwrap()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What an HTML document must not hold to stay self-contained.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "<script",
        "@import",
        "url(",
        "<link",
        "xmlns=\"http",
    ] {
        assert!(!lower.contains(bad), "the HTML holds {bad:?}");
    }
    assert!(
        !html.contains("NaN") && !html.contains("inf<"),
        "NaN in the HTML"
    );
}

/// The part of `html` from the element with `marker` (`id="id=\"chart-users\""`,
/// `data-name="home"`) to the end of its chart.
fn chart<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the HTML"));
    let chart = &html[at..];
    &chart[..chart.find("</svg>").expect("the chart ends")]
}

/// The data of the line `label` of the chart at `marker`: its `(x, y)`
/// points, as the page carries them (`data-points`).
fn chart_line(html: &str, marker: &str, label: &str) -> Vec<(f64, f64)> {
    let chart = chart(html, marker);
    let key = format!("data-label=\"{label}\" data-points=\"");
    let Some(start) = chart.find(&key) else {
        panic!("no line {label:?} at {marker}: {chart}");
    };
    let data = &chart[start + key.len()..];
    let data = &data[..data.find('"').unwrap()];
    data.split(' ')
        .map(|xy| {
            let (x, y) = xy.split_once(',').unwrap();
            (num(x), num(y))
        })
        .collect()
}

/// Every line's `data-label` in the chart at `marker`.
fn chart_labels<'a>(html: &'a str, marker: &str) -> Vec<&'a str> {
    chart(html, marker)
        .split("data-label=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn every_format_agrees_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    record(control.state());
    let lines = run_lines(
        &control,
        &json!({"load_density": [
            ["LD_summary"],
            ["LD_generate_html_report", {"html_name": "out/r"}],
            ["LD_generate_json_report", {"json_file_name": "out/r"}],
            ["LD_generate_xml_report", {"xml_file_name": "out/r"}],
            ["LD_generate_csv_report", {"csv_name": "out/r"}],
            ["LD_generate_junit_report", {"report_name": "out/junit"}],
            ["LD_generate_summary_report", {"report_name": "out/summary"}],
            ["LD_generate_json"],
            ["LD_generate_xml"],
            ["LD_generate_html"],
        ]}),
    )
    .await;
    assert_eq!(lines.len(), 10, "{lines:?}");
    let summary = parse(&lines[0]);
    let out = dir.path().join("out");
    let at = |file: &str| out.join(file).display().to_string();
    // The paths written.
    assert_eq!(lines[1], at("r.html"));
    assert_eq!(parse(&lines[2]), json!([at("r.json")]));
    assert_eq!(parse(&lines[3]), json!([at("r.xml")]));
    assert_eq!(lines[4], at("r.csv"));
    assert_eq!(lines[5], at("junit.xml"));
    assert_eq!(lines[6], at("summary.json"));
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "junit.xml",
            "r.csv",
            "r.html",
            "r.json",
            "r.xml",
            "summary.json"
        ]
    );
    let names = summary["per_name"].as_object().unwrap();
    assert_eq!(names.len(), 3);
    assert_eq!(summary["totals"]["requests"], 16);
    assert_eq!(summary["totals"]["failures"], 3);

    // The summary report is LD_summary's result.
    let written: Value = serde_json::from_str(&read(&at("summary.json"))).unwrap();
    assert_eq!(written, summary);

    // JSON: the model, written and returned alike (but for the title and time).
    let report: Value = serde_json::from_str(&read(&at("r.json"))).unwrap();
    assert_eq!(report["summary"], summary);
    assert_eq!(report["elapsed_s"], 2.0);
    assert_eq!(report["rps"], 8.0);
    assert_eq!(report["series"].as_array().unwrap().len(), 3);
    assert_eq!(
        report["series"][2],
        json!({"second": 2, "users": 2, "requests": 7, "failures": 0,
               "p50_ms": 6.0, "p95_ms": 9.0, "p99_ms": 45.0,
               "statuses": {"200": 6, "201": 1},
               "per_name": {
                   "home": {"requests": 4, "failures": 0, "p50_ms": 6.0, "p95_ms": 8.0, "p99_ms": 9.0},
                   TRICKY: {"requests": 3, "failures": 0, "p50_ms": 40.0, "p95_ms": 45.0, "p99_ms": 45.0}}})
    );
    assert_eq!(
        report["series"][1]["statuses"],
        json!({"200": 5, "none": 1})
    );
    assert!(!report["distribution"].as_array().unwrap().is_empty());
    assert_eq!(report["parameters"]["user_count"], 2);
    assert_eq!(report["thresholds"].as_array().unwrap().len(), 3);
    assert_eq!(report["thresholds"][2]["actual"], Value::Null);
    let returned = parse(&lines[7]);
    assert_eq!(returned["summary"], summary);
    assert_eq!(returned["per_name"], report["per_name"]);
    let tricky = report["per_name"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == TRICKY)
        .unwrap();
    assert_eq!(tricky["count"], 5);
    assert_eq!(tricky["rps"], 2.5);
    assert_eq!(tricky["statuses"], json!({"201": 3, "500": 1}));
    assert_eq!(tricky["failure_reasons"].as_array().unwrap().len(), 2);

    // CSV: one row per name under the header, counts as LD_summary's.
    let mut csv = csv::Reader::from_path(at("r.csv")).unwrap();
    assert_eq!(
        csv.headers().unwrap().iter().collect::<Vec<_>>(),
        [
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
            "max_ms"
        ]
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), names.len());
    for row in &rows {
        let s = &names[&row[0]];
        assert_eq!(num(&row[1]), s["count"].as_f64().unwrap(), "{row:?}");
        assert_eq!(num(&row[2]), s["successes"].as_f64().unwrap());
        assert_eq!(num(&row[3]), s["failures"].as_f64().unwrap());
        assert_eq!(num(&row[4]), s["count"].as_f64().unwrap() / 2.0);
        assert_eq!(num(&row[8]), s["p90_ms"].as_f64().unwrap());
        assert_eq!(num(&row[11]), s["max_ms"].as_f64().unwrap());
    }

    // XML: written and returned alike; counts as LD_summary's.
    let xml = read(&at("r.xml"));
    let root = parse_xml(&xml);
    assert_eq!(root.name, "report");
    let totals = root.child("totals");
    assert_eq!(totals.attr("requests"), "16");
    assert_eq!(totals.attr("failures"), "3");
    let per_name: Vec<&Node> = root.child("per_name").all("name").collect();
    assert_eq!(per_name.len(), 3);
    for n in &per_name {
        let s = &names[n.attr("name")];
        assert_eq!(num(n.attr("count")), s["count"].as_f64().unwrap());
        assert_eq!(num(n.attr("failures")), s["failures"].as_f64().unwrap());
        assert_eq!(num(n.attr("p95_ms")), s["p95_ms"].as_f64().unwrap());
    }
    let tricky_xml = per_name.iter().find(|n| n.attr("name") == TRICKY).unwrap();
    let messages: Vec<&str> = tricky_xml.all("failure").map(|f| f.text.as_str()).collect();
    assert!(messages.contains(&"connection refused <&>"), "{messages:?}");
    let points: Vec<&Node> = root.child("series").all("point").collect();
    assert_eq!(points.len(), 3);
    assert_eq!(
        points.iter().map(|p| p.attr("users")).collect::<Vec<_>>(),
        ["1", "2", "2"]
    );
    let statuses: Vec<(&str, &str)> = points[1]
        .all("status")
        .map(|s| (s.attr("code"), s.attr("count")))
        .collect();
    assert_eq!(statuses, [("200", "5"), ("none", "1")]);
    let second_names: BTreeMap<&str, &Node> =
        points[1].all("name").map(|n| (n.attr("name"), n)).collect();
    assert_eq!(second_names.len(), 2);
    assert_eq!(second_names[TRICKY].attr("requests"), "2");
    assert_eq!(second_names[TRICKY].attr("failures"), "1");
    assert_eq!(second_names["home"].attr("p50_ms"), "5");
    let params: BTreeMap<&str, &str> = root
        .child("parameters")
        .all("parameter")
        .map(|p| (p.attr("name"), p.text.as_str()))
        .collect();
    assert_eq!(params["user_detail.host"], "http://127.0.0.1:9/");
    let thresholds: Vec<&Node> = root.child("thresholds").all("threshold").collect();
    assert_eq!(
        thresholds
            .iter()
            .map(|t| t.attr("passed"))
            .collect::<Vec<_>>(),
        ["true", "false", "false"]
    );
    let returned_xml: Value = parse(&lines[8]);
    let returned_root = parse_xml(returned_xml.as_str().unwrap());
    assert_eq!(returned_root.child("totals").attrs, totals.attrs);

    // JUnit: a case per name and per verdict; failing where failures or
    // thresholds failed.
    let junit = parse_xml(&read(&at("junit.xml")));
    let suite = junit.child("testsuite");
    assert_eq!(suite.attr("name"), "ld-tower");
    assert_eq!(suite.attr("tests"), "6");
    assert_eq!(suite.attr("failures"), "4");
    let cases: BTreeMap<(&str, &str), &Node> = suite
        .all("testcase")
        .map(|c| ((c.attr("classname"), c.attr("name")), c))
        .collect();
    assert_eq!(cases.len(), 6);
    let failing = |class: &str, name: &str| {
        let case = cases
            .get(&(class, name))
            .unwrap_or_else(|| panic!("no case {class} {name}: {cases:?}"));
        case.children
            .iter()
            .find(|c| c.name == "failure")
            .map(|f| f.attr("message").to_owned())
    };
    assert_eq!(failing("requests", "home"), None);
    let message = failing("requests", TRICKY).expect("failing");
    assert!(
        message.contains("2 of 5")
            && message.contains("1 x HTTP 500")
            && message.contains("1 x connection refused <&>"),
        "{message}"
    );
    assert!(failing("requests", "gone").unwrap().contains("timed out"));
    assert_eq!(failing("thresholds", "overall p95_ms <= 200"), None);
    assert!(failing("thresholds", "overall failure_rate <= 0.01").is_some());
    assert!(failing("thresholds", "nowhere p50_ms <= 1").is_some());

    // HTML: self-contained, escaped, with charts and tables.
    let html = read(&at("r.html"));
    assert_self_contained(&html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Six charts over the whole test, and one per name of the series.
    assert_eq!(html.matches("<svg").count(), 6 + 2);
    assert!(html.matches("<polyline").count() >= 6, "drawn lines");
    // The title names the test: its user kind (no host, several tasks: none
    // were given here).
    assert!(
        html.contains("<title>fast_http_user against http://127.0.0.1:9/ \u{2014} ld-tower load test report: out/r</title>"),
        "{}",
        &html[..html.find("</title>").unwrap()]
    );
    // Active users: the series' users, second by second.
    assert_eq!(
        chart_line(&html, "id=\"chart-users\"", "active users"),
        [(0.0, 1.0), (1.0, 2.0), (2.0, 2.0)]
    );
    // Requests and failures each on their own chart.
    assert_eq!(
        chart_line(&html, "id=\"chart-requests\"", "requests/s"),
        [(0.0, 5.0), (1.0, 6.0), (2.0, 7.0)]
    );
    assert_eq!(
        chart_line(&html, "id=\"chart-failures\"", "failures/s"),
        [(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)]
    );
    // A line per status seen, zero in the seconds it was not.
    assert_eq!(
        chart_labels(&html, "id=\"chart-statuses\""),
        ["200", "201", "none"]
    );
    assert_eq!(
        chart_line(&html, "id=\"chart-statuses\"", "none"),
        [(0.0, 0.0), (1.0, 1.0), (2.0, 0.0)]
    );
    // Latency over time per name, the name escaped.
    let escaped = "api &lt;script src=&quot;http://evil.example/x.js&quot;&gt; &amp; 'q'";
    assert!(html.contains(&format!("data-name=\"{escaped}\"")));
    assert_eq!(
        chart_line(&html, "data-name=\"home\"", "p50"),
        [(0.0, 4.0), (1.0, 5.0), (2.0, 6.0)]
    );
    assert_eq!(
        chart_line(&html, &format!("data-name=\"{escaped}\""), "p95"),
        [(0.0, 45.0), (1.0, 45.0), (2.0, 45.0)]
    );
    assert!(html.contains("<table id=\"per-name\""));
    assert!(html.contains("<table id=\"failures\""));
    assert!(html.contains("<table id=\"thresholds\""));
    assert!(html.contains("<table id=\"parameters\""));
    assert!(html.contains("api &lt;script src=&quot;http://evil.example/x.js&quot;&gt; &amp; 'q'"));
    assert!(
        html.contains("http://127.0.0.1:9/"),
        "the target stays as text"
    );
    assert!(html.contains("connection refused &lt;&amp;&gt;"));
    assert!(html.contains("class=\"fail\"") && html.contains("class=\"pass\""));
    let returned_html = parse(&lines[9]);
    let returned_html = returned_html.as_str().unwrap();
    assert_self_contained(returned_html);
    assert!(returned_html.contains("<svg"));
}

#[tokio::test]
async fn escapes_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    record(control.state());
    let outside = format!("/tmp/ld-tower-report-escape-{}", uuid::Uuid::new_v4());
    for name in ["../x", outside.as_str(), "a/../../x", "", "dir/"] {
        for (action, key) in [
            ("LD_generate_html_report", "html_name"),
            ("LD_generate_json_report", "json_file_name"),
            ("LD_generate_xml_report", "xml_file_name"),
            ("LD_generate_csv_report", "csv_name"),
            ("LD_generate_junit_report", "report_name"),
            ("LD_generate_summary_report", "report_name"),
        ] {
            let line = run_one(&control, json!([action, {key: name}])).await;
            assert!(
                line.starts_with(&format!("Error: {action}: ")),
                "{action} {name:?}: {line}"
            );
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    for ext in ["html", "json", "xml", "csv"] {
        assert!(!Path::new(&format!("{outside}.{ext}")).exists());
    }
    assert!(!dir.path().parent().unwrap().join("x.html").exists());
}

#[tokio::test]
async fn defaults_positional_args_and_folders() {
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    record(control.state());
    let lines = run_lines(
        &control,
        &json!([
            ["LD_generate_html_report"],
            ["LD_generate_json_report", {}],
            ["LD_generate_xml_report", [null]],
            ["LD_generate_csv_report", ["deep/er/c"]],
            ["LD_generate_junit_report"],
            ["LD_generate_summary_report", []],
            ["LD_generate_csv_report", {"csv_name": "c", "extra": 1}],
            ["LD_generate_csv_report", ["a", "b"]],
            ["LD_generate_html", {"html_name": "x"}],
        ]),
    )
    .await;
    let at = |file: &str| dir.path().join(file).display().to_string();
    assert_eq!(lines[0], at("default_name.html"));
    assert_eq!(parse(&lines[1]), json!([at("default_name.json")]));
    assert_eq!(parse(&lines[2]), json!([at("default_name.xml")]));
    assert_eq!(lines[3], at("deep/er/c.csv"));
    assert_eq!(lines[4], at("loaddensity-junit.xml"));
    assert_eq!(lines[5], at("loaddensity-summary.json"));
    assert!(lines[6].starts_with("Error: LD_generate_csv_report: ") && lines[6].contains("extra"));
    assert!(
        lines[7].starts_with("Error: LD_generate_csv_report: "),
        "{}",
        lines[7]
    );
    assert!(
        lines[8].starts_with("Error: LD_generate_html: "),
        "{}",
        lines[8]
    );
    for file in [
        "default_name.html",
        "default_name.json",
        "default_name.xml",
        "deep/er/c.csv",
        "loaddensity-junit.xml",
        "loaddensity-summary.json",
    ] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
}

#[tokio::test]
async fn no_data_renders_without_nan() {
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    let html = parse(&run_one(&control, json!(["LD_generate_html"])).await);
    let html = html.as_str().unwrap();
    assert_self_contained(html);
    assert!(html.contains("No test has run yet"));
    assert_eq!(html.matches("<svg").count(), 6);
    assert!(!html.contains("name-charts"));
    let path = run_one(&control, json!(["LD_generate_html_report", ["empty"]])).await;
    assert_self_contained(&read(&path));
    let report = parse(&run_one(&control, json!(["LD_generate_json"])).await);
    assert_eq!(report["rps"], 0.0);
    assert_eq!(report["parameters"], Value::Null);
    assert_eq!(report["per_name"], json!([]));
    let junit = run_one(&control, json!(["LD_generate_junit_report", ["j"]])).await;
    let suite = parse_xml(&read(&junit));
    assert_eq!(suite.child("testsuite").attr("tests"), "0");
    let csv_path = run_one(&control, json!(["LD_generate_csv_report", ["c"]])).await;
    let mut csv = csv::Reader::from_path(csv_path).unwrap();
    assert_eq!(csv.headers().unwrap().len(), 12);
    assert_eq!(csv.records().count(), 0);
    let xml = parse(&run_one(&control, json!(["LD_generate_xml"])).await);
    assert_eq!(
        parse_xml(xml.as_str().unwrap())
            .child("totals")
            .attr("requests"),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_test_reports_what_the_target_served() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    let lines = run_lines(
        &control,
        &json!([
            ["LD_start_test", {
                "user_detail_dict": {"host": target.url()},
                "user_count": 2, "spawn_rate": 100, "test_time": 1.5, "wait_time": 0.01,
                "tasks": [
                    {"name": "root", "method": "get", "url": "/"},
                    {"name": "broken", "method": "get", "url": "/status/503"},
                ],
            }],
            ["LD_summary"],
            ["LD_generate_json_report", ["run"]],
            ["LD_generate_html_report", ["run"]],
            ["LD_generate_junit_report", ["junit"]],
        ]),
    )
    .await;
    let summary = parse(&lines[1]);
    assert_eq!(summary["per_name"]["root"]["count"], target.count("/"));
    assert_eq!(
        summary["per_name"]["broken"]["failures"],
        target.count_status("/status/503", 503)
    );
    let report: Value = serde_json::from_str(&read(parse(&lines[2])[0].as_str().unwrap())).unwrap();
    assert_eq!(report["summary"], summary);
    assert!(!report["series"].as_array().unwrap().is_empty());
    assert!(report["rps"].as_f64().unwrap() > 0.0);
    assert!(report["parameters"]["user_count"] == 2);
    // The host and the tasks are among the parameters.
    assert_eq!(report["parameters"]["host"], target.url());
    assert_eq!(
        report["parameters"]["tasks"],
        json!([{"method": "GET", "url": "/", "name": "root"},
               {"method": "GET", "url": "/status/503", "name": "broken"}])
    );
    // Every request is in a second of the series, by status and by name;
    // the users are those the test ran.
    let series = report["series"].as_array().unwrap();
    let sum = |f: &dyn Fn(&Value) -> u64| series.iter().map(f).sum::<u64>();
    assert_eq!(
        sum(&|p| p["requests"].as_u64().unwrap()),
        summary["totals"]["requests"].as_u64().unwrap()
    );
    assert_eq!(
        sum(&|p| p["statuses"]["200"].as_u64().unwrap_or(0)),
        target.count("/")
    );
    assert_eq!(
        sum(&|p| p["statuses"]["503"].as_u64().unwrap_or(0)),
        target.count_status("/status/503", 503)
    );
    for (name, count) in [
        ("root", target.count("/")),
        ("broken", target.count_status("/status/503", 503)),
    ] {
        assert_eq!(
            sum(&|p| p["per_name"][name]["requests"].as_u64().unwrap_or(0)),
            count,
            "{name}"
        );
    }
    for point in series {
        let by_status: u64 = point["statuses"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(by_status, point["requests"].as_u64().unwrap(), "{point}");
        assert_eq!(point["users"], 2, "{point}");
    }
    let html = read(&lines[3]);
    assert_self_contained(&html);
    assert!(html.matches("<polyline").count() >= 6);
    assert!(
        html.contains(&format!("<h1>2 tasks against {} \u{2014} ", target.url())),
        "the title names the test"
    );
    assert!(html.contains("<table id=\"tasks\""));
    let users = chart_line(&html, "id=\"chart-users\"", "active users");
    assert_eq!(users.len(), series.len());
    assert!(users.iter().all(|(_, n)| *n == 2.0), "{users:?}");
    assert_eq!(chart_labels(&html, "id=\"chart-statuses\""), ["200", "503"]);
    let junit = parse_xml(&read(&lines[4]));
    let suite = junit.child("testsuite");
    assert_eq!(suite.attr("tests"), "2");
    assert_eq!(suite.attr("failures"), "1");
}
