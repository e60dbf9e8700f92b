//! The rustls crypto provider every TLS configuration of ld-tower uses (the
//! control socket's server, the `send` client, the load engine's users),
//! and the control socket's server settings (suite order, resumption).
//!
//! The provider is aws-lc-rs, chosen by measurement on the development
//! machine (server CPU per handshake, rustls 0.23, in memory): RSA-2048
//! signs in about 260 µs against ring's 620 µs, and a full RSA-2048 TLS 1.3
//! handshake costs the server about 360 µs against 750 µs; ECDSA P-256 is
//! on a par (16 µs against 18 µs a signature). It builds with the C
//! compiler alone (no cmake, no nasm).
//!
//! Its suites are ordered AES-128-GCM first (then AES-256-GCM, then
//! ChaCha20-Poly1305): AES-128-GCM's TLS 1.3 suite hashes with SHA-256,
//! which costs a TLS 1.3 handshake about 30 µs less server CPU than
//! AES-256-GCM's SHA-384 here, resumed or not, at a security level matching
//! the X25519 and P-256 key exchanges.

use std::sync::{Arc, LazyLock};

use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};
use tokio_rustls::rustls::server::ServerSessionMemoryCache;
use tokio_rustls::rustls::{self, CipherSuite, ServerConfig};

/// How many TLS 1.2 sessions a server remembers for resumption by session
/// id. An entry holds the session's secrets and the client's certificate
/// chain if any, a few hundred bytes to a few KiB, so the cache stays under
/// about 10 MiB; 4096 is four times the default connection cap, so clients
/// that come back within that many new sessions resume. TLS 1.3 sessions
/// need no entry: they resume from stateless tickets.
pub const TLS12_SESSION_CACHE: usize = 4096;

/// The crypto provider (aws-lc-rs, its default key exchange groups, its
/// suites with AES-128-GCM first), one shared instance.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: LazyLock<Arc<CryptoProvider>> = LazyLock::new(|| {
        let mut provider = aws_lc_rs::default_provider();
        provider
            .cipher_suites
            .sort_by_key(|suite| match suite.suite() {
                CipherSuite::TLS13_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
                _ => 1,
            });
        Arc::new(provider)
    });
    Arc::clone(&PROVIDER)
}

/// What every ld-tower TLS server takes beyond its certificate: its own
/// suite order ([`provider`]'s) rather than the client's, and session
/// resumption: TLS 1.3 (and TLS 1.2 RFC 5077) stateless tickets, sealed by
/// the provider's rotating ticket keys (in memory only, renewed every 6
/// hours, so tickets do not outlive the process), and a cache of
/// [`TLS12_SESSION_CACHE`] TLS 1.2 sessions by id. A resumed handshake
/// skips the certificate and its signature, the bulk of a full handshake's
/// cost with an RSA key. Fails only when the ticket keys cannot be made
/// (no system randomness).
pub fn configure_server(config: &mut ServerConfig) -> Result<(), rustls::Error> {
    config.ignore_client_order = true;
    config.ticketer = aws_lc_rs::Ticketer::new()?;
    config.session_storage = ServerSessionMemoryCache::new(TLS12_SESSION_CACHE);
    Ok(())
}
