//! The JUnit report: one `<testsuite name="ld-tower">` with a test case per
//! request name (failing when that name had failures, with their reasons)
//! and one per threshold verdict (class `thresholds`, failing when it did
//! not hold), for CI systems that read JUnit XML.

use std::io;

use quick_xml::events::BytesText;
use quick_xml::Writer;

use super::html::comparison;
use super::model::{NameReport, Report};
use super::xml::{finish, writer, xml_safe};
use crate::thresholds::Verdict;

/// The suite's name.
pub const SUITE: &str = "ld-tower";

/// A threshold test case's name, e.g. `overall p95_ms <= 200`.
pub fn threshold_case_name(v: &Verdict) -> String {
    format!("{} {} {} {}", v.scope, v.metric, comparison(v), v.limit)
}

/// A name's failure reasons, `COUNT x MESSAGE` each; the messages not
/// kept are counted under `others`.
fn reasons(n: &NameReport, others: &str) -> Vec<String> {
    let mut reasons: Vec<String> = n
        .failure_reasons
        .iter()
        .map(|r| format!("{} x {}", r.count, r.message))
        .collect();
    if n.other_failures > 0 {
        reasons.push(format!("{} x ({others})", n.other_failures));
    }
    reasons
}

/// Why a name's test case failed: the message (counts and reasons, on one
/// line) and the body (one reason a line).
fn name_failure(n: &NameReport) -> Failure {
    Failure {
        message: format!(
            "{} of {} requests failed: {}",
            n.failures,
            n.count,
            reasons(n, "other messages").join("; ")
        ),
        kind: "request failures",
        body: Some(reasons(n, "other messages, not kept").join("\n")),
    }
}

fn threshold_failure(v: &Verdict) -> Failure {
    let message = if v.actual.is_finite() {
        format!(
            "{} {} is {}, limit {} {}",
            v.scope,
            v.metric,
            v.actual,
            comparison(v),
            v.limit
        )
    } else {
        format!(
            "{} {}: no such figure (nothing recorded for it)",
            v.scope, v.metric
        )
    };
    Failure {
        message,
        kind: "threshold",
        body: None,
    }
}

/// A failed test case's `<failure>`.
struct Failure {
    message: String,
    kind: &'static str,
    body: Option<String>,
}

/// One `<testcase>`, with its `<failure>` when it failed.
fn write_case(
    w: &mut Writer<Vec<u8>>,
    class: &str,
    name: &str,
    time: &str,
    failure: Option<Failure>,
) -> io::Result<()> {
    let case = w
        .create_element("testcase")
        .with_attribute(("classname", class))
        .with_attribute(("name", xml_safe(name).as_ref()))
        .with_attribute(("time", time));
    let Some(failure) = failure else {
        case.write_empty()?;
        return Ok(());
    };
    case.write_inner_content(|w| {
        let element = w
            .create_element("failure")
            .with_attribute(("message", xml_safe(&failure.message).as_ref()))
            .with_attribute(("type", failure.kind));
        match &failure.body {
            Some(body) => element.write_text_content(BytesText::new(&xml_safe(body)))?,
            None => element.write_empty()?,
        };
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

/// The report as a JUnit XML document.
pub fn render(report: &Report) -> io::Result<String> {
    let tests = report.per_name.len() + report.thresholds.len();
    let failures = report.per_name.iter().filter(|n| n.failures > 0).count()
        + report.thresholds.iter().filter(|v| !v.passed).count();
    let time = report.elapsed_s.unwrap_or(0.0).to_string();
    let mut w = writer()?;
    w.create_element("testsuites")
        .with_attribute(("name", SUITE))
        .with_attribute(("tests", tests.to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("errors", "0"))
        .with_attribute(("time", time.as_str()))
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attribute(("name", SUITE))
                .with_attribute(("tests", tests.to_string().as_str()))
                .with_attribute(("failures", failures.to_string().as_str()))
                .with_attribute(("errors", "0"))
                .with_attribute(("skipped", "0"))
                .with_attribute(("time", time.as_str()))
                .with_attribute(("timestamp", report.generated_at.as_str()))
                .write_inner_content(|w| {
                    for n in &report.per_name {
                        let time = (n.mean_ms / 1000.0).to_string();
                        let failure = (n.failures > 0).then(|| name_failure(n));
                        write_case(w, "requests", &n.name, &time, failure)?;
                    }
                    for v in &report.thresholds {
                        let failure = (!v.passed).then(|| threshold_failure(v));
                        write_case(w, "thresholds", &threshold_case_name(v), "0", failure)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    finish(w)
}
