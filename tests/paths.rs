//! A served server keeps clients' file paths below its working directory
//! (reports, databases, CSV sources, action files) unless it was started
//! with `--allow-any-path`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// `ld-tower serve` in `dir` with `args`; returns the process and its port.
fn serve_in(dir: &std::path::Path, args: &[&str]) -> (std::process::Child, u16) {
    let mut child = Command::new(common::bin())
        .current_dir(dir)
        .args(["serve", "--port", "0"])
        .args(args)
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8(line).unwrap();
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("Server started on line");
    (child, port)
}

fn send(port: u16, actions: &str) -> String {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(common::DEADLINE)).unwrap();
    tcp.write_all(actions.as_bytes()).unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn escapes_are_refused_and_nothing_is_read_outside() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let csv = outside.path().join("users.csv");
    std::fs::write(&csv, "name\nalice\n").unwrap();
    std::fs::write(root.path().join("inside.csv"), "name\nbob\n").unwrap();
    let (mut child, port) = serve_in(root.path(), &[]);
    let reply = send(
        port,
        &format!(
            r#"[["LD_register_csv_source", {{"name": "a", "file_path": "{}"}}],
               ["LD_register_csv_source", {{"name": "b", "file_path": "../{}"}}],
               ["LD_register_csv_source", {{"name": "c", "file_path": "inside.csv"}}],
               ["LD_execute_files", {{"execute_files_list": ["/etc/hostname"]}}]]"#,
            csv.display(),
            outside.path().file_name().unwrap().to_str().unwrap()
        ),
    );
    let lines: Vec<&str> = reply.lines().collect();
    assert!(
        lines[0].starts_with("Error: LD_register_csv_source:") && lines[0].contains("absolute"),
        "{reply}"
    );
    assert!(lines[1].contains("leads out of"), "{reply}");
    assert!(lines[2].contains("\"registered\""), "{reply}");
    assert!(
        lines[3].starts_with("Error: LD_execute_files:") && lines[3].contains("--allow-any-path"),
        "{reply}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn allow_any_path_lifts_the_confinement() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let csv = outside.path().join("users.csv");
    std::fs::write(&csv, "name\nalice\n").unwrap();
    let (mut child, port) = serve_in(root.path(), &["--allow-any-path"]);
    let reply = send(
        port,
        &format!(
            r#"[["LD_register_csv_source", {{"name": "a", "file_path": "{}"}}]]"#,
            csv.display()
        ),
    );
    assert!(reply.starts_with("{\"status\":\"registered\""), "{reply}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn reports_and_databases_stay_in_the_working_directory() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let (mut child, port) = serve_in(root.path(), &[]);
    let escape = outside.path().join("evil");
    let reply = send(
        port,
        &format!(
            r#"[["LD_generate_html_report", {{"html_name": "{}"}}],
               ["LD_generate_csv_report", {{"csv_name": "../../evil"}}],
               ["LD_persist_records", {{"database_path": "{}.db"}}],
               ["LD_generate_summary_report", {{"report_name": "reports/summary"}}]]"#,
            escape.display(),
            escape.display()
        ),
    );
    let lines: Vec<&str> = reply.lines().collect();
    assert!(
        lines[0].starts_with("Error: LD_generate_html_report:"),
        "{reply}"
    );
    assert!(
        lines[1].starts_with("Error: LD_generate_csv_report:"),
        "{reply}"
    );
    assert!(
        lines[2].starts_with("Error: LD_persist_records:") && lines[2].contains("--allow-any-path"),
        "{reply}"
    );
    assert!(!lines[3].starts_with("Error"), "{reply}");
    assert!(root.path().join("reports/summary.json").is_file());
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "something was written outside"
    );
    let _ = child.kill();
    let _ = child.wait();
}
