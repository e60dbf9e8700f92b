//! The bits of Python that LoadDensity's `build_summary` leans on, so that
//! `LD_summary` over given records computes what it computed: `float()` of
//! a record's value (`finite_number`), `str()` of a record's name, and
//! `math.fsum`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

/// `finite_number(value)`: Python's `float(value)` if that is finite; `None`
/// for null, booleans, lists, objects, strings `float()` refuses, and
/// non-finite results (`"inf"`, `"nan"`).
///
/// A string is read as `float()` reads it: surrounding whitespace, a sign,
/// `_` between digits, `inf`/`nan`. (Non-ASCII digits, which `float()` also
/// takes, are refused.)
pub(crate) fn finite_number(value: &Value) -> Option<f64> {
    if value.is_boolean() {
        return None;
    }
    float(value).filter(|number| number.is_finite())
}

/// Python's `round(x, digits)`: the double nearest the decimal rounded
/// half to even from `x`'s exact value (Rust's formatting rounds so too:
/// `round(0.125, 2)` is 0.12 in both).
pub(crate) fn round(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse().unwrap_or(x)
}

/// Python's `float(value)` of a JSON value as `json.loads` gave it: a
/// number, a boolean (`1.0`, `0.0`), a string read as `float()` reads it
/// (`"inf"` and `"nan"` included); `None` where `float()` raises (null,
/// lists, objects, other strings).
pub(crate) fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(text) => parse_float(text),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Whether Python's `str.strip()` strips `c` (Unicode whitespace and the
/// four ASCII separators `\x1c`..`\x1f`).
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `float(text)`, `None` where it raises `ValueError`.
fn parse_float(text: &str) -> Option<f64> {
    let text = text.trim_matches(python_space);
    if !text.is_ascii() {
        return None;
    }
    // `_` only between two digits; Rust's parser takes none.
    let bytes = text.as_bytes();
    let mut plain = String::with_capacity(text.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let digit_before = i > 0 && bytes[i - 1].is_ascii_digit();
            let digit_after = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(digit_before && digit_after) {
                return None;
            }
        } else {
            plain.push(char::from(b));
        }
    }
    // Rust's grammar is Python's (sign, digits with an optional point,
    // exponent, inf/infinity/nan in any case), both correctly rounded.
    plain.parse().ok()
}

/// Python's `str(value)` of a JSON value as `json.loads` gave it: a string
/// as itself, anything else as its repr (`True`, `5`, `1e+20`, `[1, 'a']`,
/// `{'k': None}`).
pub(crate) fn str_of(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(repr_of(other)),
    }
}

/// Python's truthiness of a JSON value: null, false, 0, "", [] and {} are
/// false.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `repr(value)` of a JSON value as `json.loads` gave it
/// (`'text'`, `None`, `1.5`, `[1, 'a']`).
pub(crate) fn repr_of(value: &Value) -> String {
    let mut out = String::new();
    repr(value, &mut out);
    out
}

/// Python's `repr` of a JSON value.
fn repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (None, None, Some(f)) => float_repr(f, out),
            (None, None, None) => out.push_str("nan"),
        },
        Value::String(text) => string_repr(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                string_repr(key, out);
                out.push_str(": ");
                repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: the shortest digits that read back the same,
/// positional when the decimal exponent is in -4..16 (`0.0001`,
/// `1000000000000000.0`), else `1e-05`, `1.5e+16`.
pub(crate) fn float_repr(f: f64, out: &mut String) {
    if !f.is_finite() {
        out.push_str(if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        });
        return;
    }
    // Rust's `{:e}` gives the same shortest round-trip digits: `d.ddde±x`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if f.is_sign_negative() {
        out.push('-');
    }
    // The point goes after `decpt` digits.
    let decpt = exponent + 1;
    if (-3..=16).contains(&decpt) {
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let decpt = decpt as usize;
            if digits.len() <= decpt {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', decpt - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..decpt]);
                out.push('.');
                out.push_str(&digits[decpt..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.unsigned_abs());
    }
}

/// Python's `repr(str)`: single quotes unless the text holds one and no
/// double quote; `\\`, `\n`, `\r`, `\t` and other ASCII control characters
/// escaped. (Python also escapes the non-printable characters beyond ASCII;
/// those are kept here.)
fn string_repr(text: &str, out: &mut String) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// `math.fsum`: the correctly rounded sum (Shewchuk's exact partials, then
/// CPython's half-even fix-up across partials). The inputs here are finite
/// and small (latencies scaled to at most 1), so the partials never
/// overflow; they stay few (non-overlapping doubles), so this is linear.
pub(crate) fn fsum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for mut x in values {
        let mut kept = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        if x != 0.0 {
            partials.push(x);
        }
    }
    let Some(mut hi) = partials.pop() else {
        return 0.0;
    };
    let mut lo = 0.0;
    while let Some(y) = partials.pop() {
        let x = hi;
        hi = x + y;
        lo = y - (hi - x);
        if lo != 0.0 {
            break;
        }
    }
    // Half-even rounding across the partials left.
    if let Some(&next) = partials.last() {
        if (lo < 0.0 && next < 0.0) || (lo > 0.0 && next > 0.0) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_of_values_as_python() {
        let cases = [
            (json!(12), Some(12.0)),
            (json!(1.5), Some(1.5)),
            (json!(1e308), Some(1e308)),
            (json!(-0.0), Some(-0.0)),
            (json!("12"), Some(12.0)),
            (json!(" 13 \n"), Some(13.0)),
            (json!("1_000.5"), Some(1000.5)),
            (json!("+.5e1"), Some(5.0)),
            (json!("1__0"), None),
            (json!("_1"), None),
            (json!("1_"), None),
            (json!("abc"), None),
            (json!("nan"), None),
            (json!("-Infinity"), None),
            (json!("1e400"), None),
            (json!("1 2"), None),
            (json!(""), None),
            (json!(true), None),
            (json!(false), None),
            (json!(null), None),
            (json!([1]), None),
            (json!({"x": 1}), None),
        ];
        for (value, want) in cases {
            let got = finite_number(&value);
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "float({value})"
            );
        }
    }

    #[test]
    fn str_of_values_as_python() {
        // What the original printed as per_name keys for these names.
        let cases = [
            (json!("a"), "a"),
            (json!(5), "5"),
            (json!(1.5), "1.5"),
            (json!(1e20), "1e+20"),
            (json!(1e-7), "1e-07"),
            (json!(1e16), "1e+16"),
            (json!(1e15), "1000000000000000.0"),
            (json!(0.0001), "0.0001"),
            (json!(123.0), "123.0"),
            (json!(-2.5e-5), "-2.5e-05"),
            (json!(1.2345e100), "1.2345e+100"),
            (json!(true), "True"),
            (json!([1, "a"]), "[1, 'a']"),
            (json!({"k": null}), "{'k': None}"),
            (
                json!(["it's", "a\"b'", "t\tn\n\u{1}"]),
                r#"["it's", 'a"b\'', 't\tn\n\x01']"#,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(str_of(&value), want, "str({value})");
        }
    }

    #[test]
    fn truthiness_as_python() {
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        for true_ in [
            json!(true),
            json!(-1),
            json!(0.5),
            json!("0"),
            json!([0]),
            json!({"": 0}),
        ] {
            assert!(truthy(&true_), "{true_}");
        }
    }

    #[test]
    fn round_is_pythons() {
        // Python 3: round(0.125, 2), round(2.675, 2), round(22.1375, 2),
        // round(0.5, 0).
        assert_eq!(round(0.125, 2), 0.12);
        assert_eq!(round(2.675, 2), 2.67);
        assert_eq!(round(22.1375, 2), 22.14);
        assert_eq!(round(0.5, 0), 0.0);
    }

    #[test]
    fn fsum_is_correctly_rounded() {
        assert_eq!(fsum([0.1; 10]), 1.0);
        assert_eq!(fsum([1e100, 1.0, -1e100, 1e-100]), 1.0);
        // Python: math.fsum([1e-16, 1, 1e16]) == 1.0000000000000002e16.
        assert_eq!(fsum([1e-16, 1.0, 1e16]), 1.0000000000000002e16);
        assert_eq!(fsum([]), 0.0);
        // latency_mean([0.1, 0.2, 0.3]) as the original gave it.
        let scale = 0.3;
        assert_eq!(
            fsum([0.1 / scale, 0.2 / scale, 0.3 / scale]) / 3.0 * scale,
            0.19999999999999998
        );
    }
}
