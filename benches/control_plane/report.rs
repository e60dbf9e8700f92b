//! What the control-plane bench prints: the table of scenarios, the ratios
//! against the original and the goals, and notes on reading them.

use crate::clients::Mode;
use crate::scenarios::Row;
use crate::servers::Kind;
use crate::tls::{CertKind, Handshake, TlsCase};
use crate::{LOOPBACK_CONNECT_CAP, NOISE_LIMIT};

/// The table of scenarios, and their errors.
pub(crate) fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<44} {:<10} {:>7} {:>10} {:>8} {:>8} {:>15} {:>8} {:>8} {:>12} {:>6} {:>4}",
        "scenario",
        "server",
        "resumed",
        "commands/s",
        "p50 ms",
        "p99 ms",
        "srv CPU us/cmd",
        "srv CPU",
        "cli CPU",
        "other c0/c1",
        "errors",
        "runs"
    );
    println!("{}", "-".repeat(145));
    let mut noisy = false;
    for row in rows {
        let cpu = row
            .cpu_us_per_command()
            .map_or_else(|| "n/a".to_owned(), |us| format!("{us:.1}"));
        let pct = |cpu: Option<f64>| {
            cpu.map_or_else(
                || "n/a".to_owned(),
                |s| format!("{:.0}%", 100.0 * s / row.seconds),
            )
        };
        let other = row.other_load().map_or_else(
            || "n/a".to_owned(),
            |[c0, c1]| {
                let mark = if c0.max(c1) > NOISE_LIMIT { "!" } else { "" };
                noisy |= !mark.is_empty();
                format!("{:.0}%/{:.0}%{mark}", 100.0 * c0, 100.0 * c1)
            },
        );
        let errors: u64 = row.errors.values().sum();
        let resumed = row
            .resumed_share()
            .map_or_else(|| "-".to_owned(), |share| format!("{:.0}%", 100.0 * share));
        println!(
            "{:<44} {:<10} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>15} {:>8} {:>8} {:>12} {:>6} {:>4}",
            row.scenario(),
            row.server.name(),
            resumed,
            row.rate(),
            row.p50_ms,
            row.p99_ms,
            cpu,
            pct(row.server_cpu_s),
            pct(row.client_cpu_s),
            other,
            errors,
            row.runs
        );
    }
    if noisy {
        println!(
            "! other processes kept core 0 or 1 more than 10% busy in every run of this scenario: \
             its figures are disturbed; rerun on a quiet machine"
        );
    }
    let mut any_errors = false;
    for row in rows.iter().filter(|row| !row.errors.is_empty()) {
        if !any_errors {
            println!("\nerrors:");
            any_errors = true;
        }
        for (why, n) in row.errors.iter().take(5) {
            println!("  {} / {}: {n} x {why}", row.scenario(), row.server.name());
        }
    }
}

/// The row of `server` over `tls` in `mode` (kept connections: any
/// handshake).
fn find(rows: &[Row], server: Kind, tls: Option<TlsCase>, mode: Mode) -> Option<&Row> {
    rows.iter().find(|row| {
        let same_tls = match (row.tls, tls) {
            (Some(a), Some(b)) if mode == Mode::Kept => a.cert == b.cert,
            (a, b) => a == b,
        };
        row.server == server && same_tls && row.mode == mode
    })
}

/// The goal for server CPU per command, one per connection, as a ratio
/// original / ld-tower: plain 10x; TLS full handshakes 2x with RSA-2048,
/// 4x with ECDSA P-256; none for resumed handshakes.
fn cpu_goal(tls: Option<TlsCase>) -> Option<f64> {
    match tls.map(|case| (case.cert, case.handshake)) {
        None => Some(10.0),
        Some((CertKind::Rsa2048, Handshake::Full)) => Some(2.0),
        Some((CertKind::EcdsaP256, Handshake::Full)) => Some(4.0),
        Some((_, Handshake::Resumed)) => None,
    }
}

/// `met` or `MISSED`.
fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio >= target {
        "met"
    } else {
        "MISSED"
    }
}

/// ld-tower against the original (and the floor), with the goals.
pub(crate) fn print_ratios(rows: &[Row], peer_version: &str) {
    println!("\nld-tower vs the original (je_load_density {peer_version}):");
    let cases = rows
        .iter()
        .filter(|row| row.server == Kind::LdTower && row.mode == Mode::PerConnection)
        .map(|row| row.tls);
    for tls in cases {
        let scenario = match tls {
            None => "plain".to_owned(),
            Some(case) => format!("TLS {} {}", case.cert.name(), case.handshake.name()),
        };
        let cpu =
            |kind| find(rows, kind, tls, Mode::PerConnection).and_then(Row::cpu_us_per_command);
        match (cpu(Kind::LdTower), cpu(Kind::Original)) {
            (Some(ours), Some(theirs)) if ours > 0.0 => {
                let ratio = theirs / ours;
                let goal = cpu_goal(tls).map_or_else(String::new, |goal| {
                    format!(" (target >= {goal}x: {})", verdict(ratio, goal))
                });
                println!(
                    "  server CPU per command, one per connection, {scenario}: \
                     {theirs:.1} us / {ours:.1} us = {ratio:.1}x lower{goal}"
                );
            }
            _ => println!(
                "  server CPU per command, one per connection, {scenario}: n/a (no figure)"
            ),
        }
    }
    let cpu = |kind| find(rows, kind, None, Mode::PerConnection).and_then(Row::cpu_us_per_command);
    if let (Some(floor), Some(ours), Some(theirs)) =
        (cpu(Kind::Floor), cpu(Kind::LdTower), cpu(Kind::Original))
    {
        if floor > 0.0 {
            println!(
                "  the floor, plain, one per connection: a bare tokio server (fixed reply, no parsing) costs \
                 {floor:.1} us per command here, so no tokio server can be more than {:.1}x lower than the \
                 original on this machine; ld-tower costs {:.2}x the floor",
                theirs / floor,
                ours / floor
            );
        }
    }
    let best = rows
        .iter()
        .filter(|row| row.server == Kind::Original && row.commands > 0)
        .max_by(|a, b| a.rate().total_cmp(&b.rate()));
    match best {
        Some(best) => {
            let kept = rows
                .iter()
                .filter(|row| row.server == Kind::LdTower && row.mode == Mode::Kept);
            for ours in kept {
                let ratio = ours.rate() / best.rate();
                // The goal is for plain connections; over TLS it is shown only.
                let goal = if ours.tls.is_none() {
                    format!(" (target >= 15x: {})", verdict(ratio, 15.0))
                } else {
                    String::new()
                };
                println!(
                    "  commands/s, ld-tower {}: {:.0}/s vs the original's best ({}: {:.0}/s) = \
                     {ratio:.1}x{goal}",
                    ours.scenario(),
                    ours.rate(),
                    best.scenario(),
                    best.rate()
                );
            }
        }
        None => println!("  commands/s vs the original: n/a (no original figure)"),
    }
}

/// How to read the table.
pub(crate) fn print_notes(rows: &[Row]) {
    println!("\nnotes:");
    if rows.iter().any(|row| row.reconnects) {
        println!(
            "  * the original closes a framed connection after every reply, even in framed mode; its\n    \
             \"kept connections\" scenario is therefore one command per connection (clients reconnect)."
        );
    }
    println!(
        "  - with one new loopback TCP connection per command, the client's own kernel time (connect,\n    \
         accept, close on the client's single core) caps commands/s ({LOOPBACK_CONNECT_CAP} on one core),\n    \
         so server CPU per command is the fair comparison there; commands/s compares kept connections."
    );
    println!(
        "  - srv CPU / cli CPU: CPU time of the server process / of this client process over the\n    \
         timed window, as a share of one core (100% = the core is saturated); other c0/c1: time\n    \
         cores 0 and 1 spent on anything else (other processes, kernel threads); a scenario\n    \
         disturbed by more than 10% is run again (runs), and the quietest run is shown."
    );
    println!(
        "  - latency: connect (+ handshake) to terminator for one per connection; request to\n    \
         terminator for kept connections."
    );
}
