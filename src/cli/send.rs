//! `ld-tower send`: sends one request, prints each result line, exits
//! non-zero if any line is an error.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::duration::{parse_duration, parse_limit};
use super::{EXIT_FAILURE, EXIT_NO_REPLY};
use ld_tower::client::{Client, ClientConfig, ClientTls, Mismatch};
use ld_tower::codec::Framing;
use ld_tower::protocol::TOKEN_ENV;

/// `ld-tower send`'s arguments.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit: 0 when every result line succeeded; 1 when a line is an error \
(an action failed, or the request was refused); 2 on bad usage; 3 when no complete reply came \
(cannot connect, TLS failure, timeout, a server speaking another framing or no TLS).\n\n\
Waiting: by default send waits for the reply as long as the command runs (a 90 s load test's \
results come after 90 s); --timeout D gives up after D without a byte from the server; \
--connect-timeout (10 s) bounds connecting, the handshake and writing the request.\n\n\
Errors name the server's address and, when the server speaks another framing or transport, \
the flag that is likely missing: --framed (a framed server closes an unframed request without \
a reply), no --framed (a legacy server's text read as a frame's length), --tls-ca (a TLS server), \
no --tls-ca (a plain server)."
)]
pub(crate) struct SendArgs {
    /// The request: action JSON (e.g. '{"load_density": [["LD_summary", {}]]}'), quit_server,
    /// @FILE to read it from a file, or - to read it from stdin.
    pub(crate) request: String,

    /// Server address (name, IPv4 or IPv6).
    #[arg(long, default_value = "localhost")]
    pub(crate) host: String,

    /// Server port.
    #[arg(long, default_value_t = 9940)]
    pub(crate) port: u16,

    /// The server uses length-prefixed frames (serve --framed).
    #[arg(long)]
    pub(crate) framed: bool,

    /// Shared secret: the request is sent in an envelope {"token": ..., "command": ...}
    /// (quit_server becomes {"token": ..., "op": "quit"}).
    #[arg(long, env = TOKEN_ENV, hide_env_values = true)]
    pub(crate) token: Option<String>,

    /// Connect with TLS, trusting the CA certificates in this PEM file.
    #[arg(long, value_name = "CA.pem")]
    pub(crate) tls_ca: Option<PathBuf>,

    /// Present this client certificate chain (PEM) to a server requiring one (mutual TLS);
    /// needs --tls-key and --tls-ca.
    #[arg(long, value_name = "CERT.pem", requires_all = ["tls_key", "tls_ca"])]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// The name the server's certificate must carry (default: --host).
    #[arg(long, requires = "tls_ca")]
    pub(crate) tls_server_name: Option<String>,

    /// Give up when the server sends nothing for this long while the reply is awaited. A
    /// server sends nothing while a command runs, so this bounds the whole command: with a
    /// limit, a load test longer than it is given up on. 0 (the default) waits as long as the
    /// command runs (TCP keepalive still notices a server whose machine vanished).
    #[arg(long, default_value = "0", value_parser = parse_limit, value_name = "D")]
    pub(crate) timeout: Duration,

    /// Give up when connecting, the TLS handshake or writing the request takes longer.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "D")]
    pub(crate) connect_timeout: Duration,
}

/// Runs `ld-tower send`.
pub(super) async fn run(args: SendArgs) -> ExitCode {
    match send(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ld-tower: {message}");
            ExitCode::from(EXIT_NO_REPLY)
        }
    }
}

fn read_request(request: &str) -> Result<String, String> {
    if request == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the request from stdin: {e}"))?;
        Ok(text)
    } else if let Some(path) = request.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the request from {path}: {e}"))
    } else {
        Ok(request.to_owned())
    }
}

async fn send(args: SendArgs) -> Result<ExitCode, String> {
    let request = read_request(&args.request)?;
    let tls = match &args.tls_ca {
        None => None,
        Some(ca) => {
            let name = args.tls_server_name.as_deref().unwrap_or(&args.host);
            let tls = match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => ClientTls::with_client_cert_files(ca, name, cert, key),
                _ => ClientTls::from_ca_file(ca, name),
            };
            Some(tls.map_err(|e| e.to_string())?)
        }
    };
    if args.token.as_deref() == Some("") {
        return Err(format!(
            "an empty token is refused (--token or {TOKEN_ENV})"
        ));
    }
    let config = ClientConfig {
        framing: if args.framed {
            Framing::Framed
        } else {
            Framing::Legacy
        },
        tls,
        token: args.token,
        timeout: args.timeout,
        connect_timeout: args.connect_timeout,
        ..ClientConfig::default()
    };
    let host = if args.host.contains(':') && !args.host.starts_with('[') {
        format!("[{}]", args.host)
    } else {
        args.host.clone()
    };
    let client = Client::new(format!("{host}:{}", args.port), config);
    let response = client.send(&request).await.map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for line in &response.lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    if response.lines.is_empty() && !response.terminated {
        return Err(if !args.framed && !request.trim().is_empty() {
            // A legacy server answers every request that is not blank; a
            // framed one closes at an unframed request's first 4 bytes.
            Mismatch::FramedServer.explain(client.addr())
        } else {
            format!(
                "the server at {} closed the connection without a reply",
                client.addr()
            )
        });
    }
    Ok(if response.has_errors() {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}
