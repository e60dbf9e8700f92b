use serde_json::{json, Value};

use super::*;
use crate::spec::{Note, SpecError};

fn compile_with(
    tasks: Value,
    user: Naming,
    base: Option<&str>,
) -> Result<(Scenario, Vec<Note>), SpecError> {
    compile::parse_alone(&tasks, user, base)
}

fn scenario(tasks: Value) -> Scenario {
    match compile_with(tasks, Naming::FastHttp, None) {
        Ok((scenario, _)) => scenario,
        Err(e) => panic!("{e}"),
    }
}

fn error(tasks: Value) -> String {
    compile_with(tasks, Naming::FastHttp, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

fn notes(tasks: Value) -> Vec<String> {
    compile_with(tasks, Naming::FastHttp, None)
        .map(|(_, notes)| notes.iter().map(Note::to_string).collect())
        .unwrap_or_else(|e| vec![format!("error: {e}")])
}

#[test]
fn forms_of_task_lists() {
    let list = scenario(json!([{"method": "GET", "request_url": "/a"}]));
    assert_eq!((list.mode, list.tasks.len()), (Mode::Sequence, 1));
    assert_eq!(list.tasks[0].method, Method::GET);
    assert_eq!(&*list.tasks[0].head.name, "/a");
    let legacy =
        scenario(json!({"get": {"request_url": "/a"}, "post": {"request_url": "/b", "name": "b"}}));
    assert_eq!(legacy.tasks[1].method, Method::POST);
    assert_eq!(&*legacy.tasks[1].head.name, "b");
    let weighted = scenario(json!({"mode": "weighted", "tasks": [
        {"method": "get", "url": "/a", "weight": 3}, {"method": "get", "url": "/b", "weight": 0}]}));
    assert_eq!(weighted.mode, Mode::Weighted);
    assert_eq!(weighted.tasks[0].head.weight, 3);
    let nested_legacy =
        scenario(json!({"mode": "conditional", "tasks": {"delete": {"url": "/x"}}}));
    assert_eq!(
        (nested_legacy.mode, nested_legacy.tasks[0].method.clone()),
        (Mode::Sequence, Method::DELETE)
    );
}

#[test]
fn errors_name_the_json_path() {
    assert_eq!(
        error(json!([{"method": "get", "url": "/"}, {"method": "fetch", "url": "/"}])),
        "tasks[1].method: \"fetch\" is not one of get, post, put, patch, delete, head, options"
    );
    assert_eq!(
        error(json!([{"method": "get"}])),
        "tasks[0].request_url: missing (request_url or url)"
    );
    assert_eq!(
        error(
            json!([{"method": "get", "url": "/"}, {"method": "get", "url": "/"}, {"method": "get", "url": "/",
            "assertions": [{"type": "status_code", "value": "x"}]}])
        ),
        "tasks[2].assertions[0].value: expected a status code (a number from 100 to 999)"
    );
    assert_eq!(
        error(
            json!([{"method": "get", "url": "/", "assertions": [{"type": "contains", "value": 1, "path": 3}]}])
        ),
        "tasks[0].assertions[0].path: invalid type: integer `3`, expected a string"
    );
    assert_eq!(
        error(json!({"mode": "random", "tasks": [{"method": "get", "url": "/"}]})),
        "tasks.mode: \"random\" is not one of \"sequence\", \"weighted\", \"conditional\""
    );
    assert_eq!(error(json!([])), "tasks: no task given");
    assert_eq!(
        error(json!([{"method": "get", "url": "/", "timeout": -1}])),
        "tasks[0].timeout: must be a positive number of seconds"
    );
    assert_eq!(
        error(json!([{"method": "get", "url": "/", "think_time": "1"}])),
        "tasks[0].think_time: invalid type: string \"1\", expected a number of seconds or {\"min\": .., \"max\": ..}"
    );
    assert_eq!(
        error(json!({"get": {"url": "/", "throttle": {"rps": 0}}})),
        "tasks.get.throttle.rps: must be a positive number of requests per second"
    );
    assert_eq!(
        error(json!([{"method": "get", "url": "/", "assertions": [{"type": "json_path", "path": "$.a[", "value": 1}]}]))
            .split(':').next().unwrap_or_default(),
        "tasks[0].assertions[0].path"
    );
}

#[test]
fn unknown_keys_are_noted_everywhere_with_suggestions() {
    assert_eq!(
        notes(json!([{"method": "get", "url": "/", "think_tim": 1, "verfy": false,
            "assertions": [{"type": "contains", "vaule": "x", "value": "y"}, {"type": "size", "value": 1}],
            "extract": [{"var": "t", "paht": "a"}],
            "retry": {"transiant": 1},
            "throttle": {"rps": 5, "brust": 2}}])),
        [
            "tasks[0].think_tim: unknown key, ignored (did you mean \"think_time\"?)",
            "tasks[0].verfy: unknown key, ignored (did you mean \"verify\"?)",
            "tasks[0].assertions[0].vaule: unknown key, ignored (did you mean \"value\"?)",
            "tasks[0].extract[0].paht: unknown key, ignored (did you mean \"path\"?)",
            "tasks[0].retry.transiant: unknown key, ignored (did you mean \"transient\"?)",
            "tasks[0].throttle.brust: unknown key, ignored (did you mean \"burst\"?)",
            "tasks[0].assertions[1].type: unknown assertion type \"size\", assertion ignored (known: status_code, contains, not_contains, json_path, header)",
        ]
    );
}

#[test]
fn a_key_beside_mode_and_tasks_is_noted() {
    assert_eq!(
        notes(json!({"mode": "sequence", "tasks": [{"method": "get", "url": "/"}], "moed": 1})),
        ["tasks.moed: unknown key, ignored (did you mean \"mode\"?)"]
    );
}

#[test]
fn body_checks_and_task_keys() {
    let s = scenario(json!([{
        "method": "post", "url": "/login", "json": {"user": "${var.u}"},
        "assertions": [{"type": "status_code", "value": 201}, {"type": "json_path", "path": "$.data.token", "value": "x"}],
        "extract": [{"var": "tok", "from": "json_path", "path": "data.token"}, {"var": "s", "from": "status_code", "scope": "session"}],
        "auth": {"type": "bearer", "token": "${var.tok}"},
        "run_if": {"equals": ["${var.a}", "b"]},
        "think_time": {"min": 0.5, "max": 0.25},
        "throttle": {"rps": 2.5},
        "retry": {"flaky": 1},
        "allow_redirects": false,
        "verify": "ca.pem",
        "client_cert": ["c.pem", "k.pem"]
    }, {"method": "post", "url": "/up", "data": {"a": "1"}, "files": {"f": "text", "g": ["g.txt", "x", "text/plain"]}}]));
    let t = &s.tasks[0];
    assert!(matches!(t.body, Body::Json(_)));
    assert!(t.options.retain.body);
    assert!(matches!(t.extract[1].source, Source::StatusCode));
    assert!(t.extract[1].session);
    assert!(matches!(t.head.run_if, Some(Condition::Equals(_, _))));
    assert!(matches!(t.auth, Some(Auth::Bearer(_))));
    assert_eq!(
        t.head.think,
        Some(Think {
            min: Duration::from_millis(500),
            max: Duration::from_millis(500)
        })
    );
    assert_eq!(
        t.head.throttle.as_ref().map(|b| (b.rps(), b.burst())),
        Some((2.5, 2))
    );
    assert_eq!(t.retry.map(|r| r.budgets), Some([5, 1, 0]));
    assert_eq!(t.options.redirects, crate::engine::http::Redirects::Stop);
    assert_eq!(
        t.tls.verify,
        Some(spec::VerifySpec::CaBundle("ca.pem".into()))
    );
    assert_eq!(
        t.tls.cert,
        Some(spec::CertSpec::Pair("c.pem".into(), "k.pem".into()))
    );
    assert_eq!(
        s.tasks[1].options.redirects,
        crate::engine::http::Redirects::Follow
    );
    let Body::Multipart { fields, files } = &s.tasks[1].body else {
        panic!("not multipart: {:?}", s.tasks[1].body);
    };
    assert_eq!(fields[0].0, "a");
    assert_eq!(
        (files[0].filename.source(), files[1].filename.source()),
        ("f", "g.txt")
    );
    assert_eq!(files[1].content_type.as_deref(), Some("text/plain"));
}

#[test]
fn unnamed_tasks_are_named_by_url_per_user_type() {
    let tasks = json!([
        {"method": "get", "url": "/p/${uuid()}?a=1", "params": {"q": "x y"}},
        {"method": "get", "url": "http://other:9/z"},
        {"method": "get", "url": "/n", "name": "kept"}
    ]);
    let names = |user| match compile_with(tasks.clone(), user, Some("http://h:8")) {
        Ok((s, _)) => s
            .tasks
            .iter()
            .map(|t| t.head.name.to_string())
            .collect::<Vec<_>>(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        names(Naming::FastHttp),
        ["http://h:8/p/${uuid()}?a=1", "http://other:9/z", "kept"]
    );
    assert_eq!(
        names(Naming::Http),
        ["/p/${uuid()}?a=1&q=x+y", "/z", "kept"]
    );
}

#[test]
fn names_past_the_cap_are_folded_into_one() {
    let tasks: Vec<Value> = (0..10)
        .map(|i| json!({"name": format!("n{}", i % 6), "method": "get", "url": "/"}))
        .collect();
    let mut s = scenario(Value::Array(tasks));
    assert_eq!(s.name_count(), 6);
    assert_eq!(s.cap_names(4), 2, "n4 and n5 folded");
    let names: Vec<&str> = s.tasks.iter().map(|t| &*t.head.name).collect();
    assert_eq!(
        names,
        [
            "n0",
            "n1",
            "n2",
            "n3",
            OTHER_NAMES,
            OTHER_NAMES,
            "n0",
            "n1",
            "n2",
            "n3"
        ]
    );
    assert_eq!(s.name_count(), 5);
    assert_eq!(s.cap_names(5), 0);
}
