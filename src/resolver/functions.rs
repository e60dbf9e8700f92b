//! The built-in functions a placeholder can call: `${uuid()}`, `${now()}` and
//! `${randint(a,b)}`. Names are case-insensitive; arguments are checked when
//! the template is parsed, so rendering cannot fail.

use std::fmt::Write as _;

use chrono::{Datelike as _, Timelike as _};

/// A function call, its arguments already parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Function {
    /// `uuid()`: a random (version 4) UUID, lowercase and hyphenated.
    Uuid,
    /// `now()`: local time, ISO 8601 to the second (`2026-11-24T23:15:02`).
    Now,
    /// `randint(a,b)`: an integer in `a..=b`.
    RandInt {
        /// The smallest value drawn.
        low: i64,
        /// The largest value drawn; never below `low`.
        high: i64,
    },
}

impl Function {
    /// The function `name(args)`, or `None` when the name is unknown or the
    /// arguments do not suit it.
    ///
    /// As in LoadDensity, `uuid` and `now` ignore their arguments and `randint`
    /// takes exactly two comma-separated integers; unlike it, `randint(a,b)`
    /// with `a > b` or non-integers is left unresolved instead of failing the
    /// whole task.
    pub(super) fn parse(name: &str, args: &str) -> Option<Function> {
        match name.to_lowercase().as_str() {
            "uuid" => Some(Function::Uuid),
            "now" => Some(Function::Now),
            "randint" => {
                let mut args = args.split(',').map(str::trim);
                let low: i64 = args.next()?.parse().ok()?;
                let high: i64 = args.next()?.parse().ok()?;
                (args.next().is_none() && low <= high).then_some(Function::RandInt { low, high })
            }
            _ => None,
        }
    }

    /// Appends the function's value to `out`.
    pub(super) fn render(self, rng: &mut fastrand::Rng, out: &mut String) {
        match self {
            Function::Uuid => {
                let mut buffer = uuid::Uuid::encode_buffer();
                out.push_str(uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer));
            }
            Function::Now => {
                let now = chrono::Local::now().naive_local();
                // Writing into a String cannot fail.
                let _ = write!(
                    out,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                    now.year(),
                    now.month(),
                    now.day(),
                    now.hour(),
                    now.minute(),
                    now.second()
                );
            }
            Function::RandInt { low, high } => {
                // `parse` guarantees `low <= high`: the range is never empty.
                let _ = write!(out, "{}", rng.i64(low..=high));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arguments() {
        assert_eq!(Function::parse("UuId", "ignored"), Some(Function::Uuid));
        assert_eq!(Function::parse("NOW", ""), Some(Function::Now));
        assert_eq!(
            Function::parse("randint", " -5 ,+5 "),
            Some(Function::RandInt { low: -5, high: 5 })
        );
        assert_eq!(
            Function::parse("randint", "7,7"),
            Some(Function::RandInt { low: 7, high: 7 })
        );
        for args in [
            "",
            "1",
            "1,",
            "a,2",
            "2,1",
            "1,2,3",
            "1.5,2",
            "99999999999999999999,1",
        ] {
            assert_eq!(Function::parse("randint", args), None, "{args:?}");
        }
        assert_eq!(Function::parse("faker", ""), None);
    }

    #[test]
    fn randint_covers_the_full_i64_range() {
        let mut rng = fastrand::Rng::with_seed(1);
        let mut out = String::new();
        Function::RandInt {
            low: i64::MIN,
            high: i64::MAX,
        }
        .render(&mut rng, &mut out);
        assert!(out.parse::<i64>().is_ok(), "{out}");
    }
}
