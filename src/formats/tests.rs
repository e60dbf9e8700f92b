use serde_json::json;

use super::Format;

fn action_doc() -> serde_json::Value {
    json!({"load_density": [
        ["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user"},
            "user_count": 2, "spawn_rate": 2.5, "test_time": 1,
            "tasks": {"mode": "sequence", "tasks": [
                {"method": "get", "request_url": "http://127.0.0.1:1/a?x=1", "name": "ü \"q\""}
            ]}
        }],
        ["LD_summary", {}]
    ]})
}

#[test]
fn every_format_reads_back_what_it_writes() {
    for format in [Format::Json, Format::Yaml, Format::Toml] {
        let text = format.render(&action_doc()).map_err(|e| e.to_string());
        let text = text.unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(text.ends_with('\n'), "{format:?}");
        let back = format.parse(text.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(back, Ok(action_doc()), "{format:?}:\n{text}");
    }
}

#[test]
fn yaml_reads_unquoted_numeric_keys_as_strings() {
    let doc = "responses:\n  200:\n    description: ok\n  404: {description: no}\n";
    let value = Format::Yaml
        .parse(doc.as_bytes())
        .map_err(|e| e.to_string());
    assert_eq!(
        value,
        Ok(json!({"responses": {"200": {"description": "ok"}, "404": {"description": "no"}}}))
    );
}

#[test]
fn yaml_refuses_an_alias_bomb_and_several_documents() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(Format::Yaml.parse(bomb.as_bytes()).is_err());
    let err = Format::Yaml
        .parse(b"a: 1\n---\nb: 2\n")
        .map_err(|e| e.to_string());
    assert!(err.is_err(), "{err:?}");
}

#[test]
fn yaml_refuses_deep_nesting() {
    let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
    assert!(Format::Yaml.parse(deep.as_bytes()).is_err());
}

#[test]
fn toml_refuses_null_naming_where_and_a_list_at_the_top() {
    let err = Format::Toml
        .render(&json!({"load_density": [["LD_x", {"a": null}]]}))
        .map_err(|e| e.to_string());
    assert_eq!(
        err,
        Err(
            "TOML: $.load_density[0][1].a is null, which TOML cannot hold (leave the key out)"
                .into()
        )
    );
    assert!(Format::Toml.render(&json!([["LD_summary"]])).is_err());
}

#[test]
fn toml_dates_read_as_their_text() {
    let value = Format::Toml
        .parse(b"when = 2026-11-28T07:00:00Z\n")
        .map_err(|e| e.to_string());
    assert_eq!(value, Ok(json!({"when": "2026-11-28T07:00:00Z"})));
}

#[test]
fn formats_by_file_name() {
    use std::path::Path;
    assert_eq!(Format::of_path(Path::new("a.YML")), Format::Yaml);
    assert_eq!(Format::of_path(Path::new("a.yaml")), Format::Yaml);
    assert_eq!(Format::of_path(Path::new("a.toml")), Format::Toml);
    assert_eq!(Format::of_path(Path::new("a.json")), Format::Json);
    assert_eq!(Format::of_path(Path::new("actions")), Format::Json);
}
