//! `${faker.PROVIDER}` and `${db.SOURCE.COLUMN}`, end to end: registered,
//! forked, rendered; and a database source's bounds (read-only, one
//! statement, time, budget, cancellation, files).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::faker::Faker;
use super::*;
use crate::paths::{Links, SqlitePath};

fn render(session: &mut Session, text: &str) -> String {
    session.scope().render_string(&Template::parse(text))
}

/// A database `dir/name` made by `sql`.
fn database(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let path = dir.join(name);
    let conn = Connection::open(&path).expect("create database");
    conn.execute_batch(sql).expect("fill database");
    path
}

/// `sqlite:///` and `path` (absolute: four slashes).
fn url(path: &Path) -> String {
    format!("sqlite:///{}", path.display())
}

/// Three users: integers, text, reals (one integral), a NULL, a blob that
/// is not UTF-8.
const USERS: &str = "
    CREATE TABLE users (id INTEGER, name TEXT, score REAL, note TEXT, data BLOB);
    INSERT INTO users VALUES (1, 'ann', 1.5, 'first', x'616263');
    INSERT INTO users VALUES (2, 'bob', 2.0, NULL, x'ff00');
    INSERT INTO users VALUES (3, 'cat', -0.25, 'é', NULL);
";

/// A resolver with database source `users` registered with `cycle`.
fn users(cycle: bool) -> (tempfile::TempDir, Resolver) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = database(dir.path(), "users.db", USERS);
    let mut resolver = Resolver::new();
    let rows = resolver
        .register_db_source(
            "users",
            &url(&path),
            "SELECT * FROM users ORDER BY id",
            cycle,
        )
        .expect("register");
    assert_eq!(rows, 3);
    (dir, resolver)
}

/// Reads `query` on `path` with `budget` and `cancel`, within `limit`.
fn read(
    path: Option<&Path>,
    query: &str,
    budget: &SourceBudget,
    cancel: CancellationToken,
    limit: Duration,
) -> Result<DbSource, ResolverError> {
    let file = path.map(|path| SqlitePath {
        path: path.to_owned(),
        links: Links::Refuse,
    });
    DbSource::read_within(
        "sqlite:///test.db",
        file.as_ref(),
        query,
        true,
        Meter::new(budget, cancel),
        limit,
    )
}

#[test]
fn every_faker_provider_renders_something_new() {
    let mut session = Resolver::new().fork();
    for faker in Faker::ALL {
        let placeholder = format!("${{faker.{}}}", faker.name());
        let template = Template::parse(&placeholder);
        assert_eq!(template.placeholders(), 1, "{placeholder}");
        let value = session.scope().render_string(&template);
        assert!(
            !value.is_empty() && value != placeholder,
            "{placeholder}: {value:?}"
        );
    }
    // A fresh value for each occurrence, within one call too.
    let twice = render(&mut session, "${faker.uuid4} ${ faker.uuid4 }");
    let (first, second) = twice.split_once(' ').expect("two values");
    assert_ne!(first, second);
    assert_ne!(
        render(&mut session, "${faker.uuid4}"),
        render(&mut session, "${faker.uuid4}")
    );
    let email = render(&mut session, "${faker.email}");
    assert!(
        email.contains('@') && !email.contains(char::is_whitespace),
        "{email}"
    );
    let n: u16 = render(&mut session, "${faker.random_int}")
        .parse()
        .expect("a number");
    assert!(n <= 9999);
}

#[test]
fn unknown_faker_providers_stay_as_written() {
    let mut session = Resolver::new().fork();
    for text in [
        "${faker.nope}",
        "${faker.Name}",
        "${faker.name()}",
        "${faker.}",
        "${faker.name.first}",
        "a ${faker.seed} b",
    ] {
        let template = Template::parse(text);
        assert!(template.is_static(), "{text}");
        assert_eq!(render(&mut session, text), text);
    }
    // The prefix is any case, as every prefix is.
    assert_ne!(render(&mut session, "${FAKER.name}"), "${FAKER.name}");
}

#[test]
fn db_rows_come_in_order_one_per_call() {
    let (_dir, resolver) = users(true);
    let mut session = resolver.fork();
    let task = TemplateValue::parse(&json!({
        "url": "/users/${db.users.id}",
        "json": {"name": "${db.users.name}", "score": "${db.users.score}", "id": "${db.users.id}"},
    }));
    let rendered: Vec<Value> = (0..4)
        .map(|_| session.scope().render_value(&task))
        .collect();
    assert_eq!(
        rendered,
        [
            json!({"url": "/users/1", "json": {"name": "ann", "score": "1.5", "id": "1"}}),
            json!({"url": "/users/2", "json": {"name": "bob", "score": "2.0", "id": "2"}}),
            json!({"url": "/users/3", "json": {"name": "cat", "score": "-0.25", "id": "3"}}),
            json!({"url": "/users/1", "json": {"name": "ann", "score": "1.5", "id": "1"}}),
        ]
    );
}

#[test]
fn db_values_are_strs_and_null_stays_as_written() {
    let (_dir, resolver) = users(true);
    let mut session = resolver.fork();
    let row = "${db.users.note}|${db.users.data}|${db.users.nosuch}";
    assert_eq!(render(&mut session, row), "first|abc|${db.users.nosuch}");
    assert_eq!(
        render(&mut session, row),
        "${db.users.note}|\u{FFFD}\u{0}|${db.users.nosuch}"
    );
    assert_eq!(
        render(&mut session, row),
        "é|${db.users.data}|${db.users.nosuch}"
    );
    let source = resolver.db_source("users").expect("registered");
    let mut columns: Vec<&str> = source.columns().collect();
    columns.sort_unstable();
    assert_eq!(columns, ["data", "id", "name", "note", "score"]);
    assert!(source.cycles());
}

#[test]
fn db_numbers_are_written_as_python_writes_them() {
    let mut resolver = Resolver::new();
    resolver
        .register_db_source(
            "n",
            "sqlite:///:memory:",
            "SELECT 1 AS i, 1.0 AS one, 1e16 AS big, 0.00001 AS small, -9223372036854775808 AS min, 1 AS i",
            true,
        )
        .expect("register");
    let mut session = resolver.fork();
    // A repeated column name keeps the last, as Python's dict(zip()) does.
    assert_eq!(
        render(
            &mut session,
            "${db.n.i} ${db.n.one} ${db.n.big} ${db.n.small} ${db.n.min}"
        ),
        "1 1.0 1e+16 1e-05 -9223372036854775808"
    );
}

#[test]
fn db_sources_without_cycle_run_out() {
    let (_dir, resolver) = users(false);
    let mut first = resolver.fork();
    let mut second = resolver.fork();
    let names = [
        render(&mut first, "${db.users.name}/${db.users.id}"),
        render(&mut second, "${db.users.name}/${db.users.id}"),
        render(&mut first, "${db.users.name}/${db.users.id}"),
        render(&mut second, "${db.users.name}/${db.users.id}"),
        render(&mut first, "${db.users.name}/${db.users.id}"),
    ];
    assert_eq!(
        names,
        [
            "ann/1",
            "bob/2",
            "cat/3",
            "${db.users.name}/${db.users.id}",
            "${db.users.name}/${db.users.id}"
        ]
    );
    assert!(!resolver.db_source("users").is_some_and(DbSource::cycles));
}

#[test]
fn db_and_csv_sources_are_apart_and_cleared_together() {
    let (dir, mut resolver) = users(true);
    let csv = dir.path().join("users.csv");
    std::fs::write(&csv, "name\nzed\n").expect("write csv");
    resolver
        .register_csv_source("users", &csv, true)
        .expect("csv");
    let mut session = resolver.fork();
    assert_eq!(
        render(&mut session, "${csv.users.name} ${db.users.name}"),
        "zed ann"
    );
    // Registering a name again replaces it.
    resolver
        .register_db_source("users", "sqlite://", "SELECT 'new' AS name", true)
        .expect("replace");
    assert_eq!(render(&mut resolver.fork(), "${db.users.name}"), "new");
    assert_eq!(render(&mut session, "${db.users.name}"), "bob");
    resolver.clear();
    assert_eq!(resolver.db_sources().count(), 0);
    assert_eq!(
        render(&mut resolver.fork(), "${db.users.name}"),
        "${db.users.name}"
    );
    assert!(format!("{resolver:?}").contains("db_sources: 0"));
}

#[test]
fn connection_strings_are_sqlite_only() {
    assert_eq!(Database::parse("sqlite://").ok(), Some(Database::Memory));
    assert_eq!(
        Database::parse("sqlite:///:memory:").ok(),
        Some(Database::Memory)
    );
    assert_eq!(
        Database::parse("sqlite:///data/users.db").ok(),
        Some(Database::File("data/users.db".into()))
    );
    assert_eq!(
        Database::parse("sqlite+pysqlite:////srv/users.db").ok(),
        Some(Database::File("/srv/users.db".into()))
    );
    assert_eq!(
        Database::parse("sqlite:///../x.db").ok(),
        Some(Database::File("../x.db".into()))
    );
    for (given, says) in [
        (
            "postgresql://scott:tiger@db.internal/app",
            "the \"postgresql\" scheme is not supported",
        ),
        ("mysql+pymysql://u:p@h/d", "the \"mysql+pymysql\" scheme"),
        ("users.db", "a connection string is a URL"),
        ("sqlite://host/users.db", "names a host"),
        ("sqlite:///users.db?mode=rwc", "URL query parameters"),
    ] {
        let message = Database::parse(given).expect_err(given).to_string();
        assert!(message.contains(says), "{given}: {message}");
        assert!(
            message.contains("sqlite:///relative/path.db"),
            "{given}: {message}"
        );
        assert!(!message.contains("tiger"), "{message}");
    }
}

#[test]
fn only_one_statement_that_reads_is_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = database(dir.path(), "users.db", USERS);
    let budget = SourceBudget::unlimited();
    for (query, says) in [
        ("DROP TABLE users", "not authorized"),
        ("DELETE FROM users", "not authorized"),
        ("INSERT INTO users (id) VALUES (9)", "not authorized"),
        ("CREATE TEMP TABLE t (x)", "not authorized"),
        ("ATTACH DATABASE 'other.db' AS other", "not authorized"),
        ("PRAGMA table_info(users)", "not authorized"),
        ("PRAGMA temp_store_directory = '/tmp'", "not authorized"),
        ("SELECT 1; DROP TABLE users", "more than one statement"),
        ("SELECT 1; SELECT 2", "more than one statement"),
        ("  -- nothing\n", "there is none"),
    ] {
        let error = read(
            Some(&path),
            query,
            &budget,
            CancellationToken::new(),
            QUERY_TIME_LIMIT,
        )
        .expect_err(query)
        .to_string();
        assert!(
            error.starts_with("database source sqlite:///test.db: the query must be one statement that only reads (a SELECT): ")
                && error.contains(says),
            "{query}: {error}"
        );
    }
    // The table is still there, and a trailing semicolon or comment is fine.
    let source = read(
        Some(&path),
        "SELECT name FROM users; -- all of them\n",
        &budget,
        CancellationToken::new(),
        QUERY_TIME_LIMIT,
    )
    .expect("reads");
    assert_eq!(source.rows(), 3);
    // A failing query says why.
    let error = read(
        Some(&path),
        "SELECT nope FROM users",
        &budget,
        CancellationToken::new(),
        QUERY_TIME_LIMIT,
    )
    .expect_err("no such column")
    .to_string();
    assert!(
        error.starts_with("database source sqlite:///test.db: the query failed: ")
            && error.contains("no such column: nope"),
        "{error}"
    );
    // So does a value past the bound on one value.
    let error = read(
        None,
        "SELECT randomblob(100000000)",
        &budget,
        CancellationToken::new(),
        QUERY_TIME_LIMIT,
    )
    .expect_err("too big")
    .to_string();
    assert!(error.contains("too big"), "{error}");
}

#[test]
fn a_query_that_never_ends_is_cut_off() {
    let budget = SourceBudget::limited(64 << 20);
    for query in [
        // No row ever: only the time limit stops it.
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        // A sort that would never get its last row.
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c ORDER BY x DESC",
    ] {
        let started = Instant::now();
        let error = read(
            None,
            query,
            &budget,
            CancellationToken::new(),
            Duration::from_millis(300),
        )
        .expect_err("cut off");
        let took = started.elapsed();
        assert!(
            matches!(error, ResolverError::TooLong { limit, .. } if limit == Duration::from_millis(300)),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("the query ran longer than 0.3s and was stopped"),
            "{error}"
        );
        assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    }
}

#[test]
fn rows_are_charged_to_the_budget_and_stop_at_it() {
    let budget = SourceBudget::limited(1 << 20);
    // Endless small rows: stopped by the budget well before the time limit.
    let error = read(
        None,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x, 'some text' FROM c",
        &budget,
        CancellationToken::new(),
        Duration::from_secs(60),
    )
    .expect_err("over the budget");
    assert!(
        matches!(
            error,
            ResolverError::DbLoad {
                error: LoadError::OverBudget { limit: 1048576, .. },
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("--max-source-bytes"), "{error}");
    // What a source keeps is charged while it is held, and given back.
    let source = read(
        None,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT x FROM c",
        &budget,
        CancellationToken::new(),
        QUERY_TIME_LIMIT,
    )
    .expect("fits");
    assert_eq!(source.rows(), 1000);
    // 2,893 digits and 1,000 offsets of 8 bytes.
    assert_eq!(source.bytes(), 2893 + 8000);
    let again = read(
        None,
        "SELECT 1",
        &SourceBudget::limited(source.bytes() + 100),
        CancellationToken::new(),
        QUERY_TIME_LIMIT,
    );
    assert!(again.is_ok());
    drop(source);
}

#[test]
fn cancelling_stops_a_running_query() {
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        stop.cancel();
    });
    let started = Instant::now();
    let error = read(
        None,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        &SourceBudget::unlimited(),
        cancel,
        Duration::from_secs(60),
    )
    .expect_err("cancelled");
    stopper.join().expect("join");
    assert!(
        matches!(
            error,
            ResolverError::DbLoad {
                error: LoadError::Cancelled,
                ..
            }
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn only_a_regular_file_with_no_link_is_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = database(dir.path(), "users.db", USERS);
    let budget = SourceBudget::unlimited();
    let query = "SELECT name FROM users";
    let open = |path: &Path| {
        read(
            Some(path),
            query,
            &budget,
            CancellationToken::new(),
            QUERY_TIME_LIMIT,
        )
        .map(|source| source.rows())
        .map_err(|e| e.to_string())
    };
    assert_eq!(open(&path), Ok(3));
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&path, &link).expect("symlink");
    let error = open(&link).expect_err("a link");
    assert!(
        error.starts_with("cannot open database source sqlite:///test.db: a symbolic link"),
        "{error}"
    );
    // A link higher up the path: SQLite refuses it (SQLITE_OPEN_NOFOLLOW).
    let linked_dir = dir.path().join("linked");
    std::os::unix::fs::symlink(dir.path(), &linked_dir).expect("symlink");
    let error = open(&linked_dir.join("users.db")).expect_err("a link on the way");
    assert!(error.contains("a symbolic link"), "{error}");
    let error = open(dir.path()).expect_err("a folder");
    assert!(error.ends_with("it is not a regular file"), "{error}");
    let error = open(&dir.path().join("missing.db")).expect_err("missing");
    assert!(error.contains("No such file"), "{error}");
    // Links are followed where the path rule allows them (--allow-any-path).
    let followed = DbSource::read_from(
        "sqlite:///link.db",
        Some(&SqlitePath {
            path: link,
            links: Links::Follow,
        }),
        query,
        true,
        Meter::new(&budget, CancellationToken::new()),
    )
    .expect("followed");
    assert_eq!(followed.rows(), 3);
}

#[test]
fn a_database_is_never_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = database(dir.path(), "users.db", USERS);
    let before = std::fs::read(&path).expect("read");
    let budget = SourceBudget::unlimited();
    for query in ["SELECT * FROM users", "DROP TABLE users"] {
        let _ = read(
            Some(&path),
            query,
            &budget,
            CancellationToken::new(),
            QUERY_TIME_LIMIT,
        );
    }
    assert_eq!(std::fs::read(&path).expect("read"), before);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["users.db"], "no journal or WAL file left");
}
