//! Tasks: what a virtual user does. LoadDensity's task JSON is
//! deserialized by serde into [`spec`] types, then compiled
//! ([`compile`]) into the templates and checks here, ready to render.

mod compile;
pub mod outline;
mod query;
pub mod spec;
mod url;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use http::Method;
use tokio_rustls::rustls::ClientConfig;

use super::http::SendOptions;
use super::network::{ClientCert, Network, NetworkError, TlsConfigs, TlsOptions, Verify};
use super::retry::RetryPolicy;
use super::throttle::Bucket;
use crate::paths::Paths;
use crate::redact::Redactor;
use crate::resolver::{Template, TemplateValue};

pub use compile::{compile, parse, Context, Fixed, Given, HeadKeys, Naming};
// What every kind's task compiles its `run_if`/`skip_if`, `think_time` and
// `throttle` with.
pub(crate) use compile::{client_cert, head, mode, timeout, weights};
pub use query::JsonQuery;
pub(crate) use url::absolute;

/// How a user walks its tasks on each iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every task, in order, each run only when its `run_if`/`skip_if`
    /// allow: `"sequence"`, and `"conditional"`, which LoadDensity runs
    /// the same way (its scenario runner checks conditions in every mode).
    Sequence,
    /// One task, picked by weight (then run if its conditions allow).
    Weighted,
}

/// The tasks of a test and how they are walked: by default an HTTP
/// user's; any kind's [`Step`]s.
#[derive(Clone, Debug)]
pub struct Scenario<T = Task> {
    /// How the tasks are walked.
    pub mode: Mode,
    /// The tasks.
    pub tasks: Vec<T>,
}

/// What every kind's task has, whatever its user speaks: its name, weight,
/// conditions, think time and throttle; the user loop reads them
/// ([`Step::head`]), the kind reads the rest.
#[derive(Clone, Debug)]
pub struct Head {
    /// What figures are grouped by: `name`, or what the kind names an
    /// unnamed task by (for HTTP, the URL: see [`compile`]).
    pub name: Arc<str>,
    /// Weight in `weighted` mode.
    pub weight: u32,
    /// Run only when this holds.
    pub run_if: Option<Condition>,
    /// Skip when this holds.
    pub skip_if: Option<Condition>,
    /// The pause after the task (also when it failed).
    pub think: Option<Think>,
    /// The token bucket the task takes a token from before it runs,
    /// shared by every user (and every task of the same key).
    pub throttle: Option<Arc<Bucket>>,
}

impl Head {
    /// A task named `name`, of weight 1, with no condition, pause or throttle.
    pub fn named(name: impl Into<Arc<str>>) -> Head {
        Head {
            name: name.into(),
            weight: 1,
            run_if: None,
            skip_if: None,
            think: None,
            throttle: None,
        }
    }
}

/// A compiled task of any kind: its [`Head`], and the `${env.NAME}` names
/// its templates read (checked against `--allow-env` before a test starts).
pub trait Step: std::fmt::Debug + Send + Sync + 'static {
    /// What the user loop reads.
    fn head(&self) -> &Head;
    /// The same, to rename (`max_names`).
    fn head_mut(&mut self) -> &mut Head;
    /// The `${env.NAME}` names of every template it renders, with repeats.
    fn env_names(&self) -> Vec<&str>;
}

/// One request an HTTP user makes.
#[derive(Clone, Debug)]
pub struct Task {
    /// Name, weight, conditions, think time, throttle.
    pub head: Head,
    /// The HTTP method.
    pub method: Method,
    /// Absolute, or relative to the test's host.
    pub url: Template,
    /// Request headers.
    pub headers: Vec<(HeaderName, Template)>,
    /// Query parameters, appended to the URL.
    pub params: Vec<(String, Template)>,
    /// Cookies, sent in one `Cookie` header.
    pub cookies: Vec<(String, Template)>,
    /// The body.
    pub body: Body,
    /// This request's timeout (the test's default otherwise).
    pub timeout: Option<Duration>,
    /// Basic or bearer credentials.
    pub auth: Option<Auth>,
    /// Checks on the response; a failed one fails the request.
    pub assertions: Vec<Assertion>,
    /// Values taken from the response into the user's variables.
    pub extract: Vec<Extractor>,
    /// Retries of a failed request.
    pub retry: Option<RetryPolicy>,
    /// Server certificate checks and client certificate, as written.
    pub tls: TlsSpec,
    /// How its requests are sent: what of the response assertions and
    /// extractors read (the body, else it is drained unread; the headers,
    /// else they are parsed for framing only), whether redirects are
    /// followed (`allow_redirects`), and the TLS configuration its `tls`
    /// makes (set with [`tls_per_task`] as the test is prepared).
    pub options: SendOptions,
    /// The request's URI when it is known before the test (no placeholder,
    /// no params), made absolute against the test's host and parsed once,
    /// as the task is compiled. A relative URL with no host, or one that
    /// does not parse, is left to fail on each request, with its reason.
    pub static_uri: Option<http::Uri>,
}

/// A task's `verify` and `cert`/`client_cert`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSpec {
    /// `verify`: `None` for the default (check against the agent's roots).
    pub verify: Option<spec::VerifySpec>,
    /// The client certificate.
    pub cert: Option<spec::CertSpec>,
}

impl TlsSpec {
    /// What [`Network::tls_for`] is asked for.
    pub fn options(&self) -> TlsOptions {
        TlsOptions {
            verify: match &self.verify {
                None | Some(spec::VerifySpec::Check(true)) => Verify::Network,
                Some(spec::VerifySpec::Check(false)) => Verify::Off,
                Some(spec::VerifySpec::CaBundle(path)) => Verify::CaBundle(path.into()),
            },
            client_cert: self.cert.as_ref().map(|cert| match cert {
                spec::CertSpec::Combined(path) => ClientCert::Combined(path.into()),
                spec::CertSpec::Pair(cert, key) => ClientCert::Pair {
                    cert: cert.into(),
                    key: key.into(),
                },
            }),
        }
    }
}

/// Sets the TLS configuration of every task (of any kind) whose `verify`
/// or `cert` asks for its own (`fields` gives its spec and where the
/// configuration goes), made once per distinct options; the others keep
/// the agent's. The error names the task by its index.
pub fn tls_per_task<T>(
    tasks: &mut [T],
    network: &Network,
    paths: &Paths,
    fields: impl Fn(&mut T) -> (&TlsSpec, &mut Option<Arc<ClientConfig>>),
) -> Result<(), (usize, NetworkError)> {
    let mut configs = TlsConfigs::default();
    for (index, task) in tasks.iter_mut().enumerate() {
        let (spec, config) = fields(task);
        let options = spec.options();
        if options != TlsOptions::default() {
            let (_, made) = configs
                .get(network, paths, &options)
                .map_err(|e| (index, e))?;
            *config = Some(made);
        }
    }
    Ok(())
}

/// A pause: uniform in `[min, max)` at millisecond granularity (`min`
/// when `max <= min`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Think {
    /// The least.
    pub min: Duration,
    /// The most (exclusive).
    pub max: Duration,
}

impl Think {
    /// This pause's length.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Duration {
        let span = self.max.saturating_sub(self.min).as_millis();
        match u64::try_from(span) {
            Ok(span) if span > 0 => self.min + Duration::from_millis(rng.u64(0..span)),
            _ => self.min,
        }
    }
}

/// A request body.
#[derive(Clone, Debug)]
pub enum Body {
    /// None.
    None,
    /// `json`: sent as `application/json`.
    Json(TemplateValue),
    /// `data` as an object: sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, Template)>),
    /// `data` as a string: sent as it is.
    Raw(Template),
    /// `files` (with `data` fields): sent as `multipart/form-data`.
    Multipart {
        /// Plain fields, first.
        fields: Vec<(String, Template)>,
        /// The files.
        files: Vec<FilePart>,
    },
}

/// One file of a multipart body.
#[derive(Clone, Debug)]
pub struct FilePart {
    /// The form field.
    pub field: String,
    /// The file name.
    pub filename: Template,
    /// The content.
    pub content: Template,
    /// The part's `Content-Type`, if given.
    pub content_type: Option<String>,
}

/// Credentials.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name.
        username: Template,
        /// The password.
        password: Template,
    },
    /// `Authorization: Bearer TOKEN`.
    Bearer(Template),
}

/// A check on a response.
#[derive(Clone, Debug)]
pub enum Assertion {
    /// The status code is this one (and then a status >= 400 is no failure by itself).
    StatusCode(u16),
    /// The body contains this text.
    Contains(Template),
    /// The body does not contain this text.
    NotContains(Template),
    /// The JSON body has this value at this path.
    JsonPath {
        /// Where.
        query: JsonQuery,
        /// The expected value.
        value: TemplateValue,
    },
    /// The response has this header with this value.
    Header {
        /// The header.
        name: HeaderName,
        /// Its expected value.
        value: Template,
    },
}

/// Where an extractor takes its value from.
#[derive(Clone, Debug)]
pub enum Source {
    /// The JSON body at a path.
    JsonPath(JsonQuery),
    /// A response header.
    Header(HeaderName),
    /// The status code.
    StatusCode,
}

/// Takes a value from the response into the user's variables.
#[derive(Clone, Debug)]
pub struct Extractor {
    /// The variable to set.
    pub var: String,
    /// Where the value comes from.
    pub source: Source,
    /// `${session.NAME}` rather than `${var.NAME}`.
    pub session: bool,
}

/// A `run_if`/`skip_if` predicate.
#[derive(Clone, Debug)]
pub enum Condition {
    /// `true`, `false`, or an integer (non-zero is true).
    Constant(bool),
    /// Truthy after resolving (`"${var.x}"`, `{"truthy": v}`).
    Truthy(TemplateValue),
    /// `{"equals": [a, b]}`.
    Equals(TemplateValue, TemplateValue),
    /// `{"not_equals": [a, b]}`.
    NotEquals(TemplateValue, TemplateValue),
    /// `{"in": [x, list]}`.
    In(TemplateValue, TemplateValue),
}

impl<T: Step> Scenario<T> {
    /// Keeps at most `max` request names: the tasks of names past the first
    /// `max` distinct ones (in task order) are counted under
    /// [`OTHER_NAMES`]. Figures cost about 190 KB per name and worker, so a
    /// task list of thousands of names would otherwise cost gigabytes.
    /// Returns how many names were folded.
    pub fn cap_names(&mut self, max: usize) -> usize {
        let mut kept = HashSet::new();
        let mut folded = HashSet::new();
        let other: Arc<str> = Arc::from(OTHER_NAMES);
        for task in &mut self.tasks {
            let head = task.head_mut();
            if kept.contains(&head.name) {
                continue;
            }
            if kept.len() < max {
                kept.insert(Arc::clone(&head.name));
                continue;
            }
            folded.insert(std::mem::replace(&mut head.name, Arc::clone(&other)));
        }
        folded.len()
    }

    /// Masks the credentials in its tasks' names: a name made from a URL
    /// (its userinfo, a sensitive query value, a `${env.NAME}` resolved in
    /// it) is what every figure, report and stored run is keyed by.
    pub fn redact_names(&mut self, redactor: &Redactor) {
        for task in &mut self.tasks {
            let head = task.head_mut();
            if let Cow::Owned(name) = redactor.text(&head.name) {
                head.name = Arc::from(name);
            }
        }
    }

    /// Its tasks' request names, each once, in task order.
    pub fn names(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.tasks
            .iter()
            .map(|t| &*t.head().name)
            .filter(|name| seen.insert(*name))
            .collect()
    }

    /// How many request names its tasks have.
    pub fn name_count(&self) -> usize {
        self.tasks
            .iter()
            .map(|t| &t.head().name)
            .collect::<HashSet<_>>()
            .len()
    }

    /// The names the `${env.NAME}` placeholders of its tasks read (see
    /// [`Step::env_names`]), task by task, with repeats.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().flat_map(Step::env_names)
    }
}

impl Head {
    /// The templates and values its `run_if` and `skip_if` render.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        let mut values = Vec::new();
        for condition in self.run_if.iter().chain(&self.skip_if) {
            match condition {
                Condition::Constant(_) => {}
                Condition::Truthy(value) => values.push(value),
                Condition::Equals(a, b) | Condition::NotEquals(a, b) | Condition::In(a, b) => {
                    values.extend([a, b])
                }
            }
        }
        values.into_iter().flat_map(TemplateValue::env_names)
    }
}

impl Step for Task {
    fn head(&self) -> &Head {
        &self.head
    }

    fn head_mut(&mut self) -> &mut Head {
        &mut self.head
    }

    /// Every template an HTTP task renders: URL, headers, params, cookies,
    /// body, auth, assertions, `run_if` and `skip_if` (names, object keys
    /// and extractors are not rendered).
    fn env_names(&self) -> Vec<&str> {
        let task = self;
        {
            let mut templates = vec![&task.url];
            let mut values = Vec::new();
            templates.extend(task.headers.iter().map(|(_, value)| value));
            templates.extend(
                task.params
                    .iter()
                    .chain(&task.cookies)
                    .map(|(_, value)| value),
            );
            match &task.body {
                Body::None => {}
                Body::Json(value) => values.push(value),
                Body::Form(pairs) => templates.extend(pairs.iter().map(|(_, value)| value)),
                Body::Raw(text) => templates.push(text),
                Body::Multipart { fields, files } => {
                    templates.extend(fields.iter().map(|(_, value)| value));
                    for file in files {
                        templates.extend([&file.filename, &file.content]);
                    }
                }
            }
            match &task.auth {
                None => {}
                Some(Auth::Basic { username, password }) => templates.extend([username, password]),
                Some(Auth::Bearer(token)) => templates.push(token),
            }
            for assertion in &task.assertions {
                match assertion {
                    Assertion::StatusCode(_) => {}
                    Assertion::Contains(text)
                    | Assertion::NotContains(text)
                    | Assertion::Header { value: text, .. } => templates.push(text),
                    Assertion::JsonPath { value, .. } => values.push(value),
                }
            }
            templates
                .into_iter()
                .flat_map(Template::env_names)
                .chain(values.into_iter().flat_map(TemplateValue::env_names))
                .chain(task.head.env_names())
                .collect()
        }
    }
}

/// The request name that names past a test's `max_names` are counted under.
pub const OTHER_NAMES: &str = "(other names)";

#[cfg(test)]
mod tests;
