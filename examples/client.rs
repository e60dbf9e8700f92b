//! The library client, [`ld_tower::client::Client`], in a dozen lines: it
//! sends one request to a control socket and prints the reply.
//!
//! The request is `{"load_density": [["LD_summary", {}], ["LD_clear_records", {}]]}`:
//! the figures gathered so far, then clear them. With a token the client
//! wraps the request in an envelope (`{"token": ..., "command": ...}`) for
//! you.
//!
//! ```text
//! cargo run --example client -- HOST:PORT [--framed] [--token T]
//! ```
//!
//! `--framed` talks to a server started with `--framed`; without it the
//! client speaks the legacy framing (one raw request per connection). The
//! token may also come from `LOAD_DENSITY_SOCKET_TOKEN`, like the server's.
//! For instance, against `ld-tower serve --framed --port 9940 --token s3cret`:
//!
//! ```text
//! cargo run --example client -- 127.0.0.1:9940 --framed --token s3cret
//! ```
//!
//! It prints each result line. Exit status: 0 when every line is a result,
//! 1 when any line is an error (`Error: ...`, a refused token included) or
//! the reply was cut short, 2 when the server could not be reached or the
//! arguments are wrong.

use std::process::ExitCode;

use ld_tower::client::{Client, ClientConfig};
use ld_tower::codec::Framing;

const REQUEST: &str = r#"{"load_density": [["LD_summary", {}], ["LD_clear_records", {}]]}"#;
const USAGE: &str = "usage: client HOST:PORT [--framed] [--token T]";
/// The server's own token variable, so one `export` serves both.
const TOKEN_ENV: &str = "LOAD_DENSITY_SOCKET_TOKEN";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if std::env::args().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}\nSends LD_summary then LD_clear_records and prints the result lines.");
        return ExitCode::SUCCESS;
    }
    let (addr, config) = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let client = Client::new(addr, config);
    let response = match client.send(REQUEST).await {
        Ok(response) => response,
        Err(error) => {
            eprintln!("client: {error}");
            return ExitCode::from(2);
        }
    };
    for line in &response.lines {
        println!("{line}");
    }
    if response.has_errors() {
        return ExitCode::from(1);
    }
    if !response.terminated {
        eprintln!("client: the reply ended before its terminator");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `HOST:PORT [--framed] [--token T]`, in any order.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(String, ClientConfig), String> {
    let mut addr = None;
    let mut config = ClientConfig {
        token: std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()),
        ..ClientConfig::default()
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--framed" => config.framing = Framing::Framed,
            "--token" => {
                let token = args.next().ok_or("--token needs a value")?;
                if token.is_empty() {
                    return Err("--token must not be empty".into());
                }
                config.token = Some(token);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}")),
            _ if addr.is_some() => return Err(format!("unexpected argument {arg:?}")),
            _ => addr = Some(arg),
        }
    }
    let addr = addr.ok_or("HOST:PORT is missing")?;
    Ok((addr, config))
}
