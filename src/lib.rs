//! ld-tower: a load-testing agent with a hardened control socket that
//! speaks the wire protocol of LoadDensity's (`je_load_density`).
//!
//! # Layout
//!
//! The folders follow the request's path through the server:
//!
//! - [`server`]: the accept loop, connection cap, per-connection task
//!   (pipeline server over a framed transport, read timeout) and graceful
//!   shutdown;
//! - [`acceptor`]: plain TCP or TLS (rustls), behind one trait;
//! - [`codec`]: the two framings, legacy and length-prefixed;
//! - [`protocol`]: the wire vocabulary: [`protocol::Request`],
//!   [`protocol::Command`] and its parsing, [`protocol::Reply`];
//! - [`stack`]: the tower stack around the command service (replies, size
//!   limit, parse, log, token auth, your layers, timeout); the generic layers
//!   live in the `ld-tower-layers` crate;
//! - [`auth`]: principals (by token or client certificate), their scopes
//!   and the token file; [`audit`]: the audit trail;
//! - [`control`]: the command service itself;
//! - [`actions`]: the action registry and the built-in actions;
//! - [`engine`]: the load engine (virtual users, HTTP client, tasks,
//!   pacing); [`resolver`]: the `${...}` placeholders of tasks;
//! - [`breaking`]: the breaking-point search of `LD_find_breaking_point`;
//! - [`figures`] and [`state`]: what the actions act on; [`thresholds`]:
//!   pass/fail limits on them; [`paths`]: where actions may touch files;
//! - [`json_size`]: a JSON value's size, counted up to a limit;
//! - [`redact`]: credentials masked out of reasons, names, logs and reports;
//! - [`client`]: a client for both framings, plain or TLS;
//! - [`tls`]: the rustls crypto provider all of them use, and the control
//!   socket's TLS session resumption;
//! - `spec`: the action-file language's parse machinery (typed errors at a
//!   JSON path, unknown keys noted); [`lint`]: an action document checked
//!   without running it, its JSON Schema, its canonical formatting;
//! - history and reports (cargo features `history`, `reports`).
//!
//! The `ld-tower` command line and its demo are the binary's own
//! (`src/main.rs`, `src/cli`, `src/demo`), not this library's API.

#![forbid(unsafe_code)]

pub mod acceptor;
pub mod actions;
pub mod audit;
pub mod auth;
pub mod breaking;
pub mod client;
pub mod codec;
pub mod control;
pub mod dashboard;
pub mod engine;
pub mod figures;
pub mod fleet;
pub mod formats;
#[cfg(feature = "history")]
pub mod history;
pub mod import;
pub mod json_size;
pub mod lint;
pub mod metrics;
pub mod observe;
pub mod paths;
pub mod policy;
pub mod protocol;
pub mod redact;
#[cfg(feature = "reports")]
pub mod reports;
pub mod resolver;
pub mod server;
pub mod spec;
pub mod stack;
pub mod state;
pub mod thresholds;
pub mod tls;
