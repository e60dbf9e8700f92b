//! The Prometheus side: rendering a scrape ([`render`]) with
//! prometheus-client's OpenMetrics text encoder, and the [`Handler`] of an
//! exporter's [`HttpListener`](crate::observe::HttpListener) that renders
//! the state's figures since start on every request (any path, as
//! `prometheus_client.start_http_server` answers).

use std::sync::{Arc, Weak};

use http::{Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::registry::Registry;

use super::{AgentMetrics, RequestMetrics};
use crate::figures::Figures;
use crate::observe::{text, Body, Handler};
use crate::state::State;

/// The scrape's content type (prometheus-client encodes OpenMetrics text,
/// which Prometheus asks for first).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A scrape's text: the request metrics of `figures`, then `extra`'s.
pub fn render(figures: Figures, extra: Option<Box<dyn Collector>>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(RequestMetrics::new(figures)));
    if let Some(extra) = extra {
        registry.register_collector(extra);
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// Answers every request with the agent's own metrics, then the request
/// metrics of `state`'s figures since start (`serve --metrics`).
pub fn agent_handler(state: Weak<State>) -> Handler {
    Arc::new(move |_request| {
        let state = state.upgrade();
        Box::pin(async move {
            match state {
                Some(state) => {
                    let agent = AgentMetrics::read(
                        state.metrics_outputs().agent(),
                        state.security().figures(),
                        state.engine().status(),
                    );
                    text(
                        StatusCode::OK,
                        CONTENT_TYPE,
                        render(state.figures_since_start(), Some(Box::new(agent))),
                    )
                }
                None => gone(),
            }
        })
    })
}

fn gone() -> Response<Body> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        "the agent is shutting down\n",
    )
}

/// Answers every request with the request metrics of `state`'s figures
/// since start (503 once the state is gone).
pub fn handler(state: Weak<State>) -> Handler {
    Arc::new(move |_request| {
        let state = state.upgrade();
        Box::pin(async move {
            match state {
                Some(state) => text(
                    StatusCode::OK,
                    CONTENT_TYPE,
                    render(state.figures_since_start(), None),
                ),
                None => gone(),
            }
        })
    })
}
