//! `ld-tower serve`: binds, prints `Server started on HOST:PORT`, serves
//! until a quit request or SIGINT/SIGTERM, prints `Server shutdown complete`.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use super::duration::parse_duration;
use super::network::NetworkArgs;
use super::policy::PolicyArgs;
use super::size::parse_size;
use super::EXIT_FAILURE;
use ld_tower::acceptor::{ClientCerts, PlainAcceptor, TlsAcceptor};
use ld_tower::actions::Registry;
use ld_tower::audit::Audit;
use ld_tower::auth::{Principals, TokenFile};
use ld_tower::codec::Framing;
use ld_tower::control::Control;
use ld_tower::dashboard::{Dashboard, Settings};
use ld_tower::engine::{self, Descriptors, EngineLimits};
use ld_tower::metrics::prometheus;
use ld_tower::observe::{HttpLimits, HttpListener};
use ld_tower::paths::Paths;
use ld_tower::protocol::{MAX_REQUEST_BYTES, TOKEN_ENV};
use ld_tower::resolver::{EnvPolicy, SourceBudget};
use ld_tower::server::{self, Limits, Server};
use ld_tower::stack::ControlStack;
use ld_tower::state::State;

/// `ld-tower serve`'s flags: LoadDensity's, spelled the same, then ld-tower's
/// limits.
#[derive(Debug, Args)]
#[command(after_help = "Durations: 30 (seconds), 1.5, 250ms, 2m, 1h.\n\
Exit: 0 after a clean shutdown (quit request, SIGINT or SIGTERM); 1 when start-up fails.")]
pub(crate) struct ServeArgs {
    /// Address to bind: IPv4, IPv6 or a name. A name binds its first IPv4 address if it has one.
    #[arg(long, default_value = "localhost")]
    pub(crate) host: String,

    /// Port to bind; 0 asks the OS for a free one (the `Server started on` line shows it).
    #[arg(long, default_value_t = 9940)]
    pub(crate) port: u16,

    /// Length-prefixed frames (4-byte big-endian length, then the body) instead of one raw
    /// request per connection; a framed connection carries many requests.
    #[arg(long)]
    pub(crate) framed: bool,

    /// Shared secret: every request must then be an envelope {"token": ..., "command": ...}.
    /// Repeat it to accept several tokens at once (rotation without downtime). Each is the
    /// principal "token", with every scope. Unset (and no --token-file or --tls-client-ca): no
    /// auth.
    #[arg(long, env = TOKEN_ENV, hide_env_values = true, action = clap::ArgAction::Append)]
    pub(crate) token: Vec<String>,

    /// Principals, each with a name, scopes (read, run, write, admin) and a token's SHA-256
    /// (`ld-tower token-hash` prints it) or a client certificate's name (san): TOML
    /// [[principal]] tables (see the README). An action outside the principal's scopes gets
    /// "Error: <action>: forbidden for <principal>". Reloaded on SIGHUP without dropping
    /// connections (a bad file then keeps the old principals, and the log says why). --token's
    /// tokens stay valid beside it, with every scope.
    #[arg(long, value_name = "PRINCIPALS.toml")]
    pub(crate) token_file: Option<PathBuf>,

    /// PEM certificate chain: serve TLS 1.2/1.3 (needs --tls-key).
    #[arg(long, value_name = "CERT.pem")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "KEY.pem")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Mutual TLS: require a client certificate issued by a CA of this PEM file (and valid now).
    /// A verified certificate is a principal: the --token-file's [[principal]] whose san it
    /// carries, or, without a --token-file, one with every scope; its commands need no token.
    #[arg(long, value_name = "CA.pem", requires = "tls_cert")]
    pub(crate) tls_client_ca: Option<PathBuf>,

    /// With --tls-client-ca: a client certificate must carry this subject alternative name
    /// (DNS name, IP address, e-mail or URI; case-insensitive). Repeatable; unset: any name.
    #[arg(long, value_name = "NAME", requires = "tls_client_ca", action = clap::ArgAction::Append)]
    pub(crate) tls_client_san: Vec<String>,

    /// Append an audit trail to this file (JSON lines, created 0600, written at once): each
    /// command's time, peer, principal, actions and their outcomes; refused requests, failed
    /// authentications, refused client certificates and token-file reloads. Never a token.
    #[arg(long, value_name = "PATH")]
    pub(crate) audit_log: Option<PathBuf>,

    /// Serve the agent's own metrics for Prometheus on this address (e.g. 127.0.0.1:9647; port 0
    /// picks one, printed as `Metrics on ADDR` before `Server started on`): control connections
    /// open, accepted and refused, actions by name and outcome, authentication failures, command
    /// durations, the running test's users and rate, and LD_start_prometheus_exporter's
    /// loaddensity_* request metrics. Any address: the operator's choice.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<SocketAddr>,

    /// Open connections at most; past it new connections are closed at once.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: u32,

    /// Requests of one framed connection run at once; 1 runs pipelined requests one after
    /// the other (always answered in order).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_in_flight: u32,

    /// Close a connection idle this long (nothing in flight), or holding part of a request.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub(crate) read_timeout: Duration,

    /// Close a connection whose TLS handshake takes longer than this.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) handshake_timeout: Duration,

    /// Cancel a command running longer than this, replying "Error: timed out ...". Default:
    /// no limit (a load test may run for hours).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) command_timeout: Option<Duration>,

    /// On shutdown, how long commands already running may take to finish.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) grace_period: Duration,

    /// Requests larger than this get an "Error: request ... is over the limit" reply (the
    /// protocol's own cap, 1 MiB, closes the connection instead).
    #[arg(long, default_value_t = MAX_REQUEST_BYTES, value_parser = parse_request_bytes)]
    pub(crate) max_request_bytes: usize,

    /// The most one command's reply may hold (all its lines), e.g. 16MiB. Results are measured as
    /// they come: one that does not fit is replaced by an error line, and the actions after it do
    /// not run (a last line says how many).
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub(crate) max_reply_bytes: usize,

    /// Bytes held for replies not yet read by their clients, across all connections, e.g. 256MiB
    /// (a request being answered counts as its size until its reply is made). Past it,
    /// connections whose clients stopped reading are closed, the biggest first. (Each connection
    /// also stops reading requests while 256 KiB of its replies wait.)
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub(crate) max_unsent_bytes: usize,

    /// Bytes of requests received and not yet handed on, across all connections, e.g. 64MiB. Past
    /// it, the connections never admitted (no request of theirs has passed auth) holding the
    /// oldest partial requests are closed (a client sends its request at once), then those whose
    /// clients stopped reading.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub(crate) max_partial_bytes: usize,

    /// Let clients name any file path (reports, databases, CSV and action files). By default
    /// paths are confined to the server's working directory: no absolute path, no `..` out.
    #[arg(long)]
    pub(crate) allow_any_path: bool,

    /// Let `${env.NAME}` in clients' tests read the environment variable NAME; repeatable. By
    /// default a served agent hands none of its environment (credentials, tokens) to clients:
    /// a test naming any other `${env.NAME}` is refused when it starts, naming this flag.
    #[arg(long, value_name = "NAME", action = clap::ArgAction::Append, value_parser = parse_env_name)]
    pub(crate) allow_env: Vec<String>,

    /// The most memory CSV and database sources may hold at once, registered or loading, all
    /// together (e.g. 512MiB). Bytes are counted as they are read; a source that would pass it
    /// is refused, naming this flag; LD_clear_resolver frees registered ones.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub(crate) max_source_bytes: usize,

    /// Serve without a token on an address other than loopback. Anyone who can reach the port
    /// can then run load tests from this machine.
    #[arg(long)]
    pub(crate) insecure_no_auth: bool,

    /// Memory a load test may cost (e.g. 4GiB, 512MiB), estimated before it starts from its
    /// users and request names and the records' figures; a test over it is refused with a
    /// message naming this flag, and what the estimate leaves bounds the response bodies and
    /// headers its users keep. Default: half of this machine's memory, or of the cgroup's
    /// limit if lower.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_memory: Option<usize>,

    /// Serve the live dashboard on this address (e.g. 127.0.0.1:8765; port 0 picks a free one, shown
    /// on a `Dashboard on` line): the page at /, the figures at /snapshot (JSON) and /events
    /// (server-sent events). It binds where it says and has no auth: it shows the tests' names and
    /// failures to whoever reaches it (a client's LD_start_dashboard binds loopback only, unless
    /// --allow-observer-addr).
    #[arg(long, value_name = "ADDR")]
    pub(crate) dashboard: Option<SocketAddr>,

    /// How load tests reach their targets.
    #[command(flatten)]
    pub(crate) network: NetworkArgs,

    /// What clients' load tests may reach and ask for (boxed: it is large).
    #[command(flatten)]
    pub(crate) policy: Box<PolicyArgs>,

    /// Diagnostics on stderr, as a tracing filter (e.g. "debug", or
    /// "info,ld_tower_layers=info" for one line per request).
    #[arg(
        long,
        env = "LD_TOWER_LOG",
        default_value = "info,ld_tower_layers=warn"
    )]
    pub(crate) log: String,
}

fn parse_env_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['=', '\0']) {
        return Err("must be an environment variable's name (not empty, no '=')".into());
    }
    Ok(text.to_owned())
}

fn parse_request_bytes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_REQUEST_BYTES).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a byte count from 1 to {MAX_REQUEST_BYTES}"
        )),
    }
}

/// Runs `ld-tower serve`.
pub(super) async fn run(args: ServeArgs) -> ExitCode {
    init_tracing(&args.log);
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ld-tower: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|error| {
        eprintln!("ld-tower: ignoring bad --log filter {filter:?}: {error}");
        EnvFilter::new("info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    check_tokens(&args.token)?;
    let file = args
        .token_file
        .as_deref()
        .map(TokenFile::load)
        .transpose()?;
    let authenticated = !args.token.is_empty() || file.is_some() || args.tls_client_ca.is_some();
    let principals = Principals::new(&args.token, file);
    let audit = args
        .audit_log
        .as_deref()
        .map(|path| {
            Audit::open(path)
                .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))
        })
        .transpose()?;
    let clients = args
        .tls_client_ca
        .as_deref()
        .map(|ca| ClientCerts::from_ca_file(ca, &args.tls_client_san, principals.clone()))
        .transpose()
        .map_err(|e| e.to_string())?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            TlsAcceptor::from_pem_files_with_clients(cert, key, clients)
                .map_err(|e| e.to_string())?,
        ),
        (Some(_), None) => return Err("--tls-cert needs --tls-key (give both or neither)".into()),
        (None, Some(_)) => return Err("--tls-key needs --tls-cert (give both or neither)".into()),
        (None, None) => None,
    };
    let network = args
        .network
        .network()?
        .with_policy(args.policy.targets(true));
    let listener = bind(&args.host, args.port).await?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    protect(&args, local, authenticated)?;
    if let Some(path) = &args.token_file {
        reload_on_hangup(path.clone(), principals.clone(), audit.clone())?;
    }
    let stack = ControlStack::new()
        .tokens(authenticated.then(|| principals.tokens().clone()))
        .audit(audit.clone())
        .command_timeout(args.command_timeout)
        .max_request_bytes(args.max_request_bytes);
    let limits = Limits {
        max_connections: args.max_connections as usize,
        max_in_flight: args.max_in_flight as usize,
        read_timeout: args.read_timeout,
        handshake_timeout: args.handshake_timeout,
        grace_period: args.grace_period,
        max_unsent_bytes: args.max_unsent_bytes,
        max_partial_bytes: args.max_partial_bytes,
        ..Limits::default()
    };
    let framing = if args.framed {
        Framing::Framed
    } else {
        Framing::Legacy
    };
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let paths = if args.allow_any_path {
        Paths::unconfined(cwd)
    } else {
        Paths::confined(cwd)
    }
    .with_max_file_bytes(args.policy.max_file_bytes(true));
    // The engine's connections stay below the open-file limit, less what
    // the control socket's --max-connections and files need.
    let open_files = engine::raise_open_file_limit();
    let engine_limits = EngineLimits {
        max_memory: args
            .max_memory
            .map(|bytes| bytes as u64)
            .or_else(engine::default_max_memory),
        descriptors: Arc::new(Descriptors::under_limit(
            open_files,
            args.max_connections as usize,
        )),
    };
    let state = State::new(paths)
        .with_network(network)
        .with_env(EnvPolicy::only(&args.allow_env))
        .with_source_budget(SourceBudget::limited(args.max_source_bytes as u64))
        .with_engine_limits(engine_limits)
        .with_caps(args.policy.caps(true))
        .with_observers(args.policy.observers(true));
    let control = Control::with_state(Registry::with_builtins(), state)
        .max_reply_bytes(args.max_reply_bytes)
        .audit(audit.clone());
    let signalled = shutdown_signal(control.quit_signal())?;
    let state = control.state().clone();
    let dashboard = match args.dashboard {
        Some(addr) => Some(
            Dashboard::start(&state, addr, Settings::default())
                .await
                .map_err(|e| format!("cannot serve the dashboard on {addr}: {e}"))?,
        ),
        None => None,
    };
    let counters = Arc::clone(state.security());
    let agent = Arc::clone(state.metrics_outputs().agent());
    let _metrics = match args.metrics {
        Some(addr) => {
            let handler = prometheus::agent_handler(Arc::downgrade(&state));
            let listener = HttpListener::bind(
                addr,
                HttpLimits::default(),
                handler,
                &state.shutdown_signal(),
            )
            .await
            .map_err(|e| format!("--metrics {addr}: cannot listen: {e}"))?;
            announce(&format!("Metrics on {}", listener.local_addr()));
            Some(listener)
        }
        None => None,
    };
    let sinks = Arc::clone(&state);
    let shutdown = async move {
        signalled.await;
        // A running load test stops now, not at the end of the grace period.
        state.begin_shutdown();
    };
    announce(&format!("Server started on {}:{}", args.host, local.port()));
    if let Some(dashboard) = &dashboard {
        let addr = dashboard.local_addr();
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the dashboard has no auth: whoever reaches it sees the tests' names and failures");
        }
        announce(&format!("Dashboard on http://{addr}/"));
    }
    let served = match tls {
        Some(tls) => {
            Server::new(listener, tls)
                .audit(audit)
                .security_counters(Arc::clone(&counters))
                .agent_counters(agent)
                .framing(framing)
                .limits(limits)
                .serve(stack, control, shutdown)
                .await
        }
        None => {
            Server::new(listener, PlainAcceptor)
                .security_counters(counters)
                .agent_counters(agent)
                .framing(framing)
                .limits(limits)
                .serve(stack, control, shutdown)
                .await
        }
    };
    // The sinks and exporters send their last figures (each within its
    // own timeout) before the process ends.
    sinks.metrics_outputs().stop_sinks().await;
    served.map_err(|e| format!("serving failed: {e}"))?;
    announce("Server shutdown complete");
    Ok(())
}

/// One line on stdout, flushed at once (scripts wait for it).
fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn check_tokens(given: &[String]) -> Result<(), String> {
    if given.iter().any(String::is_empty) {
        return Err(format!(
            "an empty token is refused: give --token (or {TOKEN_ENV}) a secret, or leave it unset to serve without auth"
        ));
    }
    Ok(())
}

/// On each SIGHUP, reads the token file again: a good file replaces the
/// principals (connections stay open, their next command is checked
/// against the new ones); a bad one keeps the old, and says why.
fn reload_on_hangup(
    path: PathBuf,
    principals: Principals,
    audit: Option<Audit>,
) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups =
        signal(SignalKind::hangup()).map_err(|e| format!("cannot watch SIGHUP: {e}"))?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match TokenFile::load(&path) {
                Ok(file) => {
                    let (tokens, certificates) = (file.tokens.len(), file.certificates.len());
                    principals.reload(file);
                    tracing::info!(path = %path.display(), tokens, certificates, "token file reloaded");
                    if let Some(audit) = &audit {
                        audit.reload(None);
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "token file not reloaded; the principals already loaded stay");
                    if let Some(audit) = &audit {
                        audit.reload(Some(&error));
                    }
                }
            }
        }
    });
    Ok(())
}

/// Binds `host:port`; a name binds its first IPv4 address if it has one (as
/// LoadDensity's IPv4 server did), else its first address.
async fn bind(host: &str, port: u16) -> Result<TcpListener, String> {
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve --host {host:?}: {e}"))?
        .collect();
    addrs.sort_by_key(|addr| !addr.is_ipv4());
    let addr = addrs
        .first()
        .ok_or_else(|| format!("--host {host:?} resolves to no address"))?;
    server::bind(*addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Protected mode: no authentication (token, token file or client
/// certificates) on a non-loopback address is refused unless
/// `--insecure-no-auth`; a token without TLS there gets a warning.
fn protect(args: &ServeArgs, local: SocketAddr, has_token: bool) -> Result<(), String> {
    if local.ip().is_loopback() {
        return Ok(());
    }
    if !has_token && !args.insecure_no_auth {
        return Err(format!(
            "refusing to serve {} without a token: anyone who can reach it could run load tests from this machine. \
             Set --token (or {TOKEN_ENV}), --token-file or --tls-client-ca, or pass --insecure-no-auth to serve it anyway",
            local.ip()
        ));
    }
    if has_token && args.tls_cert.is_none() {
        tracing::warn!(
            address = %local.ip(),
            "the token travels in clear on a non-loopback address: serve TLS with --tls-cert and --tls-key"
        );
    }
    Ok(())
}

/// Completes on a quit request, SIGINT or SIGTERM.
fn shutdown_signal(
    quit: tokio_util::sync::CancellationToken,
) -> Result<impl std::future::Future<Output = ()> + Send, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    Ok(async move {
        tokio::select! {
            () = quit.cancelled() => tracing::info!("quit requested"),
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    })
}
