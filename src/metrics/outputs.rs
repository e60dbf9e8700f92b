//! [`Outputs`]: the exporters and sinks a client started, one of each at
//! most, stopped by their stop action or when the server shuts down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::{
    prometheus, AgentCounters, InfluxTarget, InfluxdbSink, OtlpExporter, PostUrl, StatsdSink,
};
use crate::observe::{HttpLimits, HttpListener};
use crate::state::State;

/// The running exporters and sinks of one state.
#[derive(Debug, Default)]
pub struct Outputs {
    /// `LD_start_prometheus_exporter`'s listener.
    prometheus: Mutex<Option<HttpListener>>,
    /// The agent's own counters (`serve --metrics`).
    agent: Arc<AgentCounters>,
    /// `LD_start_statsd_sink`'s sink.
    statsd: Mutex<Option<StatsdSink>>,
    /// `LD_start_influxdb_sink`'s sink.
    influxdb: Mutex<Option<InfluxdbSink>>,
    /// `LD_start_opentelemetry_exporter`'s exporter.
    otlp: Mutex<Option<OtlpExporter>>,
}

/// Stops what `slot` holds with `stop`: whether something ran.
async fn stop_slot<T, F>(slot: &Mutex<Option<T>>, stop: impl FnOnce(T) -> F) -> bool
where
    F: Future<Output = ()>,
{
    match slot.lock().await.take() {
        Some(running) => {
            stop(running).await;
            true
        }
        None => false,
    }
}

impl Outputs {
    /// The agent's own counters: the server counts its connections in
    /// them, the command service its commands.
    pub fn agent(&self) -> &Arc<AgentCounters> {
        &self.agent
    }

    /// Starts the Prometheus exporter on `addr` (already checked against
    /// the bind rule), or finds the running one: its address. One runs at a
    /// time: asked for another address (a port other than the running
    /// one's, or another IP) while one runs, it says so and changes
    /// nothing (LoadDensity would answer the port asked for and keep the
    /// old one).
    pub async fn start_prometheus(
        &self,
        state: &Arc<State>,
        addr: SocketAddr,
    ) -> Result<SocketAddr, String> {
        let mut running = self.prometheus.lock().await;
        if let Some(listener) = running.as_ref() {
            let at = listener.local_addr();
            if at.ip() == addr.ip() && (addr.port() == 0 || addr.port() == at.port()) {
                return Ok(at);
            }
            return Err(format!(
                "the exporter already listens on {at}: LD_stop_prometheus_exporter first to move it to {addr}"
            ));
        }
        let listener = HttpListener::bind(
            addr,
            HttpLimits::default(),
            prometheus::handler(Arc::downgrade(state)),
            &state.shutdown_signal(),
        )
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let at = listener.local_addr();
        tracing::info!(%at, "Prometheus exporter started");
        *running = Some(listener);
        Ok(at)
    }

    /// Starts the StatsD sink to `target` (already checked against the
    /// target policy); a running one is stopped first, its last changes
    /// sent (LoadDensity's start rebinds too).
    pub async fn start_statsd(
        &self,
        state: &Arc<State>,
        target: SocketAddr,
        prefix: String,
        interval: std::time::Duration,
    ) -> Result<SocketAddr, String> {
        let mut running = self.statsd.lock().await;
        if let Some(old) = running.take() {
            old.stop().await;
        }
        let sink = StatsdSink::start(state, target, prefix, interval)
            .await
            .map_err(|e| format!("cannot send to {target}: {e}"))?;
        *running = Some(sink);
        Ok(target)
    }

    /// Stops the StatsD sink once its last changes are sent; whether one ran.
    pub async fn stop_statsd(&self) -> bool {
        stop_slot(&self.statsd, StatsdSink::stop).await
    }

    /// Starts the InfluxDB sink to `target` (already checked against the
    /// target policy): where it writes. A running one is stopped first, its
    /// last changes written (LoadDensity's start keeps the running one).
    pub async fn start_influxdb(
        &self,
        state: &Arc<State>,
        target: InfluxTarget,
        measurement: &str,
        interval: std::time::Duration,
    ) -> Result<String, String> {
        let mut running = self.influxdb.lock().await;
        if let Some(old) = running.take() {
            old.stop().await;
        }
        let sink = InfluxdbSink::start(state, target, measurement, interval)
            .await
            .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
        let shown = sink.shown().to_owned();
        tracing::info!(to = %shown, "InfluxDB sink started");
        *running = Some(sink);
        Ok(shown)
    }

    /// Stops the InfluxDB sink once its last changes are written; whether
    /// one ran.
    pub async fn stop_influxdb(&self) -> bool {
        stop_slot(&self.influxdb, InfluxdbSink::stop).await
    }

    /// Starts the OTLP exporter to `url` (already checked against the
    /// target policy) as `service_name`, every `interval`: where it
    /// exports. A running one is stopped first, its last export sent
    /// (LoadDensity's start keeps the running one).
    pub async fn start_otlp(
        &self,
        state: &Arc<State>,
        url: PostUrl,
        service_name: String,
        interval: std::time::Duration,
    ) -> String {
        let mut running = self.otlp.lock().await;
        if let Some(old) = running.take() {
            old.stop().await;
        }
        let exporter = OtlpExporter::start(state, url, service_name, interval);
        let shown = exporter.shown().to_owned();
        tracing::info!(to = %shown, "OTLP exporter started");
        *running = Some(exporter);
        shown
    }

    /// Stops the OTLP exporter once its last export is sent; whether one
    /// ran.
    pub async fn stop_otlp(&self) -> bool {
        stop_slot(&self.otlp, OtlpExporter::stop).await
    }

    /// Stops the StatsD and InfluxDB sinks and the OTLP exporter once their
    /// last figures are sent (each within its own timeout): at shutdown.
    pub async fn stop_sinks(&self) {
        self.stop_statsd().await;
        self.stop_influxdb().await;
        self.stop_otlp().await;
    }

    /// Stops the Prometheus exporter; whether one ran.
    pub async fn stop_prometheus(&self) -> bool {
        stop_slot(&self.prometheus, |listener| async move { listener.stop() }).await
    }
}
