//! `ld-tower token-hash`: reads a token on stdin and prints the token
//! file's line for it, so the token itself is never written to disk.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Args;

use super::EXIT_FAILURE;
use ld_tower::auth::token_line;

/// `ld-tower token-hash`'s arguments (none: the token comes on stdin).
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    head -c 32 /dev/urandom | base64 > ci.token\n  \
    ld-tower token-hash < ci.token\n\
    prints token_sha256 = \"...\" for a [[principal]] of the --token-file.\n\
    One trailing line break (\\n or \\r\\n) is not part of the token.\n\
Exit: 0 with the line printed; 1 when the token is empty or stdin unreadable.")]
pub(crate) struct TokenHashArgs {}

/// Runs `ld-tower token-hash`.
pub(super) fn run(_args: &TokenHashArgs) -> ExitCode {
    let mut token = Vec::new();
    if let Err(error) = std::io::stdin().take(64 * 1024).read_to_end(&mut token) {
        eprintln!("ld-tower: cannot read the token from stdin: {error}");
        return ExitCode::from(EXIT_FAILURE);
    }
    let token = token
        .strip_suffix(b"\r\n")
        .or_else(|| token.strip_suffix(b"\n"))
        .unwrap_or(&token);
    if token.is_empty() {
        eprintln!("ld-tower: no token on stdin (an empty token is refused)");
        return ExitCode::from(EXIT_FAILURE);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", token_line(token));
    let _ = out.flush();
    ExitCode::SUCCESS
}
