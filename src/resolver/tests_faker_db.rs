//! `${faker.PROVIDER}`, end to end: parsed, forked, rendered.

use super::faker::Faker;
use super::*;

fn render(session: &mut Session, text: &str) -> String {
    session.scope().render_string(&Template::parse(text))
}

#[test]
fn every_faker_provider_renders_something_new() {
    let mut session = Resolver::new().fork();
    for faker in Faker::ALL {
        let placeholder = format!("${{faker.{}}}", faker.name());
        let template = Template::parse(&placeholder);
        assert_eq!(template.placeholders(), 1, "{placeholder}");
        let value = session.scope().render_string(&template);
        assert!(
            !value.is_empty() && value != placeholder,
            "{placeholder}: {value:?}"
        );
    }
    // A fresh value for each occurrence, within one call too.
    let twice = render(&mut session, "${faker.uuid4} ${ faker.uuid4 }");
    let (first, second) = twice.split_once(' ').expect("two values");
    assert_ne!(first, second);
    assert_ne!(
        render(&mut session, "${faker.uuid4}"),
        render(&mut session, "${faker.uuid4}")
    );
    let email = render(&mut session, "${faker.email}");
    assert!(
        email.contains('@') && !email.contains(char::is_whitespace),
        "{email}"
    );
    let n: u16 = render(&mut session, "${faker.random_int}")
        .parse()
        .expect("a number");
    assert!(n <= 9999);
}

#[test]
fn unknown_faker_providers_stay_as_written() {
    let mut session = Resolver::new().fork();
    for text in [
        "${faker.nope}",
        "${faker.Name}",
        "${faker.name()}",
        "${faker.}",
        "${faker.name.first}",
        "a ${faker.seed} b",
    ] {
        let template = Template::parse(text);
        assert!(template.is_static(), "{text}");
        assert_eq!(render(&mut session, text), text);
    }
    // The prefix is any case, as every prefix is.
    assert_ne!(render(&mut session, "${FAKER.name}"), "${FAKER.name}");
}
