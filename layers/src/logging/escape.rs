//! [`Escaped`]: text a client controls, made safe for one log line.

use std::fmt;

/// Displays text with everything that could forge or hide log lines
/// escaped: control characters (line breaks, escape sequences, NUL),
/// Unicode line separators and bidirectional overrides as `\n`, `\r`, `\t`
/// or `\u{..}`, and the backslash itself as `\\` (so an escape in the output
/// always came from this). Everything else is written as is.
///
/// ```
/// use ld_tower_layers::logging::Escaped;
///
/// let name = "LD_x\n2026-01-01T00:00:00Z  INFO forged\u{1b}[2K";
/// assert_eq!(
///     Escaped(name).to_string(),
///     r"LD_x\n2026-01-01T00:00:00Z  INFO forged\u{1b}[2K"
/// );
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a str);

/// Whether `c` must not reach a log line as is.
fn unsafe_in_logs(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(|c: char| c == '\\' || unsafe_in_logs(c)) {
            f.write_str(&rest[..at])?;
            let mut chars = rest[at..].chars();
            match chars.next() {
                Some('\\') => f.write_str("\\\\")?,
                Some('\n') => f.write_str("\\n")?,
                Some('\r') => f.write_str("\\r")?,
                Some('\t') => f.write_str("\\t")?,
                Some(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                None => {}
            }
            rest = chars.as_str();
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_a_line() {
        assert_eq!(Escaped("plain, ünïcode ✓").to_string(), "plain, ünïcode ✓");
        assert_eq!(Escaped("a\r\nb\tc\\d").to_string(), r"a\r\nb\tc\\d");
        assert_eq!(
            Escaped("\u{0}\u{7f}\u{9b}").to_string(),
            r"\u{0}\u{7f}\u{9b}"
        );
        assert_eq!(
            Escaped("x\u{202e}y\u{2028}").to_string(),
            r"x\u{202e}y\u{2028}"
        );
    }
}
