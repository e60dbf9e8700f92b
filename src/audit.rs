//! [`Audit`]: the audit trail (`serve --audit-log PATH`): one JSON object
//! per line, appended, written through at once (no buffer of ours), for
//! every command run, request refused, failed authentication, refused
//! client certificate and token-file reload.
//!
//! A record says when, from which peer, as which principal, which actions
//! were asked and how each ended. It never holds a token, a credential or
//! an action's arguments: the principal's name stands for who asked.
//!
//! ```text
//! {"time":"2026-11-28T01:02:03.456Z","event":"command","peer":"10.0.0.7:51234","principal":"ci","via":"token","actions":[{"name":"LD_start_test","outcome":"ok"},{"name":"LD_persist_records","outcome":"forbidden"}]}
//! {"time":"2026-11-28T01:02:04.001Z","event":"auth_failed","peer":"10.0.0.9:40022","reason":"wrong or malformed token"}
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ld_tower_layers::Principal;
use serde_json::{json, Map, Value};

/// How many characters of an action's name a record keeps (a name is the
/// client's to choose).
const NAME_CHARS: usize = 128;
/// How many actions of one command a record lists one by one; past them it
/// counts the rest.
const ACTIONS_LISTED: usize = 1000;

/// The audit log: cheap to clone, clones append to one file.
#[derive(Clone, Debug)]
pub struct Audit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    file: Mutex<File>,
    /// Records that could not be written (logged, the first and every
    /// power of two).
    lost: AtomicU64,
}

/// How an action asked for in a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed.
    Error,
    /// The principal lacks its scope: it did not run.
    Forbidden,
}

impl From<Outcome> for crate::metrics::CommandOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Ok => crate::metrics::CommandOutcome::Ok,
            Outcome::Error => crate::metrics::CommandOutcome::Error,
            Outcome::Forbidden => crate::metrics::CommandOutcome::Forbidden,
        }
    }
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Forbidden => "forbidden",
        }
    }
}

/// How a command's principal was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// No authentication is configured.
    None,
    /// A token.
    Token,
    /// A verified client certificate.
    Certificate,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::None => "none",
            Via::Token => "token",
            Via::Certificate => "certificate",
        }
    }
}

impl Audit {
    /// Opens (creating it, mode 0600) the log at `path` for appending.
    pub fn open(path: &Path) -> io::Result<Audit> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
        Ok(Audit {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                file: Mutex::new(file),
                lost: AtomicU64::new(0),
            }),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A command that ran: its peer, principal and each action's outcome.
    pub fn command<'a>(
        &self,
        peer: Option<SocketAddr>,
        principal: Option<&Principal>,
        via: Via,
        actions: impl IntoIterator<Item = (&'a str, Outcome)>,
    ) {
        let mut listed = Vec::new();
        let mut more = 0usize;
        for (name, outcome) in actions {
            if listed.len() < ACTIONS_LISTED {
                let name: String = name.chars().take(NAME_CHARS).collect();
                listed.push(json!({"name": name, "outcome": outcome.as_str()}));
            } else {
                more += 1;
            }
        }
        let mut record = self.head("command", peer);
        record.insert("principal".into(), principal_value(principal));
        record.insert("via".into(), via.as_str().into());
        record.insert("actions".into(), Value::Array(listed));
        if more > 0 {
            record.insert("more_actions".into(), more.into());
        }
        self.write(record);
    }

    /// A quit request and whether it was obeyed.
    pub fn quit(
        &self,
        peer: Option<SocketAddr>,
        principal: Option<&Principal>,
        via: Via,
        outcome: Outcome,
    ) {
        let mut record = self.head("quit", peer);
        record.insert("principal".into(), principal_value(principal));
        record.insert("via".into(), via.as_str().into());
        record.insert("outcome".into(), outcome.as_str().into());
        self.write(record);
    }

    /// A request refused before it ran (`event`: `auth_failed` for a
    /// failed authentication, `refused` for a request that is no command),
    /// with the reason the client was told.
    pub fn refused(&self, event: &'static str, peer: Option<SocketAddr>, reason: &str) {
        let mut record = self.head(event, peer);
        record.insert("reason".into(), reason.into());
        self.write(record);
    }

    /// A connection whose TLS handshake failed, with the reason (a refused
    /// client certificate: none, an unknown issuer, expired, a name not on
    /// the list).
    pub fn handshake_refused(&self, peer: SocketAddr, reason: &str) {
        let mut record = self.head("handshake_refused", Some(peer));
        record.insert("reason".into(), reason.into());
        self.write(record);
    }

    /// A reload of the token file, and why it failed if it did.
    pub fn reload(&self, error: Option<&str>) {
        let mut record = self.head("token_file_reload", None);
        record.insert(
            "outcome".into(),
            if error.is_some() { "error" } else { "ok" }.into(),
        );
        if let Some(error) = error {
            record.insert("reason".into(), error.into());
        }
        self.write(record);
    }

    fn head(&self, event: &str, peer: Option<SocketAddr>) -> Map<String, Value> {
        let mut record = Map::new();
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        record.insert("time".into(), time.into());
        record.insert("event".into(), event.into());
        record.insert(
            "peer".into(),
            peer.map_or(Value::Null, |peer| peer.to_string().into()),
        );
        record
    }

    /// Appends one record, in one write, at once.
    fn write(&self, record: Map<String, Value>) {
        let mut line = Value::Object(record).to_string();
        line.push('\n');
        let written = self
            .inner
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(line.as_bytes());
        if let Err(error) = written {
            let lost = self.inner.lost.fetch_add(1, Ordering::Relaxed) + 1;
            if lost.is_power_of_two() {
                tracing::error!(path = %self.inner.path.display(), %error, lost, "cannot write the audit log");
            }
        }
    }
}

fn principal_value(principal: Option<&Principal>) -> Value {
    principal.map_or(Value::Null, |principal| principal.name().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_lines_without_secrets() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("audit.log");
        let audit = Audit::open(&path)?;
        let peer: SocketAddr = "127.0.0.1:4000".parse()?;
        let ci = Principal::new("ci", ["read"]);
        audit.command(
            Some(peer),
            Some(&ci),
            Via::Token,
            [
                ("LD_summary", Outcome::Ok),
                ("LD_start_test", Outcome::Forbidden),
            ],
        );
        audit.refused("auth_failed", Some(peer), "wrong or malformed token");
        audit.clone().reload(Some("bad file"));
        let text = std::fs::read_to_string(&path)?;
        let records: Vec<Value> = text
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        assert_eq!(records.len(), 3);
        assert_eq!(records[0]["event"], "command");
        assert_eq!(records[0]["principal"], "ci");
        assert_eq!(records[0]["via"], "token");
        assert_eq!(records[0]["peer"], "127.0.0.1:4000");
        assert_eq!(
            records[0]["actions"],
            json!([{"name": "LD_summary", "outcome": "ok"}, {"name": "LD_start_test", "outcome": "forbidden"}])
        );
        assert_eq!(records[1]["event"], "auth_failed");
        assert_eq!(records[2]["outcome"], "error");
        assert!(records[0]["time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
        Ok(())
    }
}
