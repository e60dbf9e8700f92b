//! [`RequestPrefix`] against serde_json, which parses the request in the
//! end: on every prefix of many documents, "wait" exactly where serde_json
//! reports an end-of-input error ([`Category::Eof`]), except where serde_json
//! is not a prefix oracle (documented below, tested by name).

use serde_json::error::Category;
use serde_json::Value;

use super::{RequestPrefix, Verdict};

/// The verdict on `bytes` fed in one piece.
fn whole(bytes: &[u8]) -> Verdict {
    RequestPrefix::default().feed(bytes)
}

/// The verdict on `bytes` fed one more byte at a time, as a slow client
/// sends it, until it is decided (as the codec stops there); checked to be
/// the verdict on the bytes in one piece.
fn trickled(bytes: &[u8]) -> Verdict {
    let mut prefix = RequestPrefix::default();
    let mut verdict = prefix.feed(&[]);
    for end in 1..=bytes.len() {
        if verdict != Verdict::Incomplete {
            break;
        }
        verdict = prefix.feed(&bytes[..end]);
    }
    assert_eq!(
        verdict,
        whole(bytes),
        "{:?}",
        String::from_utf8_lossy(bytes)
    );
    verdict
}

use Verdict::{Complete, Incomplete, Invalid};

#[test]
fn bytes_that_can_no_longer_be_json_are_invalid_at_once() {
    for bad in [
        &b"{bad"[..],
        b"]",
        b"}",
        b"{,",
        b"[1,]",
        b"[1 2",
        b"{\"a\" 1",
        b"{\"a\":}",
        b"[01",
        b"[-a",
        b"[1.e5",
        b"[.5",
        b"[tru ",
        b"[nul1",
        b"not json",
        b"[\"\\x\"",
        b"[\"a\x01",
        b"\"\\u12g",
        b"[\"\\uDC00",
        b"[\"\\uD800x",
        b"[\"\\uD800\\n",
        b"[\"\\uD800\\u0041",
        b"[1e400]",
        b"[\x7f]",
        b"quix",
        b"\x0b[]",
    ] {
        assert_eq!(whole(bad), Invalid, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn a_complete_value_is_complete_whatever_follows_it() {
    for done in [
        &b"{}"[..],
        b"[]",
        b" \n\t[[\"LD_summary\", {}]]",
        b"{\"a\":1}}",
        b"{\"a\":1} trailing",
        b"\"text\"",
        b"true",
        b"null",
        b"-0",
        b"12",
        b"1.5e+3",
        b"quit_server",
        b"  quit_server\n",
        b"quit_serverx",
        b"\x0c{}",
    ] {
        assert_eq!(
            trickled(done),
            Complete,
            "{:?}",
            String::from_utf8_lossy(done)
        );
    }
}

#[test]
fn a_valid_prefix_waits() {
    for prefix in [
        &b""[..],
        b"   ",
        b" \r\n\t\x0c",
        b"{",
        b"{\"a\"",
        b"{\"a\":",
        b"{\"a\": 1,",
        b"[\"}]{[\"",
        b"{\"}\": \"{\\\"]\"",
        b"[\"\\u",
        b"[\"\\uD83D",
        b"[\"\\uD83D\\",
        b"[\"\\uD83D\\uDE0",
        b"tru",
        b"-",
        b"quit_",
        b"q",
        b"[1",
    ] {
        assert_eq!(
            trickled(prefix),
            Incomplete,
            "{:?}",
            String::from_utf8_lossy(prefix)
        );
    }
    // A number alone is complete at the end of what was sent (serde_json
    // reads "1" as 1): trickled, it is taken at its first digit.
    for number in [&b"1."[..], b"1e", b"1e+", b"-1.5e"] {
        assert_eq!(whole(number), Incomplete, "{number:?}");
    }
    assert_eq!(trickled(b"1.5"), Complete);
    assert!(RequestPrefix::default().is_blank());
    let mut blank = RequestPrefix::default();
    blank.feed(b" \n ");
    assert!(blank.is_blank());
    blank.feed(b" \n [");
    assert!(!blank.is_blank());
}

#[test]
fn multi_byte_utf8_split_anywhere_waits_and_bad_utf8_is_invalid() {
    let doc = "[[\"LD_summary\", {\"success\": [{\"name\": \"é€😀 {}[]\\\"\", \"response_time_ms\": 1}]}]]";
    // Every split, including inside each multi-byte character, waits.
    let mut prefix = RequestPrefix::default();
    for end in 0..doc.len() {
        assert_eq!(prefix.feed(&doc.as_bytes()[..end]), Incomplete, "{end}");
    }
    assert_eq!(prefix.feed(doc.as_bytes()), Complete);
    assert!(serde_json::from_str::<Value>(doc).is_ok());
    // Invalid UTF-8 in a string is found at once, though serde_json reports
    // "EOF" for it until the string is closed.
    for bad in [
        &b"[\"\xff"[..],
        b"[\"\xc0\x80",
        b"[\"\xe0\x80",
        b"[\"\xed\xa0\x80",
        b"[\"\xf4\x90",
        b"[\"\xf5",
        b"[\"\xc3a",
        b"[\xc3\xa9",
    ] {
        assert_eq!(whole(bad), Invalid, "{bad:?}");
    }
    assert_eq!(
        serde_json::from_slice::<Value>(b"[\"\xff")
            .map_err(|e| e.classify())
            .err(),
        Some(Category::Eof)
    );
}

#[test]
fn nesting_stops_where_serde_json_does() {
    let ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
    assert!(serde_json::from_str::<Value>(&ok).is_ok());
    assert_eq!(whole(ok.as_bytes()), Complete);
    let deep = "[".repeat(128);
    assert!(serde_json::from_str::<Value>(&deep).is_err());
    assert_eq!(whole(deep.as_bytes()), Invalid);
    assert_eq!(whole("{\"a\":".repeat(128).as_bytes()), Invalid);
    assert_eq!(whole("{\"a\":[".repeat(63).as_bytes()), Incomplete);
}

#[test]
fn numbers_are_range_checked_when_they_end() {
    // `[1` and 400 zeros: serde_json already says "out of range", yet
    // `e-400]` makes it valid: a number is judged when it ends.
    let zeros = format!("[1{}", "0".repeat(400));
    assert_eq!(
        serde_json::from_str::<Value>(&zeros)
            .map_err(|e| e.classify())
            .err(),
        Some(Category::Syntax)
    );
    assert_eq!(whole(zeros.as_bytes()), Incomplete);
    let valid = format!("{zeros}e-400]");
    assert!(serde_json::from_str::<Value>(&valid).is_ok());
    assert_eq!(trickled(valid.as_bytes()), Complete);
    assert_eq!(whole(format!("{zeros}]").as_bytes()), Invalid);
    assert_eq!(whole(b"[1e-400]"), Complete);
}

/// What serde_json says of `bytes`: `Some(true)` if it would wait for more
/// (its end-of-input error), `Some(false)` if not, `None` where it is no
/// prefix oracle (a number at the very end already out of range).
fn serde_waits(bytes: &[u8]) -> Option<bool> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(_) => Some(false),
        Err(e) if e.classify() == Category::Eof => Some(true),
        Err(e) if e.to_string().starts_with("number out of range") => None,
        Err(_) => Some(false),
    }
}

/// Continuations of an open string: whatever valid prefix of a string
/// (plain, after `\`, inside `\u` digits, after a high surrogate, inside a
/// UTF-8 sequence) `bytes` end in, one of these continues it validly.
const PADS: &[&[u8]] = &[
    b"0000\"",
    b"dc00\"",
    b"\\udc00\"",
    b"udc00\"",
    b"\xa9\"",
    b"\xa9\xa9\"",
    b"\xa9\xa9\xa9\"",
    b"\x8f\"",
    b"\x8f\x8f\"",
    b"\x8f\x8f\x8f\"",
];

/// Where serde_json says "EOF" only because it has not read far enough
/// (it checks UTF-8 when a string closes and wants four bytes after `\u`
/// before it looks at them): no continuation of `bytes` in [`PADS`] makes
/// serde_json read on without a syntax error.
fn certainly_invalid(bytes: &[u8]) -> bool {
    PADS.iter().all(|pad| {
        // Spaces after the string, so serde_json has its four bytes.
        let padded = [bytes, pad, b"    "].concat();
        matches!(serde_json::from_slice::<Value>(&padded), Err(e) if e.classify() != Category::Eof)
    })
}

/// Checks every prefix of `doc` against serde_json: where it would wait,
/// so does `RequestPrefix` (or it sees, with certainty, what serde_json has
/// not read yet); where it would not, neither does `RequestPrefix`.
fn agrees_on_every_prefix(doc: &[u8]) {
    let mut prefix = RequestPrefix::default();
    for end in 0..=doc.len() {
        let bytes = &doc[..end];
        let mine = prefix.feed(bytes);
        let agrees = match serde_waits(bytes) {
            Some(true) => mine == Incomplete || (mine == Invalid && certainly_invalid(bytes)),
            Some(false) => mine != Incomplete,
            None => true,
        };
        assert!(
            agrees,
            "{:?}: mine {mine:?}",
            String::from_utf8_lossy(bytes)
        );
        if mine != Incomplete {
            return;
        }
    }
}

#[test]
fn agrees_with_serde_json_on_every_prefix_of_documents() {
    let docs = [
        r#"{"load_density": [["LD_start_test", {"user_detail_dict": {"user": "fast_http_user"}, "user_count": 50, "spawn_rate": 10.5, "test_time": null, "tasks": [{"method": "get", "request_url": "http://x/{a}[b]", "headers": {"k": "v\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}}]}], ["LD_summary", {}]]}"#,
        r#"[["LD_summary", [[{"name": "a", "response_time_ms": -1.25E-3}, {"x": [true, false, null, 0, -0, 0.0, 1e5, 1E+5, 2e-5]}], []]]]"#,
        r#"  {"token": "s3cret", "command": [["LD_clear_records"]]}  "#,
        r#"{"a":{"b":{"c":[[],[{}],{"d":[]}]}}}"#,
        r#"[1,2 ,3 , 4,"5" ,[6] ]"#,
        r#"{"a" : 1 , "b" :[ ] }"#,
        r#"{"a":1,}"#,
        r#"[1,,2]"#,
        r#"{"a":1 "b":2}"#,
        r#"{1:2}"#,
        r#"["a" "b"]"#,
        r#"[truefalse]"#,
        r#"[nulll]"#,
        r#"[-]"#,
        r#"[00]"#,
        r#"[1.]"#,
        r#"[1e]"#,
        r#"[1e+]"#,
        r#"["\uDBFF\uDFFF", "\ud800\udc00"]"#,
        r#"["\uD800\uD800"]"#,
        r#"["\u00"]"#,
        "[\"tab\tinside\"]",
        "{\"é\": \"€\"}",
        "[\u{a0}1]",
        "\"a string\"",
        "-12.5e-7",
        "[1e999]",
    ];
    for doc in docs {
        agrees_on_every_prefix(doc.as_bytes());
    }
}

#[test]
fn agrees_with_serde_json_on_random_documents() {
    // Characters JSON is made of, and some it is not; no `q` (the quit
    // word is not JSON) and no form feed (leading whitespace to ld-tower).
    const PIECES: &[&str] = &[
        "{", "}", "[", "]", "\"", ":", ",", " ", "\n", "0", "1", "9", "-", "+", ".", "e", "E", "t",
        "r", "u", "e", "f", "a", "l", "s", "n", "\\", "\\u", "D8", "DC", "00", "é", "😀", "x",
        "\"a\"", "true", "null", "12", "{\"k\":", "[1,", "\u{1}",
    ];
    let mut rng = fastrand::Rng::with_seed(0x1d_70_e4);
    let mut waited = 0;
    for _ in 0..20_000 {
        let len = rng.usize(1..24);
        let doc: String = (0..len)
            .map(|_| PIECES[rng.usize(..PIECES.len())])
            .collect();
        agrees_on_every_prefix(doc.as_bytes());
        waited += usize::from(whole(doc.as_bytes()) == Incomplete);
    }
    // The corpus exercises both outcomes.
    assert!(waited > 100, "{waited}");
}

#[test]
fn each_byte_is_looked_at_about_once_however_the_request_is_split() {
    // A request of 8 MiB (numbers, strings with escapes and multi-byte
    // text, nesting) fed in 1,000-byte reads: the buffer is re-fed after
    // every read, as the codec does, yet the work stays linear.
    let item =
        r#"{"name": "caf\u00e9 é {[", "response_time_ms": 12.5e-1, "ok": [true, null, -0]}, "#;
    let mut doc = String::from(r#"[["LD_summary", [["#);
    while doc.len() < 8 << 20 {
        doc.push_str(item);
    }
    doc.push_str(r#"{}], []]]]"#);
    let bytes = doc.as_bytes();
    let mut prefix = RequestPrefix::default();
    let mut verdict = Incomplete;
    let mut end = 0;
    while verdict == Incomplete && end < bytes.len() {
        end = (end + 1000).min(bytes.len());
        verdict = prefix.feed(&bytes[..end]);
    }
    assert_eq!(verdict, Complete);
    assert_eq!(end, bytes.len());
    // A byte is looked at twice only when it ends a number.
    assert!(
        prefix.steps <= bytes.len() + bytes.len() / 10,
        "{} steps for {} bytes",
        prefix.steps,
        bytes.len()
    );
}
