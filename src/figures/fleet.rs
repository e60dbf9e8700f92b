//! [`TestFigures`]: one test's figures and per-second series as an agent
//! hands them to a fleet's coordinator (`LD_fetch_figures`), and back.
//!
//! Each name's latency histogram travels whole, serialized with
//! hdrhistogram's V2 serializer (no deflate) in base64, so a coordinator
//! adds the agents' histograms exactly ([`Figures::merge`]): the merged
//! quantiles are those of one histogram that recorded every agent's
//! requests. Decoding refuses a document over [`MAX_FIGURES_DOCUMENT_BYTES`]
//! before parsing it, and a histogram whose header is not the agents'
//! (1 us to one hour, 3 significant digits) before allocating it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::name::{FailureSample, NameFigures, RESPONSE_SIZE_BOUNDS};
use super::{Figures, SecondPoint, TimeSeries, MAX_LATENCY_US};

/// The largest figures document [`TestFigures::from_json`] reads, in bytes.
pub const MAX_FIGURES_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// The latency histograms' encoding, as the document names it.
pub const HISTOGRAM_ENCODING: &str = "hdr-v2-base64";

/// Significant digits of the latency histograms (see `new_histogram`).
const SIGNIFICANT_DIGITS: u8 = 3;
/// hdrhistogram's V2 cookie (uncompressed), the first 4 bytes of a histogram.
const V2_COOKIE: u32 = 0x1c84_9313;
/// The V2 header's length.
const V2_HEADER: usize = 40;

/// One test's figures and series, as `LD_fetch_figures` returns them.
#[derive(Clone, Debug)]
pub struct TestFigures {
    /// The client's name for the test (`LD_prepare_test`'s `test_id`);
    /// `None` for a test started by `LD_start_test`.
    pub test_id: Option<String>,
    /// Whether the test was still running (the figures are then so far).
    pub running: bool,
    /// When the test started, by the wall clock.
    pub started_at: SystemTime,
    /// How long it ran (so far, if running).
    pub elapsed: Duration,
    /// Users started.
    pub users_started: u64,
    /// Its figures per request name.
    pub figures: Figures,
    /// One point per second (the closed seconds, if running).
    pub series: TimeSeries,
}

/// Why a figures document could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FiguresDocumentError {
    /// Longer than [`MAX_FIGURES_DOCUMENT_BYTES`].
    #[error("the figures document is {0} bytes, over the {MAX_FIGURES_DOCUMENT_BYTES} read")]
    TooLarge(usize),
    /// Not the document's JSON.
    #[error("not a figures document: {0}")]
    Json(String),
    /// A histogram is not one the agents keep.
    #[error("names.{name}.latency_us: {reason}")]
    Histogram {
        /// The request name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Figures that do not add up.
    #[error("names.{name}: {reason}")]
    Inconsistent {
        /// The request name.
        name: String,
        /// What does not add up.
        reason: String,
    },
}

/// The histograms' bounds, stated in the document.
#[derive(Serialize, Deserialize)]
struct HistogramFormat {
    encoding: String,
    lowest_us: u64,
    highest_us: u64,
    significant_digits: u8,
}

/// A name's failure sample on the wire.
#[derive(Serialize, Deserialize)]
struct SampleDocument {
    messages: BTreeMap<String, u64>,
    /// When each message was last seen (ms since the Unix epoch), where known.
    #[serde(default)]
    last_seen_ms: BTreeMap<String, u64>,
    others: u64,
}

/// A name's figures on the wire.
#[derive(Serialize, Deserialize)]
struct NameDocument {
    count: u64,
    successes: u64,
    failures: u64,
    statuses: BTreeMap<u16, u64>,
    bytes: u64,
    request_type: String,
    response_sizes: [u64; RESPONSE_SIZE_BOUNDS.len() + 1],
    failure_sample: SampleDocument,
    latency_us: String,
}

/// The whole document.
#[derive(Serialize, Deserialize)]
struct Document {
    test_id: Option<String>,
    running: bool,
    started_at_unix_ms: u64,
    elapsed_s: f64,
    users_started: u64,
    histogram: HistogramFormat,
    names: BTreeMap<String, NameDocument>,
    series: Vec<SecondPoint>,
}

/// Milliseconds since the Unix epoch of `at` (0 before it).
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn format() -> HistogramFormat {
    HistogramFormat {
        encoding: HISTOGRAM_ENCODING.into(),
        lowest_us: 1,
        highest_us: MAX_LATENCY_US,
        significant_digits: SIGNIFICANT_DIGITS,
    }
}

/// `h` serialized (V2, no deflate) in base64.
fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Into a Vec, of a histogram within its own bounds: it cannot fail;
    // an empty string would be refused when read.
    let _ = V2Serializer::new().serialize(h, &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The histogram `text` encodes, refused unless its header is the agents'
/// (checked before anything is allocated for it).
fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))?;
    let header = bytes
        .get(..V2_HEADER)
        .ok_or("shorter than a V2 histogram's header")?;
    let u32_at = |at: usize| {
        let mut b = [0; 4];
        b.copy_from_slice(&header[at..at + 4]);
        u32::from_be_bytes(b)
    };
    let u64_at = |at: usize| {
        let mut b = [0; 8];
        b.copy_from_slice(&header[at..at + 8]);
        u64::from_be_bytes(b)
    };
    if u32_at(0) != V2_COOKIE {
        return Err("not an uncompressed V2 histogram".into());
    }
    if usize::try_from(u32_at(4)).ok() != Some(bytes.len() - V2_HEADER) {
        return Err("its payload length is not the bytes that follow".into());
    }
    if (u32_at(12), u64_at(16), u64_at(24)) != (u32::from(SIGNIFICANT_DIGITS), 1, MAX_LATENCY_US) {
        return Err(format!(
            "not a histogram of 1 to {MAX_LATENCY_US} us with {SIGNIFICANT_DIGITS} significant digits"
        ));
    }
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("{e:?}"))
}

impl TestFigures {
    /// The document `LD_fetch_figures` returns.
    pub fn to_json(&self) -> Value {
        let names = self
            .figures
            .per_name()
            .iter()
            .map(|(name, f)| {
                let sample = f.failure_sample();
                let doc = NameDocument {
                    count: f.count(),
                    successes: f.successes(),
                    failures: f.failures(),
                    statuses: f.statuses().clone(),
                    bytes: f.bytes(),
                    request_type: f.request_type().to_owned(),
                    response_sizes: *f.response_sizes(),
                    failure_sample: SampleDocument {
                        messages: sample.messages().clone(),
                        last_seen_ms: sample
                            .messages()
                            .keys()
                            .filter_map(|m| sample.last_seen_ms(m).map(|at| (m.clone(), at)))
                            .collect(),
                        others: sample.others(),
                    },
                    latency_us: encode_histogram(f.latency_us()),
                };
                (name.clone(), doc)
            })
            .collect();
        let document = Document {
            test_id: self.test_id.clone(),
            running: self.running,
            started_at_unix_ms: unix_ms(self.started_at),
            elapsed_s: self.elapsed.as_secs_f64(),
            users_started: self.users_started,
            histogram: format(),
            names,
            series: self.series.points().to_vec(),
        };
        serde_json::to_value(document).unwrap_or(Value::Null)
    }

    /// Reads back a document [`TestFigures::to_json`] made (its JSON text),
    /// at most [`MAX_FIGURES_DOCUMENT_BYTES`] long. `started_at` comes back
    /// to the millisecond.
    pub fn from_json(text: &str) -> Result<TestFigures, FiguresDocumentError> {
        if text.len() > MAX_FIGURES_DOCUMENT_BYTES {
            return Err(FiguresDocumentError::TooLarge(text.len()));
        }
        let document: Document =
            serde_json::from_str(text).map_err(|e| FiguresDocumentError::Json(e.to_string()))?;
        let expected = format();
        if document.histogram.encoding != expected.encoding
            || (
                document.histogram.lowest_us,
                document.histogram.highest_us,
                document.histogram.significant_digits,
            ) != (
                expected.lowest_us,
                expected.highest_us,
                expected.significant_digits,
            )
        {
            return Err(FiguresDocumentError::Json(format!(
                "histogram: expected {HISTOGRAM_ENCODING} of 1 to {MAX_LATENCY_US} us with {SIGNIFICANT_DIGITS} significant digits"
            )));
        }
        let mut figures = Figures::default();
        for (name, doc) in document.names {
            let latency = decode_histogram(&doc.latency_us).map_err(|reason| {
                FiguresDocumentError::Histogram {
                    name: name.clone(),
                    reason,
                }
            })?;
            let inconsistent = |reason: String| FiguresDocumentError::Inconsistent {
                name: name.clone(),
                reason,
            };
            if doc.successes.checked_add(doc.failures) != Some(doc.count) {
                return Err(inconsistent("count is not successes + failures".to_owned()));
            }
            if latency.len() != doc.count {
                return Err(inconsistent(format!(
                    "count {} but its histogram holds {}",
                    doc.count,
                    latency.len()
                )));
            }
            let mut sample = FailureSample::default();
            for (message, n) in &doc.failure_sample.messages {
                let seen = doc.failure_sample.last_seen_ms.get(message).copied();
                sample.add(message, *n, seen.unwrap_or(0));
            }
            sample.add_others(doc.failure_sample.others);
            let figures_of_name = NameFigures {
                latency_us: latency,
                successes: doc.successes,
                failures: doc.failures,
                statuses: doc.statuses,
                failure_sample: sample,
                bytes: doc.bytes,
                sizes: doc.response_sizes,
                request_type: doc.request_type.into_boxed_str(),
            };
            figures.per_name.insert(name, figures_of_name);
        }
        let mut series = TimeSeries::default();
        for point in document.series {
            series.push(point);
        }
        Ok(TestFigures {
            test_id: document.test_id,
            running: document.running,
            started_at: UNIX_EPOCH + Duration::from_millis(document.started_at_unix_ms),
            elapsed: Duration::try_from_secs_f64(document.elapsed_s).unwrap_or_default(),
            users_started: document.users_started,
            figures,
            series,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::{new_histogram, RequestOutcome};

    fn outcome(i: u64) -> RequestOutcome<'static> {
        let outcome = if i.is_multiple_of(7) {
            RequestOutcome::failed(Some(500), "HTTP 500")
        } else {
            RequestOutcome::ok(200)
        };
        RequestOutcome {
            request_type: "GET",
            ..outcome.with_bytes(i * 13)
        }
    }

    fn test_figures(figures: Figures) -> TestFigures {
        let mut series = TimeSeries::default();
        let mut window = crate::figures::SecondWindow::default();
        window.record("home", Duration::from_millis(3), &outcome(7));
        series.push(window.point(0, 2));
        TestFigures {
            test_id: Some("t-1".into()),
            running: false,
            started_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            elapsed: Duration::from_millis(2500),
            users_started: 2,
            figures,
            series,
        }
    }

    #[test]
    fn two_agents_decoded_and_merged_equal_one_that_recorded_both() {
        let (mut a, mut b, mut both) = (Figures::default(), Figures::default(), Figures::default());
        for i in 1..=500u64 {
            let (name, latency) = ("home", Duration::from_micros(i * i * 37 % 900_000 + 1));
            a.record(name, latency, outcome(i));
            both.record(name, latency, outcome(i));
        }
        for i in 1..=300u64 {
            let name = if i.is_multiple_of(3) { "login" } else { "home" };
            let latency = Duration::from_micros(i * 7919 % 2_000_000 + 50);
            b.record(name, latency, outcome(i));
            both.record(name, latency, outcome(i));
        }
        let mut merged = Figures::default();
        for figures in [a, b] {
            let text = test_figures(figures).to_json().to_string();
            let decoded = TestFigures::from_json(&text).expect("decodes");
            merged.merge(&decoded.figures);
        }
        assert_eq!(
            merged.per_name().keys().collect::<Vec<_>>(),
            both.per_name().keys().collect::<Vec<_>>()
        );
        for (name, ours) in merged.per_name() {
            let theirs = &both.per_name()[name];
            assert_eq!(ours.count(), theirs.count(), "{name}");
            assert_eq!(ours.failures(), theirs.failures(), "{name}");
            assert_eq!(ours.statuses(), theirs.statuses(), "{name}");
            assert_eq!(ours.bytes(), theirs.bytes(), "{name}");
            assert_eq!(ours.response_sizes(), theirs.response_sizes(), "{name}");
            // (when each message was last seen differs by the recording)
            let (a, b) = (ours.failure_sample(), theirs.failure_sample());
            assert_eq!(a.messages(), b.messages(), "{name}");
            assert_eq!(a.others(), b.others(), "{name}");
            assert_eq!(ours.request_type(), theirs.request_type(), "{name}");
            for q in [0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                assert_eq!(
                    ours.latency_us().value_at_quantile(q),
                    theirs.latency_us().value_at_quantile(q),
                    "{name} at {q}"
                );
            }
            assert_eq!(ours.latency_us(), theirs.latency_us(), "{name}");
        }
    }

    #[test]
    fn a_document_round_trips() {
        let mut figures = Figures::default();
        for i in 1..=50 {
            figures.record("home", Duration::from_millis(i), outcome(i));
        }
        let original = test_figures(figures);
        let json = original.to_json();
        assert_eq!(json["started_at_unix_ms"], 1_700_000_000_123u64);
        assert_eq!(json["names"]["home"]["count"], 50);
        let back = TestFigures::from_json(&json.to_string()).expect("decodes");
        assert_eq!(back.test_id.as_deref(), Some("t-1"));
        assert_eq!(back.started_at, original.started_at);
        assert_eq!(back.elapsed, original.elapsed);
        assert_eq!(back.users_started, 2);
        assert_eq!(back.series, original.series);
        assert_eq!(back.to_json(), json);
    }

    #[test]
    fn bad_documents_are_refused_before_allocating() {
        let long = " ".repeat(MAX_FIGURES_DOCUMENT_BYTES + 1);
        assert_eq!(
            TestFigures::from_json(&long).map(|_| ()),
            Err(FiguresDocumentError::TooLarge(long.len()))
        );
        let mut figures = Figures::default();
        figures.record("home", Duration::from_millis(1), outcome(1));
        let good = test_figures(figures).to_json();
        // A histogram of other bounds: refused by its header.
        let mut wide = Histogram::<u64>::new_with_bounds(1, u64::MAX / 2, 5).expect("bounds");
        wide.saturating_record(5);
        let mut doc = good.clone();
        doc["names"]["home"]["latency_us"] = encode_histogram(&wide).into();
        let err = TestFigures::from_json(&doc.to_string()).map(|_| ());
        assert!(
            matches!(&err, Err(FiguresDocumentError::Histogram { reason, .. }) if reason.starts_with("not a histogram of 1")),
            "{err:?}"
        );
        // A count its histogram does not hold.
        let mut doc = good.clone();
        doc["names"]["home"]["count"] = 2.into();
        doc["names"]["home"]["successes"] = 2.into();
        assert!(matches!(
            TestFigures::from_json(&doc.to_string()),
            Err(FiguresDocumentError::Inconsistent { .. })
        ));
        // A payload length past the bytes given.
        let mut bytes = Vec::new();
        let _ = V2Serializer::new().serialize(&new_histogram(), &mut bytes);
        bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut doc = good;
        doc["names"]["home"]["latency_us"] = base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into();
        assert!(matches!(
            TestFigures::from_json(&doc.to_string()),
            Err(FiguresDocumentError::Histogram { .. })
        ));
    }
}
