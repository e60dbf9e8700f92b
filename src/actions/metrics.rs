//! The metrics actions: `LD_start_prometheus_exporter` and
//! `LD_stop_prometheus_exporter` (see [`crate::metrics`]).

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;
use serde_json::{json, Value};

use super::{ActionContext, ActionError, Args, Registry};
use crate::auth::Scope;

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
