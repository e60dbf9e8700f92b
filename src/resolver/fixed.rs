//! Rendering what is fixed for a whole test: the registered variables and
//! the environment, with every per-request placeholder (`${uuid()}`, CSV,
//! session values, ...) left as written. This names an unnamed task by its
//! URL, one name per task however many requests it makes.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::session::push_variable;
use super::template::{Kind, Part, Template};
use super::Resolver;

impl Resolver {
    /// `template` with its `${var.NAME}` (in `given`, the variables about to
    /// be registered, else registered; and not in `changing`: the variables
    /// extractors set during the test) and `${env.NAME}` (set and allowed)
    /// resolved; every other placeholder as written.
    pub fn render_fixed(
        &self,
        template: &Template,
        changing: &HashSet<String>,
        given: Option<&Map<String, Value>>,
    ) -> String {
        let mut out = String::with_capacity(template.source().len());
        for part in template.parts() {
            match part {
                Part::Literal(range) => out.push_str(template.text(range)),
                Part::Placeholder(placeholder) => {
                    let resolved = match &placeholder.kind {
                        Kind::Var(name) if !changing.contains(&**name) => {
                            let value = given
                                .and_then(|given| given.get(&**name))
                                .or_else(|| self.variables().get(&**name));
                            push_variable(value, &mut out)
                        }
                        Kind::Env(name) => match self.env().read(name) {
                            Some(value) => {
                                out.push_str(&value);
                                true
                            }
                            None => false,
                        },
                        _ => false,
                    };
                    if !resolved {
                        out.push_str(template.text(&placeholder.span));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fixed_values_resolve_and_per_request_ones_stay() {
        let mut resolver = Resolver::new();
        resolver.register_variable("base", json!("http://h:1"));
        resolver.register_variable("token", json!("t"));
        resolver.register_variable("n", json!(3));
        let changing: HashSet<String> = ["token".to_owned()].into();
        let template =
            Template::parse("${var.base}/p/${n}/${uuid()}/${var.token}/${csv.s.c}/${var.missing}");
        assert_eq!(
            resolver.render_fixed(&template, &changing, None),
            "http://h:1/p/3/${uuid()}/${var.token}/${csv.s.c}/${var.missing}"
        );
        let given = json!({"n": 4, "missing": "m"});
        assert_eq!(
            resolver.render_fixed(&template, &changing, given.as_object()),
            "http://h:1/p/4/${uuid()}/${var.token}/${csv.s.c}/m"
        );
    }
}
