//! Probes what some integration tests need from this machine, so that a
//! test which cannot run here is reported as ignored, with its reason,
//! instead of passing without testing anything: an IPv6 loopback
//! (`tests/cli.rs`), util-linux's `script` to give a command a terminal
//! (`tests/cli_run.rs`). The library and binary do not use these.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_ipv6_loopback)");
    println!("cargo::rustc-check-cfg=cfg(no_script)");
    println!("cargo::rerun-if-changed=build.rs");
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("cargo::rustc-cfg=no_ipv6_loopback");
    }
    let script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !script {
        println!("cargo::rustc-cfg=no_script");
    }
}
