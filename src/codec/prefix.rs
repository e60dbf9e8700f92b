//! [`RequestPrefix`]: whether the bytes of a legacy request read so far
//! are a complete request, a valid prefix of one, or can no longer become
//! one, decided incrementally: each byte is looked at once, however the
//! request is split across reads.
//!
//! A request is what [`Command::parse`](crate::protocol::Command::parse)
//! takes: after leading ASCII whitespace, the literal `quit_server` or one
//! JSON value as serde_json reads it into a `Value` (RFC 8259, strings
//! valid UTF-8 with paired `\u` surrogates, no control characters, at most
//! 127 nested arrays and objects, numbers within a double). serde_json's
//! own errors cannot decide this on a prefix: its end-of-input error
//! ([`Category::Eof`](serde_json::error::Category::Eof)) is also what it
//! gives for a string holding invalid UTF-8 that has not been closed yet,
//! and its syntax error what it gives for `[1` followed by 400 zeros, which
//! `e-400]` would still make valid; and re-parsing the whole buffer on
//! every read costs quadratic time for a large request trickled in.

use crate::protocol::QUIT_WORD;

/// What the bytes read so far are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A valid prefix of a request (whitespace alone included): more bytes
    /// may complete it.
    Incomplete,
    /// They begin with a complete request (what follows it in the same
    /// bytes goes with it, and is the parser's to judge).
    Complete,
    /// No bytes can make them a request.
    Invalid,
}

/// The deepest nesting of arrays and objects serde_json reads (its
/// recursion limit of 128 refuses the 128th level).
const MAX_DEPTH: u8 = 127;

/// Where the scan is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the request: leading whitespace.
    Start,
    /// This many bytes of `quit_server` matched.
    Quit(usize),
    /// A value must come (after `:`, or `,` in an array).
    Value,
    /// After `[`: a value or `]`.
    FirstItem,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value in an array or object: `,` or its closing bracket.
    Next,
    /// Inside a string (a key if `key`).
    Str { key: bool, at: InString },
    /// Inside `true`, `false` or `null`: this many bytes of it matched.
    Literal { word: &'static [u8], matched: usize },
    /// Inside a number, which began at `start` in the buffer.
    Number { start: usize, at: InNumber },
    /// A complete request was read.
    Done,
    /// No bytes can make a request of what was read.
    Invalid,
}

/// Where a string is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InString {
    /// Between characters.
    Plain,
    /// `left` more continuation bytes of a UTF-8 sequence, the next one in
    /// `lo..=hi` (which excludes overlong forms, surrogates and code points
    /// past U+10FFFF), those after it in `0x80..=0xBF`.
    Utf8 { left: u8, lo: u8, hi: u8 },
    /// After a backslash.
    Escape,
    /// After `\u`: `read` hex digits of `code`; `low` if it must be the
    /// low half of a surrogate pair.
    Hex { read: u8, code: u16, low: bool },
    /// After a high surrogate escape: `\` must follow.
    LowBackslash,
    /// After a high surrogate escape and `\`: `u` must follow.
    LowU,
}

/// Where a number is (RFC 8259's `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InNumber {
    Minus,
    Zero,
    Int,
    Point,
    Frac,
    Exp,
    ExpSign,
    ExpInt,
}

impl InNumber {
    /// Whether the number may end here.
    fn may_end(self) -> bool {
        matches!(
            self,
            InNumber::Zero | InNumber::Int | InNumber::Frac | InNumber::ExpInt
        )
    }
}

/// The incremental check of one legacy request's bytes: feed it the
/// growing buffer after every read; it looks only at the bytes it has not
/// seen yet.
#[derive(Clone, Debug)]
pub(super) struct RequestPrefix {
    /// How many bytes of the buffer were looked at.
    scanned: usize,
    state: State,
    /// The open arrays and objects: bit `d` is set if the one at depth `d`
    /// (from 0) is an object.
    objects: u128,
    /// How many arrays and objects are open.
    depth: u8,
    /// How many times a byte was looked at (tests check it stays linear).
    #[cfg(test)]
    steps: usize,
}

impl Default for RequestPrefix {
    fn default() -> Self {
        RequestPrefix {
            scanned: 0,
            state: State::Start,
            objects: 0,
            depth: 0,
            #[cfg(test)]
            steps: 0,
        }
    }
}

/// JSON's whitespace between tokens.
fn json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl RequestPrefix {
    /// Whether nothing but whitespace was read.
    pub(super) fn is_blank(&self) -> bool {
        self.state == State::Start
    }

    /// The verdict on `buf`, of which the bytes already fed must be
    /// unchanged (the buffer only grows until the request is taken).
    pub(super) fn feed(&mut self, buf: &[u8]) -> Verdict {
        while self.scanned < buf.len() && !matches!(self.state, State::Done | State::Invalid) {
            let b = buf[self.scanned];
            #[cfg(test)]
            {
                self.steps += 1;
            }
            // A byte that ends a number is looked at again after it.
            if self.step(b, buf) {
                self.scanned += 1;
            }
        }
        match self.state {
            State::Done => Verdict::Complete,
            State::Invalid => Verdict::Invalid,
            // A number alone is complete at the end of what was sent, as
            // serde_json reads it.
            State::Number { at, .. } if self.depth == 0 && at.may_end() => Verdict::Complete,
            _ => Verdict::Incomplete,
        }
    }

    /// Takes byte `b` at `self.scanned`; false if it must be looked at
    /// again in the new state.
    fn step(&mut self, b: u8, buf: &[u8]) -> bool {
        self.state = match self.state {
            State::Start if b.is_ascii_whitespace() => State::Start,
            State::Start if b == QUIT_WORD.as_bytes()[0] => State::Quit(1),
            State::Start => return self.reread(State::Value),
            State::Quit(matched) => match QUIT_WORD.as_bytes().get(matched) {
                Some(&want) if want == b && matched + 1 == QUIT_WORD.len() => State::Done,
                Some(&want) if want == b => State::Quit(matched + 1),
                _ => State::Invalid,
            },
            State::Value
            | State::FirstItem
            | State::FirstKey
            | State::Key
            | State::Colon
            | State::Next
                if json_space(b) =>
            {
                self.state
            }
            State::Value => self.value(b),
            State::FirstItem if b == b']' => self.close(),
            State::FirstItem => self.value(b),
            State::FirstKey if b == b'}' => self.close(),
            State::FirstKey | State::Key if b == b'"' => State::Str {
                key: true,
                at: InString::Plain,
            },
            State::FirstKey | State::Key => State::Invalid,
            State::Colon if b == b':' => State::Value,
            State::Colon => State::Invalid,
            State::Next => match (b, self.in_object()) {
                (b',', true) => State::Key,
                (b',', false) => State::Value,
                (b'}', true) | (b']', false) => self.close(),
                _ => State::Invalid,
            },
            State::Str { key, at } => self.string(key, at, b),
            State::Literal { word, matched } => {
                if word.get(matched) != Some(&b) {
                    State::Invalid
                } else if matched + 1 == word.len() {
                    self.value_done()
                } else {
                    State::Literal {
                        word,
                        matched: matched + 1,
                    }
                }
            }
            State::Number { start, at } => match number(at, b) {
                Some(at) => State::Number { start, at },
                None if at.may_end() => {
                    let end = self.scanned;
                    let state = if in_range(&buf[start..end]) {
                        self.value_done()
                    } else {
                        State::Invalid
                    };
                    return self.reread(state);
                }
                None => State::Invalid,
            },
            State::Done | State::Invalid => self.state,
        };
        true
    }

    /// Moves to `state` without taking the byte.
    fn reread(&mut self, state: State) -> bool {
        self.state = state;
        false
    }

    /// The state after the first byte `b` of a value.
    fn value(&mut self, b: u8) -> State {
        match b {
            b'{' | b'[' => {
                if self.depth >= MAX_DEPTH {
                    return State::Invalid;
                }
                let bit = 1u128 << self.depth;
                if b == b'{' {
                    self.objects |= bit;
                } else {
                    self.objects &= !bit;
                }
                self.depth += 1;
                if b == b'{' {
                    State::FirstKey
                } else {
                    State::FirstItem
                }
            }
            b'"' => State::Str {
                key: false,
                at: InString::Plain,
            },
            b't' => State::Literal {
                word: b"true",
                matched: 1,
            },
            b'f' => State::Literal {
                word: b"false",
                matched: 1,
            },
            b'n' => State::Literal {
                word: b"null",
                matched: 1,
            },
            b'-' => self.number_at(InNumber::Minus),
            b'0' => self.number_at(InNumber::Zero),
            b'1'..=b'9' => self.number_at(InNumber::Int),
            _ => State::Invalid,
        }
    }

    fn number_at(&self, at: InNumber) -> State {
        State::Number {
            start: self.scanned,
            at,
        }
    }

    /// Whether the innermost open container is an object.
    fn in_object(&self) -> bool {
        self.depth > 0 && self.objects & (1u128 << (self.depth - 1)) != 0
    }

    /// Closes the innermost container: a value is done.
    fn close(&mut self) -> State {
        self.depth -= 1;
        self.value_done()
    }

    /// The state after a complete value.
    fn value_done(&self) -> State {
        if self.depth == 0 {
            State::Done
        } else {
            State::Next
        }
    }

    /// The state after byte `b` inside a string.
    fn string(&self, key: bool, at: InString, b: u8) -> State {
        let at = match at {
            InString::Plain => match b {
                b'"' if key => return State::Colon,
                b'"' => return self.value_done(),
                b'\\' => InString::Escape,
                0x00..=0x1f => return State::Invalid,
                0x20..=0x7f => InString::Plain,
                0xc2..=0xdf => utf8(1, 0x80, 0xbf),
                0xe0 => utf8(2, 0xa0, 0xbf),
                0xe1..=0xec | 0xee..=0xef => utf8(2, 0x80, 0xbf),
                0xed => utf8(2, 0x80, 0x9f),
                0xf0 => utf8(3, 0x90, 0xbf),
                0xf1..=0xf3 => utf8(3, 0x80, 0xbf),
                0xf4 => utf8(3, 0x80, 0x8f),
                _ => return State::Invalid,
            },
            InString::Utf8 { left, lo, hi } => {
                if !(lo..=hi).contains(&b) {
                    return State::Invalid;
                }
                if left == 1 {
                    InString::Plain
                } else {
                    utf8(left - 1, 0x80, 0xbf)
                }
            }
            InString::Escape => match b {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => InString::Plain,
                b'u' => InString::Hex {
                    read: 0,
                    code: 0,
                    low: false,
                },
                _ => return State::Invalid,
            },
            InString::Hex { read, code, low } => {
                let Some(digit) = char::from(b).to_digit(16) else {
                    return State::Invalid;
                };
                // Four hex digits fit in 16 bits.
                let code = (code << 4) | digit as u16;
                if read < 3 {
                    InString::Hex {
                        read: read + 1,
                        code,
                        low,
                    }
                } else {
                    match (low, code) {
                        (true, 0xdc00..=0xdfff) => InString::Plain,
                        (true, _) | (false, 0xdc00..=0xdfff) => return State::Invalid,
                        (false, 0xd800..=0xdbff) => InString::LowBackslash,
                        (false, _) => InString::Plain,
                    }
                }
            }
            InString::LowBackslash if b == b'\\' => InString::LowU,
            InString::LowU if b == b'u' => InString::Hex {
                read: 0,
                code: 0,
                low: true,
            },
            InString::LowBackslash | InString::LowU => return State::Invalid,
        };
        State::Str { key, at }
    }
}

fn utf8(left: u8, lo: u8, hi: u8) -> InString {
    InString::Utf8 { left, lo, hi }
}

/// The number state after byte `b`, `None` if `b` is not part of it.
fn number(at: InNumber, b: u8) -> Option<InNumber> {
    use InNumber::*;
    Some(match (at, b) {
        (Minus, b'0') => Zero,
        (Minus | Int, b'1'..=b'9') | (Int, b'0') => Int,
        (Zero | Int, b'.') => Point,
        (Point | Frac, b'0'..=b'9') => Frac,
        (Zero | Int | Frac, b'e' | b'E') => Exp,
        (Exp, b'+' | b'-') => ExpSign,
        (Exp | ExpSign | ExpInt, b'0'..=b'9') => ExpInt,
        _ => return None,
    })
}

/// Whether serde_json reads this complete number token (its only check
/// left: a double's range, `1e400` being refused).
fn in_range(token: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(token).is_ok()
}

#[cfg(test)]
mod tests;
