//! Where a `redis://` (or `rediss://`, TLS) URL connects and how it logs
//! in: host, port (default 6379), database (the path, default 0), user
//! name and password.

/// A Redis server's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Address {
    /// Over TLS (`rediss://`).
    pub(super) secure: bool,
    /// The host.
    pub(super) host: String,
    /// The port.
    pub(super) port: u16,
    /// The database number.
    pub(super) db: i64,
    /// The user name, if any.
    pub(super) username: Option<String>,
    /// The password, if any.
    pub(super) password: Option<String>,
}

impl Address {
    /// `url`'s address; the error says what is wrong with it.
    pub(super) fn parse(url: &str) -> Result<Address, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let secure = match parsed.scheme() {
            "redis" => false,
            "rediss" => true,
            other => {
                return Err(format!(
                    "{url:?}: scheme {other:?} is not \"redis\" or \"rediss\""
                ))
            }
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{url:?} names no host"))?
            .to_owned();
        let db = match parsed.path().trim_start_matches('/') {
            "" => 0,
            db => db
                .parse()
                .map_err(|_| format!("{url:?}: the database {db:?} is not a number"))?,
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        Ok(Address {
            secure,
            host,
            port: parsed.port().unwrap_or(6379),
            db,
            username: Some(parsed.username())
                .filter(|u| !u.is_empty())
                .map(decode),
            password: parsed.password().map(decode),
        })
    }
}
