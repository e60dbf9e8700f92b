//! [`Reply`]: the pieces written back for one request, and whether the
//! connection closes after them.

use bytes::Bytes;
use serde_json::Value;
use std::borrow::Cow;

use ld_tower_layers::Outcome;

use super::END;

/// What the server writes back for one request.
///
/// Each piece is one frame in framed mode; in legacy mode the pieces are
/// written back to back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pieces: Vec<Bytes>,
    close: bool,
    failures: usize,
    /// What kind of answer it is, for the connection's own rules.
    kind: Kind,
    /// Why authentication refused the request, for the server's log (the
    /// client is told less); `None` for any other reply.
    cause: Option<String>,
}

/// What kind of answer a reply is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The command service answered (its lines may be errors).
    Served,
    /// The request never reached the command service: it is not a command
    /// (bad UTF-8 or JSON, over the size limit).
    Rejected,
    /// Authentication refused it.
    Refused,
}

impl Reply {
    /// The result lines of an action list, then `END`. `failures` counts the
    /// lines that are errors (for logs and exit codes).
    pub fn lines(lines: Vec<Bytes>, failures: usize) -> Self {
        let mut pieces = lines;
        pieces.push(Bytes::from_static(END));
        Reply {
            pieces,
            close: false,
            failures,
            kind: Kind::Served,
            cause: None,
        }
    }

    /// One `Error: MESSAGE` line, then `END`; the connection stays open.
    pub fn error(message: &str) -> Self {
        Reply::lines(vec![error_line(message)], 1)
    }

    /// One `Error: MESSAGE` line, then `END`, for a request that never
    /// reached the command service (it is not a command); the connection
    /// stays open, unless it was never admitted and keeps doing this.
    pub fn rejection(message: &str) -> Self {
        Reply {
            kind: Kind::Rejected,
            ..Reply::error(message)
        }
    }

    /// One `Error: MESSAGE` line, no `END`, then the connection closes: an
    /// authentication refusal.
    pub fn refusal(message: &str) -> Self {
        Reply {
            pieces: vec![error_line(message)],
            close: true,
            failures: 1,
            kind: Kind::Refused,
            cause: None,
        }
    }

    /// [`Reply::refusal`], with the `cause` the server's log gives (the
    /// client is told only `message`, to tell a prober nothing).
    pub fn refusal_because(message: &str, cause: &dyn std::fmt::Display) -> Self {
        Reply {
            cause: Some(cause.to_string()),
            ..Reply::refusal(message)
        }
    }

    /// Why authentication refused the request, when the refusal says
    /// ([`Reply::refusal_because`]).
    pub fn refusal_cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    /// Just `END`: an envelope that carried no command.
    pub fn end_only() -> Self {
        Reply::lines(Vec::new(), 0)
    }

    /// `Server shutting down`, then the connection closes.
    pub fn shutting_down() -> Self {
        Reply {
            pieces: vec![Bytes::from_static(b"Server shutting down\n")],
            close: true,
            failures: 0,
            kind: Kind::Served,
            cause: None,
        }
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    /// Whether the connection closes once this reply is written.
    pub fn closes(&self) -> bool {
        self.close
    }

    /// How many of the lines are errors.
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// Whether the request never reached the command service because it is
    /// not a command ([`Reply::rejection`]).
    pub fn is_rejection(&self) -> bool {
        self.kind == Kind::Rejected
    }

    /// Whether authentication refused the request ([`Reply::refusal`]).
    pub fn is_refusal(&self) -> bool {
        self.kind == Kind::Refused
    }

    /// The first line, without its line break (for logs: escape it, it may
    /// hold what a client sent).
    pub fn first_line(&self) -> Cow<'_, str> {
        let first = self.pieces.first().map_or(&[][..], |p| p.trim_ascii_end());
        String::from_utf8_lossy(first)
    }

    /// The bytes of all pieces (without framing).
    pub fn size(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }
}

impl Outcome for Reply {
    fn outcome(&self) -> Cow<'_, str> {
        match (self.failures, self.close) {
            (0, false) => Cow::Borrowed("ok"),
            (0, true) => Cow::Borrowed("ok, closing"),
            (n, _) => Cow::Owned(format!("{n} failed")),
        }
    }
}

fn error_line(message: &str) -> Bytes {
    failure_line(message, None)
}

/// `text` with its line breaks as spaces: one result, one line.
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    if text.contains(['\n', '\r']) {
        Cow::Owned(text.replace(['\n', '\r'], " "))
    } else {
        Cow::Borrowed(text)
    }
}

/// The line of a failure: `Error: ` + `message` (its line breaks as spaces),
/// then ` ` + `detail` as compact JSON if there is one; then `\n`.
pub fn failure_line(message: &str, detail: Option<&Value>) -> Bytes {
    // One line per result: a message never spans lines (JSON never does).
    let mut line = Vec::with_capacity(message.len() + 8);
    line.extend_from_slice(b"Error: ");
    line.extend_from_slice(one_line(message).as_bytes());
    if let Some(detail) = detail {
        line.push(b' ');
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut line, detail);
    }
    line.push(b'\n');
    Bytes::from(line)
}

/// The line of a result: a JSON string without a line break as its raw
/// text, anything else as compact JSON; then `\n`.
pub fn value_line(value: &Value) -> Bytes {
    match value {
        Value::String(text) if !text.contains(['\n', '\r']) => {
            let mut line = String::with_capacity(text.len() + 1);
            line.push_str(text);
            line.push('\n');
            Bytes::from(line)
        }
        value => {
            let mut line = Vec::with_capacity(128);
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut line, value);
            line.push(b'\n');
            Bytes::from(line)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_raw_unless_multiline() {
        assert_eq!(value_line(&json!("hi")), Bytes::from("hi\n"));
        assert_eq!(value_line(&json!("a\nb")), Bytes::from("\"a\\nb\"\n"));
        assert_eq!(
            value_line(&json!({"a": [1, null]})),
            Bytes::from("{\"a\":[1,null]}\n")
        );
        assert_eq!(value_line(&json!(true)), Bytes::from("true\n"));
    }

    #[test]
    fn errors_stay_on_one_line() {
        assert_eq!(failure_line("x\ny", None), Bytes::from("Error: x y\n"));
        assert_eq!(
            failure_line("2 of 2 failed:", Some(&json!(["Error: a\"b"]))),
            Bytes::from("Error: 2 of 2 failed: [\"Error: a\\\"b\"]\n")
        );
        let reply = Reply::error("bad");
        assert_eq!(
            reply.pieces(),
            [Bytes::from("Error: bad\n"), Bytes::from_static(END)]
        );
        assert!(!reply.closes());
        assert!(Reply::refusal("token required").closes());
    }
}
