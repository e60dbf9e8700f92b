//! Parsing a socket task list: names, defaults, mistakes at their JSON
//! path, notes; payloads; the streaming search.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::exchange::Finder;
use super::spec;
use super::task::{payload_bytes, Address, Payload, SocketTask, Transport};
use crate::engine::kinds::Context;
use crate::engine::task::{Fixed, Scenario};
use crate::resolver::Template;
use crate::spec::{Note, SpecError};

struct AsWritten;

impl Fixed for AsWritten {
    fn render(&self, template: &Template, _: &HashSet<String>) -> String {
        template.source().to_owned()
    }
}

fn parsed(
    tasks: Value,
    base: Option<&str>,
) -> Result<(Scenario<SocketTask>, Vec<String>), SpecError> {
    let ctx = Context {
        base,
        fixed: &AsWritten,
        http2: false,
        http2_settings: Default::default(),
    };
    let mut notes = Vec::new();
    let scenario = spec::parse(tasks, &ctx, &mut notes)?;
    Ok((scenario, notes.iter().map(Note::to_string).collect()))
}

fn tasks(tasks: Value) -> Vec<SocketTask> {
    match parsed(tasks, None) {
        Ok((scenario, _)) => scenario.tasks,
        Err(e) => panic!("{e}"),
    }
}

fn error(tasks: Value) -> String {
    parsed(tasks, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

fn notes(tasks: Value) -> Vec<String> {
    parsed(tasks, None)
        .map(|(_, notes)| notes)
        .unwrap_or_else(|e| vec![format!("error: {e}")])
}

fn bytes(task: &SocketTask) -> &[u8] {
    match &task.payload {
        Payload::Bytes(bytes) => bytes,
        Payload::Template(t) => panic!("not static: {t:?}"),
    }
}

#[test]
fn steps_are_named_and_defaulted_as_loaddensity_does() {
    let parsed = tasks(json!([
        {"protocol": "TCP", "target": "127.0.0.1:7000", "payload": "ping"},
        {"protocol": "udp", "host": "localhost:53", "name": "dns"},
        {"target": "[::1]:9", "payload": "hex:de ad BE ef"},
    ]));
    assert_eq!(&*parsed[0].head.name, "tcp:127.0.0.1:7000");
    assert_eq!(parsed[0].transport, Transport::Tcp);
    assert_eq!(bytes(&parsed[0]), b"ping");
    assert_eq!(&*parsed[1].head.name, "dns");
    assert_eq!(parsed[1].transport, Transport::Udp);
    assert_eq!(
        parsed[1].address,
        Some(Address {
            host: "localhost".into(),
            port: 53
        })
    );
    assert_eq!(&*parsed[2].head.name, "tcp:[::1]:9");
    assert_eq!(
        parsed[2].address.as_ref().map(|a| a.host.as_str()),
        Some("::1")
    );
    assert_eq!(bytes(&parsed[2]), [0xde, 0xad, 0xbe, 0xef]);
    assert!(parsed
        .iter()
        .all(|t| t.reply.exact == 0 && t.timeout.is_none()));
}

#[test]
fn the_target_defaults_to_the_test_host_then_loaddensity_default() {
    let (scenario, _) = parsed(
        json!({"tasks": [{"payload": "x"}]}),
        Some("tcp://10.0.0.1:5000/"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&*scenario.tasks[0].head.name, "tcp:10.0.0.1:5000");
    let alone = tasks(json!([{"protocol": "udp"}]));
    assert_eq!(&*alone[0].head.name, "udp:127.0.0.1:9000");
}

#[test]
fn placeholders_are_rendered_per_step() {
    let parsed = tasks(json!([{"target": "${var.target}", "payload": "${var.p}",
        "expect_substring": "${var.s}", "expect_bytes": "4"}, {"expect_bytes": 5.0}]));
    assert_eq!(parsed[1].reply.exact, 5);
    assert!(parsed[0].address.is_none());
    assert!(matches!(parsed[0].payload, Payload::Template(_)));
    assert_eq!(parsed[0].reply.exact, 4);
    assert_eq!(&*parsed[0].head.name, "tcp:${var.target}");
}

#[test]
fn mistakes_are_errors_at_their_path() {
    assert_eq!(
        error(json!([{"target": "a:1"}, {"protocol": "sctp", "target": "a:1"}])),
        "tasks[1].protocol: unknown protocol \"sctp\"; expected one of tcp, udp"
    );
    assert_eq!(
        error(json!({"tasks": [{"target": "localhost"}]})),
        "tasks.tasks[0].target: \"localhost\" is not host:port"
    );
    assert_eq!(
        error(json!([{"target": "a:99999"}])),
        "tasks[0].target: \"a:99999\": the port must be from 1 to 65535"
    );
    assert_eq!(
        error(json!([{"target": "a:1", "payload": "hex:abc"}])),
        "tasks[0].payload: hex: an odd number of hex digits"
    );
    assert_eq!(
        error(json!([{"target": "a:1", "payload": "hex:zz"}])),
        "tasks[0].payload: hex: \"zz\" is not a hex byte"
    );
    assert_eq!(
        error(json!([{"target": "a:1", "payload": {"a": 1}}])),
        "tasks[0].payload: expected text, or \"hex:\" and the bytes in hex"
    );
    assert_eq!(
        error(json!([{"target": "a:1", "expect_bytes": -1}])),
        "tasks[0].expect_bytes: expected a number of bytes from 0 to 16777216"
    );
    assert_eq!(
        error(json!([{"target": "a:1", "expect_bytes": 1.5}])),
        "tasks[0].expect_bytes: expected a number of bytes from 0 to 16777216"
    );
    assert_eq!(
        error(json!([{"target": "a:1", "expect_bytes": 16_777_217}])),
        "tasks[0].expect_bytes: expected a number of bytes from 0 to 16777216"
    );
    assert_eq!(
        error(json!([{"target": "a:1", "timeout": 0}])),
        "tasks[0].timeout: must be a positive number of seconds"
    );
    assert_eq!(
        error(json!([{"target": "a:1", "timeout": "5"}])),
        "tasks[0].timeout: invalid type: string \"5\", expected f64"
    );
    assert_eq!(
        error(json!([{"protocol": "udp", "target": "a:1", "tls": true}])),
        "tasks[0].tls: TLS is for tcp steps (DTLS is not supported)"
    );
    assert_eq!(error(json!([])), "tasks: no step given");
    assert_eq!(
        error(json!({"mode": "sequence"})),
        "tasks: no \"tasks\" list (write a list of steps, or {\"tasks\": [...]})"
    );
    assert!(error(json!("tcp")).starts_with("tasks: invalid type: string \"tcp\""));
}

#[test]
fn unknown_and_unused_keys_are_noted() {
    assert_eq!(
        notes(
            json!({"mode": "weighted", "tasks": [{"target": "a:1", "paylod": "x",
            "verify": false}]})
        ),
        [
            "tasks.tasks[0].paylod: unknown key, ignored (did you mean \"payload\"?)",
            "tasks.mode: \"weighted\" ignored: a socket_user walks every step in order, as LoadDensity's does",
            "tasks.tasks[0].verify: ignored: the step has no \"tls\": true",
        ]
    );
}

#[test]
fn tls_steps_keep_their_settings() {
    let parsed = tasks(json!([{"target": "a:1", "tls": true, "verify": false,
        "server_name": "example.test"}]));
    let tls = parsed[0].tls.as_ref().unwrap_or_else(|| panic!("tls"));
    assert_eq!(tls.server_name.as_deref(), Some("example.test"));
    assert_eq!(
        tls.spec.verify,
        Some(crate::engine::task::spec::VerifySpec::Check(false))
    );
}

#[test]
fn payloads_are_text_or_hex() {
    assert_eq!(payload_bytes("héllo").as_deref(), Ok("héllo".as_bytes()));
    assert_eq!(payload_bytes("hex:").as_deref(), Ok(&[][..]));
    assert_eq!(
        payload_bytes("hex:00ff 10").as_deref(),
        Ok(&[0, 255, 16][..])
    );
    assert_eq!(payload_bytes("HEX:00").as_deref(), Ok("HEX:00".as_bytes()));
}

#[test]
fn the_search_sees_text_across_pieces() {
    let find = |pieces: &[&[u8]], text: &str| {
        let mut finder = Finder::new(text);
        for piece in pieces {
            finder.feed(piece);
        }
        finder.found
    };
    assert!(find(&[b"hello wor", b"ld"], "world"));
    assert!(find(&[b"w", b"o", b"r", b"l", b"d"], "world"));
    assert!(find(&[b"xxw", b"or", b"ldxx"], "world"));
    assert!(!find(&[b"worl", b"xd"], "world"));
    assert!(!find(&[b"wor", b"", b"l"], "world"));
    assert!(find(&[], ""));
    assert!(find(&[b"abcOK"], "OK"));
}

#[test]
fn addresses_parse() {
    assert_eq!(
        Address::parse("example.com:80"),
        Ok(Address {
            host: "example.com".into(),
            port: 80
        })
    );
    assert!(Address::parse("::1:80").is_err());
    assert!(Address::parse(":80").is_err());
    assert!(Address::parse("[::1]80").is_err());
}
