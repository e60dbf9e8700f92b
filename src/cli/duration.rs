//! Durations on the command line: `30` (seconds), `1.5`, `250ms`, `2m`, `1h 30m`.

use std::time::Duration;

/// Parses a positive duration: a bare number is seconds, anything else is
/// humantime's syntax (`250ms`, `30s`, `2m`, `1h 30m`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))?
        }
        Ok(_) => return Err(format!("{text:?} is not a positive number of seconds")),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a duration ({e}); try 30, 30s, 250ms or 2m"))?,
    };
    if duration.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(duration)
}

/// Parses a duration as [`parse_duration`] does, also taking `0` (any
/// zero: `0`, `0s`): no limit, as [`Duration::ZERO`].
pub(crate) fn parse_limit(text: &str) -> Result<Duration, String> {
    if text.trim().parse::<f64>() == Ok(0.0) {
        return Ok(Duration::ZERO);
    }
    match humantime::parse_duration(text.trim()) {
        Ok(duration) if duration.is_zero() => Ok(Duration::ZERO),
        _ => parse_duration(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_limit("0"), Ok(Duration::ZERO));
        assert_eq!(parse_limit("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_limit("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_limit("-1").is_err());
    }
}
