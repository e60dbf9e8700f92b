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
        }
    }

    /// One `Error: MESSAGE` line, then `END`; the connection stays open.
    pub fn error(message: &str) -> Self {
        Reply::lines(vec![error_line(message)], 1)
    }

    /// One `Error: MESSAGE` line, no `END`, then the connection closes: an
    /// authentication refusal.
    pub fn refusal(message: &str) -> Self {
        Reply {
            pieces: vec![error_line(message)],
            close: true,
            failures: 1,
        }
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
    // One line per result: a message never spans lines.
    let mut line = String::with_capacity(message.len() + 8);
    line.push_str("Error: ");
    line.extend(message.chars().map(|c| if c == '\n' { ' ' } else { c }));
    line.push('\n');
    Bytes::from(line)
}

/// The line for one action's result: a JSON string without a line break as
/// its raw text, anything else as compact JSON; then `\n`.
pub fn result_line(result: &Result<Value, String>) -> Bytes {
    match result {
        Err(message) => error_line(message),
        Ok(Value::String(text)) if !text.contains(['\n', '\r']) => {
            let mut line = String::with_capacity(text.len() + 1);
            line.push_str(text);
            line.push('\n');
            Bytes::from(line)
        }
        Ok(value) => {
            let mut line = value.to_string();
            line.push('\n');
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
        assert_eq!(result_line(&Ok(json!("hi"))), Bytes::from("hi\n"));
        assert_eq!(result_line(&Ok(json!("a\nb"))), Bytes::from("\"a\\nb\"\n"));
        assert_eq!(
            result_line(&Ok(json!({"a": [1, null]}))),
            Bytes::from("{\"a\":[1,null]}\n")
        );
        assert_eq!(result_line(&Ok(json!(true))), Bytes::from("true\n"));
    }

    #[test]
    fn errors_stay_on_one_line() {
        assert_eq!(
            result_line(&Err("x\ny".into())),
            Bytes::from("Error: x y\n")
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
