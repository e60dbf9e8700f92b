//! What the control-plane bench prints: the table of scenarios, the ratios
//! against the original and the goals, and notes on reading them.

use crate::clients::Mode;
use crate::scenarios::Row;
use crate::servers::Kind;
use crate::{LOOPBACK_CONNECT_CAP, NOISE_LIMIT};

/// The table of scenarios, and their errors.
pub(crate) fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<27} {:<9} {:>10} {:>8} {:>8} {:>15} {:>8} {:>8} {:>12} {:>6} {:>4}",
        "scenario",
        "server",
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
    println!("{}", "-".repeat(119));
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
        println!(
            "{:<27} {:<9} {:>10.0} {:>8.2} {:>8.2} {:>15} {:>8} {:>8} {:>12} {:>6} {:>4}",
            row.scenario(),
            row.server.name(),
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

/// The row of `server` over `tls` in `mode`.
fn find(rows: &[Row], server: Kind, tls: bool, mode: Mode) -> Option<&Row> {
    rows.iter()
        .find(|row| row.server == server && row.tls == tls && row.mode == mode)
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
    for tls in [false, true] {
        let transport = if tls { "TLS  " } else { "plain" };
        let target = if tls { 2.5 } else { 10.0 };
        let ours =
            find(rows, Kind::LdTower, tls, Mode::PerConnection).and_then(Row::cpu_us_per_command);
        let theirs =
            find(rows, Kind::Original, tls, Mode::PerConnection).and_then(Row::cpu_us_per_command);
        match (ours, theirs) {
            (Some(ours), Some(theirs)) if ours > 0.0 => {
                let ratio = theirs / ours;
                println!(
                    "  server CPU per command, one per connection, {transport}: \
                     {theirs:.1} us / {ours:.1} us = {ratio:.1}x lower (target >= {target}x: {})",
                    verdict(ratio, target)
                );
            }
            _ => println!(
                "  server CPU per command, one per connection, {transport}: n/a (no figure)"
            ),
        }
    }
    let cpu = |kind| find(rows, kind, false, Mode::PerConnection).and_then(Row::cpu_us_per_command);
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
            for tls in [false, true] {
                let Some(ours) = find(rows, Kind::LdTower, tls, Mode::Kept) else {
                    continue;
                };
                let ratio = ours.rate() / best.rate();
                let transport = if tls { "TLS  " } else { "plain" };
                if tls {
                    println!(
                        "  commands/s, ld-tower kept connections, {transport}: {:.0}/s vs the original's best \
                         ({}: {:.0}/s) = {ratio:.1}x",
                        ours.rate(),
                        best.scenario(),
                        best.rate()
                    );
                } else {
                    println!(
                        "  commands/s, ld-tower kept connections, {transport}: {:.0}/s vs the original's best \
                         ({}: {:.0}/s) = {ratio:.1}x (target >= 15x: {})",
                        ours.rate(),
                        best.scenario(),
                        best.rate(),
                        verdict(ratio, 15.0)
                    );
                }
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
