//! User kinds: what a virtual user speaks. LoadDensity's
//! `user_detail_dict.user` names one; each kind parses its own tasks
//! (serde-derived, mistakes reported at their JSON path), holds its own
//! connections per user, and runs one task at a time, recording what
//! happened into the test's figures. The user loop
//! ([`user`](super::user)) does the rest, the same for every kind:
//! iterations, pacing, `weighted`/`sequence` walks, `run_if`/`skip_if`,
//! throttles, think time, stops and timeouts.
//!
//! A kind is a [`Protocol`] in its own folder, and one line in [`KINDS`].

mod grpc;
mod http;
mod redis;
mod socket;
mod sse;
mod steps;
mod websocket;

use schemars::{Schema, SchemaGenerator};
use serde_json::Value;

pub use super::protocol::{Load, Protocol};
pub use super::task::Fixed;
pub use super::user::Scripted;
use crate::spec::{Note, SpecError};

/// Every user kind ld-tower runs, by the names `user_detail_dict.user`
/// gives them. Adding a kind adds its line here.
pub static KINDS: &[Kind] = &[
    http::FAST_HTTP_USER,
    http::HTTP_USER,
    websocket::WEBSOCKET_USER,
    socket::SOCKET_USER,
    sse::SSE_USER,
    grpc::GRPC_USER,
    redis::REDIS_USER,
];

/// The kind of a test whose `user_detail_dict` names none (LoadDensity's
/// default).
pub const DEFAULT: &str = "fast_http_user";

/// A user kind: its name, how its tasks are compiled, and their schema.
#[derive(Debug)]
pub struct Kind {
    /// What `user_detail_dict.user` calls it.
    pub name: &'static str,
    /// Its tasks' compiler.
    pub compile: Compile,
    /// The JSON Schema of its `tasks` keyword (`LD_export_schema`),
    /// generated from the serde types the compiler parses them into.
    pub tasks_schema: TasksSchema,
}

/// The JSON Schema of a kind's `tasks` keyword.
pub type TasksSchema = fn(&mut SchemaGenerator) -> Schema;

/// How a kind compiles the `tasks` keyword's value; what is accepted but
/// not read goes into the notes (with the closest known key).
pub type Compile = fn(Value, &Context<'_>, &mut Vec<Note>) -> Result<Box<dyn Load>, SpecError>;

/// The kind called `name`, if ld-tower runs it.
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|kind| kind.name == name)
}

/// The names of the kinds ld-tower runs, comma-separated, for errors.
pub fn names() -> String {
    KINDS
        .iter()
        .map(|kind| kind.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a kind's tasks are compiled against.
#[allow(missing_debug_implementations)]
pub struct Context<'a> {
    /// The test's host: what relative URLs are relative to, or the URL
    /// (or address) a kind uses when a task names none.
    pub base: Option<&'a str>,
    /// The test's fixed values (for names made from templates).
    pub fixed: &'a dyn Fixed,
    /// The test's `http2` (HTTP users: the default of their tasks' own).
    pub http2: bool,
    /// The test's `h2_connections` (HTTP users over HTTP/2).
    pub http2_settings: crate::engine::http::Http2Settings,
}
