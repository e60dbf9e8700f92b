//! Metrics out: the request figures counted since the agent started
//! ([`State::figures_since_start`](crate::state::State::figures_since_start))
//! shown to a Prometheus scrape under LoadDensity's names
//! ([`requests`]), the agent's own counters for `serve --metrics`
//! ([`agent`]), and the exporters and sinks a client starts and stops
//! ([`Outputs`]): Prometheus, StatsD, InfluxDB and OTLP. Nothing here
//! runs per request: every figure is read when it is scraped or flushed.

mod agent;
mod flush;
mod influxdb;
mod otlp;
mod outputs;
mod post;
pub mod prometheus;
mod requests;
mod statsd;

pub use agent::{AgentCounters, AgentMetrics, CommandOutcome, OpenConnection, UNKNOWN_ACTION};
pub use flush::MAX_DATAGRAM;
pub use influxdb::{escape_field_string, escape_tag, InfluxHttp, InfluxTarget, InfluxdbSink};
pub use otlp::{OtlpExporter, DEFAULT_OTLP_ENDPOINT, OTLP_TIMEOUT};
pub use outputs::Outputs;
pub use post::PostUrl;
pub use requests::{escape_label_value, RequestMetrics, LATENCY_BOUNDS_MS};
pub use statsd::{sanitize_tag_value, StatsdSink};
