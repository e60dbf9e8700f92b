//! Database sources (`${db.SOURCE.COLUMN}`) and Faker placeholders
//! (`${faker.PROVIDER}`) over a real `ld-tower serve` process and a local
//! target that records every request it receives: rows arrive in order,
//! one row per request with all its columns together, a non-cycling source
//! stops substituting after its last row, `LD_start_test`'s `db_sources`
//! registers them, incomplete entries are skipped and said so, and a
//! client can neither leave the working directory, nor write, nor keep
//! the server busy with a query that never ends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::target::Target;
use common::{legacy, serve_in, ServeProcess, DEADLINE};
use serde_json::{json, Value};

/// The reply terminator.
const END: &str = "Return_Data_Over_JE\n";

/// How long a command may take to be answered while a query runs.
const PROMPT: Duration = Duration::from_millis(500);

/// `data/users.db` in `work`: three users.
fn users_db(work: &Path) {
    std::fs::create_dir_all(work.join("data")).unwrap();
    let conn = rusqlite::Connection::open(work.join("data/users.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE users (id INTEGER, name TEXT, pass TEXT, score REAL);
         INSERT INTO users VALUES (1, 'ann', 'a-1', 1.5);
         INSERT INTO users VALUES (2, 'bob', 'b-2', 2.0);
         INSERT INTO users VALUES (3, 'cat', 'c-3', NULL);",
    )
    .unwrap();
}

/// A server in a fresh working directory holding `data/users.db`.
fn server(args: &[&str]) -> (tempfile::TempDir, ServeProcess) {
    let work = tempfile::tempdir().unwrap();
    users_db(work.path());
    let server = serve_in(work.path(), args, &[]);
    (work, server)
}

const USERS_URL: &str = "sqlite:///data/users.db";
const USERS_QUERY: &str = "SELECT id, name, pass, score FROM users ORDER BY id";

/// `LD_start_test` of `users` users, `iterations` each, one task echoing
/// `${db.users.*}` in its query, a header and its body.
fn start_test(target: &Target, users: u64, iterations: u64, extra: Value) -> Value {
    let mut args = json!({
        "user_detail_dict": {"user": "fast_http_user", "host": target.url()},
        "user_count": users, "spawn_rate": 100, "iterations": iterations, "wait_time": 0,
        "tasks": [{
            "name": "echo", "method": "post",
            "request_url": "/echo?id=${db.users.id}&score=${db.users.score}",
            "headers": {"X-Name": "${db.users.name}"},
            "json": {"pass": "${db.users.pass}", "id": "${db.users.id}"},
        }],
    });
    if let (Value::Object(args), Value::Object(extra)) = (&mut args, extra) {
        args.extend(extra);
    }
    json!(["LD_start_test", args])
}

/// What each echoed request carried: (id, name, pass, score, the body's id).
fn received(target: &Target) -> Vec<[String; 5]> {
    target
        .echoes()
        .iter()
        .map(|echo| {
            let body: Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
            [
                echo["params"]["id"].as_str().unwrap().to_owned(),
                echo["headers"]["x-name"].as_str().unwrap().to_owned(),
                body["pass"].as_str().unwrap().to_owned(),
                echo["params"]["score"].as_str().unwrap().to_owned(),
                body["id"].as_str().unwrap().to_owned(),
            ]
        })
        .collect()
}

/// The row `id` as the target receives it.
fn row(id: u64) -> [String; 5] {
    let (name, pass, score) = match id {
        1 => ("ann", "a-1", "1.5"),
        2 => ("bob", "b-2", "2.0"),
        // NULL: the placeholder as written.
        _ => ("cat", "c-3", "${db.users.score}"),
    };
    [
        id.to_string(),
        name.into(),
        pass.into(),
        score.into(),
        id.to_string(),
    ]
}

/// The placeholders as written: what a request carries once a
/// non-cycling source has run out.
fn unresolved() -> [String; 5] {
    [
        "${db.users.id}".into(),
        "${db.users.name}".into(),
        "${db.users.pass}".into(),
        "${db.users.score}".into(),
        "${db.users.id}".into(),
    ]
}

/// `LD_register_db_source` of `query` on `url` as `users`.
fn register(url: &str, query: &str, cycle: bool) -> Value {
    json!(["LD_register_db_source", {
        "name": "users", "connection_string": url, "query": query, "cycle": cycle,
    }])
}

/// The reply's lines (the terminator checked and dropped).
fn lines(reply: &str) -> Vec<&str> {
    let body = reply
        .strip_suffix(END)
        .unwrap_or_else(|| panic!("no terminator: {reply}"));
    body.lines().collect()
}

#[test]
fn rows_arrive_in_order_one_row_per_request() {
    let (_runtime, target) = Target::in_runtime();
    let (_work, server) = server(&[]);
    let reply = server.legacy(
        &json!([
            register(USERS_URL, USERS_QUERY, true),
            start_test(&target, 1, 7, json!({})),
        ])
        .to_string(),
    );
    let lines = lines(&reply);
    assert_eq!(lines.len(), 2, "{reply}");
    assert_eq!(lines[0], r#"{"status":"registered","db_rows":{"users":3}}"#);
    assert!(lines[1].starts_with("{\"user_detail\""), "{reply}");
    // One user: the rows in order, cycling, every column of a row in the
    // same request.
    let expected: Vec<[String; 5]> = [1, 2, 3, 1, 2, 3, 1].into_iter().map(row).collect();
    assert_eq!(received(&target), expected);
}

#[test]
fn users_share_one_cursor_and_each_request_has_one_whole_row() {
    let (_runtime, target) = Target::in_runtime();
    let (_work, server) = server(&[]);
    let reply = server.legacy(
        &json!([
            register(USERS_URL, USERS_QUERY, true),
            start_test(&target, 4, 6, json!({})),
        ])
        .to_string(),
    );
    assert!(!reply.contains("Error"), "{reply}");
    let received = received(&target);
    assert_eq!(received.len(), 24);
    // 24 requests walk the 3 rows 8 times: each row 8 times, never mixed.
    for id in 1..=3 {
        let whole = received.iter().filter(|r| **r == row(id)).count();
        assert_eq!(whole, 8, "row {id}: {received:?}");
    }
}

#[test]
fn a_source_without_cycle_stops_after_its_last_row() {
    let (_runtime, target) = Target::in_runtime();
    let (_work, server) = server(&[]);
    let reply = server.legacy(
        &json!([
            register(USERS_URL, USERS_QUERY, false),
            start_test(&target, 1, 5, json!({})),
            // Registered again: from the top again.
            register(
                USERS_URL,
                "SELECT 7 AS id, 'zed' AS name, 'z-7' AS pass, 0.5 AS score",
                false
            ),
            start_test(&target, 1, 2, json!({})),
            // Cleared: nothing substitutes.
            ["LD_clear_resolver"],
            start_test(&target, 1, 1, json!({})),
        ])
        .to_string(),
    );
    let lines = lines(&reply);
    assert_eq!(lines.len(), 6, "{reply}");
    assert_eq!(lines[2], r#"{"status":"registered","db_rows":{"users":1}}"#);
    assert_eq!(lines[4], r#"{"status":"cleared"}"#);
    let zed = [
        "7".to_owned(),
        "zed".into(),
        "z-7".into(),
        "0.5".into(),
        "7".into(),
    ];
    assert_eq!(
        received(&target),
        [
            row(1),
            row(2),
            row(3),
            unresolved(),
            unresolved(),
            zed,
            unresolved(),
            unresolved()
        ]
    );
}

#[test]
fn db_sources_in_start_test_are_registered_first() {
    let (_runtime, target) = Target::in_runtime();
    let (_work, server) = server(&[]);
    let reply = server.legacy(
        &json!([start_test(
            &target,
            1,
            4,
            json!({"db_sources": [
                {"name": "users", "connection_string": USERS_URL, "query": USERS_QUERY},
                {"name": "ignored", "query": "SELECT 1"},
            ]}),
        )])
        .to_string(),
    );
    let lines = lines(&reply);
    assert_eq!(lines.len(), 1, "{reply}");
    assert!(lines[0].starts_with("{\"user_detail\""), "{reply}");
    let expected: Vec<[String; 5]> = [1, 2, 3, 1].into_iter().map(row).collect();
    assert_eq!(received(&target), expected);
    // A failing source fails the test before it sends anything.
    let reply = server.legacy(
        &json!([start_test(
            &target,
            1,
            1,
            json!({"db_sources": [
                {"name": "users", "connection_string": "sqlite:///data/missing.db", "query": "SELECT 1"},
            ]}),
        )])
        .to_string(),
    );
    assert_eq!(
        reply,
        format!("Error: LD_start_test: cannot open database source sqlite:///data/missing.db: No such file or directory (os error 2)\n{END}")
    );
    assert_eq!(target.echoes().len(), 4);
}

#[test]
fn register_db_sources_skips_incomplete_entries_and_says_so() {
    let (_work, server) = server(&[]);
    let sources = json!([
        {"name": "users", "connection_string": USERS_URL, "query": USERS_QUERY},
        {"name": "no_query", "connection_string": USERS_URL},
        {"name": null, "connection_string": USERS_URL, "query": "SELECT 1"},
        {"name": "blank", "connection_string": "", "query": "", "cycle": false},
        {"name": "memory", "connection_string": "sqlite:///:memory:", "query": "SELECT 1 AS one UNION ALL SELECT 2", "cycle": false},
    ]);
    let reply = server.legacy(
        &json!([
            ["LD_register_db_sources", {"sources": sources}],
            ["LD_register_db_sources", [[]]],
            ["LD_register_db_sources", {"sources": [{"name": "x", "connection": "sqlite://"}]}],
        ])
        .to_string(),
    );
    assert_eq!(
        reply,
        [
            r#"{"status":"registered","db_rows":{"users":3,"memory":2},"skipped":[{"index":1,"missing":["query"]},{"index":2,"missing":["name"]},{"index":3,"missing":["connection_string","query"]}]}"#,
            r#"{"status":"registered","db_rows":{},"skipped":[]}"#,
            r#"Error: LD_register_db_sources: db source {"name":"x","connection":"sqlite://"}: unknown field `connection`, expected one of `name`, `connection_string`, `query`, `cycle`"#,
            END.trim_end(),
        ]
        .map(|line| format!("{line}\n"))
        .concat()
    );
}

#[test]
fn other_databases_and_paths_out_of_the_working_directory_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    users_db(outside.path());
    let (work, server) = server(&[]);
    std::os::unix::fs::symlink(
        outside.path().join("data/users.db"),
        work.path().join("link.db"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path().join("data"), work.path().join("away")).unwrap();
    let escape = format!(
        "sqlite:///../{}/data/users.db",
        outside.path().file_name().unwrap().to_str().unwrap()
    );
    let absolute = format!(
        "sqlite:///{}",
        outside.path().join("data/users.db").display()
    );
    let reply = server.legacy(
        &json!([
            register("postgresql://scott:tiger@localhost/app", "SELECT 1", true),
            register("mysql://root@localhost/app", "SELECT 1", true),
            register(&escape, USERS_QUERY, true),
            register(&absolute, USERS_QUERY, true),
            register("sqlite:///link.db", USERS_QUERY, true),
            register("sqlite:///away/users.db", USERS_QUERY, true),
            register(USERS_URL, "DROP TABLE users", true),
            register(USERS_URL, "SELECT * FROM users; DELETE FROM users", true),
            register(USERS_URL, "ATTACH DATABASE 'data/users.db' AS other", true),
            register(USERS_URL, "SELECT count(*) AS n FROM users", true),
        ])
        .to_string(),
    );
    let supported = "ld-tower reads SQLite databases only: sqlite:///relative/path.db (relative to the working directory), sqlite:////absolute/path.db or sqlite:///:memory:";
    let lift = "(start it with --allow-any-path to lift that)";
    let escape_path = escape.strip_prefix("sqlite:///").unwrap();
    let absolute_path = absolute.strip_prefix("sqlite:///").unwrap();
    let not_read = "database source sqlite:///data/users.db: the query must be one statement that only reads (a SELECT)";
    assert_eq!(
        lines(&reply),
        [
            format!("Error: LD_register_db_source: database source: the \"postgresql\" scheme is not supported; {supported}"),
            format!("Error: LD_register_db_source: database source: the \"mysql\" scheme is not supported; {supported}"),
            format!("Error: LD_register_db_source: database source: {escape_path:?} leads out of this server's working directory {lift}"),
            format!("Error: LD_register_db_source: database source: {absolute_path:?} is an absolute path: this server only reads and writes below its working directory {lift}"),
            format!("Error: LD_register_db_source: database source: \"link.db\": \"link.db\" is a symbolic link, and this server follows none below its working directory {lift}"),
            format!("Error: LD_register_db_source: database source: \"away/users.db\": \"away\" is a symbolic link, and this server follows none below its working directory {lift}"),
            format!("Error: LD_register_db_source: {not_read}: not authorized"),
            format!("Error: LD_register_db_source: {not_read}: it holds more than one statement (write one SELECT)"),
            format!("Error: LD_register_db_source: {not_read}: not authorized"),
            r#"{"status":"registered","db_rows":{"users":1}}"#.to_owned(),
        ]
    );
    assert!(!reply.contains("tiger"));
    // Nothing was dropped, or written.
    let conn = rusqlite::Connection::open(work.path().join("data/users.db")).unwrap();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count, 3);
}

#[test]
fn allow_any_path_reads_an_absolute_database() {
    let outside = tempfile::tempdir().unwrap();
    users_db(outside.path());
    let (_work, server) = server(&["--allow-any-path"]);
    let absolute = format!(
        "sqlite:///{}",
        outside.path().join("data/users.db").display()
    );
    let reply = server.legacy(&json!([register(&absolute, USERS_QUERY, true)]).to_string());
    assert_eq!(
        reply,
        format!("{{\"status\":\"registered\",\"db_rows\":{{\"users\":3}}}}\n{END}")
    );
}

#[test]
fn rows_count_against_the_source_budget() {
    let (_work, server) = server(&["--max-source-bytes", "256KiB"]);
    let reply = server.legacy(
        &json!([
            register(
                USERS_URL,
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x, 'padding' FROM c",
                true,
            ),
            register(USERS_URL, USERS_QUERY, true),
        ])
        .to_string(),
    );
    let lines = lines(&reply);
    assert!(
        lines[0].starts_with("Error: LD_register_db_source: database source sqlite:///data/users.db: over the 262144-byte budget for data sources (--max-source-bytes;"),
        "{reply}"
    );
    // The failed load gave its bytes back.
    assert_eq!(lines[1], r#"{"status":"registered","db_rows":{"users":3}}"#);
}

#[test]
fn a_query_that_never_ends_is_cut_off_while_others_are_served() {
    let (_work, server) = server(&[]);
    let request = json!([register(
        USERS_URL,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c",
        true,
    )])
    .to_string();
    let (tx, rx) = mpsc::channel();
    let port = server.port;
    let started = Instant::now();
    std::thread::spawn(move || {
        let reply = String::from_utf8(legacy(port, request.as_bytes())).unwrap();
        let _ = tx.send((reply, started.elapsed()));
    });
    // Meanwhile another client is answered promptly, again and again.
    let mut probes = 0;
    let (reply, took) = loop {
        if let Ok(done) = rx.try_recv() {
            break done;
        }
        assert!(started.elapsed() < DEADLINE, "never cut off");
        let asked = Instant::now();
        let answer = server.legacy(
            r#"[["LD_register_variable", {"name": "probe", "value": 1}], ["LD_test_status"]]"#,
        );
        let waited = asked.elapsed();
        assert!(
            answer.starts_with(r#"{"status":"registered","variables":["probe"],"csv_rows":{}}"#),
            "{answer}"
        );
        assert!(
            waited < PROMPT,
            "a command waited {waited:?} while a query ran"
        );
        probes += 1;
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(probes >= 10, "only {probes} probes during the query");
    assert_eq!(
        reply,
        format!("Error: LD_register_db_source: database source sqlite:///data/users.db: the query ran longer than 5s and was stopped (a database source's rows are read once, when it is registered: a query must take at most 5s)\n{END}")
    );
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

#[test]
fn faker_values_arrive_fresh_in_every_request() {
    let (_runtime, target) = Target::in_runtime();
    let (_work, server) = server(&[]);
    let reply = server.legacy(
        &json!([["LD_start_test", {
            "user_detail_dict": {"host": target.url()},
            "user_count": 1, "iterations": 3, "wait_time": 0,
            "tasks": [{
                "method": "post",
                "request_url": "/echo?email=${faker.email}&nope=${faker.nope}",
                "headers": {"X-Id": "${faker.uuid4}", "X-Other": "${faker.uuid4}"},
                "json": {"name": "${faker.name}", "n": "${faker.random_int}"},
            }],
        }]])
        .to_string(),
    );
    assert!(lines(&reply)[0].starts_with("{\"user_detail\""), "{reply}");
    let echoes = target.echoes();
    assert_eq!(echoes.len(), 3);
    let mut ids = Vec::new();
    for echo in &echoes {
        let email = echo["params"]["email"].as_str().unwrap();
        let (user, domain) = email.split_once('@').unwrap_or_else(|| panic!("{email}"));
        assert!(
            !user.is_empty()
                && !user.contains(['@', ' '])
                && domain.starts_with("example.")
                && domain.contains('.'),
            "{email}"
        );
        assert_eq!(echo["params"]["nope"], "${faker.nope}");
        let body: Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["name"].as_str().unwrap().split(' ').count(), 2);
        assert!(body["n"].as_str().unwrap().parse::<u16>().unwrap() <= 9999);
        ids.push(echo["headers"]["x-id"].as_str().unwrap().to_owned());
        ids.push(echo["headers"]["x-other"].as_str().unwrap().to_owned());
    }
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 6, "{ids:?}");
}
