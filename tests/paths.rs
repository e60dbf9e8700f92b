//! A served server keeps clients' file paths below its working directory
//! (reports, databases, CSV sources, action files) unless it was started
//! with `--allow-any-path`: no absolute path, no `..` out, and no symbolic
//! link anywhere on the way, the file's own name included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::serve_in;
use ld_tower::history::{HistoryError, Open, Store};
use ld_tower::paths::{Links, Paths};

/// The names in `dir`.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn escapes_are_refused_and_nothing_is_read_outside() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let csv = outside.path().join("users.csv");
    std::fs::write(&csv, "name\nalice\n").unwrap();
    std::fs::write(root.path().join("inside.csv"), "name\nbob\n").unwrap();
    let server = serve_in(root.path(), &[], &[]);
    let reply = server.legacy(&format!(
        r#"[["LD_register_csv_source", {{"name": "a", "file_path": "{}"}}],
           ["LD_register_csv_source", {{"name": "b", "file_path": "../{}"}}],
           ["LD_register_csv_source", {{"name": "c", "file_path": "inside.csv"}}],
           ["LD_execute_files", {{"execute_files_list": ["/etc/hostname"]}}]]"#,
        csv.display(),
        outside.path().file_name().unwrap().to_str().unwrap()
    ));
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
}

#[test]
fn allow_any_path_lifts_the_confinement() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let csv = outside.path().join("users.csv");
    std::fs::write(&csv, "name\nalice\n").unwrap();
    symlink(outside.path(), root.path().join("linked")).unwrap();
    let server = serve_in(root.path(), &["--allow-any-path"], &[]);
    let reply = server.legacy(&format!(
        r#"[["LD_register_csv_source", {{"name": "a", "file_path": "{}"}}],
           ["LD_register_csv_source", {{"name": "b", "file_path": "linked/users.csv"}}],
           ["LD_generate_summary_report", {{"report_name": "linked/summary"}}]]"#,
        csv.display()
    ));
    let lines: Vec<&str> = reply.lines().collect();
    let registered = "{\"status\":\"registered\"";
    for (line, prefix) in lines.iter().zip([registered, registered]) {
        assert!(line.starts_with(prefix), "{reply}");
    }
    assert!(!lines[2].starts_with("Error"), "{reply}");
    assert!(outside.path().join("summary.json").is_file());
}

#[test]
fn reports_and_databases_stay_in_the_working_directory() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let server = serve_in(root.path(), &[], &[]);
    let escape = outside.path().join("evil");
    let reply = server.legacy(&format!(
        r#"[["LD_generate_html_report", {{"html_name": "{}"}}],
           ["LD_generate_csv_report", {{"csv_name": "../../evil"}}],
           ["LD_persist_records", {{"database_path": "{}.db"}}],
           ["LD_generate_summary_report", {{"report_name": "reports/summary"}}]]"#,
        escape.display(),
        escape.display()
    ));
    let lines: Vec<&str> = reply.lines().collect();
    let refused = [
        "Error: LD_generate_html_report:",
        "Error: LD_generate_csv_report:",
        "Error: LD_persist_records:",
    ];
    for (line, prefix) in lines.iter().zip(refused) {
        assert!(line.starts_with(prefix), "{reply}");
    }
    assert!(lines[2].contains("--allow-any-path"), "{reply}");
    assert!(!lines[3].starts_with("Error"), "{reply}");
    assert!(root.path().join("reports/summary.json").is_file());
    assert_eq!(entries(outside.path()), Vec::<String>::new());
}

/// Every kind of link in the working directory of a real server: dangling
/// ones as report, database, CSV and action files, links to folders outside
/// and inside. Every use is refused naming the link, and nothing is created
/// or read outside (or through the inside link).
#[test]
fn no_file_is_created_or_read_through_any_link() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let work = root.path();
    let out = |name: &str| outside.path().join(name);
    // Dangling links, each naming a file that does not exist yet outside.
    symlink(out("evil.html"), work.join("report.html")).unwrap();
    symlink(out("evil.json"), work.join("summary.json")).unwrap();
    symlink(out("evil.db"), work.join("runs.db")).unwrap();
    // Links to folders: outside, and inside.
    symlink(outside.path(), work.join("away")).unwrap();
    std::fs::create_dir(work.join("real")).unwrap();
    symlink("real", work.join("alias")).unwrap();
    // Links to files that exist, outside and inside.
    std::fs::write(out("secret.csv"), "name\nsecret\n").unwrap();
    symlink(out("secret.csv"), work.join("data.csv")).unwrap();
    std::fs::write(work.join("real/users.csv"), "name\nbob\n").unwrap();
    std::fs::write(work.join("real/actions.json"), r#"[["LD_summary"]]"#).unwrap();
    let server = serve_in(work, &[], &[]);
    let reply = server.legacy(
        r#"[["LD_generate_html_report", {"html_name": "report"}],
            ["LD_generate_summary_report", {"report_name": "summary"}],
            ["LD_generate_json_report", {"json_file_name": "away/evil"}],
            ["LD_generate_csv_report", {"csv_name": "alias/r"}],
            ["LD_generate_xml_report", {"xml_file_name": "away/new/deep"}],
            ["LD_persist_records", {"database_path": "runs.db"}],
            ["LD_persist_records", {"database_path": "away/h.db"}],
            ["LD_list_runs", {"database_path": "alias/h.db"}],
            ["LD_register_csv_source", {"name": "a", "file_path": "data.csv"}],
            ["LD_register_csv_source", {"name": "b", "file_path": "alias/users.csv"}],
            ["LD_execute_files", {"execute_files_list": ["alias/actions.json"]}],
            ["LD_generate_summary_report", {"report_name": "real/fine"}]]"#,
    );
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.len(), 13, "{reply}");
    let links = [
        "report.html",
        "summary.json",
        "away",
        "alias",
        "away",
        "runs.db",
        "away",
        "alias",
        "data.csv",
        "alias",
        "alias",
    ];
    for (line, link) in lines.iter().zip(links) {
        assert!(
            line.starts_with("Error: ")
                && (line.contains(&format!("{link:?} is a symbolic link"))
                    // LD_execute_files quotes its files' failures as JSON.
                    || line.contains(&format!("\\\"{link}\\\" is a symbolic link")))
                && line.contains("--allow-any-path"),
            "expected the link {link} refused: {line}"
        );
    }
    assert!(!lines[11].starts_with("Error"), "{reply}");
    assert!(!reply.contains("secret\""), "{reply}");
    assert_eq!(entries(outside.path()), ["secret.csv"]);
    assert_eq!(
        entries(&work.join("real")),
        ["actions.json", "fine.json", "users.csv"]
    );
}

/// SQLite opens by name: a folder on the way swapped for a link after the
/// path rule checked it is refused by SQLite itself (`SQLITE_OPEN_NOFOLLOW`),
/// whether the database is to be created or must exist, and nothing is
/// created or written outside.
#[test]
fn sqlite_refuses_a_link_swapped_in_after_the_check() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    // A real database at the end of the link: what is refused is the link,
    // not a missing file.
    drop(Store::open(&outside.path().join("runs.db")).unwrap());
    let before = std::fs::read(outside.path().join("runs.db")).unwrap();
    let paths = Paths::confined(root.path());
    let db = paths.resolve("history/runs.db").unwrap();
    db.create_parent().unwrap();
    let sqlite = db.sqlite().unwrap();
    assert_eq!(sqlite.links, Links::Refuse);
    // Swapped in after the check: the folder is now a link out.
    std::fs::remove_dir(root.path().join("history")).unwrap();
    symlink(outside.path(), root.path().join("history")).unwrap();
    for open in [Open::Create, Open::Existing] {
        let error = Store::open_with(&sqlite.path, open, Links::Refuse).unwrap_err();
        assert!(matches!(&error, HistoryError::Link(_)), "{open:?}: {error}");
        assert!(error.to_string().contains("symbolic link"), "{error}");
    }
    assert_eq!(entries(outside.path()), ["runs.db"]);
    assert_eq!(
        std::fs::read(outside.path().join("runs.db")).unwrap(),
        before
    );
    // The same path, followed (an unconfined server), does reach it.
    drop(Store::open_with(&sqlite.path, Open::Existing, Links::Follow).unwrap());
}
