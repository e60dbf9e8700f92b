//! Parsing a `grpc_user` task list: errors at their JSON path, notes for
//! unknown keys, names, defaults; and the descriptors' checks.

use serde_json::{json, Value};

use super::spec::parse;
use super::{schema, Rpc};
use crate::engine::task::{Mode, Step};
use crate::paths::Paths;
use crate::spec::Note;

fn error(tasks: Value) -> String {
    let mut notes = Vec::new();
    match parse(tasks, None, &mut notes) {
        Ok(_) => panic!("parsed"),
        Err(e) => e.to_string(),
    }
}

fn notes(tasks: Value) -> Vec<String> {
    let mut notes = Vec::new();
    if let Err(e) = parse(tasks, None, &mut notes) {
        panic!("{e}");
    }
    notes.iter().map(Note::to_string).collect()
}

fn task(extra: Value) -> Value {
    let mut task =
        json!({"target": "127.0.0.1:50051", "service": "demo.Greeter", "method": "SayHello"});
    if let (Some(task), Value::Object(extra)) = (task.as_object_mut(), extra) {
        task.extend(extra);
    }
    json!([task])
}

#[test]
fn unnamed_tasks_are_named_service_dot_method_and_targets_default() {
    let mut notes = Vec::new();
    let scenario = parse(
        json!({"mode": "weighted", "tasks": [
            {"service": "demo.Greeter", "method": "SayHello"},
            {"name": "mine", "target": "grpcs://example.com", "service": "demo.Greeter",
             "method": "Chat", "rpc": "BIDIRECTIONAL", "payload": [{"a": 1}, {"a": "${var.x}"}],
             "weight": 3}
        ]}),
        Some("localhost:1234"),
        &mut notes,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(scenario.mode, Mode::Weighted);
    let [first, second] = &scenario.tasks[..] else {
        panic!("two tasks")
    };
    assert_eq!(&*first.head().name, "demo.Greeter.SayHello");
    assert_eq!(first.target.source(), "localhost:1234");
    assert_eq!(first.rpc, Rpc::Unary);
    assert_eq!(first.path_of_call.as_str(), "/demo.Greeter/SayHello");
    assert_eq!(&*second.head().name, "mine");
    assert_eq!(second.head().weight, 3);
    assert_eq!(second.rpc, Rpc::Bidi);
    assert_eq!(second.payload.messages.len(), 2);
    assert_eq!(second.path, "tasks.tasks[1]");
    // With no target anywhere: LoadDensity's default.
    let scenario = parse(json!([{"service": "a.B", "method": "C"}]), None, &mut notes)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.tasks[0].target.source(), "localhost:50051");
}

#[test]
fn mistakes_are_errors_at_their_path() {
    let cases = [
        (
            task(json!({"rpc": "stream"})),
            "tasks[0].rpc: \"stream\" is not one of unary, server_stream, client_stream, bidi",
        ),
        (
            task(json!({"payload": [{"name": "a"}]})),
            "tasks[0].payload: a list of messages is for client_stream and bidi calls",
        ),
        (
            task(json!({"rpc": "client_stream", "payload": [{"name": "a"}, 3]})),
            "tasks[0].payload[1]: must be an object",
        ),
        (
            task(json!({"payload": "name=a"})),
            "tasks[0].payload: must be an object",
        ),
        (
            task(json!({"metadata": [["x-token", "a"], ["lonely"]]})),
            "tasks[0].metadata[1]: must be a [key, value] pair",
        ),
        (
            task(json!({"metadata": {"bad key": "a"}})),
            "tasks[0].metadata.bad key: \"bad key\" is not a metadata key",
        ),
        (
            task(json!({"metadata": "x-token: a"})),
            "tasks[0].metadata: must be an object or a list of [key, value] pairs",
        ),
        (
            task(json!({"timeout": 0})),
            "tasks[0].timeout: must be a positive number of seconds",
        ),
        (
            task(json!({"timeout": "10"})),
            "tasks[0].timeout: invalid type: string \"10\", expected f64",
        ),
        (task(json!({"target": "localhost"})), "tasks[0].target: \"localhost\": no port"),
        (
            task(json!({"tls": "yes"})),
            "tasks[0].tls: invalid type: string \"yes\", expected true, false, or {\"verify\": ..., \"cert\": ...}",
        ),
        (
            json!([{"method": "SayHello"}]),
            "tasks[0].service: missing: a task is {\"target\": \"host:port\"",
        ),
        (
            json!([{"service": "demo.Greeter"}]),
            "tasks[0].method: missing",
        ),
        (
            json!([{"stub_path": "pkg.greeter_pb2_grpc.GreeterStub", "method": "SayHello"}]),
            "tasks[0].stub_path: Python stub classes cannot be loaded by ld-tower: name the service and method",
        ),
        (
            json!([{"request_path": "pkg.greeter_pb2.HelloRequest", "service": "a.B", "method": "C"}]),
            "tasks[0].request_path: Python stub classes",
        ),
        (json!({"mode": "random", "tasks": []}), "tasks.mode: \"random\" is not one of"),
        (json!([]), "tasks: no task given"),
        (json!({"mode": "weighted"}), "tasks: no \"tasks\" list"),
        (
            json!({"mode": "weighted", "tasks": [{"service": "a.B", "method": "C", "weight": 0}]}),
            "tasks: in weighted mode at least one task needs a weight above 0",
        ),
    ];
    for (tasks, expected) in cases {
        let error = error(tasks);
        assert!(error.starts_with(expected), "{error}\nexpected: {expected}");
    }
    // The stub error shows every key to write instead.
    let error = error(json!([{"stub_path": "x.Y", "method": "M"}]));
    for key in [
        "target", "proto", "service", "method", "rpc", "payload", "metadata", "timeout", "tls",
    ] {
        assert!(error.contains(&format!("\"{key}\"")), "{key}: {error}");
    }
}

#[test]
fn unknown_keys_are_noted_with_the_closest_known_one() {
    assert_eq!(
        notes(task(
            json!({"paylaod": {}, "tls": {"verfy": false}, "zzz": 1})
        )),
        [
            "tasks[0].paylaod: unknown key, ignored (did you mean \"payload\"?)",
            "tasks[0].tls.verfy: unknown key, ignored (did you mean \"verify\"?)",
            "tasks[0].zzz: unknown key, ignored",
        ]
    );
    assert!(notes(task(
        json!({"metadata": [["a", "b"]], "tls": true, "host": "x:1"})
    ))
    .is_empty());
}

fn demo_pool() -> prost_reflect::DescriptorPool {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grpc");
    schema::compile(&Paths::confined(root), "demo.proto").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn methods_are_checked_against_their_descriptors() {
    let pool = demo_pool();
    let method = schema::method(&pool, "demo.Greeter", "Countdown", Rpc::ServerStream)
        .unwrap_or_else(|(k, e)| panic!("{k}: {e}"));
    assert_eq!(method.full_name(), "demo.Greeter.Countdown");
    let err =
        |service: &str, method: &str, rpc: Rpc| match schema::method(&pool, service, method, rpc) {
            Ok(_) => panic!("found"),
            Err((key, message)) => format!("{key}: {message}"),
        };
    assert_eq!(
        err("demo.Greeter", "Chat", Rpc::Unary),
        "rpc: demo.Greeter.Chat is a bidi method, not unary: write \"rpc\": \"bidi\""
    );
    assert!(err("demo.Greeter", "Nope", Rpc::Unary)
        .starts_with("method: demo.Greeter has no method \"Nope\" (it has: SayHello, "));
    assert_eq!(
        err("Greeter", "SayHello", Rpc::Unary),
        "service: no service \"Greeter\" (known: demo.Greeter)"
    );
    // Payloads in protobuf's JSON mapping: numbers as strings too.
    let input = method.input();
    let encoded = schema::encode(&input, json!({"name": "a", "count": "3"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&encoded[..], b"\x0a\x01a\x10\x03");
    let error = schema::encode(&input, json!({"nmae": "a"}))
        .err()
        .unwrap_or_default();
    assert!(error.starts_with("not a demo.HelloRequest: "), "{error}");
    assert!(error.contains("nmae"), "{error}");
    let output = method.output();
    assert!(schema::check(&output, bytes::Bytes::from_static(b"\x0a\x02hi")).is_ok());
    assert!(schema::check(&output, bytes::Bytes::from_static(b"\x0a\x09hi")).is_err());
}

#[test]
fn proto_files_are_read_through_the_paths_rule() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let paths = Paths::confined(root);
    assert!(schema::compile(&paths, "grpc/demo.proto").is_ok());
    let error = schema::compile(&paths, "../Cargo.toml")
        .err()
        .unwrap_or_default();
    assert!(
        error.contains("leads out of this server's working directory"),
        "{error}"
    );
    let error = schema::compile(&paths, "grpc/missing.proto")
        .err()
        .unwrap_or_default();
    assert!(error.starts_with("grpc/missing.proto: "), "{error}");
}
