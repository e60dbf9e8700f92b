//! [`NameFigures`]: what is kept of the requests of one name.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::fleet::unix_ms;
use super::{latency_us, new_histogram, RequestOutcome};

/// Distinct failure messages kept per name; further ones are only counted.
const SAMPLED_MESSAGES: usize = 20;
/// Characters kept of a failure message.
const MESSAGE_CHARS: usize = 300;

/// The upper bounds (bytes, inclusive) of the response-size buckets:
/// LoadDensity's `loaddensity_response_bytes` histogram's.
pub const RESPONSE_SIZE_BOUNDS: [u64; 8] = [64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576];

/// The figures of one request name.
#[derive(Clone, Debug)]
pub struct NameFigures {
    /// Latency of every request, in microseconds.
    pub(super) latency_us: Histogram<u64>,
    /// Requests that succeeded.
    pub(super) successes: u64,
    /// Requests that failed.
    pub(super) failures: u64,
    /// Responses by status code (requests with no response are not here).
    pub(super) statuses: BTreeMap<u16, u64>,
    /// Why requests failed.
    pub(super) failure_sample: FailureSample,
    /// Bytes moved by all of them.
    pub(super) bytes: u64,
    /// Requests by bytes moved: one count per bound of
    /// [`RESPONSE_SIZE_BOUNDS`] (at most it, more than the one before),
    /// then those past the last (not cumulative).
    pub(super) sizes: [u64; RESPONSE_SIZE_BOUNDS.len() + 1],
    /// Locust's `request_type` of the first request recorded (the HTTP
    /// method, or the kind): what the exporters label the name with.
    pub(super) request_type: Box<str>,
}

/// A bounded sample of failure messages: the first distinct ones with their
/// counts and when each was last seen, and a count of the failures whose
/// message was not kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureSample {
    /// Message -> how many failures had it.
    messages: BTreeMap<String, u64>,
    /// Message -> when a failure last had it, in milliseconds since the
    /// Unix epoch (absent when not known: a sample read back from history).
    last_seen_ms: BTreeMap<String, u64>,
    /// Failures whose message was not among the kept ones.
    others: u64,
}

impl FailureSample {
    /// Counts `count` failures with `message`, the last at `seen_ms` (0:
    /// not known).
    pub(super) fn add(&mut self, message: &str, count: u64, seen_ms: u64) {
        let kept = if let Some(n) = self.messages.get_mut(message) {
            *n += count;
            message.to_owned()
        } else if self.messages.len() < SAMPLED_MESSAGES {
            let kept: String = message.chars().take(MESSAGE_CHARS).collect();
            *self.messages.entry(kept.clone()).or_default() += count;
            kept
        } else {
            self.others += count;
            return;
        };
        if seen_ms > 0 {
            let last = self.last_seen_ms.entry(kept).or_default();
            *last = (*last).max(seen_ms);
        }
    }

    /// When a failure last had `message` (ms since the Unix epoch), if known.
    pub fn last_seen_ms(&self, message: &str) -> Option<u64> {
        self.last_seen_ms.get(message).copied()
    }

    /// Counts `count` failures whose message was not kept.
    pub(super) fn add_others(&mut self, count: u64) {
        self.others = self.others.saturating_add(count);
    }

    /// The kept messages and their counts.
    pub fn messages(&self) -> &BTreeMap<String, u64> {
        &self.messages
    }

    /// Failures whose message was not kept.
    pub fn others(&self) -> u64 {
        self.others
    }
}

impl NameFigures {
    pub(super) fn new() -> Self {
        NameFigures {
            latency_us: new_histogram(),
            successes: 0,
            failures: 0,
            statuses: BTreeMap::new(),
            failure_sample: FailureSample::default(),
            bytes: 0,
            sizes: [0; RESPONSE_SIZE_BOUNDS.len() + 1],
            request_type: Box::from(""),
        }
    }

    /// Adds one request.
    pub fn record(&mut self, latency: Duration, outcome: RequestOutcome<'_>) {
        self.latency_us.saturating_record(latency_us(latency));
        self.bytes = self.bytes.saturating_add(outcome.bytes);
        self.sizes[size_bucket(outcome.bytes)] += 1;
        if self.request_type.is_empty() && !outcome.request_type.is_empty() {
            self.request_type = Box::from(outcome.request_type);
        }
        if let Some(status) = outcome.status {
            *self.statuses.entry(status).or_default() += 1;
        }
        match outcome.failure {
            None => self.successes += 1,
            Some(message) => {
                self.failures += 1;
                self.failure_sample
                    .add(message, 1, unix_ms(std::time::SystemTime::now()));
            }
        }
    }

    /// Adds `other`'s requests.
    pub fn merge(&mut self, other: &NameFigures) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.successes += other.successes;
        self.failures += other.failures;
        self.bytes = self.bytes.saturating_add(other.bytes);
        for (ours, theirs) in self.sizes.iter_mut().zip(other.sizes) {
            *ours += theirs;
        }
        if self.request_type.is_empty() {
            self.request_type.clone_from(&other.request_type);
        }
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_default() += n;
        }
        for (message, n) in &other.failure_sample.messages {
            let seen = other.failure_sample.last_seen_ms(message).unwrap_or(0);
            self.failure_sample.add(message, *n, seen);
        }
        self.failure_sample.others += other.failure_sample.others;
    }

    /// The latency histogram, in microseconds.
    pub fn latency_us(&self) -> &Histogram<u64> {
        &self.latency_us
    }

    /// Requests that succeeded.
    pub fn successes(&self) -> u64 {
        self.successes
    }

    /// Requests that failed.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// All requests.
    pub fn count(&self) -> u64 {
        self.successes + self.failures
    }

    /// Bytes moved by all of them.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Requests by bytes moved, per bound of [`RESPONSE_SIZE_BOUNDS`] then
    /// past the last (not cumulative).
    pub fn response_sizes(&self) -> &[u64; RESPONSE_SIZE_BOUNDS.len() + 1] {
        &self.sizes
    }

    /// Locust's `request_type` of these requests (the HTTP method, or the
    /// kind: `WS`, `TCP`...; the first recorded when a name has several);
    /// empty when nothing said.
    pub fn request_type(&self) -> &str {
        &self.request_type
    }

    /// Responses by status code.
    pub fn statuses(&self) -> &BTreeMap<u16, u64> {
        &self.statuses
    }

    /// Why requests failed.
    pub fn failure_sample(&self) -> &FailureSample {
        &self.failure_sample
    }
}

/// The bucket of [`NameFigures::response_sizes`] a request of `bytes` falls in.
fn size_bucket(bytes: u64) -> usize {
    RESPONSE_SIZE_BOUNDS.partition_point(|bound| *bound < bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_failures_and_merge() {
        let mut a = NameFigures::new();
        a.record(Duration::from_millis(2), RequestOutcome::ok(200));
        a.record(
            Duration::from_millis(3),
            RequestOutcome::failed(Some(500), "status 500"),
        );
        let mut b = NameFigures::new();
        b.record(
            Duration::from_millis(4),
            RequestOutcome::failed(None, "connection refused"),
        );
        a.merge(&b);
        assert_eq!((a.successes(), a.failures(), a.count()), (1, 2, 3));
        assert_eq!(a.statuses().get(&200), Some(&1));
        assert_eq!(a.statuses().get(&500), Some(&1));
        assert_eq!(
            a.failure_sample().messages().get("connection refused"),
            Some(&1)
        );
        assert_eq!(a.latency_us().len(), 3);
    }

    #[test]
    fn sizes_fall_in_inclusive_buckets_and_merge() {
        let mut a = NameFigures::new();
        for bytes in [0, 64, 65, 1_048_576, 1_048_577] {
            let outcome = RequestOutcome::ok(200).with_bytes(bytes);
            a.record(
                Duration::from_millis(1),
                RequestOutcome {
                    request_type: "GET",
                    ..outcome
                },
            );
        }
        assert_eq!(a.response_sizes(), &[2, 1, 0, 0, 0, 0, 0, 1, 1]);
        let mut b = NameFigures::new();
        b.merge(&a);
        b.merge(&a);
        assert_eq!(b.response_sizes(), &[4, 2, 0, 0, 0, 0, 0, 2, 2]);
        assert_eq!(b.request_type(), "GET");
    }

    #[test]
    fn a_message_is_last_seen_at_its_latest_and_merged_so() {
        let mut a = FailureSample::default();
        a.add("refused", 2, 100);
        a.add("refused", 1, 90);
        let mut b = FailureSample::default();
        b.add("refused", 1, 150);
        b.add("reset", 1, 0);
        let mut merged = NameFigures::new();
        merged.failure_sample = a;
        let mut other = NameFigures::new();
        other.failure_sample = b;
        merged.merge(&other);
        let sample = merged.failure_sample();
        assert_eq!(sample.messages().get("refused"), Some(&4));
        assert_eq!(sample.last_seen_ms("refused"), Some(150));
        assert_eq!(sample.last_seen_ms("reset"), None);
    }

    #[test]
    fn the_failure_sample_is_bounded() {
        let mut f = NameFigures::new();
        for i in 0..1000 {
            let message = format!("error {i}");
            f.record(
                Duration::from_millis(1),
                RequestOutcome::failed(None, &message),
            );
        }
        assert_eq!(f.failure_sample().messages().len(), SAMPLED_MESSAGES);
        assert_eq!(f.failure_sample().others(), 1000 - SAMPLED_MESSAGES as u64);
    }
}
