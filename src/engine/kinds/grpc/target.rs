//! A gRPC target as written: `host:port`, with an optional `http://`,
//! `grpc://` (plaintext) or `https://`, `grpcs://` (TLS) prefix; IPv6
//! hosts in brackets.

/// Where calls go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    /// The host, as written (brackets kept for IPv6): what TLS checks the
    /// certificate against and `:authority` carries.
    pub host: String,
    /// The port.
    pub port: u16,
    /// TLS unless the task's `tls` says otherwise: `https://` or `grpcs://`.
    pub tls: bool,
}

/// `text` as a target; the error says what is wrong.
pub(super) fn parse(text: &str) -> Result<Target, String> {
    let lower = text.to_ascii_lowercase();
    let (rest, tls, default_port) = if let Some(i) = lower.find("://") {
        let rest = &text[i + 3..];
        match &lower[..i] {
            "http" | "grpc" => (rest, false, Some(80)),
            "https" | "grpcs" => (rest, true, Some(443)),
            other => {
                return Err(format!(
                    "{text:?}: scheme {other:?} is not one of http, https, grpc, grpcs (or write host:port)"
                ))
            }
        }
    } else {
        (text, false, None)
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return Err(format!("{text:?}: a target is host:port, with no path"));
    }
    let (host, port) = match rest.rfind(':') {
        Some(colon) if !rest[colon..].contains(']') => (&rest[..colon], Some(&rest[colon + 1..])),
        _ => (rest, None),
    };
    if host.is_empty() || host == "[]" {
        return Err(format!("{text:?}: no host (write host:port)"));
    }
    let port = match (port, default_port) {
        (Some(port), _) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{text:?}: {port:?} is not a port"))?,
        (None, Some(port)) => port,
        (None, None) => return Err(format!("{text:?}: no port (write host:port)")),
    };
    Ok(Target {
        host: host.to_owned(),
        port,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = |s: &str| parse(s).map(|t| (t.host, t.port, t.tls));
        assert_eq!(t("127.0.0.1:50051"), Ok(("127.0.0.1".into(), 50051, false)));
        assert_eq!(
            t("grpcs://example.com"),
            Ok(("example.com".into(), 443, true))
        );
        assert_eq!(t("http://[::1]:8080/"), Ok(("[::1]".into(), 8080, false)));
        assert!(t("localhost").is_err_and(|e| e.contains("no port")));
        assert!(t("ftp://x:1").is_err_and(|e| e.contains("scheme")));
        assert!(t("x:0").is_err());
        assert!(t("x:1/path").is_err());
    }
}
