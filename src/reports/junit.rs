//! The JUnit report: one `<testsuite name="ld-tower">` with a test case per
//! request name (failing when that name had failures, with their reasons)
//! and one per threshold verdict (class `thresholds`, failing when it did
//! not hold), for CI systems that read JUnit XML.

use std::io;

use quick_xml::events::BytesText;

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

/// Why a name's test case failed: counts and reasons, on one line.
fn name_failure(n: &NameReport) -> String {
    let mut reasons: Vec<String> = n
        .failure_reasons
        .iter()
        .map(|r| format!("{} x {}", r.count, r.message))
        .collect();
    if n.other_failures > 0 {
        reasons.push(format!("{} x (other messages)", n.other_failures));
    }
    format!(
        "{} of {} requests failed: {}",
        n.failures,
        n.count,
        reasons.join("; ")
    )
}

/// The body of a name's failure: one reason a line.
fn name_failure_body(n: &NameReport) -> String {
    let mut lines: Vec<String> = n
        .failure_reasons
        .iter()
        .map(|r| format!("{} x {}", r.count, r.message))
        .collect();
    if n.other_failures > 0 {
        lines.push(format!("{} x (other messages, not kept)", n.other_failures));
    }
    lines.join("\n")
}

fn threshold_failure(v: &Verdict) -> String {
    if v.actual.is_finite() {
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
    }
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
                        let case = w
                            .create_element("testcase")
                            .with_attribute(("classname", "requests"))
                            .with_attribute(("name", xml_safe(&n.name).as_ref()))
                            .with_attribute(("time", (n.mean_ms / 1000.0).to_string().as_str()));
                        if n.failures == 0 {
                            case.write_empty()?;
                        } else {
                            case.write_inner_content(|w| {
                                w.create_element("failure")
                                    .with_attribute((
                                        "message",
                                        xml_safe(&name_failure(n)).as_ref(),
                                    ))
                                    .with_attribute(("type", "request failures"))
                                    .write_text_content(BytesText::new(&xml_safe(
                                        &name_failure_body(n),
                                    )))?;
                                Ok(())
                            })?;
                        }
                    }
                    for v in &report.thresholds {
                        let case = w
                            .create_element("testcase")
                            .with_attribute(("classname", "thresholds"))
                            .with_attribute(("name", xml_safe(&threshold_case_name(v)).as_ref()))
                            .with_attribute(("time", "0"));
                        if v.passed {
                            case.write_empty()?;
                        } else {
                            case.write_inner_content(|w| {
                                w.create_element("failure")
                                    .with_attribute((
                                        "message",
                                        xml_safe(&threshold_failure(v)).as_ref(),
                                    ))
                                    .with_attribute(("type", "threshold"))
                                    .write_empty()?;
                                Ok(())
                            })?;
                        }
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    finish(w)
}
