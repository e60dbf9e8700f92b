//! The metrics actions: `LD_start_prometheus_exporter` and
//! `LD_stop_prometheus_exporter`, `LD_start_statsd_sink` and
//! `LD_stop_statsd_sink`, `LD_start_influxdb_sink` and
//! `LD_stop_influxdb_sink`, `LD_start_opentelemetry_exporter` and
//! `LD_stop_opentelemetry_exporter` (see [`crate::metrics`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{ActionContext, ActionError, Args, Registry};
use crate::auth::Scope;
use crate::metrics::{InfluxHttp, InfluxTarget, OtlpExporter, DEFAULT_OTLP_ENDPOINT};

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped(
            "LD_start_prometheus_exporter",
            Scope::Write,
            start_prometheus_exporter,
        )
        .register_scoped(
            "LD_stop_prometheus_exporter",
            Scope::Write,
            stop_prometheus_exporter,
        )
        .register_scoped("LD_start_statsd_sink", Scope::Write, start_statsd_sink)
        .register_scoped("LD_stop_statsd_sink", Scope::Write, stop_statsd_sink)
        .register_scoped("LD_start_influxdb_sink", Scope::Write, start_influxdb_sink)
        .register_scoped("LD_stop_influxdb_sink", Scope::Write, stop_influxdb_sink)
        .register_scoped(
            "LD_start_opentelemetry_exporter",
            Scope::Write,
            start_opentelemetry_exporter,
        )
        .register_scoped(
            "LD_stop_opentelemetry_exporter",
            Scope::Write,
            stop_opentelemetry_exporter,
        );
}

fn default_prometheus_port() -> u16 {
    9646
}

fn default_loopback() -> String {
    "127.0.0.1".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Exporter {
    #[serde(default = "default_prometheus_port")]
    port: u16,
    #[serde(default = "default_loopback")]
    addr: String,
}

/// `LD_start_prometheus_exporter(port=9646, addr="127.0.0.1")`: the port
/// it listens on (port 0 picks a free one).
async fn start_prometheus_exporter(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Exporter { port, addr } = args.parse(&["port", "addr"])?;
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| ActionError::new(format!("addr {addr:?} is not an IP address")))?;
    let wanted = ctx
        .state()
        .observers()
        .check(SocketAddr::new(ip, port))
        .map_err(ActionError::new)?;
    let at = ctx
        .state()
        .metrics_outputs()
        .start_prometheus(ctx.state(), wanted)
        .await
        .map_err(ActionError::new)?;
    Ok(json!(at.port()))
}

/// `LD_stop_prometheus_exporter()`: stops the listener (LoadDensity's
/// keeps listening); nothing when none runs.
async fn stop_prometheus_exporter(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().metrics_outputs().stop_prometheus().await;
    Ok(Value::Null)
}

fn default_statsd_port() -> u16 {
    8125
}

/// LoadDensity's StatsD prefix and OpenTelemetry service name.
fn default_loaddensity() -> String {
    "loaddensity".to_owned()
}

fn default_flush_interval() -> f64 {
    1.0
}

/// The shortest and longest flush interval a client may ask, in seconds.
const FLUSH_INTERVAL_S: (f64, f64) = (0.05, 3600.0);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Statsd {
    #[serde(default = "default_loopback")]
    host: String,
    #[serde(default = "default_statsd_port")]
    port: u16,
    #[serde(default = "default_loaddensity")]
    prefix: String,
    #[serde(default = "default_flush_interval")]
    flush_interval: f64,
}

/// A flush interval within [`FLUSH_INTERVAL_S`].
fn flush_interval(seconds: f64) -> Result<Duration, ActionError> {
    within("flush_interval", seconds, FLUSH_INTERVAL_S, " seconds")?;
    Ok(Duration::from_secs_f64(seconds))
}

/// `value` if it is within `bounds` (`unit` after them in the error),
/// else an error naming `keyword`.
fn within(keyword: &str, value: f64, bounds: (f64, f64), unit: &str) -> Result<f64, ActionError> {
    let (min, max) = bounds;
    if !(min..=max).contains(&value) {
        return Err(ActionError::new(format!(
            "{keyword} must be between {min} and {max}{unit}, not {value}"
        )));
    }
    Ok(value)
}

/// The first address of `host:port` the target policy allows, or its
/// refusal (a sink sends to another host, as a test's users do).
async fn allowed_target(
    ctx: &ActionContext,
    host: &str,
    port: u16,
) -> Result<SocketAddr, ActionError> {
    let network = ctx.state().network();
    let addresses = crate::engine::dial::addresses(&network, host, port)
        .await
        .map_err(|e| ActionError::new(e.to_string()))?;
    addresses
        .first()
        .copied()
        .ok_or_else(|| ActionError::new(format!("{host}:{port} resolved to no address")))
}

/// `LD_start_statsd_sink(host="127.0.0.1", port=8125, prefix="loaddensity",
/// flush_interval=1.0)`: where it sends (`HOST:PORT`).
async fn start_statsd_sink(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Statsd {
        host,
        port,
        prefix,
        flush_interval: seconds,
    } = args.parse(&["host", "port", "prefix", "flush_interval"])?;
    let interval = flush_interval(seconds)?;
    let prefix = prefix.trim_end_matches('.').to_owned();
    let target = allowed_target(&ctx, &host, port).await?;
    let at = ctx
        .state()
        .metrics_outputs()
        .start_statsd(ctx.state(), target, prefix, interval)
        .await
        .map_err(ActionError::new)?;
    Ok(json!(at.to_string()))
}

/// `LD_stop_statsd_sink()`: stops the sink once its last changes are sent.
async fn stop_statsd_sink(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().metrics_outputs().stop_statsd().await;
    Ok(Value::Null)
}

fn default_transport() -> String {
    "udp".to_owned()
}

fn default_influxdb_port() -> u16 {
    8089
}

fn default_measurement() -> String {
    "loaddensity_request".to_owned()
}

fn default_timeout() -> f64 {
    2.0
}

/// The shortest and longest HTTP timeout a client may ask, in seconds.
const INFLUXDB_TIMEOUT_S: (f64, f64) = (0.01, 60.0);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Influxdb {
    #[serde(default = "default_transport")]
    transport: String,
    #[serde(default = "default_loopback")]
    host: String,
    #[serde(default = "default_influxdb_port")]
    port: u16,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default = "default_measurement")]
    measurement: String,
    #[serde(default = "default_timeout")]
    timeout: f64,
    #[serde(default = "default_flush_interval")]
    flush_interval: f64,
}

/// `LD_start_influxdb_sink(transport="udp", host="127.0.0.1", port=8089,
/// url=None, token=None, measurement="loaddensity_request", timeout=2.0,
/// flush_interval=1.0)`: where it writes (`HOST:PORT`, or the URL without
/// its query). The token is never part of a reply or an error.
async fn start_influxdb_sink(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Influxdb {
        transport,
        host,
        port,
        url,
        token,
        measurement,
        timeout,
        flush_interval: seconds,
    } = args.parse(&[
        "transport",
        "host",
        "port",
        "url",
        "token",
        "measurement",
        "timeout",
        "flush_interval",
    ])?;
    let interval = flush_interval(seconds)?;
    if measurement.is_empty() {
        return Err(ActionError::new("measurement must not be empty"));
    }
    let target = match transport.to_ascii_lowercase().as_str() {
        "udp" => InfluxTarget::Udp(allowed_target(&ctx, &host, port).await?),
        "http" => {
            let url = url
                .filter(|u| !u.is_empty())
                .ok_or_else(|| ActionError::new("url required when transport=http"))?;
            within("timeout", timeout, INFLUXDB_TIMEOUT_S, " seconds")?;
            let http = InfluxHttp::new(&url, token.as_deref(), Duration::from_secs_f64(timeout))
                .map_err(ActionError::new)?;
            let (host, port) = http.host_port();
            allowed_target(&ctx, host, port).await?;
            InfluxTarget::Http(http)
        }
        other => {
            return Err(ActionError::new(format!(
                "unsupported transport: {other:?} (udp or http)"
            )))
        }
    };
    let at = ctx
        .state()
        .metrics_outputs()
        .start_influxdb(ctx.state(), target, &measurement, interval)
        .await
        .map_err(ActionError::new)?;
    Ok(json!(at))
}

/// `LD_stop_influxdb_sink()`: stops the sink once its last changes are
/// written.
async fn stop_influxdb_sink(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().metrics_outputs().stop_influxdb().await;
    Ok(Value::Null)
}

fn default_export_interval_ms() -> f64 {
    5000.0
}

/// The shortest and longest export interval a client may ask, in
/// milliseconds.
const EXPORT_INTERVAL_MS: (f64, f64) = (100.0, 3_600_000.0);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Opentelemetry {
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default = "default_loaddensity")]
    service_name: String,
    #[serde(default = "default_export_interval_ms")]
    export_interval_ms: f64,
}

/// `LD_start_opentelemetry_exporter(endpoint=None, service_name="loaddensity",
/// export_interval_ms=5000)`: where it exports (`ENDPOINT/v1/metrics`,
/// OTLP/HTTP with JSON; no endpoint is `http://127.0.0.1:4318`).
async fn start_opentelemetry_exporter(
    ctx: ActionContext,
    args: Args,
) -> Result<Value, ActionError> {
    let Opentelemetry {
        endpoint,
        service_name,
        export_interval_ms,
    } = args.parse(&["endpoint", "service_name", "export_interval_ms"])?;
    within(
        "export_interval_ms",
        export_interval_ms,
        EXPORT_INTERVAL_MS,
        "",
    )?;
    let endpoint = endpoint
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| DEFAULT_OTLP_ENDPOINT.to_owned());
    let url = OtlpExporter::url(&endpoint).map_err(ActionError::new)?;
    let (host, port) = url.host_port();
    allowed_target(&ctx, host, port).await?;
    let at = ctx
        .state()
        .metrics_outputs()
        .start_otlp(
            ctx.state(),
            url,
            service_name,
            Duration::from_secs_f64(export_interval_ms / 1000.0),
        )
        .await;
    Ok(json!(at))
}

/// `LD_stop_opentelemetry_exporter()`: stops the exporter once its last
/// export is sent.
async fn stop_opentelemetry_exporter(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().metrics_outputs().stop_otlp().await;
    Ok(Value::Null)
}
