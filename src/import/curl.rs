//! cURL commands into tasks, as LoadDensity's `curl_importer.py`, with its
//! defect corrected: a flag that takes no value (`-s`, `-v`, `-k`...) does
//! not swallow the next word, so `curl -s URL` keeps its URL and
//! `curl -v -X POST URL` is a POST to URL.
//!
//! The command is split into words as a POSIX shell splits it (the `shlex`
//! crate; LoadDensity uses Python's `shlex`), after joining `\`-newline
//! continuations; a leading `curl` is dropped. Each flag is looked up in
//! curl's own list: those that take a value take the next word (or the
//! rest of a short flag, `-XPOST`, or what follows `=`, `--request=PATCH`);
//! a flag curl does not have, or one whose meaning a task cannot carry (a
//! proxy, a file to upload, a config file), is an error naming it, rather
//! than a guess that would send another request than the command does.
//!
//! What each flag becomes:
//!
//! | flag | task |
//! |---|---|
//! | `-X/--request M` | `method` (lower case) |
//! | `-H/--header 'N: v'` | `headers` (`N;` sends N empty; `N:` with nothing after, curl's "drop N", is left out) |
//! | `-d/--data`, `--data-ascii`, `--data-binary`, `--data-raw`, `--data-urlencode`, `--json` | the body, parts joined with `&`: `json` when it parses as JSON, else `data` text (with curl's `Content-Type: application/x-www-form-urlencoded` unless a header gives one); turns the method into POST |
//! | `-G/--get` | the data parts go to the URL's query instead; method GET |
//! | `-F/--form`, `--form-string 'n=v'` | a `multipart/form-data` body: `data` fields and `files: {}` |
//! | `-u/--user u:p` | `auth: {type: basic}` |
//! | `--oauth2-bearer T` | `auth: {type: bearer, token}` |
//! | `-b/--cookie 'k=v; k2=v2'` | `cookies` (an object) |
//! | `-A/--user-agent`, `-e/--referer` | `User-Agent`, `Referer` headers |
//! | `-I/--head` | method HEAD |
//! | `-k/--insecure` | `verify: false` |
//! | `--cacert F` | `verify: F` |
//! | `-E/--cert C`, `--key K` | `cert: C` or `[C, K]` |
//! | `-L/--location` | `allow_redirects: true` |
//! | `-m/--max-time S` | `timeout` |
//! | `--http2-prior-knowledge` | `http2: true` |
//! | `--url U`, or the one word that is not a flag | `request_url` (`http://` added when it has no scheme, as curl does) |
//!
//! Flags about curl's own output, progress, retries or connection reuse
//! (`-s -S -v -i -f -o -w -D -c --compressed --retry --http1.1` ...) are
//! read and ignored.

use serde_json::{json, Map, Value};

use super::{sendable, too_many, ImportError, MAX_TASKS};

/// The longest command, in bytes: 1 MiB.
pub const MAX_COMMAND_BYTES: usize = 1024 * 1024;

/// What a flag does to the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opt {
    Request,
    Header,
    /// `-d`, `--data`, `--data-ascii`, `--data-binary`: `@FILE` reads a file.
    Data,
    /// `--data-raw`: the text as is.
    DataRaw,
    DataUrlencode,
    Json,
    Form,
    FormString,
    Get,
    Head,
    User,
    Bearer,
    Cookie,
    UserAgent,
    Referer,
    Insecure,
    CaCert,
    Cert,
    Key,
    Location,
    MaxTime,
    Http2PriorKnowledge,
    Url,
    /// Read, its value skipped: it changes nothing a task sends.
    IgnoredValue,
    /// Read: it changes nothing a task sends.
    Ignored,
    /// A meaning a task cannot carry: an error saying why.
    Refused(&'static str),
    /// As [`Opt::Refused`], for a flag that takes a value.
    RefusedValue(&'static str),
}

impl Opt {
    fn takes_value(self) -> bool {
        !matches!(
            self,
            Opt::Get
                | Opt::Head
                | Opt::Insecure
                | Opt::Location
                | Opt::Http2PriorKnowledge
                | Opt::Ignored
                | Opt::Refused(_)
        )
    }
}

const NO_PROXY: &str = "a task cannot go through a proxy";
const NO_FILE: &str = "it reads a local file, which a task does not carry";
const NO_AUTH: &str = "a task's auth is basic or bearer";
const NO_ROUTE: &str = "a task cannot change where a host name connects; give ld-tower's own --connect-to (run, serve)";

/// Short flags.
const SHORT: &[(char, Opt)] = &[
    ('X', Opt::Request),
    ('H', Opt::Header),
    ('d', Opt::Data),
    ('F', Opt::Form),
    ('G', Opt::Get),
    ('I', Opt::Head),
    ('u', Opt::User),
    ('b', Opt::Cookie),
    ('A', Opt::UserAgent),
    ('e', Opt::Referer),
    ('k', Opt::Insecure),
    ('E', Opt::Cert),
    ('L', Opt::Location),
    ('m', Opt::MaxTime),
    ('x', Opt::RefusedValue(NO_PROXY)),
    ('T', Opt::RefusedValue(NO_FILE)),
    ('K', Opt::RefusedValue(NO_FILE)),
    ('U', Opt::RefusedValue(NO_PROXY)),
    ('o', Opt::IgnoredValue),
    ('D', Opt::IgnoredValue),
    ('c', Opt::IgnoredValue),
    ('w', Opt::IgnoredValue),
    ('C', Opt::IgnoredValue),
    (
        'r',
        Opt::RefusedValue("a task cannot ask for a byte range; give a Range header"),
    ),
    ('z', Opt::IgnoredValue),
    ('t', Opt::IgnoredValue),
    ('Y', Opt::IgnoredValue),
    ('y', Opt::IgnoredValue),
    ('Q', Opt::IgnoredValue),
    ('P', Opt::IgnoredValue),
    ('s', Opt::Ignored),
    ('S', Opt::Ignored),
    ('v', Opt::Ignored),
    ('i', Opt::Ignored),
    ('f', Opt::Ignored),
    ('g', Opt::Ignored),
    ('N', Opt::Ignored),
    ('n', Opt::Ignored),
    ('O', Opt::Ignored),
    ('J', Opt::Ignored),
    ('R', Opt::Ignored),
    ('j', Opt::Ignored),
    ('l', Opt::Ignored),
    ('a', Opt::Ignored),
    ('B', Opt::Ignored),
    ('Z', Opt::Ignored),
    ('q', Opt::Ignored),
    ('#', Opt::Ignored),
    ('0', Opt::Ignored),
    ('1', Opt::Ignored),
    ('2', Opt::Ignored),
    ('3', Opt::Ignored),
    ('4', Opt::Ignored),
    ('6', Opt::Ignored),
    ('M', Opt::Ignored),
    ('V', Opt::Ignored),
    ('h', Opt::Ignored),
    ('p', Opt::Refused(NO_PROXY)),
];

/// Long flags.
const LONG: &[(&str, Opt)] = &[
    ("request", Opt::Request),
    ("header", Opt::Header),
    ("data", Opt::Data),
    ("data-ascii", Opt::Data),
    ("data-binary", Opt::Data),
    ("data-raw", Opt::DataRaw),
    ("data-urlencode", Opt::DataUrlencode),
    ("json", Opt::Json),
    ("form", Opt::Form),
    ("form-string", Opt::FormString),
    ("get", Opt::Get),
    ("head", Opt::Head),
    ("user", Opt::User),
    ("oauth2-bearer", Opt::Bearer),
    ("cookie", Opt::Cookie),
    ("user-agent", Opt::UserAgent),
    ("referer", Opt::Referer),
    ("insecure", Opt::Insecure),
    ("cacert", Opt::CaCert),
    ("cert", Opt::Cert),
    ("key", Opt::Key),
    ("location", Opt::Location),
    ("location-trusted", Opt::Location),
    ("max-time", Opt::MaxTime),
    ("http2-prior-knowledge", Opt::Http2PriorKnowledge),
    ("url", Opt::Url),
    // A meaning a task cannot carry.
    ("proxy", Opt::RefusedValue(NO_PROXY)),
    ("proxy-user", Opt::RefusedValue(NO_PROXY)),
    ("preproxy", Opt::RefusedValue(NO_PROXY)),
    ("socks4", Opt::RefusedValue(NO_PROXY)),
    ("socks4a", Opt::RefusedValue(NO_PROXY)),
    ("socks5", Opt::RefusedValue(NO_PROXY)),
    ("socks5-hostname", Opt::RefusedValue(NO_PROXY)),
    ("proxytunnel", Opt::Refused(NO_PROXY)),
    ("upload-file", Opt::RefusedValue(NO_FILE)),
    ("config", Opt::RefusedValue(NO_FILE)),
    ("unix-socket", Opt::RefusedValue("a task connects over TCP")),
    (
        "abstract-unix-socket",
        Opt::RefusedValue("a task connects over TCP"),
    ),
    ("resolve", Opt::RefusedValue(NO_ROUTE)),
    ("connect-to", Opt::RefusedValue(NO_ROUTE)),
    ("digest", Opt::Refused(NO_AUTH)),
    ("ntlm", Opt::Refused(NO_AUTH)),
    ("negotiate", Opt::Refused(NO_AUTH)),
    ("anyauth", Opt::Refused(NO_AUTH)),
    ("aws-sigv4", Opt::RefusedValue(NO_AUTH)),
    (
        "range",
        Opt::RefusedValue("a task cannot ask for a byte range; give a Range header"),
    ),
    (
        "url-query",
        Opt::RefusedValue("write the query into the URL"),
    ),
    (
        "variable",
        Opt::RefusedValue("curl's variables are not expanded; write the values"),
    ),
    ("http3", Opt::Refused("a task speaks HTTP/1.1 or HTTP/2")),
    (
        "http3-only",
        Opt::Refused("a task speaks HTTP/1.1 or HTTP/2"),
    ),
    // Nothing a task sends: output, progress, retries, timeouts of
    // phases, connection reuse, TLS versions, curl's own behaviour.
    ("basic", Opt::Ignored),
    ("compressed", Opt::Ignored),
    ("silent", Opt::Ignored),
    ("show-error", Opt::Ignored),
    ("verbose", Opt::Ignored),
    ("include", Opt::Ignored),
    ("fail", Opt::Ignored),
    ("fail-with-body", Opt::Ignored),
    ("fail-early", Opt::Ignored),
    ("globoff", Opt::Ignored),
    ("http1.0", Opt::Ignored),
    ("http1.1", Opt::Ignored),
    ("http2", Opt::Ignored),
    ("http0.9", Opt::Ignored),
    ("ipv4", Opt::Ignored),
    ("ipv6", Opt::Ignored),
    ("no-keepalive", Opt::Ignored),
    ("no-buffer", Opt::Ignored),
    ("no-progress-meter", Opt::Ignored),
    ("no-sessionid", Opt::Ignored),
    ("no-alpn", Opt::Ignored),
    ("no-npn", Opt::Ignored),
    ("progress-bar", Opt::Ignored),
    ("remote-name", Opt::Ignored),
    ("remote-name-all", Opt::Ignored),
    ("remote-header-name", Opt::Ignored),
    ("remote-time", Opt::Ignored),
    ("create-dirs", Opt::Ignored),
    ("tcp-nodelay", Opt::Ignored),
    ("tcp-fastopen", Opt::Ignored),
    ("path-as-is", Opt::Ignored),
    ("raw", Opt::Ignored),
    ("tr-encoding", Opt::Ignored),
    ("disable", Opt::Ignored),
    ("ssl", Opt::Ignored),
    ("ssl-reqd", Opt::Ignored),
    ("ssl-no-revoke", Opt::Ignored),
    ("ssl-revoke-best-effort", Opt::Ignored),
    ("ssl-allow-beast", Opt::Ignored),
    ("tlsv1", Opt::Ignored),
    ("tlsv1.0", Opt::Ignored),
    ("tlsv1.1", Opt::Ignored),
    ("tlsv1.2", Opt::Ignored),
    ("tlsv1.3", Opt::Ignored),
    ("sslv2", Opt::Ignored),
    ("sslv3", Opt::Ignored),
    ("cert-status", Opt::Ignored),
    ("false-start", Opt::Ignored),
    ("post301", Opt::Ignored),
    ("post302", Opt::Ignored),
    ("post303", Opt::Ignored),
    ("junk-session-cookies", Opt::Ignored),
    ("trace-time", Opt::Ignored),
    ("styled-output", Opt::Ignored),
    ("no-styled-output", Opt::Ignored),
    ("suppress-connect-headers", Opt::Ignored),
    ("retry-connrefused", Opt::Ignored),
    ("retry-all-errors", Opt::Ignored),
    ("parallel", Opt::Ignored),
    ("parallel-immediate", Opt::Ignored),
    ("list-only", Opt::Ignored),
    ("append", Opt::Ignored),
    ("ignore-content-length", Opt::Ignored),
    ("xattr", Opt::Ignored),
    ("doh-insecure", Opt::Ignored),
    ("proxy-insecure", Opt::Ignored),
    ("no-clobber", Opt::Ignored),
    ("remove-on-error", Opt::Ignored),
    ("manual", Opt::Ignored),
    ("help", Opt::Ignored),
    ("version", Opt::Ignored),
    ("connect-timeout", Opt::IgnoredValue),
    ("output", Opt::IgnoredValue),
    ("output-dir", Opt::IgnoredValue),
    ("dump-header", Opt::IgnoredValue),
    ("cookie-jar", Opt::IgnoredValue),
    ("write-out", Opt::IgnoredValue),
    ("trace", Opt::IgnoredValue),
    ("trace-ascii", Opt::IgnoredValue),
    ("trace-config", Opt::IgnoredValue),
    ("stderr", Opt::IgnoredValue),
    ("limit-rate", Opt::IgnoredValue),
    ("max-redirs", Opt::IgnoredValue),
    ("max-filesize", Opt::IgnoredValue),
    ("retry", Opt::IgnoredValue),
    ("retry-delay", Opt::IgnoredValue),
    ("retry-max-time", Opt::IgnoredValue),
    ("keepalive-time", Opt::IgnoredValue),
    ("expect100-timeout", Opt::IgnoredValue),
    ("happy-eyeballs-timeout-ms", Opt::IgnoredValue),
    ("interface", Opt::IgnoredValue),
    ("local-port", Opt::IgnoredValue),
    ("dns-servers", Opt::IgnoredValue),
    ("dns-interface", Opt::IgnoredValue),
    ("dns-ipv4-addr", Opt::IgnoredValue),
    ("dns-ipv6-addr", Opt::IgnoredValue),
    ("doh-url", Opt::IgnoredValue),
    ("noproxy", Opt::IgnoredValue),
    ("continue-at", Opt::IgnoredValue),
    ("time-cond", Opt::IgnoredValue),
    ("speed-limit", Opt::IgnoredValue),
    ("speed-time", Opt::IgnoredValue),
    ("tls-max", Opt::IgnoredValue),
    ("ciphers", Opt::IgnoredValue),
    ("tls13-ciphers", Opt::IgnoredValue),
    ("curves", Opt::IgnoredValue),
    ("capath", Opt::IgnoredValue),
    ("crlfile", Opt::IgnoredValue),
    ("pinnedpubkey", Opt::IgnoredValue),
    ("cert-type", Opt::IgnoredValue),
    ("key-type", Opt::IgnoredValue),
    ("pass", Opt::IgnoredValue),
    ("engine", Opt::IgnoredValue),
    ("create-file-mode", Opt::IgnoredValue),
    ("parallel-max", Opt::IgnoredValue),
    ("rate", Opt::IgnoredValue),
    ("alt-svc", Opt::IgnoredValue),
    ("hsts", Opt::IgnoredValue),
    ("etag-save", Opt::IgnoredValue),
    ("etag-compare", Opt::IgnoredValue),
    ("proto", Opt::IgnoredValue),
    ("proto-redir", Opt::IgnoredValue),
    ("proto-default", Opt::IgnoredValue),
];

/// The words of `command` as a POSIX shell splits them, `\`-newline
/// continuations joined, a leading `curl` and a trailing `;` dropped.
fn words(command: &str) -> Result<Vec<String>, ImportError> {
    if command.len() > MAX_COMMAND_BYTES {
        return Err(ImportError::new(format!(
            "the cURL command is {} bytes, over the {MAX_COMMAND_BYTES} one may hold",
            command.len()
        )));
    }
    let joined = command
        .replace("\r\n", "\n")
        .replace("\\\n", " ")
        .replace('\r', " ");
    if ansi_c_quoted(&joined) {
        return Err(ImportError::new(
            "the cURL command uses bash's $'...' quoting, which a POSIX shell (and ld-tower) \
             reads otherwise: copy it as cURL for a POSIX shell, or write the text in plain \
             quotes",
        ));
    }
    let mut words = shlex::split(&joined).ok_or_else(|| {
        ImportError::new(
            "the cURL command cannot be split as a shell would: a quote (' or \") is not \
             closed, or it ends with a backslash",
        )
    })?;
    if words
        .first()
        .is_some_and(|w| w == "curl" || w.ends_with("/curl"))
    {
        words.remove(0);
    }
    while words.last().is_some_and(|w| w == ";") {
        words.pop();
    }
    Ok(words)
}

/// Whether `text` holds `$'` outside quotes: bash's ANSI-C quoting (a
/// browser's "Copy as cURL (bash)" writes bodies with escapes so), which
/// shlex would read as `$` and a plain quote, silently changing the text.
fn ansi_c_quoted(text: &str) -> bool {
    let mut quote = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\\') | (Some('"'), '\\') => {
                chars.next();
            }
            (None, '$') if chars.peek() == Some(&'\'') => return true,
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            _ => {}
        }
    }
    false
}

/// What the flags said so far.
#[derive(Default)]
struct Parsed {
    method: Option<String>,
    get: bool,
    head: bool,
    headers: Map<String, Value>,
    data: Vec<String>,
    json_flag: bool,
    form: Map<String, Value>,
    auth: Option<Value>,
    cookies: Option<Map<String, Value>>,
    insecure: bool,
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    location: bool,
    timeout: Option<f64>,
    http2: bool,
    urls: Vec<String>,
}

/// The task of one cURL command.
pub fn to_task(command: &str) -> Result<Value, ImportError> {
    let mut parsed = Parsed::default();
    let mut words = words(command)?.into_iter();
    let mut flags_done = false;
    while let Some(word) = words.next() {
        if flags_done || !word.starts_with('-') || word == "-" {
            parsed.urls.push(word);
            continue;
        }
        if word == "--" {
            flags_done = true;
            continue;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (long, None),
            };
            let shown = format!("--{name}");
            let opt = long_opt(name).ok_or_else(|| unknown(&shown))?;
            let value = if opt.takes_value() {
                Some(match inline {
                    Some(value) => value,
                    None => words.next().ok_or_else(|| needs_value(&shown))?,
                })
            } else if inline.is_some() {
                return Err(ImportError::new(format!(
                    "curl flag {shown} takes no value"
                )));
            } else {
                None
            };
            parsed.apply(&shown, opt, value)?;
            continue;
        }
        // Short flags, perhaps several in one word (-sSL), the last one
        // perhaps with its value attached (-XPOST, -sd@x).
        let letters = &word[1..];
        for (at, letter) in letters.char_indices() {
            let shown = format!("-{letter}");
            let opt = SHORT
                .iter()
                .find(|(c, _)| *c == letter)
                .map(|(_, opt)| *opt)
                .ok_or_else(|| unknown(&shown))?;
            if opt.takes_value() {
                let rest = &letters[at + letter.len_utf8()..];
                let value = if rest.is_empty() {
                    words.next().ok_or_else(|| needs_value(&shown))?
                } else {
                    rest.to_owned()
                };
                parsed.apply(&shown, opt, Some(value))?;
                break;
            }
            parsed.apply(&shown, opt, None)?;
        }
    }
    parsed.into_task()
}

fn long_opt(name: &str) -> Option<Opt> {
    let find = |name: &str| LONG.iter().find(|(n, _)| *n == name).map(|(_, o)| *o);
    find(name).or_else(|| {
        // curl's `--no-FLAG` turns a boolean flag off.
        let flag = find(name.strip_prefix("no-")?)?;
        (!flag.takes_value()).then_some(match flag {
            Opt::Refused(_) => Opt::Ignored,
            Opt::Insecure | Opt::Location => flag,
            _ => Opt::Ignored,
        })
    })
}

fn unknown(flag: &str) -> ImportError {
    ImportError::new(format!(
        "curl flag {flag} is not one ld-tower knows (it cannot tell whether it takes a value \
         or what it changes): remove it, or write the task by hand"
    ))
}

fn needs_value(flag: &str) -> ImportError {
    ImportError::new(format!("curl flag {flag} needs a value"))
}

fn refused(flag: &str, why: &str) -> ImportError {
    ImportError::new(format!("curl flag {flag} cannot be imported: {why}"))
}

impl Parsed {
    fn apply(&mut self, flag: &str, opt: Opt, value: Option<String>) -> Result<(), ImportError> {
        let value = value.unwrap_or_default();
        let from_file = |value: &str| {
            if value.starts_with('@') {
                Err(refused(
                    &format!("{flag} {value}"),
                    "it reads the body from a file, which a task does not carry; give the text",
                ))
            } else {
                Ok(())
            }
        };
        match opt {
            Opt::Request => {
                let method = value.to_lowercase();
                if !sendable(&method) {
                    return Err(ImportError::new(format!(
                        "{flag} {value}: a task cannot send {value} (it sends {})",
                        super::SENDABLE_METHODS.join(", ")
                    )));
                }
                self.method = Some(method);
            }
            Opt::Header => self.header(flag, &value)?,
            Opt::Data => {
                from_file(&value)?;
                self.data.push(value);
            }
            Opt::DataRaw => self.data.push(value),
            Opt::DataUrlencode => self.data.push(urlencoded(flag, &value)?),
            Opt::Json => {
                from_file(&value)?;
                self.json_flag = true;
                self.data.push(value);
            }
            Opt::Form | Opt::FormString => {
                let (name, text) = value.split_once('=').ok_or_else(|| {
                    ImportError::new(format!("{flag} {value:?} is not NAME=VALUE"))
                })?;
                if opt == Opt::Form && (text.starts_with('@') || text.starts_with('<')) {
                    return Err(refused(
                        &format!("{flag} {value}"),
                        "it sends a local file, which a task does not carry; write the task's \
                         files key (field: content) by hand",
                    ));
                }
                self.form.insert(name.to_owned(), text.into());
            }
            Opt::Get => self.get = true,
            Opt::Head => self.head = true,
            Opt::User => {
                let (user, password) = value.split_once(':').unwrap_or((&value, ""));
                self.auth = Some(json!({"type": "basic", "username": user, "password": password}));
            }
            Opt::Bearer => self.auth = Some(json!({"type": "bearer", "token": value})),
            Opt::Cookie => self.cookies = Some(cookies(flag, &value)?),
            Opt::UserAgent => {
                self.headers.insert("User-Agent".into(), value.into());
            }
            Opt::Referer => {
                let referer = value.strip_suffix(";auto").unwrap_or(&value);
                if !referer.is_empty() {
                    self.headers.insert("Referer".into(), referer.into());
                }
            }
            Opt::Insecure => self.insecure = !flag.starts_with("--no-"),
            Opt::CaCert => self.ca = Some(value),
            Opt::Cert => self.cert = Some(value),
            Opt::Key => self.key = Some(value),
            Opt::Location => self.location = !flag.starts_with("--no-"),
            Opt::MaxTime => {
                let seconds = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| {
                        ImportError::new(format!("{flag} {value:?} is not a number of seconds"))
                    })?;
                self.timeout = Some(seconds);
            }
            Opt::Http2PriorKnowledge => self.http2 = true,
            Opt::Url => self.urls.push(value),
            Opt::Ignored | Opt::IgnoredValue => {}
            Opt::Refused(why) | Opt::RefusedValue(why) => return Err(refused(flag, why)),
        }
        Ok(())
    }

    fn header(&mut self, flag: &str, value: &str) -> Result<(), ImportError> {
        if value.starts_with('@') {
            return Err(refused(
                &format!("{flag} {value}"),
                "it reads headers from a file, which a task does not carry",
            ));
        }
        let first = value.find([':', ';']);
        if let Some(at) = first.filter(|at| value.as_bytes()[*at] == b';') {
            // `Name;`: the header, empty (curl's way to send one).
            if value[at + 1..].trim().is_empty() {
                self.headers
                    .insert(value[..at].trim().to_owned(), "".into());
                return Ok(());
            }
        }
        let (name, body) = value.split_once(':').ok_or_else(|| {
            ImportError::new(format!("{flag} {value:?} is not a header (Name: value)"))
        })?;
        // `Name:` with nothing after: curl drops its own header of that
        // name; a task has nothing to send.
        if !body.trim().is_empty() {
            self.headers
                .insert(name.trim().to_owned(), body.trim().into());
        }
        Ok(())
    }

    fn into_task(self) -> Result<Value, ImportError> {
        let mut urls = self.urls.into_iter();
        let url = urls
            .next()
            .ok_or_else(|| ImportError::new("the cURL command has no URL"))?;
        if let Some(second) = urls.next() {
            return Err(ImportError::new(format!(
                "the cURL command has more than one URL ({url}, {second}): one command is one \
                 task, give one command per URL"
            )));
        }
        let mut url = if url.contains("://") {
            url
        } else {
            format!("http://{url}")
        };
        if !self.form.is_empty() && !self.data.is_empty() {
            return Err(ImportError::new(
                "the cURL command gives both -F (multipart) and -d (data): curl refuses that too",
            ));
        }
        let has_body = !self.form.is_empty() || (!self.data.is_empty() && !self.get);
        let method = self.method.unwrap_or_else(|| {
            if self.head {
                "head"
            } else if has_body {
                "post"
            } else {
                "get"
            }
            .to_owned()
        });
        let mut task = Map::new();
        task.insert("method".into(), method.into());
        if let Some(auth) = self.auth {
            task.insert("auth".into(), auth);
        }
        if let Some(cookies) = self.cookies {
            task.insert("cookies".into(), Value::Object(cookies));
        }
        if self.insecure {
            task.insert("verify".into(), false.into());
        } else if let Some(ca) = self.ca {
            task.insert("verify".into(), ca.into());
        }
        if self.location {
            task.insert("allow_redirects".into(), true.into());
        }
        if let Some(timeout) = self.timeout {
            task.insert("timeout".into(), timeout.into());
        }
        match (self.cert, self.key) {
            (Some(cert), None) => {
                task.insert("cert".into(), cert.into());
            }
            (Some(cert), Some(key)) => {
                task.insert("cert".into(), json!([cert, key]));
            }
            (None, Some(_)) => {
                return Err(ImportError::new(
                    "the cURL command gives --key without --cert",
                ))
            }
            (None, None) => {}
        }
        if self.http2 {
            task.insert("http2".into(), true.into());
        }
        let mut headers = self.headers;
        let has_header = |headers: &Map<String, Value>, name: &str| {
            headers.keys().any(|k| k.eq_ignore_ascii_case(name))
        };
        if self.json_flag {
            for name in ["Content-Type", "Accept"] {
                if !has_header(&headers, name) {
                    headers.insert(name.into(), "application/json".into());
                }
            }
        }
        let mut body = None;
        if !self.form.is_empty() {
            body = Some(("data", Value::Object(self.form)));
        } else if !self.data.is_empty() {
            let joined = self.data.join("&");
            if self.get {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&joined);
            } else {
                match serde_json::from_str::<Value>(&joined) {
                    Ok(json) => body = Some(("json", json)),
                    Err(_) => {
                        if !has_header(&headers, "Content-Type") {
                            headers.insert(
                                "Content-Type".into(),
                                "application/x-www-form-urlencoded".into(),
                            );
                        }
                        body = Some(("data", joined.into()));
                    }
                }
            }
        }
        if !headers.is_empty() {
            task.insert("headers".into(), Value::Object(headers));
        }
        let multipart = matches!(body, Some(("data", Value::Object(_))));
        if let Some((key, value)) = body {
            task.insert(key.into(), value);
        }
        if multipart {
            task.insert("files".into(), Value::Object(Map::new()));
        }
        task.insert("request_url".into(), url.into());
        Ok(Value::Object(task))
    }
}

/// `--data-urlencode`'s part as curl sends it: `content`, `=content` and
/// `name=content` with the content percent-encoded; `@file` and
/// `name@file` read a file and are refused.
fn urlencoded(flag: &str, value: &str) -> Result<String, ImportError> {
    let split = value.find(['=', '@']);
    match split.map(|at| (at, value.as_bytes()[at])) {
        Some((at, b'=')) => {
            let (name, content) = (&value[..at], &value[at + 1..]);
            let content = encode(content);
            Ok(if name.is_empty() {
                content
            } else {
                format!("{name}={content}")
            })
        }
        Some(_) => Err(refused(
            &format!("{flag} {value}"),
            "it reads the content from a file, which a task does not carry; give the text",
        )),
        None => Ok(encode(value)),
    }
}

/// Percent-encodes all but the unreserved characters, as `curl_easy_escape`.
fn encode(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

/// `-b 'k=v; k2=v2'` as an object; `-b FILE` (no `=`) reads a cookie file
/// and is refused.
fn cookies(flag: &str, value: &str) -> Result<Map<String, Value>, ImportError> {
    if !value.contains('=') {
        return Err(refused(
            &format!("{flag} {value}"),
            "without '=' it names a cookie file, which a task does not carry; give NAME=VALUE pairs",
        ));
    }
    let mut cookies = Map::new();
    for pair in value.split(';') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        cookies.insert(name.trim().to_owned(), value.trim().into());
    }
    Ok(cookies)
}

/// The tasks of several commands; the first that cannot be imported is an
/// error naming it (`curls[i]: ...`); more than [`MAX_TASKS`] is refused.
pub fn to_tasks(commands: &[String]) -> Result<Vec<Value>, ImportError> {
    if commands.len() > MAX_TASKS {
        return Err(too_many("cURL commands", commands.len()));
    }
    commands
        .iter()
        .enumerate()
        .map(|(i, command)| {
            to_task(command).map_err(|e| ImportError::new(format!("curls[{i}]: {e}")))
        })
        .collect()
}

/// The commands of a text holding one or more (a file of them, or what a
/// browser's "Copy all as cURL" gives): after joining `\`-newline
/// continuations, a command starts at each line whose first word is
/// `curl`; the lines after it, up to the next, belong to it (a quoted
/// body may span lines). Blank lines and `#` comments between commands are
/// skipped.
pub fn split_commands(text: &str) -> Vec<String> {
    let joined = text.replace("\r\n", "\n").replace("\\\n", " ");
    let mut commands: Vec<String> = Vec::new();
    for line in joined.lines() {
        let trimmed = line.trim_start();
        let starts =
            trimmed == "curl" || trimmed.starts_with("curl ") || trimmed.starts_with("curl\t");
        match commands.last_mut() {
            Some(command) if !starts => {
                command.push('\n');
                command.push_str(line);
            }
            _ if starts => commands.push(line.to_owned()),
            _ => {
                if !(trimmed.is_empty() || trimmed.starts_with('#')) {
                    commands.push(line.to_owned());
                }
            }
        }
    }
    commands
        .into_iter()
        .map(|c| c.trim_end().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(command: &str) -> Value {
        match to_task(command) {
            Ok(task) => task,
            Err(e) => panic!("{command}: {e}"),
        }
    }

    fn error(command: &str) -> String {
        to_task(command)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| panic!("{command} imported"))
    }

    #[test]
    fn value_less_flags_take_no_value() {
        assert_eq!(
            task("curl -s https://h/x"),
            json!({"method": "get", "request_url": "https://h/x"})
        );
        assert_eq!(
            task("curl -v -X POST https://h/x"),
            json!({"method": "post", "request_url": "https://h/x"})
        );
        assert_eq!(
            task("curl -sSL --compressed https://h/x"),
            json!({"method": "get", "allow_redirects": true, "request_url": "https://h/x"})
        );
        assert_eq!(
            task("curl --request=PATCH --data='{\"a\":1}' --header='X-A: b' h/x"),
            json!({"method": "patch", "headers": {"X-A": "b"}, "json": {"a": 1},
                   "request_url": "http://h/x"})
        );
        assert_eq!(task("curl -XPUT h/x")["method"], "put");
        assert_eq!(
            task("curl -k -L -o out.txt -w '%{http_code}' h/x"),
            json!({"method": "get", "verify": false, "allow_redirects": true,
                   "request_url": "http://h/x"})
        );
    }

    #[test]
    fn loaddensity_flags() {
        assert_eq!(
            task(
                "curl 'https://api.test/items' -H 'Accept: application/json' \
                  -H 'X-Trace:  a:b ' -d '{\"a\":1}' -u ada:pw -b 'k=v; sid=42'"
            ),
            json!({"method": "post",
                   "auth": {"type": "basic", "username": "ada", "password": "pw"},
                   "cookies": {"k": "v", "sid": "42"},
                   "headers": {"Accept": "application/json", "X-Trace": "a:b"},
                   "json": {"a": 1},
                   "request_url": "https://api.test/items"})
        );
        assert_eq!(
            task("curl h/f -d a=1 --data-urlencode 'q=x y&z' --data-raw @raw"),
            json!({"method": "post",
                   "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                   "data": "a=1&q=x%20y%26z&@raw",
                   "request_url": "http://h/f"})
        );
        // -X GET with data: curl sends a GET with a body, whatever the order.
        assert_eq!(task("curl -X GET -d x=1 h/")["method"], "get");
        assert_eq!(task("curl -d x=1 -X get h/")["method"], "get");
    }

    #[test]
    fn continuations_and_other_flags() {
        let command = "curl 'https://api.test/search' \\\n  -G \\\n  --data-urlencode 'q=a b' \\\r\n  -d page=2 \\\n  -A 'probe/1.0' -e 'https://from.test/;auto' -m 2.5 \\\n  --cacert ca.pem -E c.pem --key k.pem --http2-prior-knowledge";
        assert_eq!(
            task(command),
            json!({"method": "get", "verify": "ca.pem", "timeout": 2.5,
                   "cert": ["c.pem", "k.pem"], "http2": true,
                   "headers": {"User-Agent": "probe/1.0", "Referer": "https://from.test/"},
                   "request_url": "https://api.test/search?q=a%20b&page=2"})
        );
        assert_eq!(task("curl -I h/x")["method"], "head");
        assert_eq!(
            task("curl -F 'name=ada' --form-string 'note=@home' h/up"),
            json!({"method": "post", "data": {"name": "ada", "note": "@home"}, "files": {},
                   "request_url": "http://h/up"})
        );
        assert_eq!(
            task("curl --json '{\"x\": true}' --oauth2-bearer t0k h/j"),
            json!({"method": "post", "auth": {"type": "bearer", "token": "t0k"},
                   "headers": {"Content-Type": "application/json", "Accept": "application/json"},
                   "json": {"x": true}, "request_url": "http://h/j"})
        );
        assert_eq!(
            task("curl -H 'X-Empty;' -H 'Host:' -- -odd-host/x ;")["headers"],
            json!({"X-Empty": ""})
        );
        assert_eq!(task("curl --no-location h/")["method"], "get");
    }

    #[test]
    fn what_cannot_be_imported_is_an_error_naming_it() {
        assert!(error("curl --frobnicate h/").starts_with("curl flag --frobnicate is not one"));
        assert!(error("curl -j9 h/").starts_with("curl flag -9 is not one"));
        assert!(error("curl -x http://proxy:3128 h/")
            .contains("-x cannot be imported: a task cannot go through a proxy"));
        assert!(error("curl -d @body.json h/").contains("-d @body.json cannot be imported"));
        assert!(error("curl -F 'f=@a.png' h/").contains("-F f=@a.png cannot be imported"));
        assert!(error("curl -b cookies.txt h/").contains("names a cookie file"));
        assert!(error("curl 'h/x -H a").contains("a quote (' or \") is not closed"));
        assert!(error("curl h/x --data-raw $'{\"a\":\"b\\n\"}'").contains("bash's $'...' quoting"));
        assert_eq!(task("curl h/x -d 'cost$' -H \"X: \\$'\"")["data"], "cost$");
        assert!(error("curl h/x -H").contains("-H needs a value"));
        assert!(error("curl -s").contains("no URL"));
        assert!(error("curl a/ b/").contains("more than one URL"));
        assert!(error("curl -X TRACE h/").contains("a task cannot send TRACE"));
        assert!(error("curl -H nocolon h/").contains("is not a header"));
        assert!(error("curl --silent=yes h/").contains("--silent takes no value"));
        assert!(error(&format!("curl h/{}", "x".repeat(MAX_COMMAND_BYTES))).contains("over the"));
    }

    #[test]
    fn produced_tasks_compile() {
        let tasks: Vec<Value> = [
            "curl -u a:b -b 'k=v' -k -L -m 3 -H 'A: b' -d '{\"a\":1}' h/x",
            "curl -F a=b h/x",
            "curl -d a=b --cacert ca.pem -E c.pem h/x",
        ]
        .iter()
        .map(|c| task(c))
        .collect();
        let compiled = crate::engine::Scenario::parse(&Value::Array(tasks));
        assert!(compiled.is_ok(), "{:?}", compiled.err());
    }

    #[test]
    fn commands_are_split_at_lines_starting_curl() {
        let text = "# login first\ncurl 'h/login' \\\n  -d 'a=1'\n\ncurl h/x -d '{\n  \"k\": 1\n}'\ncurl h/y ;\n";
        assert_eq!(
            split_commands(text),
            [
                "curl 'h/login'    -d 'a=1'",
                "curl h/x -d '{\n  \"k\": 1\n}'",
                "curl h/y ;"
            ]
        );
        assert_eq!(task(&split_commands(text)[1])["json"], json!({"k": 1}));
    }
}
