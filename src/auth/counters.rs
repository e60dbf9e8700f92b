//! [`SecurityCounters`]: how often the agent refused someone, since it
//! started: what `LD_agent_status` reports under `security`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counts of refusals, shared by the server (authentication, client
/// certificates, slowed addresses) and the command service (forbidden
/// actions). Every count only grows.
#[derive(Debug, Default)]
pub struct SecurityCounters {
    auth_failures: AtomicU64,
    attempts_slowed: AtomicU64,
    connections_closed_for_attempts: AtomicU64,
    certificates_refused: AtomicU64,
    forbidden_actions: AtomicU64,
}

/// A reading of [`SecurityCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SecurityFigures {
    /// Requests refused for a missing, wrong or malformed token.
    pub auth_failures: u64,
    /// Requests from an address with too many failures, held back before
    /// they were looked at (the per-address backoff).
    pub attempts_slowed: u64,
    /// Connections closed because their address already had too many
    /// attempts waiting.
    pub connections_closed_for_attempts: u64,
    /// TLS handshakes refused for the client certificate (none, unknown
    /// issuer, expired, a name not allowed).
    pub certificates_refused: u64,
    /// Actions refused for want of a scope.
    pub forbidden_actions: u64,
}

impl SecurityCounters {
    /// Counts a failed authentication.
    pub fn auth_failed(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request held back by the per-address backoff.
    pub fn attempt_slowed(&self) {
        self.attempts_slowed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed for its address's waiting attempts.
    pub fn connection_closed_for_attempts(&self) {
        self.connections_closed_for_attempts
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused client certificate.
    pub fn certificate_refused(&self) {
        self.certificates_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` actions refused for want of a scope.
    pub fn forbidden(&self, n: u64) {
        self.forbidden_actions.fetch_add(n, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn figures(&self) -> SecurityFigures {
        SecurityFigures {
            auth_failures: self.auth_failures.load(Ordering::Relaxed),
            attempts_slowed: self.attempts_slowed.load(Ordering::Relaxed),
            connections_closed_for_attempts: self
                .connections_closed_for_attempts
                .load(Ordering::Relaxed),
            certificates_refused: self.certificates_refused.load(Ordering::Relaxed),
            forbidden_actions: self.forbidden_actions.load(Ordering::Relaxed),
        }
    }
}
