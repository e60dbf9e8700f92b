//! `redis_user`'s task parsing: names, defaults, mistakes at their path.

use serde_json::{json, Value};

use super::address::Address;
use super::command::{self, Command};
use super::spec::{self, RedisStep, DEFAULT_URL};
use crate::engine::task::Scenario;
use crate::spec::Note;

fn parse(tasks: Value, base: Option<&str>) -> Result<(Scenario<RedisStep>, Vec<Note>), String> {
    let mut notes = Vec::new();
    spec::parse(tasks, base, &mut notes)
        .map(|scenario| (scenario, notes))
        .map_err(|e| e.to_string())
}

#[test]
fn steps_are_named_by_their_method_and_go_to_the_default_url() {
    let (scenario, notes) = parse(
        json!([{"method": "SET", "key": "k", "value": "v"},
               {"method": "get", "key": "k", "expect": "v", "name": "read"}]),
        Some("http://not-redis"),
    )
    .expect("parses");
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(&*scenario.tasks[0].head.name, "set");
    assert_eq!(scenario.tasks[0].command, Command::Set);
    assert_eq!(&*scenario.tasks[1].head.name, "read");
    assert_eq!(scenario.tasks[0].url.source(), DEFAULT_URL);
    let (scenario, _) = parse(
        json!([{"method": "incr", "key": "n"}]),
        Some("redis://cache:7000/2"),
    )
    .expect("parses");
    assert_eq!(scenario.tasks[0].url.source(), "redis://cache:7000/2");
}

#[test]
fn mistakes_are_errors_at_their_path() {
    assert_eq!(
        parse(json!([{"method": "hgetall", "key": "k"}]), None).err(),
        Some(
            "tasks[0].method: unknown method \"hgetall\"; expected one of get, set, incr, lpush, rpop, delete, exists"
                .to_owned()
        )
    );
    assert_eq!(
        parse(json!([{"method": "get"}]), None).err(),
        Some("tasks[0].key: missing (every Redis step names a key)".to_owned())
    );
    assert_eq!(
        parse(
            json!([{"method": "get", "key": "k", "url": "http://x"}]),
            None
        )
        .err(),
        Some(
            "tasks[0].url: \"http://x\": scheme \"http\" is not \"redis\" or \"rediss\"".to_owned()
        )
    );
    let (_, notes) =
        parse(json!([{"method": "get", "key": "k", "valeu": 1}]), None).expect("parses");
    assert_eq!(
        notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["tasks[0].valeu: unknown key, ignored (did you mean \"value\"?)"]
    );
}

#[test]
fn urls_give_host_port_database_and_credentials() {
    assert_eq!(
        Address::parse("rediss://me:p%40ss@cache.test:7000/3"),
        Ok(Address {
            secure: true,
            host: "cache.test".into(),
            port: 7000,
            db: 3,
            username: Some("me".into()),
            password: Some("p@ss".into()),
        })
    );
    let plain = Address::parse("redis://127.0.0.1").expect("parses");
    assert_eq!((plain.port, plain.db, plain.secure), (6379, 0, false));
    assert!(Address::parse("redis://h/x").is_err());
}

#[test]
fn replies_read_as_redis_py_returns_them() {
    use redis::Value as V;
    assert_eq!(command::text(&V::Okay), "True");
    assert_eq!(command::text(&V::Nil), "");
    assert_eq!(command::text(&V::Int(7)), "7");
    assert_eq!(command::text(&V::BulkString(b"v".to_vec())), "v");
    assert_eq!(command::length(&V::BulkString(b"abc".to_vec())), 3);
    assert_eq!(command::length(&V::Nil), 0);
    assert_eq!(command::length(&V::Int(7)), 1);
}
