//! The resolver's rules, end to end: register, fork, render.

use std::io::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;

/// Writes `content` to a CSV file in `dir`.
fn csv_file(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    let mut file = std::fs::File::create(&path).expect("create csv");
    file.write_all(content.as_bytes()).expect("write csv");
    path
}

/// A resolver with source `users` (3 rows) registered with `cycle`.
fn users(cycle: bool) -> (tempfile::TempDir, Resolver) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = csv_file(&dir, "users.csv", "name,pass\nann,a1\nbob,b2\ncat,c3\n");
    let mut resolver = Resolver::new();
    let rows = resolver
        .register_csv_source("users", &path, cycle)
        .expect("register");
    assert_eq!(rows, 3);
    (dir, resolver)
}

fn render(session: &mut Session, text: &str) -> String {
    session.scope().render_string(&Template::parse(text))
}

#[test]
fn variables_render_as_text_or_compact_json() {
    let mut resolver = Resolver::new();
    resolver.register_variable("s", json!("text"));
    resolver.register_variable("n", json!(5));
    resolver.register_variable("f", json!(1.5));
    resolver.register_variable("b", json!(true));
    resolver.register_variable("o", json!({"a": 1, "b": [1, "x"]}));
    resolver.register_variable("nul", Value::Null);
    let mut session = resolver.fork();
    assert_eq!(
        render(&mut session, "${var.s}|${var.n}|${var.f}|${var.b}|${var.o}"),
        r#"text|5|1.5|true|{"a":1,"b":[1,"x"]}"#
    );
    // A bare name is a variable, as in LoadDensity; the prefix is any case.
    assert_eq!(render(&mut session, "${s}-${ VAR.n }"), "text-5");
    // null is left unresolved, as LoadDensity did.
    assert_eq!(render(&mut session, "${var.nul}"), "${var.nul}");
    assert_eq!(resolver.variables().len(), 6);
}

#[test]
fn render_appends_to_the_callers_string() {
    let mut resolver = Resolver::new();
    resolver.register_variable("a", json!("A"));
    let mut session = resolver.fork();
    let mut out = String::from(">");
    let mut scope = session.scope();
    scope.render(&Template::parse("${var.a}."), &mut out);
    scope.render(&Template::parse("static"), &mut out);
    assert_eq!(out, ">A.static");
}

#[test]
fn unknown_placeholders_are_preserved_byte_for_byte() {
    let mut resolver = Resolver::new();
    resolver.register_variable("known", json!("K"));
    let mut session = resolver.fork();
    for text in [
        "${var.missing}",
        "${ var.missing }",
        "${Var.missing}",
        "${session.missing}",
        "${env.LD_TOWER_SURELY_UNSET_VARIABLE_42}",
        "${csv.nosuch.col}",
        "${faker.nope}",
        "${faker.Name}",
        "${db.nosuch.col}",
        "${unknown.prefix}",
        "${nosuchfn()}",
        "${randint(5,1)}",
        "${randint(a,b)}",
        "${randint(1)}",
        "${}",
        "${ }",
        "${${x}}",
        "${unterminated",
        "$ {var.known}",
        "日本${var.missing}🦀",
        "{\"json\": \"${nope}\"}",
    ] {
        assert_eq!(render(&mut session, text), text, "{text:?}");
    }
    assert_eq!(
        render(&mut session, "a${var.missing}b${var.known}c${}d"),
        "a${var.missing}bKc${}d"
    );
}

#[test]
fn unknown_only_fuzz_renders_back_the_source() {
    // Nothing registered and no functions or env among the pieces: every
    // placeholder stays, so rendering gives back the text exactly.
    const PIECES: &[&str] = &[
        "${", "}", "${}", "$", "{", "var.", "session.", "csv.", "a", ".", "(", ")", " ", "\n", "é",
        "日本", "🦀", "${${x}}", "x()",
    ];
    let mut session = Resolver::new().fork();
    let mut rng = fastrand::Rng::with_seed(42);
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..rng.usize(0..10) {
            text.push_str(PIECES[rng.usize(..PIECES.len())]);
        }
        assert_eq!(render(&mut session, &text), text);
    }
}

#[test]
fn session_variables_and_extractor_writes_stay_in_their_session() {
    let mut resolver = Resolver::new();
    resolver.register_variable("token", json!("registered"));
    let mut first = resolver.fork();
    let mut second = resolver.fork();
    assert_eq!(first.variable("token"), Some(&json!("registered")));

    first.set_variable("token", json!("extracted"));
    first.set_variable("new", json!(1));
    first.set_session_variable("sid", json!("s-1"));
    assert_eq!(
        render(&mut first, "${var.token} ${var.new} ${session.sid}"),
        "extracted 1 s-1"
    );
    // Neither the resolver nor another session sees the writes.
    assert_eq!(
        resolver.variables().get("token"),
        Some(&json!("registered"))
    );
    assert!(resolver.variables().get("new").is_none());
    assert_eq!(
        render(&mut second, "${var.token} ${var.new} ${session.sid}"),
        "registered ${var.new} ${session.sid}"
    );
    // A later registration does not reach sessions already forked.
    resolver.register_variable("late", json!("L"));
    assert_eq!(render(&mut second, "${var.late}"), "${var.late}");
    assert_eq!(render(&mut resolver.fork(), "${var.late}"), "L");
    // `session.` and `var.` are separate namespaces.
    second.set_session_variable("only", json!("S"));
    assert_eq!(
        render(&mut second, "${var.only}|${session.only}"),
        "${var.only}|S"
    );
}

#[test]
fn env_variables_are_read_at_render_time() {
    let mut session = Resolver::new().with_env(EnvPolicy::All).fork();
    let expected = std::env::var("PATH").unwrap_or_else(|_| "${env.PATH}".to_owned());
    assert_eq!(render(&mut session, "${env.PATH}"), expected);
    assert_eq!(render(&mut session, "${ENV.PATH}"), expected);
}

#[test]
fn env_variables_not_allowed_are_never_read() {
    let path = std::env::var("PATH").expect("PATH is set");
    // The default reads nothing: the placeholder stays as written.
    let mut session = Resolver::new().fork();
    assert_eq!(render(&mut session, "${env.PATH}"), "${env.PATH}");
    // Only the names allowed; clear keeps the policy.
    let mut resolver = Resolver::new().with_env(EnvPolicy::only(["PATH"]));
    resolver.clear();
    let mut session = resolver.fork();
    assert_eq!(
        render(&mut session, "${env.PATH}|${env.HOME}"),
        format!("{path}|${{env.HOME}}")
    );
}

#[test]
fn env_check_finds_every_name_a_task_renders() {
    let only = EnvPolicy::only(["OK"]);
    let check = |task: &Value| {
        let mut task = task.clone();
        if let Value::Object(task) = &mut task {
            task.entry("method").or_insert(json!("post"));
            task.entry("url").or_insert(json!("/"));
        }
        let scenario = crate::engine::Scenario::parse(&json!([task])).expect("tasks parse");
        only.check(scenario.env_names())
    };
    let refused = |task: &Value| {
        let refused = check(task).expect_err("refused");
        assert!(refused.to_string().contains("--allow-env"), "{refused}");
        refused.name
    };
    assert_eq!(check(&json!({"url": "/${env.OK}", "weight": 5})), Ok(()));
    // Every template a task renders.
    let env = "${env.SECRET}";
    for task in [
        json!({"url": format!("/{env}")}),
        json!({"headers": {"X": env}}),
        json!({"params": {"p": env}}),
        json!({"cookies": {"c": env}}),
        json!({"json": {"b": env}}),
        json!({"data": {"f": env}}),
        json!({"data": env}),
        json!({"auth": {"type": "basic", "username": "u", "password": env}}),
        json!({"auth": {"type": "bearer", "token": env}}),
        json!({"assertions": [{"type": "contains", "value": env}]}),
        json!({"assertions": [{"type": "not_contains", "value": env}]}),
        json!({"assertions": [{"type": "header", "name": "x", "value": env}]}),
        json!({"assertions": [{"type": "json_path", "path": "a", "value": [env]}]}),
        json!({"run_if": env}),
        json!({"skip_if": {"in": ["a", {"k": env}]}}),
    ] {
        assert_eq!(refused(&task), "SECRET", "{task}");
    }
    assert_eq!(
        refused(&json!({"json": {"deep": [[{"a": " ${ ENV.Deep }"}]]}})),
        "Deep"
    );
    // A non-string header, parameter, cookie or form field is rendered from
    // its JSON text: its keys, and text spread over two of its strings.
    assert_eq!(refused(&json!({"params": {"p": {"${env.KEY}": 1}}})), "KEY");
    assert_eq!(
        refused(&json!({"headers": {"X": {"a": "${env.A", "b": "Y}"}}})),
        "A\",\"b\":\"Y"
    );
    // What a task never renders: object keys, text spread over two strings
    // of a JSON body, its name, its extractors.
    for task in [
        json!({"params": {"${env.KEY}": 1}}),
        json!({"json": {"${env.KEY}": 1, "a": "${env.A", "b": "Y}"}}),
        json!({"name": "${env.NAME}", "extract": [{"var": "${env.VAR}", "path": "a"}]}),
    ] {
        assert_eq!(check(&task), Ok(()), "{task}");
    }
    assert_eq!(EnvPolicy::All.check(["SECRET"]), Ok(()));
}

#[test]
fn quoted_fields_survive_the_compact_buffer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = csv_file(
        &dir,
        "q.csv",
        "a,b,c\n\"x,y\",\"line\nbreak\",\"say \"\"hi\"\"\"\n,,\n日本,🦀,\u{1F}\n",
    );
    let mut resolver = Resolver::new();
    assert_eq!(
        resolver
            .register_csv_source("q", &path, false)
            .expect("register"),
        3
    );
    let source = resolver.csv_source("q").expect("registered");
    assert_eq!(source.bytes(), 23 + 2 + 13 + 3 * 8, "text and offsets");
    let mut session = resolver.fork();
    let row = "${csv.q.a}|${csv.q.b}|${csv.q.c}";
    assert_eq!(render(&mut session, row), "x,y|line\nbreak|say \"hi\"");
    assert_eq!(render(&mut session, row), "||");
    assert_eq!(render(&mut session, row), "日本|🦀|\u{1F}");
}

#[test]
fn one_row_per_source_per_call() {
    let (dir, mut resolver) = users(true);
    let other = csv_file(&dir, "other.csv", "id\n1\n2\n");
    resolver
        .register_csv_source("other", &other, true)
        .expect("register");
    let mut session = resolver.fork();
    let task = TemplateValue::parse(&json!({
        "url": "/login/${csv.users.name}",
        "json": {"user": "${csv.users.name}", "pass": "${csv.users.pass}", "id": "${csv.other.id}"},
        "headers": ["${csv.users.name}:${csv.users.pass}", "${csv.other.id}"],
    }));
    let (first, again) = {
        let mut scope = session.scope();
        let first = scope.render_value(&task);
        (
            first,
            scope.render_string(&Template::parse("${csv.users.name}")),
        )
    };
    assert_eq!(
        first,
        json!({
            "url": "/login/ann",
            "json": {"user": "ann", "pass": "a1", "id": "1"},
            "headers": ["ann:a1", "1"],
        })
    );
    assert_eq!(again, "ann");
    // The next call advances each source by one.
    let second = session.scope().render_value(&task);
    assert_eq!(
        second["json"],
        json!({"user": "bob", "pass": "b2", "id": "2"})
    );
    let third = session.scope().render_value(&task);
    assert_eq!(
        third["json"],
        json!({"user": "cat", "pass": "c3", "id": "1"})
    );
}

#[test]
fn cycling_sources_wrap() {
    let (_dir, resolver) = users(true);
    let mut session = resolver.fork();
    let names: Vec<String> = (0..7)
        .map(|_| render(&mut session, "${csv.users.name}"))
        .collect();
    assert_eq!(names, ["ann", "bob", "cat", "ann", "bob", "cat", "ann"]);
}

#[test]
fn non_cycling_sources_run_out_and_stay_unresolved() {
    let (_dir, resolver) = users(false);
    let mut session = resolver.fork();
    let names: Vec<String> = (0..5)
        .map(|_| render(&mut session, "${csv.users.name}/${csv.users.pass}"))
        .collect();
    assert_eq!(
        names,
        [
            "ann/a1",
            "bob/b2",
            "cat/c3",
            "${csv.users.name}/${csv.users.pass}",
            "${csv.users.name}/${csv.users.pass}"
        ]
    );
    assert_eq!(resolver.csv_source("users").map(CsvSource::rows), Some(3));
}

#[test]
fn forked_sessions_share_one_cursor() {
    let (_dir, resolver) = users(true);
    let mut first = resolver.fork();
    let mut second = resolver.fork();
    assert_eq!(render(&mut first, "${csv.users.name}"), "ann");
    assert_eq!(render(&mut second, "${csv.users.name}"), "bob");
    assert_eq!(render(&mut first, "${csv.users.name}"), "cat");
    // A clone of a session shares it too.
    assert_eq!(render(&mut second.clone(), "${csv.users.name}"), "ann");
}

#[test]
fn shared_cursor_hands_each_row_out_once_across_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content: String = std::iter::once("n\n".to_owned())
        .chain((0..1000).map(|n| format!("{n}\n")))
        .collect();
    let path = csv_file(&dir, "n.csv", &content);
    let mut resolver = Resolver::new();
    resolver
        .register_csv_source("n", &path, false)
        .expect("register");
    let template = Template::parse("${csv.n.n}");
    let mut seen: Vec<String> = std::thread::scope(|threads| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let mut session = resolver.fork();
                let template = &template;
                threads.spawn(move || {
                    (0..300)
                        .map(|_| session.scope().render_string(template))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("thread"))
            .collect()
    });
    seen.retain(|value| value != "${csv.n.n}");
    seen.sort_by_key(|value| value.parse::<u32>().unwrap_or(u32::MAX));
    let expected: Vec<String> = (0..1000).map(|n| n.to_string()).collect();
    assert_eq!(seen, expected);
}

#[test]
fn missing_columns_and_short_rows_stay_unresolved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = csv_file(&dir, "ragged.csv", "a,b\n1\n\n2,3,4\n");
    let mut resolver = Resolver::new();
    // The blank line is skipped; short and long rows are kept.
    assert_eq!(
        resolver
            .register_csv_source("r", &path, true)
            .expect("register"),
        2
    );
    let mut session = resolver.fork();
    assert_eq!(
        render(&mut session, "${csv.r.a}${csv.r.b}${csv.r.c}${csv.r}"),
        "1${csv.r.b}${csv.r.c}${csv.r}"
    );
    assert_eq!(render(&mut session, "${csv.r.a}${csv.r.b}"), "23");
}

#[test]
fn empty_csv_sources_resolve_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut resolver = Resolver::new();
    let empty = csv_file(&dir, "empty.csv", "");
    let header = csv_file(&dir, "header.csv", "a,b\n");
    assert_eq!(
        resolver
            .register_csv_source("e", &empty, true)
            .expect("empty"),
        0
    );
    assert_eq!(
        resolver
            .register_csv_source("h", &header, true)
            .expect("header"),
        0
    );
    let mut session = resolver.fork();
    assert_eq!(
        render(&mut session, "${csv.e.a}${csv.h.a}"),
        "${csv.e.a}${csv.h.a}"
    );
}

#[test]
fn csv_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut resolver = Resolver::new();
    let missing = dir.path().join("missing.csv");
    let error = resolver
        .register_csv_source("m", &missing, true)
        .expect_err("missing file");
    assert!(matches!(error, ResolverError::Open { .. }));
    let message = error.to_string();
    assert!(message.contains("missing.csv"), "{message}");

    let path = dir.path().join("latin1.csv");
    std::fs::write(&path, b"name\n\xe9t\xe9\n").expect("write");
    let error = resolver
        .register_csv_source("l", &path, true)
        .expect_err("invalid utf-8");
    assert!(matches!(error, ResolverError::Read { .. }));
    let message = error.to_string();
    assert!(
        message.contains("latin1.csv") && message.contains("UTF-8"),
        "{message}"
    );
    assert!(resolver.csv_source("l").is_none());
}

#[test]
fn clear_forgets_everything_but_forks_keep_theirs() {
    let (_dir, mut resolver) = users(true);
    resolver.register_variable("v", json!("V"));
    let mut before = resolver.fork();
    resolver.clear();
    assert!(resolver.variables().is_empty());
    assert_eq!(resolver.csv_sources().count(), 0);
    assert_eq!(
        render(&mut resolver.fork(), "${var.v}${csv.users.name}"),
        "${var.v}${csv.users.name}"
    );
    assert_eq!(render(&mut before, "${var.v}${csv.users.name}"), "Vann");
}

#[test]
fn uuid_is_a_fresh_v4() {
    let mut session = Resolver::new().fork();
    let first = render(&mut session, "${uuid()}");
    let second = render(&mut session, "${UUID()}");
    assert_ne!(first, second);
    for text in [&first, &second] {
        let parsed = uuid::Uuid::parse_str(text).expect("a uuid");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(text.len(), 36);
        assert_eq!(*text, text.to_lowercase());
    }
}

#[test]
fn now_is_local_iso_8601_to_the_second() {
    let mut session = Resolver::new().fork();
    let before = chrono::Local::now().naive_local();
    let text = render(&mut session, "${now()}");
    let after = chrono::Local::now().naive_local();
    assert_eq!(text.len(), 19, "{text}");
    let parsed =
        chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S").expect("iso 8601");
    assert_eq!(parsed.format("%Y-%m-%dT%H:%M:%S").to_string(), text);
    let truncate = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    assert!(
        truncate(before) <= text && text <= truncate(after),
        "{text}"
    );
    assert_eq!(render(&mut session, "${Now()}").len(), 19);
}

#[test]
fn randint_stays_within_bounds() {
    let mut session = Resolver::new().fork();
    let template = Template::parse("${randint(-2, 3)}");
    let mut seen = [false; 6];
    for _ in 0..2_000 {
        let n: i64 = session
            .scope()
            .render_string(&template)
            .parse()
            .expect("an integer");
        assert!((-2..=3).contains(&n), "{n}");
        seen[usize::try_from(n + 2).expect("in range")] = true;
    }
    assert!(seen.iter().all(|&s| s), "every value drawn: {seen:?}");
    assert_eq!(render(&mut session, "${RandInt(7,7)}"), "7");
}

#[test]
fn non_strings_and_keys_pass_through() {
    let mut resolver = Resolver::new();
    resolver.register_variable("a", json!("A"));
    let mut session = resolver.fork();
    let value = json!({
        "${var.a}": "${var.a}",
        "n": 1, "b": false, "z": null, "f": 2.5,
        "list": ["${var.a}", 3, ["${var.a}x"], {"k": "${var.a}"}],
    });
    let template = TemplateValue::parse(&value);
    let rendered = session.scope().render_value(&template);
    assert_eq!(
        rendered,
        json!({
            "${var.a}": "A",
            "n": 1, "b": false, "z": null, "f": 2.5,
            "list": ["A", 3, ["Ax"], {"k": "A"}],
        })
    );
    let keys: Vec<&String> = rendered.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["${var.a}", "n", "b", "z", "f", "list"]);
    // Static values render by clone.
    let plain = json!({"x": [1, "two"], "y": "${nope.y}"});
    let template = TemplateValue::parse(&plain);
    assert!(template.is_static());
    assert_eq!(session.scope().render_value(&template), plain);
}

#[test]
fn debug_is_a_summary() {
    let (_dir, mut resolver) = users(true);
    resolver.register_variable("big", json!("x".repeat(10_000)));
    let session = resolver.fork();
    assert!(format!("{resolver:?}").len() < 100);
    assert!(format!("{session:?}").len() < 100);
    let source = format!("{:?}", resolver.csv_source("users").expect("users"));
    assert!(
        source.contains("rows: 3") && !source.contains("ann"),
        "{source}"
    );
}
