//! The `text/event-stream` format, parsed as the WHATWG HTML standard
//! says (§ 9.2.6 "Interpreting an event stream"): lines end with CRLF, LF
//! or CR; a leading byte order mark is skipped; `:` starts a comment;
//! `event`, `data` (lines joined with LF), `id` (ignored if it holds NUL)
//! and `retry` (ASCII digits only) fields; a blank line dispatches the
//! event (none when its data is empty); an unfinished event at the end of
//! the stream is dropped. A line, and an event's data, may hold at most
//! [`MAX_EVENT_BYTES`]: a server sending more fails the stream.

use std::collections::VecDeque;
use std::time::Duration;

/// The most a line, or an event's data, may hold.
pub(super) const MAX_EVENT_BYTES: usize = 1 << 20;

/// An event dispatched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Event {
    /// Its type (`message` when not given).
    pub(super) kind: String,
    /// Its data lines, joined with LF.
    pub(super) data: String,
    /// The last event ID when it was dispatched.
    pub(super) id: String,
}

impl Event {
    /// Its size as recorded: its type, data and ID.
    pub(super) fn bytes(&self) -> u64 {
        (self.kind.len() + self.data.len() + self.id.len()) as u64
    }
}

/// The parser of one user's stream (its last event ID and reconnection
/// time outlive a connection; the rest is reset on each).
#[derive(Debug, Default)]
pub(super) struct Parser {
    line: Vec<u8>,
    data: String,
    kind: String,
    /// The ID the next event carries (set by `id` fields).
    pub(super) last_id: String,
    /// The reconnection time a `retry` field set.
    pub(super) retry: Option<Duration>,
    /// A CR ended the last line: an LF right after it is part of it.
    after_cr: bool,
    /// Bytes of this connection seen so far (for the byte order mark).
    started: bool,
}

impl Parser {
    /// A new connection: the buffers emptied, the ID and retry kept.
    pub(super) fn restart(&mut self) {
        self.line.clear();
        self.data.clear();
        self.kind.clear();
        self.after_cr = false;
        self.started = false;
    }

    /// Reads `chunk`, pushing each event it completes to `out`.
    pub(super) fn feed(
        &mut self,
        mut chunk: &[u8],
        out: &mut VecDeque<Event>,
    ) -> Result<(), String> {
        if !self.started {
            // The byte order mark, possibly split across chunks, is only
            // looked for in the very first bytes: a rare split one is
            // taken as text (and then is a field name nobody reads).
            if let Some(rest) = chunk.strip_prefix(b"\xEF\xBB\xBF") {
                chunk = rest;
            }
            self.started = !chunk.is_empty();
        }
        for &byte in chunk {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    self.end_line(out)?;
                }
                _ => {
                    self.after_cr = false;
                    if self.line.len() >= MAX_EVENT_BYTES {
                        return Err(format!("a line over {MAX_EVENT_BYTES} bytes"));
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut VecDeque<Event>) -> Result<(), String> {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => value.clone_into(&mut self.kind),
            "data" => {
                if self.data.len() + value.len() + 1 > MAX_EVENT_BYTES {
                    return Err(format!("an event's data over {MAX_EVENT_BYTES} bytes"));
                }
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_id),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // Digits only: too many of them is a very long time.
                let ms = value.parse::<u64>().unwrap_or(u64::MAX);
                self.retry = Some(Duration::from_millis(ms));
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut VecDeque<Event>) {
        if self.data.is_empty() {
            self.kind.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the last LF
        let kind = match std::mem::take(&mut self.kind) {
            kind if kind.is_empty() => "message".to_owned(),
            kind => kind,
        };
        out.push_back(Event {
            kind,
            data,
            id: self.last_id.clone(),
        });
    }
}
