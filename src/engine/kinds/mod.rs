//! User kinds: what a virtual user speaks. LoadDensity's
//! `user_detail_dict.user` names one; each kind parses its own tasks
//! (serde-derived, mistakes reported at their JSON path), holds its own
//! connections per user, and runs one task at a time, recording what
//! happened into the test's figures. The user loop
//! ([`user`](super::user)) does the rest, the same for every kind:
//! iterations, pacing, `weighted`/`sequence` walks, `run_if`/`skip_if`,
//! throttles, think time, stops and timeouts.
//!
//! A kind is a [`Protocol`] in its own folder, and one line in [`KINDS`].

mod http;

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::network::Network;
use super::task::{Fixed, Scenario, Step};
use super::user::{Turn, User, UserParts};
use crate::paths::Paths;
use crate::spec::{Note, SpecError};

/// Every user kind ld-tower runs, by the names `user_detail_dict.user`
/// gives them. Adding a kind adds its line here.
pub static KINDS: &[Kind] = &[http::FAST_HTTP_USER, http::HTTP_USER];

/// A user kind: its name and how its tasks are compiled.
#[derive(Debug)]
pub struct Kind {
    /// What `user_detail_dict.user` calls it.
    pub name: &'static str,
    /// Its tasks' compiler.
    pub compile: Compile,
}

/// How a kind compiles the `tasks` keyword's value; what is accepted but
/// not read goes into the notes (with the closest known key).
pub type Compile = fn(Value, &Context<'_>, &mut Vec<Note>) -> Result<Box<dyn Load>, SpecError>;

/// The kind called `name`, if ld-tower runs it.
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|kind| kind.name == name)
}

/// The names of the kinds ld-tower runs, comma-separated, for errors.
pub fn names() -> String {
    KINDS
        .iter()
        .map(|kind| kind.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a kind's tasks are compiled against.
#[allow(missing_debug_implementations)]
pub struct Context<'a> {
    /// The test's host: what relative URLs are relative to, or the URL
    /// (or address) a kind uses when a task names none.
    pub base: Option<&'a str>,
    /// The test's fixed values (for names made from templates).
    pub fixed: &'a dyn Fixed,
    /// The test's `http2` (HTTP users: the default of their tasks' own).
    pub http2: bool,
    /// The test's `h2_connections` (HTTP users over HTTP/2).
    pub http2_settings: crate::engine::http::Http2Settings,
}

/// A protocol a user speaks: its compiled task, what a user holds between
/// tasks, and how one task runs.
pub trait Protocol: Debug + Send + Sync + Sized + 'static {
    /// A compiled task.
    type Task: Step;
    /// What one user holds from task to task (its connections, its
    /// cookies), made as the user starts, without I/O.
    type Conn: Send + 'static;

    /// A new user's connection state.
    fn connection(&self, user: &UserParts) -> Self::Conn;

    /// Runs `task` once: renders it in `turn.scope`, races what it waits
    /// for against the test's stop and its timeout
    /// ([`Watch::race`](super::user::Watch::race)), and records each
    /// outcome under the task's name (a step may record several, e.g. each
    /// message waited for). Stopped mid-way, it records the abandon and
    /// returns.
    fn perform(
        &self,
        conn: &mut Self::Conn,
        task: &Self::Task,
        turn: &mut Turn<'_>,
    ) -> impl Future<Output = ()> + Send;

    /// Makes what the test's tasks need before it starts (TLS
    /// configurations, files through `paths`): once per test, never per
    /// task. The error says which task and why.
    fn prepare(
        &mut self,
        tasks: &mut [Self::Task],
        network: &Network,
        paths: &Paths,
    ) -> Result<(), String> {
        let _ = (tasks, network, paths);
        Ok(())
    }
}

/// A test's compiled tasks, whatever their kind: what the engine plans
/// with and starts users from.
pub trait Load: Debug + Send + Sync {
    /// How many request names its tasks have.
    fn name_count(&self) -> usize;
    /// Keeps at most `max` names (see [`Scenario::cap_names`]); how many
    /// were folded.
    fn cap_names(&mut self, max: usize) -> usize;
    /// The `${env.NAME}` names its templates read, with repeats.
    fn env_names(&self) -> Vec<&str>;
    /// What the tasks need made before the test starts.
    fn prepare(&mut self, network: &Network, paths: &Paths) -> Result<(), String>;
    /// One user's life, from its start to its end.
    fn user(self: Arc<Self>, parts: UserParts) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// A kind's protocol with its tasks: the [`Load`] of every kind.
#[derive(Debug)]
pub struct Scripted<P: Protocol> {
    /// The protocol.
    pub protocol: P,
    /// Its tasks, and how they are walked.
    pub scenario: Scenario<P::Task>,
}

impl<P: Protocol> Scripted<P> {
    /// `scenario` for `protocol`, boxed as a [`Load`].
    pub fn boxed(protocol: P, scenario: Scenario<P::Task>) -> Box<dyn Load> {
        Box::new(Scripted { protocol, scenario })
    }
}

impl<P: Protocol> Load for Scripted<P> {
    fn name_count(&self) -> usize {
        self.scenario.name_count()
    }

    fn cap_names(&mut self, max: usize) -> usize {
        self.scenario.cap_names(max)
    }

    fn env_names(&self) -> Vec<&str> {
        self.scenario.env_names().collect()
    }

    fn prepare(&mut self, network: &Network, paths: &Paths) -> Result<(), String> {
        self.protocol
            .prepare(&mut self.scenario.tasks, network, paths)
    }

    fn user(self: Arc<Self>, parts: UserParts) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(User::new(self, parts).run())
    }
}
