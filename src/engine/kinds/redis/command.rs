//! The commands a `redis_user` step sends, and what LoadDensity makes of
//! their replies (as redis-py returns them): a length for the figures and
//! a text for `expect`.

use redis::Value;

/// A step's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `GET key`.
    Get,
    /// `SET key value`.
    Set,
    /// `INCR key`.
    Incr,
    /// `LPUSH key value`.
    Lpush,
    /// `RPOP key`.
    Rpop,
    /// `DEL key`.
    Delete,
    /// `EXISTS key`.
    Exists,
}

/// The methods, as a step names them (any case).
pub(super) const COMMANDS: &[(&str, Command)] = &[
    ("get", Command::Get),
    ("set", Command::Set),
    ("incr", Command::Incr),
    ("lpush", Command::Lpush),
    ("rpop", Command::Rpop),
    ("delete", Command::Delete),
    ("exists", Command::Exists),
];

impl Command {
    /// The command for `key` (and `value`, for the ones that take one).
    pub(super) fn cmd(self, key: &str, value: &str) -> redis::Cmd {
        let (name, with_value) = match self {
            Command::Get => ("GET", false),
            Command::Set => ("SET", true),
            Command::Incr => ("INCR", false),
            Command::Lpush => ("LPUSH", true),
            Command::Rpop => ("RPOP", false),
            Command::Delete => ("DEL", false),
            Command::Exists => ("EXISTS", false),
        };
        let mut cmd = redis::cmd(name);
        cmd.arg(key);
        if with_value {
            cmd.arg(value);
        }
        cmd
    }
}

/// The reply's length as LoadDensity counts it: a string's bytes, 0 for
/// none, 1 for anything else (a number, `OK`).
pub(super) fn length(reply: &Value) -> u64 {
    match reply {
        Value::Nil => 0,
        Value::BulkString(bytes) => bytes.len() as u64,
        Value::SimpleString(text) => text.len() as u64,
        _ => 1,
    }
}

/// The reply as `expect` reads it, as Python's `str()` of redis-py's
/// value: a string (UTF-8, invalid sequences replaced), `""` for none, a
/// number in decimal, `True` for `OK` (redis-py's `set` returns `True`).
pub(super) fn text(reply: &Value) -> String {
    match reply {
        Value::Nil => String::new(),
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::Okay => "True".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::Boolean(b) => if *b { "True" } else { "False" }.to_owned(),
        Value::Double(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}
