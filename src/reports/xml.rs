//! The XML report: the report model as elements and attributes, written
//! with quick-xml (which escapes text and attribute values); characters XML
//! 1.0 cannot hold are replaced.

use std::borrow::Cow;
use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::model::Report;
use crate::figures::SecondPoint;

/// `text` with the characters XML 1.0 forbids (control characters other
/// than tab, line feed and carriage return; U+FFFE, U+FFFF) replaced by U+FFFD.
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    };
    if text.chars().any(bad) {
        Cow::Owned(
            text.chars()
                .map(|c| if bad(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// A writer that indents, after the XML declaration.
pub(crate) fn writer() -> io::Result<Writer<Vec<u8>>> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    Ok(writer)
}

/// The written document as text (quick-xml writes UTF-8).
pub(crate) fn finish(writer: Writer<Vec<u8>>) -> io::Result<String> {
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The report as an XML document.
pub fn render(report: &Report) -> io::Result<String> {
    let mut w = writer()?;
    let totals = &report.summary.totals;
    let overall = &report.summary.latency_overall;
    let elapsed = report.elapsed_s.map(|s| s.to_string()).unwrap_or_default();
    w.create_element("report")
        .with_attribute(("title", xml_safe(&report.title).as_ref()))
        .with_attribute(("generated_at", report.generated_at.as_str()))
        .write_inner_content(|w| {
            w.create_element("totals")
                .with_attribute(("requests", totals.requests.to_string().as_str()))
                .with_attribute(("successes", totals.successes.to_string().as_str()))
                .with_attribute(("failures", totals.failures.to_string().as_str()))
                .with_attribute(("failure_rate", totals.failure_rate.to_string().as_str()))
                .with_attribute(("rps", report.rps.to_string().as_str()))
                .with_attribute(("elapsed_s", elapsed.as_str()))
                .write_empty()?;
            w.create_element("latency_overall")
                .with_attribute(("count", overall.count.to_string().as_str()))
                .with_attribute(("p50_ms", overall.p50_ms.to_string().as_str()))
                .with_attribute(("p90_ms", overall.p90_ms.to_string().as_str()))
                .with_attribute(("p95_ms", overall.p95_ms.to_string().as_str()))
                .with_attribute(("p99_ms", overall.p99_ms.to_string().as_str()))
                .with_attribute(("max_ms", overall.max_ms.to_string().as_str()))
                .write_empty()?;
            w.create_element("per_name")
                .write_inner_content(|w| names(w, report))?;
            w.create_element("series").write_inner_content(|w| {
                for p in &report.series {
                    point(w, p)?;
                }
                Ok(())
            })?;
            w.create_element("distribution").write_inner_content(|w| {
                for p in &report.distribution {
                    w.create_element("point")
                        .with_attribute(("percentile", p.percentile.to_string().as_str()))
                        .with_attribute(("latency_ms", p.latency_ms.to_string().as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
            w.create_element("parameters").write_inner_content(|w| {
                for (key, value) in report.parameter_rows() {
                    w.create_element("parameter")
                        .with_attribute(("name", xml_safe(&key).as_ref()))
                        .write_text_content(BytesText::new(&xml_safe(&value)))?;
                }
                Ok(())
            })?;
            w.create_element("thresholds").write_inner_content(|w| {
                for v in &report.thresholds {
                    let actual = if v.actual.is_finite() {
                        v.actual.to_string()
                    } else {
                        String::new()
                    };
                    w.create_element("threshold")
                        .with_attribute(("scope", xml_safe(&v.scope).as_ref()))
                        .with_attribute(("metric", v.metric.as_str()))
                        .with_attribute(("limit", v.limit.to_string().as_str()))
                        .with_attribute(("actual", actual.as_str()))
                        .with_attribute(("passed", if v.passed { "true" } else { "false" }))
                        .write_empty()?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    finish(w)
}

/// A second of the series: its figures as attributes, its statuses and
/// names as `<status code count>` and `<name name requests failures
/// p50_ms p95_ms p99_ms>` children.
fn point(w: &mut Writer<Vec<u8>>, p: &SecondPoint) -> io::Result<()> {
    w.create_element("point")
        .with_attribute(("second", p.second.to_string().as_str()))
        .with_attribute(("users", p.users.to_string().as_str()))
        .with_attribute(("requests", p.requests.to_string().as_str()))
        .with_attribute(("failures", p.failures.to_string().as_str()))
        .with_attribute(("p50_ms", p.p50_ms.to_string().as_str()))
        .with_attribute(("p95_ms", p.p95_ms.to_string().as_str()))
        .with_attribute(("p99_ms", p.p99_ms.to_string().as_str()))
        .write_inner_content(|w| {
            for (code, count) in &p.statuses {
                w.create_element("status")
                    .with_attribute(("code", xml_safe(code).as_ref()))
                    .with_attribute(("count", count.to_string().as_str()))
                    .write_empty()?;
            }
            for (name, n) in &p.per_name {
                w.create_element("name")
                    .with_attribute(("name", xml_safe(name).as_ref()))
                    .with_attribute(("requests", n.requests.to_string().as_str()))
                    .with_attribute(("failures", n.failures.to_string().as_str()))
                    .with_attribute(("p50_ms", n.p50_ms.to_string().as_str()))
                    .with_attribute(("p95_ms", n.p95_ms.to_string().as_str()))
                    .with_attribute(("p99_ms", n.p99_ms.to_string().as_str()))
                    .write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

fn names(w: &mut Writer<Vec<u8>>, report: &Report) -> io::Result<()> {
    for n in &report.per_name {
        w.create_element("name")
            .with_attribute(("name", xml_safe(&n.name).as_ref()))
            .with_attribute(("count", n.count.to_string().as_str()))
            .with_attribute(("successes", n.successes.to_string().as_str()))
            .with_attribute(("failures", n.failures.to_string().as_str()))
            .with_attribute(("rps", n.rps.to_string().as_str()))
            .with_attribute(("min_ms", n.min_ms.to_string().as_str()))
            .with_attribute(("mean_ms", n.mean_ms.to_string().as_str()))
            .with_attribute(("p50_ms", n.p50_ms.to_string().as_str()))
            .with_attribute(("p90_ms", n.p90_ms.to_string().as_str()))
            .with_attribute(("p95_ms", n.p95_ms.to_string().as_str()))
            .with_attribute(("p99_ms", n.p99_ms.to_string().as_str()))
            .with_attribute(("max_ms", n.max_ms.to_string().as_str()))
            .write_inner_content(|w| {
                for (status, count) in &n.statuses {
                    w.create_element("status")
                        .with_attribute(("code", status.to_string().as_str()))
                        .with_attribute(("count", count.to_string().as_str()))
                        .write_empty()?;
                }
                for reason in &n.failure_reasons {
                    w.create_element("failure")
                        .with_attribute(("count", reason.count.to_string().as_str()))
                        .write_text_content(BytesText::new(&xml_safe(&reason.message)))?;
                }
                if n.other_failures > 0 {
                    w.create_element("other_failures")
                        .with_attribute(("count", n.other_failures.to_string().as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_characters_are_replaced() {
        assert_eq!(xml_safe("a\tb\nc"), "a\tb\nc");
        assert_eq!(xml_safe("a\u{1}b\u{FFFF}"), "a\u{FFFD}b\u{FFFD}");
    }
}
