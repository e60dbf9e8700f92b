//! [`Command`]: a request body parsed into what it asks for, exactly as
//! `PROTOCOL.md` says (`quit_server`, envelopes, bare action JSON).

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;

use ld_tower_layers::{Credential, Loggable, PresentsToken, Principal};
use serde_json::{Map, Value};

use super::{Admission, Request, QUIT_WORD};

/// A parsed request.
pub struct Command {
    /// The remote address, for logs.
    pub peer: Option<SocketAddr>,
    /// The admission of the connection it came on (see [`Admission`]).
    pub admission: Admission,
    /// What the request presented to authenticate itself.
    envelope: Option<Option<String>>,
    /// Who it authenticated as (set by the auth layer; `None` when no
    /// authentication is configured).
    principal: Option<Principal>,
    /// What it asks for.
    pub op: Op,
}

/// What a command asks the server to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Shut the server down (`quit_server`, or an envelope with `"op": "quit"`).
    Quit,
    /// Run this action JSON (`{"load_density": [...]}` or a bare list).
    Run(Value),
    /// An envelope without a `command`: answered with the terminator alone.
    Nothing,
}

/// Why a request body is not a command. Its `Display` is the reply's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not UTF-8.
    #[error("request is not UTF-8 text (invalid byte at offset {0})")]
    NotUtf8(usize),
    /// The body is not JSON.
    #[error("request is not JSON: {0}")]
    NotJson(String),
}

impl Command {
    /// A command from `peer` that presents no credential.
    pub fn bare(peer: Option<SocketAddr>, op: Op) -> Self {
        Command {
            peer,
            admission: Admission::default(),
            envelope: None,
            principal: None,
            op,
        }
    }

    /// A command wrapped in an envelope whose `"token"` was `token` (`None`
    /// when it was missing or not a string).
    pub fn enveloped(peer: Option<SocketAddr>, token: Option<String>, op: Op) -> Self {
        Command {
            peer,
            admission: Admission::default(),
            envelope: Some(token),
            principal: None,
            op,
        }
    }

    /// Parse a request body: whitespace around it is ignored; `quit_server`
    /// is the legacy shutdown word; a JSON object with a `"token"` or a
    /// `"command"` key is an envelope; any other JSON is bare action JSON.
    pub fn parse(request: &Request) -> Result<Command, ParseError> {
        Command::parse_body(request).map(|mut command| {
            command.admission = request.admission.clone();
            command
        })
    }

    fn parse_body(request: &Request) -> Result<Command, ParseError> {
        let body = request.body.trim_ascii();
        let text = std::str::from_utf8(body).map_err(|e| ParseError::NotUtf8(e.valid_up_to()))?;
        if text == QUIT_WORD {
            return Ok(Command::bare(request.peer, Op::Quit));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| ParseError::NotJson(e.to_string()))?;
        Ok(match value {
            Value::Object(map) if map.contains_key("token") || map.contains_key("command") => {
                Self::from_envelope(request.peer, map)
            }
            value => Command::bare(request.peer, Op::Run(value)),
        })
    }

    fn from_envelope(peer: Option<SocketAddr>, mut map: Map<String, Value>) -> Command {
        let token = match map.remove("token") {
            Some(Value::String(token)) => Some(token),
            _ => None,
        };
        let op = if map.get("op").and_then(Value::as_str) == Some("quit") {
            Op::Quit
        } else {
            match map.remove("command") {
                None | Some(Value::Null) => Op::Nothing,
                Some(command) => Op::Run(command),
            }
        };
        Command::enveloped(peer, token, op)
    }

    /// Whether the request came in an envelope.
    pub fn is_enveloped(&self) -> bool {
        self.envelope.is_some()
    }

    /// Who the command authenticated as: `None` when the server checks no
    /// credential (every action is then allowed).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Whether the command authenticated by its connection's client
    /// certificate rather than by a token.
    pub fn by_certificate(&self) -> bool {
        self.principal.is_some() && !matches!(self.envelope, Some(Some(_)))
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = match &self.envelope {
            None => "none (bare)",
            Some(None) => "missing",
            Some(Some(_)) => "<redacted>",
        };
        f.debug_struct("Command")
            .field("peer", &self.peer)
            .field("token", &token)
            .field("principal", &self.principal.as_ref().map(Principal::name))
            .field("op", &self.op)
            .finish()
    }
}

/// A token in the envelope decides; without one, the principal its
/// connection's client certificate proved, if any.
impl PresentsToken for Command {
    fn credential(&self) -> Credential<'_> {
        match (&self.envelope, self.admission.certified()) {
            (Some(Some(token)), _) => Credential::Token(token.as_bytes()),
            (_, Some(principal)) => Credential::Verified(principal),
            (None, None) => Credential::Missing,
            (Some(None), None) => Credential::Malformed,
        }
    }

    fn authenticated(&mut self, principal: Principal) {
        self.principal = Some(principal);
    }
}

/// How many action names a log line lists before it counts the rest.
const NAMES_LOGGED: usize = 8;
/// Characters of an action name a log line shows (a name is the client's
/// to choose, and may be a megabyte long).
const NAME_CHARS_LOGGED: usize = 64;

impl Loggable for Command {
    fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn what(&self) -> Cow<'_, str> {
        match &self.op {
            Op::Quit => Cow::Borrowed("quit"),
            Op::Nothing => Cow::Borrowed("envelope without command"),
            Op::Run(value) => Cow::Owned(action_names(value)),
        }
    }
}

/// The action names of action JSON, for logs: never its arguments.
fn action_names(value: &Value) -> String {
    let list = match value {
        Value::Object(map) => map.get("load_density").and_then(Value::as_array),
        Value::Array(list) => Some(list),
        _ => None,
    };
    let Some(list) = list else {
        return "not an action list".to_owned();
    };
    let mut names: Vec<Cow<'_, str>> = list
        .iter()
        .take(NAMES_LOGGED)
        .map(|action| {
            let name = action
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .unwrap_or("?");
            match name.char_indices().nth(NAME_CHARS_LOGGED) {
                None => Cow::Borrowed(name),
                Some((end, _)) => Cow::Owned(format!("{}…", &name[..end])),
            }
        })
        .collect();
    let more = list.len().saturating_sub(NAMES_LOGGED);
    let more = (more > 0).then(|| format!(" and {more} more"));
    if names.is_empty() {
        names.push(Cow::Borrowed("no actions"));
    }
    format!("{}{}", names.join(","), more.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: &str) -> Result<Command, ParseError> {
        Command::parse(&Request::new(None, body.to_owned()))
    }

    #[test]
    fn quit_word_with_whitespace() {
        let c = parse("  quit_server\n").expect("parses");
        assert_eq!(c.op, Op::Quit);
        assert!(matches!(c.credential(), Credential::Missing));
    }

    #[test]
    fn envelopes() {
        let c = parse(r#"{"token":"s3cret","command":[["LD_summary"]]}"#).expect("parses");
        assert_eq!(c.op, Op::Run(json!([["LD_summary"]])));
        assert!(matches!(c.credential(), Credential::Token(b"s3cret")));
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = parse(r#"{"token":5,"op":"quit"}"#).expect("parses");
        assert_eq!(c.op, Op::Quit);
        assert!(matches!(c.credential(), Credential::Malformed));
        let c = parse(r#"{"token":"t"}"#).expect("parses");
        assert_eq!(c.op, Op::Nothing);
        let c = parse(r#"{"command":null,"op":"other"}"#).expect("parses");
        assert_eq!(c.op, Op::Nothing);
    }

    #[test]
    fn op_quit_alone_is_not_an_envelope() {
        let c = parse(r#"{"op":"quit"}"#).expect("parses");
        assert_eq!(c.op, Op::Run(json!({"op": "quit"})));
        assert!(matches!(c.credential(), Credential::Missing));
    }

    #[test]
    fn bad_bodies() {
        assert!(matches!(parse("not json"), Err(ParseError::NotJson(_))));
        let bad = Request::new(None, vec![b'[', 0xff, b']']);
        assert_eq!(Command::parse(&bad).err(), Some(ParseError::NotUtf8(1)));
    }

    #[test]
    fn logs_names_only() {
        let c = parse(r#"{"token":"s3cret","command":{"load_density":[["LD_summary",{}],["LD_clear_records"]]}}"#)
            .expect("parses");
        assert_eq!(c.what(), "LD_summary,LD_clear_records");
        let long = format!(r#"[["{}"]]"#, "é".repeat(100_000));
        let c = parse(&long).expect("parses");
        assert_eq!(c.what(), format!("{}…", "é".repeat(64)));
    }
}
