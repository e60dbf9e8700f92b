//! A test's credentials, collected as it is planned: the [`Redactor`] its
//! failure reasons, names and parameters pass through.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::protocol::Load;
use super::task::{Fixed, Given};
use crate::redact::{self, Redactor};
use crate::resolver::{Resolver, Template};

/// The redactor of a test: the credentials in its `tasks` and its host
/// `base` (as [`Redactor::collect`] finds them, the test's fixed values
/// resolved),
/// the values of its sensitive variables (its own `variables`, then the
/// registered ones), and the value of every `${env.NAME}` its compiled
/// `load` reads (an agent's environment is its owner's: every value read
/// from it counts as a credential).
pub fn redactor(
    tasks: &Value,
    base: Option<&str>,
    variables: Option<&Map<String, Value>>,
    resolver: &Resolver,
    load: &dyn Load,
) -> Redactor {
    let fixed = Given {
        variables,
        resolver,
    };
    let unchanging = HashSet::new();
    let resolve = |text: &str| fixed.render(&Template::parse(text), &unchanging);
    let mut redactor = Redactor::default();
    redactor.collect(tasks, &resolve);
    if let Some(base) = base {
        redactor.collect(&Value::String(base.to_owned()), &resolve);
    }
    if let Some(variables) = variables {
        redactor.collect(&Value::Object(variables.clone()), &resolve);
    }
    for (name, value) in resolver.variables() {
        if redact::is_sensitive(name) {
            redactor.collect(value, &resolve);
            if let Value::String(text) = value {
                redactor.add(text);
            }
        }
    }
    for name in load.env_names() {
        let placeholder = format!("${{env.{name}}}");
        let value = resolve(&placeholder);
        if value != placeholder {
            redactor.add(&value);
        }
    }
    redactor
}
