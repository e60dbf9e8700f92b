//! [`Peers`]: what the server remembers of each client address: its failed
//! authentications (which slow its next attempts, a growing delay) and its
//! protocol errors (which are logged, but not all of them).
//!
//! An address is an IPv4 address or an IPv6 /64 (one host usually owns a
//! whole /64, and could otherwise rotate through it). What is remembered of
//! an address is forgotten after [`FORGET_AFTER`] without a failure, and at
//! most [`MAX_ADDRESSES`] addresses are remembered (the stalest go first).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::auth::SecurityCounters;

/// How failed authentications slow an address's next attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthBackoff {
    /// Failures an address may make (within [`FORGET_AFTER`] of each other)
    /// before it is slowed. Default 3.
    pub free_failures: u32,
    /// The delay after the first failure past them; it doubles with each
    /// further failure. Default 250 ms.
    pub first_delay: Duration,
    /// The longest delay between two attempts of one address. Default 5 s.
    pub max_delay: Duration,
}

impl Default for AuthBackoff {
    fn default() -> Self {
        AuthBackoff {
            free_failures: 3,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl AuthBackoff {
    /// The delay after `failures` failures.
    fn delay(&self, failures: u32) -> Duration {
        let Some(past) = failures.checked_sub(self.free_failures.saturating_add(1)) else {
            return Duration::ZERO;
        };
        self.first_delay
            .checked_mul(1u32.checked_shl(past).unwrap_or(u32::MAX))
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// An attempt that would wait longer than this (many attempts queued from
/// one address) closes its connection at once instead, without an answer.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// What is known of an address is forgotten after this long without a failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Addresses remembered at most.
pub(super) const MAX_ADDRESSES: usize = 65_536;
/// Protocol errors of an address logged one by one; past them, only every
/// power of two is (with the count).
const LOGGED_ERRORS: u64 = 5;

/// When a stranger's request from an address may be looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Gate {
    /// Now.
    Open,
    /// At this instant, later than now (the address is being slowed).
    At(Instant),
    /// Never: too many attempts are already waiting; close the connection.
    Closed,
}

/// A failed authentication, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Failure {
    /// Failures of the address within [`FORGET_AFTER`] of each other.
    pub(super) count: u32,
    /// How long its next attempt waits.
    pub(super) delay: Duration,
}

#[derive(Debug)]
struct Record {
    /// Failed authentications, counting on while they come within
    /// `FORGET_AFTER` of each other.
    failures: u32,
    /// Protocol errors, likewise.
    errors: u64,
    /// The last failure or error.
    last: Instant,
    /// When the next attempt of this address may be looked at.
    next_free: Instant,
}

/// Per-address counts and delays; shared by every connection of a server.
#[derive(Debug)]
pub(super) struct Peers {
    backoff: AuthBackoff,
    records: Mutex<HashMap<IpAddr, Record>>,
    /// What the server counts of refusals.
    counters: Arc<SecurityCounters>,
}

/// The key of an address: itself (IPv4), or its /64 (IPv6).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

impl Peers {
    /// No address known; failures slow by `backoff`, and are counted in
    /// `counters`.
    pub(super) fn new(backoff: AuthBackoff, counters: Arc<SecurityCounters>) -> Self {
        Peers {
            backoff,
            records: Mutex::default(),
            counters,
        }
    }

    /// What the server counts of refusals.
    pub(super) fn counters(&self) -> &SecurityCounters {
        &self.counters
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, Record>) -> T) -> T {
        f(&mut self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// When a request from `ip` on a connection not yet admitted may be
    /// looked at. A slowed address's attempts are spaced by its delay, one
    /// after the other, however many connections it opens.
    pub(super) fn gate(&self, ip: IpAddr) -> Gate {
        let now = Instant::now();
        let backoff = self.backoff;
        self.with(|records| {
            let Some(record) = records.get_mut(&key(ip)) else {
                return Gate::Open;
            };
            if now.duration_since(record.last) >= FORGET_AFTER {
                records.remove(&key(ip));
                return Gate::Open;
            }
            let wait = backoff.delay(record.failures);
            if wait.is_zero() {
                return Gate::Open;
            }
            // No sooner than a delay after the last failure, and a delay
            // after the attempt queued before it.
            let at = record.next_free.max(record.last + wait).max(now);
            if at.duration_since(now) > MAX_WAIT {
                self.counters.connection_closed_for_attempts();
                return Gate::Closed;
            }
            record.next_free = at + wait;
            if at <= now {
                Gate::Open
            } else {
                self.counters.attempt_slowed();
                Gate::At(at)
            }
        })
    }

    /// Counts a failed authentication from `ip`.
    pub(super) fn auth_failed(&self, ip: IpAddr) -> Failure {
        self.counters.auth_failed();
        let now = Instant::now();
        let backoff = self.backoff;
        self.with(|records| {
            let record = remember(records, key(ip), now);
            record.failures = record.failures.saturating_add(1);
            record.last = now;
            Failure {
                count: record.failures,
                delay: backoff.delay(record.failures),
            }
        })
    }

    /// Counts a protocol error from `ip`; the count if this one should be
    /// logged (the first few, then every power of two).
    pub(super) fn protocol_error(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        self.with(|records| {
            let record = remember(records, key(ip), now);
            record.errors = record.errors.saturating_add(1);
            record.last = now;
            let n = record.errors;
            (n <= LOGGED_ERRORS || n.is_power_of_two()).then_some(n)
        })
    }
}

/// The record of `key`, made (and the table pruned) if new.
fn remember(records: &mut HashMap<IpAddr, Record>, key: IpAddr, now: Instant) -> &mut Record {
    if !records.contains_key(&key) && records.len() >= MAX_ADDRESSES {
        records.retain(|_, r| now.duration_since(r.last) < FORGET_AFTER);
        if records.len() >= MAX_ADDRESSES {
            if let Some(stalest) = records.iter().min_by_key(|(_, r)| r.last).map(|(k, _)| *k) {
                records.remove(&stalest);
            }
        }
    }
    let record = records.entry(key).or_insert(Record {
        failures: 0,
        errors: 0,
        last: now,
        next_free: now,
    });
    if now.duration_since(record.last) >= FORGET_AFTER {
        *record = Record {
            failures: 0,
            errors: 0,
            last: now,
            next_free: now,
        };
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    const FREE: u32 = 3;
    const FIRST: Duration = Duration::from_millis(250);

    #[test]
    fn delays_grow_from_the_fourth_failure_and_are_capped() {
        let backoff = AuthBackoff::default();
        assert_eq!((backoff.free_failures, backoff.first_delay), (FREE, FIRST));
        assert_eq!(backoff.delay(0), Duration::ZERO);
        assert_eq!(backoff.delay(FREE), Duration::ZERO);
        assert_eq!(backoff.delay(FREE + 1), FIRST);
        assert_eq!(backoff.delay(FREE + 2), FIRST * 2);
        assert_eq!(backoff.delay(FREE + 3), FIRST * 4);
        assert_eq!(backoff.delay(FREE + 30), backoff.max_delay);
        assert_eq!(backoff.delay(u32::MAX), backoff.max_delay);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slowed_address_is_spaced_out_and_then_forgotten() {
        let peers = Peers::new(AuthBackoff::default(), Arc::default());
        let attacker = ip("10.0.0.7");
        for n in 1..=FREE {
            assert_eq!(peers.gate(attacker), Gate::Open);
            assert_eq!(peers.auth_failed(attacker).count, n);
        }
        let failure = peers.auth_failed(attacker);
        assert_eq!(failure.delay, FIRST);
        // Attempts queue up one delay apart, the first a delay after the
        // failure, however many connections.
        let now = Instant::now();
        assert_eq!(peers.gate(attacker), Gate::At(now + FIRST));
        assert_eq!(peers.gate(attacker), Gate::At(now + FIRST * 2));
        assert_eq!(peers.gate(attacker), Gate::At(now + FIRST * 3));
        // Another address is not slowed.
        assert_eq!(peers.gate(ip("10.0.0.8")), Gate::Open);
        // Too long a queue closes at once.
        let mut closed = false;
        for _ in 0..200 {
            if peers.gate(attacker) == Gate::Closed {
                closed = true;
                break;
            }
        }
        assert!(closed, "the queue of attempts is bounded");
        tokio::time::advance(FORGET_AFTER).await;
        assert_eq!(peers.gate(attacker), Gate::Open);
        assert_eq!(peers.auth_failed(attacker).count, 1, "forgotten");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let peers = Peers::new(AuthBackoff::default(), Arc::default());
        for host in 1..=FREE + 1 {
            peers.auth_failed(ip(&format!("2001:db8:1:2::{host}")));
        }
        assert!(matches!(
            peers.gate(ip("2001:db8:1:2:ffff::9")),
            Gate::At(_)
        ));
        assert_eq!(peers.gate(ip("2001:db8:1:3::1")), Gate::Open);
        assert_eq!(key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
    }

    #[test]
    fn protocol_errors_are_logged_sparsely() {
        let peers = Peers::new(AuthBackoff::default(), Arc::default());
        let a = ip("10.0.0.9");
        let logged: Vec<u64> = (0..100).filter_map(|_| peers.protocol_error(a)).collect();
        assert_eq!(logged, [1, 2, 3, 4, 5, 8, 16, 32, 64]);
    }
}
