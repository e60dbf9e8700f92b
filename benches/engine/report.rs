//! What the engine bench prints: the table of runs and the ratios against
//! the goals.

use crate::measure::Row;
use crate::NOISE_LIMIT;

/// `value` with `digits` decimals, or `n/a`.
fn fmt_opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}

/// kB as MB with one decimal, or `n/a`.
pub(crate) fn mb(kb: Option<u64>) -> String {
    kb.map_or_else(
        || "n/a".to_owned(),
        |kb| format!("{:.1}", kb as f64 / 1024.0),
    )
}

/// The table of runs, and what its columns mean.
pub(crate) fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<20} {:>10} {:>9} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8} {:>11} {:>10} {:>9} {:>4}",
        "generator",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "CPU us/req",
        "gen CPU",
        "peak MB",
        "tgt CPU",
        "other c0/c1",
        "sirq c0/c1",
        "failures",
        "runs"
    );
    println!("{}", "-".repeat(136));
    let mut noisy = false;
    for row in rows {
        let share = |s: Option<f64>| {
            s.map_or_else(
                || "n/a".to_owned(),
                |s| format!("{:.0}%", 100.0 * s / row.wall_s),
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
        let irq = row.core_irq_s.map_or_else(
            || "n/a".to_owned(),
            |[c0, c1]| {
                format!(
                    "{:.0}%/{:.0}%",
                    100.0 * c0 / row.wall_s,
                    100.0 * c1 / row.wall_s
                )
            },
        );
        println!(
            "{:<20} {:>10} {:>9.0} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8} {:>11} {:>10} {:>9} {:>4}{}",
            row.generator,
            row.requests,
            row.rps,
            fmt_opt(row.p50_ms, 2),
            fmt_opt(row.p99_ms, 2),
            fmt_opt(row.cpu_us_per_request(), 2),
            row.cpu_share()
                .map_or_else(|| "n/a".to_owned(), |s| format!("{:.0}%", 100.0 * s)),
            mb(row.peak_rss_kb),
            share(row.target_cpu_s),
            other,
            irq,
            row.failures,
            row.runs,
            if row.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", row.note)
            }
        );
    }
    println!(
        "\n  gen CPU: the generator's CPU time as a share of the run (100% = core 1 saturated);\n  \
         tgt CPU: the target's (core 0); other c0/c1: busy time of cores 0/1 not spent by the target /\n  \
         the generator or this orchestrator (other processes, kernel threads); sirq c0/c1: the part of\n  \
         the cores' time in irq + softirq (mostly loopback packet delivery; the process in whose\n  \
         context a softirq ran is charged for it, so it is in gen CPU and CPU us/req too)."
    );
    if noisy {
        println!(
            "  ! other processes kept core 0 or 1 more than 10% busy in every run of that generator: its\n    \
             figures are disturbed (the quietest run is shown); rerun on a quiet machine"
        );
    }
}

/// `met` or `MISSED`.
pub(crate) fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// ld-tower against wrk and Locust, with the goals.
pub(crate) fn print_ratios(ld: Option<&Row>, wrk: Option<&Row>, locust: Option<&Row>) {
    println!("\nratios:");
    let Some(ld) = ld else {
        println!("  no ld-tower figures: no ratios");
        return;
    };
    match wrk {
        Some(wrk) if wrk.rps > 0.0 => {
            let ratio = ld.rps / wrk.rps;
            println!(
                "  requests/s, ld-tower / wrk:        {:.0} / {:.0} = {ratio:.2}x  (target >= 0.95x, redirects on: {})",
                ld.rps,
                wrk.rps,
                verdict(ratio >= 0.95)
            );
            match (ld.cpu_us_per_request(), wrk.cpu_us_per_request()) {
                (Some(ours), Some(theirs)) if theirs > 0.0 => {
                    let ratio = ours / theirs;
                    println!(
                        "  CPU per request, ld-tower / wrk:   {ours:.2} us / {theirs:.2} us = {ratio:.2}x  \
                         (target <= 1.1x: {})",
                        verdict(ratio <= 1.1)
                    );
                }
                _ => println!("  CPU per request, ld-tower / wrk:   n/a (no CPU figure)"),
            }
        }
        _ => println!("  vs wrk: n/a (wrk did not run)"),
    }
    match locust {
        Some(locust) if locust.rps > 0.0 => {
            let ratio = ld.rps / locust.rps;
            println!(
                "  requests/s, ld-tower / Locust:     {:.0} / {:.0} = {ratio:.1}x  (target >= 10x: {})",
                ld.rps,
                locust.rps,
                verdict(ratio >= 10.0)
            );
            if let (Some(ours), Some(theirs)) =
                (ld.cpu_us_per_request(), locust.cpu_us_per_request())
            {
                if ours > 0.0 {
                    println!(
                        "  CPU per request, Locust / ld-tower: {theirs:.2} us / {ours:.2} us = {:.1}x lower \
                         for ld-tower (no target)",
                        theirs / ours
                    );
                }
            }
        }
        _ => println!("  vs Locust: n/a (Locust did not run)"),
    }
}
