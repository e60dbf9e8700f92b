//! Parsing a `websocket_user` task list: LoadDensity's vocabulary, its
//! naming of unnamed steps, mistakes at their JSON paths, notes.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::spec::{self, Method, Payload, WsStep};
use crate::engine::kinds::Context;
use crate::engine::task::{Fixed, Step};
use crate::resolver::Template;
use crate::spec::Note;

struct AsWritten;

impl Fixed for AsWritten {
    fn render(&self, template: &Template, _: &HashSet<String>) -> String {
        template.source().to_owned()
    }
}

fn parse_with(tasks: Value, base: Option<&str>) -> Result<(Vec<WsStep>, Vec<Note>), String> {
    let ctx = Context {
        base,
        fixed: &AsWritten,
        http2: false,
        http2_settings: Default::default(),
    };
    let mut notes = Vec::new();
    spec::parse(tasks, &ctx, &mut notes)
        .map(|steps| (steps, notes))
        .map_err(|e| e.to_string())
}

fn error(tasks: Value) -> String {
    parse_with(tasks, None).expect_err("refused")
}

#[test]
fn steps_are_named_as_loaddensity_names_them() {
    let (steps, notes) = parse_with(
        json!([
            {"method": "connect", "request_url": "ws://a.test/chat"},
            {"method": "sendrecv", "payload": "hi"},
            {"payload": "no method", "name": "plain"},
            {"method": "RECV", "url": "ws://b.test/"},
            {"method": "close"}
        ]),
        Some("ws://host.test/"),
    )
    .expect("parsed");
    assert!(notes.is_empty(), "{notes:?}");
    let names: Vec<&str> = steps.iter().map(|s| &*s.head.name).collect();
    assert_eq!(
        names,
        [
            "ws://a.test/chat",
            "ws://a.test/chat",
            "plain",
            "ws://b.test/",
            "ws://b.test/"
        ]
    );
    let methods: Vec<Method> = steps.iter().map(|s| s.method).collect();
    assert_eq!(
        methods,
        [
            Method::Connect,
            Method::SendRecv,
            Method::Send,
            Method::Recv,
            Method::Close
        ]
    );
    assert_eq!(steps[0].timeout, spec::DEFAULT_TIMEOUT);
}

#[test]
fn without_urls_steps_are_named_by_the_host_else_their_method() {
    let tasks = json!([{"method": "send"}, {"method": "recv"}]);
    let (steps, _) = parse_with(tasks.clone(), Some("ws://host.test/")).expect("parsed");
    assert_eq!(&*steps[1].head.name, "ws://host.test/");
    let (steps, _) = parse_with(tasks, None).expect("parsed");
    assert_eq!(&*steps[0].head.name, "send");
    assert_eq!(&*steps[1].head.name, "recv");
}

#[test]
fn mistakes_are_reported_at_their_path() {
    assert_eq!(
        error(json!([{"method": "send"}, {"method": "foo"}])),
        "tasks[1].method: unknown method \"foo\"; expected one of connect, send, recv, sendrecv, close"
    );
    assert_eq!(
        error(json!([{"timeout": 0}])),
        "tasks[0].timeout: must be a positive number of seconds"
    );
    assert!(error(json!([{"timeout": "5"}])).starts_with("tasks[0].timeout: invalid type"));
    assert!(error(json!([{"payload": 3}])).starts_with("tasks[0].payload: invalid type"));
    assert!(error(json!([{"payload": "%%%", "binary": true}]))
        .starts_with("tasks[0].payload: binary payload is not base64"),);
    assert!(error(json!([{"url": "http://a.test/"}]))
        .starts_with("tasks[0].url: \"http://a.test/\": scheme \"http\" is not \"ws\" or \"wss\""));
    assert!(error(json!({"tasks": [{}, {"think_time": "x"}]}))
        .starts_with("tasks.tasks[1].think_time: "));
    assert_eq!(error(json!([])), "tasks: no step given");
    assert!(error(json!({"mode": "sequence"})).contains("no \"tasks\" list"));
}

#[test]
fn unknown_keys_are_noted_with_the_closest_known_one() {
    let (_, notes) = parse_with(
        json!({"mode": "weighted", "tasks": [{"method": "send", "paylod": "x"}]}),
        None,
    )
    .expect("parsed");
    let notes: Vec<String> = notes.iter().map(Note::to_string).collect();
    assert!(
        notes.contains(
            &"tasks.tasks[0].paylod: unknown key, ignored (did you mean \"payload\"?)".to_owned()
        ),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("tasks.mode: \"weighted\" ignored")),
        "{notes:?}"
    );
}

#[test]
fn binary_payloads_are_base64_and_templates_are_rendered_later() {
    let (steps, _) = parse_with(
        json!([
            {"payload": "AAEC", "binary": true},
            {"payload": "${var.x}", "binary": true, "expect": "${env.HOME}"}
        ]),
        None,
    )
    .expect("parsed");
    assert!(
        matches!(&steps[0].payload, Payload::Fixed(m) if m.is_binary() && m.len() == 3),
        "a payload without placeholder is decoded once, as the test is compiled"
    );
    assert!(matches!(steps[1].payload, Payload::Binary(_)));
    assert_eq!(spec::decode("AAEC"), Ok(vec![0, 1, 2]));
    assert_eq!(spec::decode("AAE"), Ok(vec![0, 1]));
    assert_eq!(steps[1].env_names(), ["HOME"]);
}
