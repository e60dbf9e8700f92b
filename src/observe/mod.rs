//! Observers: the HTTP listeners that show what the agent is doing (the
//! Prometheus exporter, the agent's own metrics, the live dashboard). They
//! share one hardened HTTP/1.1 server ([`HttpListener`]) and one rule on
//! where a client's action may bind them ([`BindRule`]).

mod bind;
mod server;

pub use bind::{BindRule, BIND_FLAG};
pub use server::{text, Body, Handler, HttpLimits, HttpListener};
