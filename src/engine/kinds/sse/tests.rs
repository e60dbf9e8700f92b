//! The event-stream parser (the WHATWG examples) and parsing an `sse_user`
//! task list.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use serde_json::{json, Value};

use super::events::{Event, Parser, MAX_EVENT_BYTES};
use super::spec::{self, Method, SseStep};
use crate::engine::kinds::Context;
use crate::engine::task::Fixed;
use crate::resolver::Template;
use crate::spec::Note;

fn events(chunks: &[&[u8]]) -> (Vec<Event>, Parser) {
    let mut parser = Parser::default();
    let mut out = VecDeque::new();
    for chunk in chunks {
        parser.feed(chunk, &mut out).expect("parsed");
    }
    (out.into(), parser)
}

fn event(kind: &str, data: &str, id: &str) -> Event {
    Event {
        kind: kind.into(),
        data: data.into(),
        id: id.into(),
    }
}

#[test]
fn fields_comments_and_multi_line_data() {
    let (out, parser) = events(&[
        b"\xEF\xBB\xBF: a comment\ndata: first\ndata:second\n\n",
        b"event: add\r\ndata: 73857293\r\nid: 7\r\n\r\n",
        b"data\rdata\r\r",
        b"retry: 250\nretry: x\nid: a\0b\ndata: {\"k\": 1}\nunknown: field\n\n",
        b"data: unfinished\n",
    ]);
    assert_eq!(
        out,
        [
            event("message", "first\nsecond", ""),
            event("add", "73857293", "7"),
            event("message", "\n", "7"),
            event("message", "{\"k\": 1}", "7"),
        ]
    );
    assert_eq!(parser.retry, Some(Duration::from_millis(250)));
}

#[test]
fn line_ends_split_across_chunks() {
    let (out, _) = events(&[b"data: a\r", b"\ndata: b\r", b"\r", b"data: c", b"\n\n"]);
    assert_eq!(
        out,
        [event("message", "a\nb", ""), event("message", "c", "")]
    );
}

#[test]
fn an_event_with_no_data_is_not_dispatched_but_its_id_is_kept() {
    let (out, parser) = events(&[b"id: 3\nevent: x\n\ndata: y\n\n"]);
    assert_eq!(out, [event("message", "y", "3")]);
    assert_eq!(parser.last_id, "3");
}

#[test]
fn lines_and_events_are_capped() {
    let mut parser = Parser::default();
    let mut out = VecDeque::new();
    let long = vec![b'a'; MAX_EVENT_BYTES + 1];
    assert!(parser.feed(&long, &mut out).is_err());
    let mut parser = Parser::default();
    let line = format!("data: {}\n", "b".repeat(MAX_EVENT_BYTES / 2));
    parser.feed(line.as_bytes(), &mut out).expect("one half");
    assert!(parser.feed(line.as_bytes(), &mut out).is_err());
}

struct AsWritten;

impl Fixed for AsWritten {
    fn render(&self, template: &Template, _: &HashSet<String>) -> String {
        template.source().to_owned()
    }
}

fn parse_with(tasks: Value, base: Option<&str>) -> Result<(Vec<SseStep>, Vec<Note>), String> {
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

#[test]
fn steps_are_named_as_loaddensity_names_them() {
    let (steps, notes) = parse_with(
        json!([
            {"method": "open", "request_url": "/stream", "headers": {"X-Token": "${var.t}"}},
            {"expect": "ready", "timeout": 5},
            {"method": "close"}
        ]),
        Some("http://host.test"),
    )
    .expect("parsed");
    assert!(notes.is_empty(), "{notes:?}");
    let names: Vec<&str> = steps.iter().map(|s| &*s.head.name).collect();
    assert_eq!(names, ["/stream", "/stream", "/stream"]);
    assert_eq!(
        steps.iter().map(|s| s.method).collect::<Vec<_>>(),
        [Method::Open, Method::Wait, Method::Close]
    );
    assert_eq!(steps[0].timeout, spec::DEFAULT_TIMEOUT);
    assert_eq!(steps[1].timeout, Duration::from_secs(5));
    let (steps, _) = parse_with(json!([{"method": "connect"}, {}]), None).expect("parsed");
    assert_eq!(&*steps[0].head.name, "connect");
    assert_eq!(&*steps[1].head.name, "wait");
}

#[test]
fn mistakes_are_reported_at_their_path() {
    let error = |tasks: Value| parse_with(tasks, None).expect_err("refused");
    assert_eq!(
        error(json!([{}, {"method": "listen"}])),
        "tasks[1].method: unknown method \"listen\"; expected one of open, connect, wait, close"
    );
    assert_eq!(
        error(json!([{"method": "open", "url": "/s"}])),
        "tasks[0].url: relative URL \"/s\" and no host (set user_detail_dict.host or variables.host)"
    );
    assert!(error(json!([{"request_url": "ws://a.test/"}]))
        .starts_with("tasks[0].request_url: \"ws://a.test/\": scheme \"ws\""));
    assert_eq!(
        error(json!([{"headers": {"bad header": "x"}}])),
        "tasks[0].headers.bad header: not a header name"
    );
    assert!(error(json!([{"expect": 3}])).starts_with("tasks[0].expect: invalid type"));
    assert!(error(json!({"tasks": [{"throttle": {"rps": -1}}]}))
        .starts_with("tasks.tasks[0].throttle.rps: "));
    let (_, notes) = parse_with(json!([{"expct": "x"}]), None).expect("parsed");
    assert_eq!(
        notes[0].to_string(),
        "tasks[0].expct: unknown key, ignored (did you mean \"expect\"?)"
    );
}
