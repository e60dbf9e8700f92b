//! [`NameFigures`]: what is kept of the requests of one name.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{latency_us, new_histogram, RequestOutcome};

/// Distinct failure messages kept per name; further ones are only counted.
const SAMPLED_MESSAGES: usize = 20;
/// Characters kept of a failure message.
const MESSAGE_CHARS: usize = 300;

/// The figures of one request name.
#[derive(Clone, Debug)]
pub struct NameFigures {
    /// Latency of every request, in microseconds.
    latency_us: Histogram<u64>,
    /// Requests that succeeded.
    successes: u64,
    /// Requests that failed.
    failures: u64,
    /// Responses by status code (requests with no response are not here).
    statuses: BTreeMap<u16, u64>,
    /// Why requests failed.
    failure_sample: FailureSample,
    /// Bytes moved by all of them.
    bytes: u64,
}

/// A bounded sample of failure messages: the first distinct ones with their
/// counts, and a count of the failures whose message was not kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureSample {
    /// Message -> how many failures had it.
    messages: BTreeMap<String, u64>,
    /// Failures whose message was not among the kept ones.
    others: u64,
}

impl FailureSample {
    fn add(&mut self, message: &str, count: u64) {
        if let Some(n) = self.messages.get_mut(message) {
            *n += count;
        } else if self.messages.len() < SAMPLED_MESSAGES {
            let kept: String = message.chars().take(MESSAGE_CHARS).collect();
            *self.messages.entry(kept).or_default() += count;
        } else {
            self.others += count;
        }
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
        }
    }

    /// Adds one request.
    pub fn record(&mut self, latency: Duration, outcome: RequestOutcome<'_>) {
        self.latency_us.saturating_record(latency_us(latency));
        self.bytes = self.bytes.saturating_add(outcome.bytes);
        if let Some(status) = outcome.status {
            *self.statuses.entry(status).or_default() += 1;
        }
        match outcome.failure {
            None => self.successes += 1,
            Some(message) => {
                self.failures += 1;
                self.failure_sample.add(message, 1);
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
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_default() += n;
        }
        for (message, n) in &other.failure_sample.messages {
            self.failure_sample.add(message, *n);
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

    /// Responses by status code.
    pub fn statuses(&self) -> &BTreeMap<u16, u64> {
        &self.statuses
    }

    /// Why requests failed.
    pub fn failure_sample(&self) -> &FailureSample {
        &self.failure_sample
    }
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
