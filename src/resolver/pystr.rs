//! Numbers written as Python's `str()` writes them, for values LoadDensity
//! turned into text with `str()`: a database's reals, Faker's floats.

use std::fmt::{self, Write as _};

/// Appends `x` as Python's `str(float)` (its `repr`) writes it: the
/// shortest digits that read back as `x`, in positional notation with at
/// least one decimal (`1.0`, `0.0001`, `1000000000000000.0`) when the
/// decimal point falls from 4 places left of the digits to 16 right of the
/// first, else in scientific notation with a two-digit exponent at least
/// (`1e-05`, `1e+16`, `1.5e+300`); `inf`, `-inf`, `nan`.
pub(super) fn push_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python's
    // repr: `-1.2345e-5`, `1e16`, `0e0`.
    let mut scientific = Stack::default();
    if write!(scientific, "{x:e}").is_err() {
        // Never: an f64's `{:e}` is at most 24 bytes.
        let _ = write!(out, "{x}");
        return;
    }
    let text = scientific.as_str();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (first, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The significant digits, and where the decimal point falls among them.
    let digits = first.len() + rest.len();
    let point = exponent + 1;
    let digit = |i: usize| {
        if i < first.len() {
            first.as_bytes()[i]
        } else {
            rest.as_bytes()[i - first.len()]
        }
    };
    if negative {
        out.push('-');
    }
    if -4 < point && point <= 16 {
        if point <= 0 {
            out.push_str("0.");
            for _ in point..0 {
                out.push('0');
            }
            (0..digits).for_each(|i| out.push(char::from(digit(i))));
        } else {
            let point = point as usize;
            for i in 0..digits.max(point) {
                if i == point {
                    out.push('.');
                }
                out.push(if i < digits {
                    char::from(digit(i))
                } else {
                    '0'
                });
            }
            if point >= digits {
                out.push_str(".0");
            }
        }
    } else {
        out.push(char::from(digit(0)));
        if digits > 1 {
            out.push('.');
            (1..digits).for_each(|i| out.push(char::from(digit(i))));
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
    }
}

/// A small text buffer on the stack: formatting a number into it allocates
/// nothing.
#[derive(Default)]
struct Stack {
    /// The bytes written.
    buf: [u8; 32],
    /// How many.
    len: usize,
}

impl Stack {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Stack {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(x: f64) -> String {
        let mut out = String::new();
        push_float(&mut out, x);
        out
    }

    #[test]
    fn floats_are_written_as_python_writes_them() {
        // Each pair checked against CPython 3.11's str(float).
        for (x, python) in [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-1.5, "-1.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.7, "1234567890123456.8"),
            (1e16, "1e+16"),
            (1.2345678901234567e19, "1.2345678901234567e+19"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (1756791601.6591105, "1756791601.6591105"),
            (2.0_f64.powi(53), "9007199254740992.0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(float(x), python, "{x:e}");
        }
    }
}
