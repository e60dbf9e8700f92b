//! `ld-tower demo`: ld-tower at work on this machine alone, in one command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::human;
use super::progress::{Line, Progress};
use super::EXIT_FAILURE;
use crate::demo::{self, Target};
use ld_tower::control::Control;

/// `ld-tower demo`'s flags.
#[derive(Debug, Args)]
#[command(
    after_help = "It starts a small HTTP API on 127.0.0.1 (login, profile, items, search, \
and an endpoint failing 8% of the time), runs a test against it through the same engine and \
actions a served test uses (a login-then-profile chain with an extracted token, assertions, \
thresholds), prints the summary, and writes report.html, report.json and junit.xml into the \
folder it names.\n\nExit: 0 when the demo ran (a failed threshold is shown, not an error); 1 \
when it could not."
)]
pub(crate) struct DemoArgs {
    /// Where the reports go (created if need be). Default: ld-tower-demo-DATE-TIME here.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,

    /// Virtual users.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub(crate) users: u64,

    /// How long the test runs, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) seconds: f64,

    /// Never draw the live progress line.
    #[arg(long)]
    pub(crate) no_progress: bool,
}

/// Runs `ld-tower demo`.
pub(super) async fn run(args: DemoArgs) -> ExitCode {
    match demo(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ld-tower: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn demo(args: DemoArgs) -> Result<ExitCode, String> {
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err("--seconds must be from 0 to 3600".into());
    }
    let dir = args.dir.unwrap_or_else(|| {
        PathBuf::from(format!(
            "ld-tower-demo-{}",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        ))
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir_text = dir
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", dir.display()))?
        .to_owned();
    let target = Target::start()
        .await
        .map_err(|e| format!("cannot start the demo target: {e}"))?;
    println!(
        "Demo target: {} (login, profile, items, search, flaky)\nRunning {} users for {} s...",
        target.url(),
        args.users,
        args.seconds
    );
    let control = Control::default();
    let progress = Progress::start(
        Arc::clone(control.state()),
        Line::default(),
        !args.no_progress && std::io::stderr().is_terminal(),
    );
    let reply = control
        .run(&demo::actions(
            &target.url(),
            &dir_text,
            args.users,
            args.seconds,
        ))
        .await;
    progress.finish().await;
    drop(target);
    let lines: Vec<String> = reply
        .pieces()
        .iter()
        .map(|piece| String::from_utf8_lossy(piece).trim_end().to_owned())
        .collect();
    if let Some(error) = lines.iter().find(|l| l.starts_with("Error: ")) {
        return Err(format!("the demo failed: {error}"));
    }
    let summary = control.state().figures(|f| f.summary());
    human::write_summary(
        &mut std::io::stdout().lock(),
        &summary,
        control.state().last_run().as_ref(),
    )
    .map_err(|e| format!("cannot write the summary: {e}"))?;
    println!("\nReports in {}:", dir.display());
    for name in ["report.html", "report.json", "junit.xml"] {
        println!("  {}", dir.join(name).display());
    }
    println!("Open report.html in a browser: one self-contained file, charts included.");
    Ok(ExitCode::SUCCESS)
}
