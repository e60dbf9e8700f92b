//! The dashboard actions: `LD_start_dashboard` and `LD_stop_dashboard`
//! (LoadDensity's names and keywords; see [`crate::dashboard`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{ActionContext, ActionError, Args, Registry};
use crate::auth::Scope;
use crate::dashboard::{Dashboard, Settings};

/// How long resolving `host` may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a restart on the same address waits for the old listener to
/// let the port go.
const REBIND_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_start_dashboard", Scope::Write, start_dashboard)
        .register_scoped("LD_stop_dashboard", Scope::Write, stop_dashboard);
}

/// `LD_start_dashboard`'s keywords, LoadDensity's names and defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct StartDashboard {
    host: String,
    port: u16,
    refresh_seconds: f64,
    window_seconds: f64,
}

impl Default for StartDashboard {
    fn default() -> Self {
        let settings = Settings::default();
        StartDashboard {
            host: "127.0.0.1".into(),
            port: 8765,
            refresh_seconds: settings.refresh_seconds,
            window_seconds: settings.window_seconds,
        }
    }
}

/// `LD_start_dashboard(host="127.0.0.1", port=8765, refresh_seconds=1.0,
/// window_seconds=10.0)`: serves the live dashboard there (port 0 picks a
/// free one), where the agent lets an action listen (loopback unless
/// `--allow-observer-addr`). One already running is stopped first and its
/// address given as `restarted_from`, as LoadDensity restarts it.
async fn start_dashboard(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let StartDashboard {
        host,
        port,
        refresh_seconds,
        window_seconds,
    } = args.parse(&["host", "port", "refresh_seconds", "window_seconds"])?;
    let settings = Settings::new(refresh_seconds, window_seconds).map_err(ActionError::new)?;
    let addr = resolve(&host, port).await?;
    let state = ctx.state();
    state.observers().check(addr).map_err(ActionError::new)?;
    let previous = state.dashboard().stop();
    let deadline = tokio::time::Instant::now() + REBIND_TIMEOUT;
    let dashboard = loop {
        match Dashboard::start(state, addr, settings).await {
            Ok(dashboard) => break dashboard,
            // The old listener lets its port go as its task ends.
            Err(error)
                if error.kind() == std::io::ErrorKind::AddrInUse
                    && previous.is_some()
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(error) => {
                let stopped = previous
                    .map(|old| format!(" (the dashboard on {old} was stopped)"))
                    .unwrap_or_default();
                return Err(ActionError::new(format!(
                    "cannot listen on {addr}: {error}{stopped}"
                )));
            }
        }
    };
    let local = dashboard.local_addr();
    // Another start may have raced this one: the last one kept wins, and
    // the one it replaced is stopped.
    let replaced = state.dashboard().put(dashboard);
    Ok(json!({
        "dashboard": format!("http://{local}/"),
        "host": local.ip().to_string(),
        "port": local.port(),
        "refresh_seconds": settings.refresh_seconds,
        "window_seconds": settings.window_seconds,
        "restarted_from": previous.or(replaced).map(|old| old.to_string()),
    }))
}

/// `LD_stop_dashboard()`: stops the dashboard `LD_start_dashboard`
/// started; `{"stopped": ADDR}`, or `null` when none ran.
async fn stop_dashboard(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    let stopped = ctx.state().dashboard().stop();
    Ok(json!({"stopped": stopped.map(|addr| addr.to_string())}))
}

/// `host:port`: an IP address, or a name's first IPv4 address if it has
/// one (as `serve --host` binds), else its first address.
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, ActionError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| ActionError::new(format!("host {host:?}: resolving timed out")))?
        .map_err(|e| ActionError::new(format!("host {host:?}: {e}")))?;
    let mut addrs: Vec<SocketAddr> = found.collect();
    addrs.sort_by_key(|addr| !addr.is_ipv4());
    addrs
        .first()
        .copied()
        .ok_or_else(|| ActionError::new(format!("host {host:?} resolves to no address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_actions_need_the_write_scope() {
        let registry = Registry::with_builtins();
        for name in ["LD_start_dashboard", "LD_stop_dashboard"] {
            assert_eq!(registry.scope_of(name), Some(Scope::Write), "{name}");
        }
    }
}
