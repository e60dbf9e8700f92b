//! Postman v2.1 collections into tasks, as LoadDensity's
//! `postman_importer.py`: the requests depth-first through the folders
//! (items holding `item`), each `{method (lower case, default get),
//! request_url, name (the item's, else the URL), headers (`key` or `name`;
//! disabled ones dropped), body}`; an item without a URL is left out.
//!
//! Corrected: a URL given as an object without `raw` keeps its scheme,
//! port and query (`protocol://host.joined:port/path/joined?k=v`;
//! LoadDensity kept only `host/path`); without `protocol`, `http://` as
//! Postman sends it.
//!
//! ld-tower additions, so the result runs as Postman would send it:
//! - `{{NAME}}` anywhere (URL, headers, bodies, auth) is written
//!   `${var.NAME}`, and the collection's `variable` list is returned in
//!   [`Imported::variables`], which the action document registers before
//!   the test (a variable the collection does not define, an environment's,
//!   is for you to register); `{{$guid}}` and `{{$randomUUID}}` become
//!   `${uuid()}`; other dynamic variables stay as written;
//! - a path variable (`/users/:id` with the URL's `variable` list) is
//!   replaced by its value;
//! - `formdata` is sent as `multipart/form-data` (`data` fields and
//!   `files: {}`), as Postman does (LoadDensity sent it url-encoded); a
//!   file field is left out, with a note;
//! - a raw body whose language is given gets Postman's `Content-Type`
//!   when it is not sent as `json` and no header gives one; `graphql`
//!   bodies are sent as Postman sends them (`{"query", "variables"}`);
//! - `basic` and `bearer` auth, the request's or inherited from its
//!   folders and the collection, become the task's `auth`.

use serde_json::{json, Map, Value};

use super::{sendable, text_of, too_many, ImportError, Imported, MAX_FOLDER_DEPTH, MAX_TASKS};

/// The tasks of `collection`'s requests.
pub fn to_tasks(collection: &Value) -> Result<Imported, ImportError> {
    let Value::Object(collection) = collection else {
        return Err(ImportError::new(
            "a Postman collection is an object: {\"info\": {...}, \"item\": [...]}",
        ));
    };
    let mut walk = Walk {
        imported: Imported::default(),
        visited: 0,
    };
    for variable in collection
        .get("variable")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(Value::String(key)), false) = (variable.get("key"), disabled(variable)) else {
            continue;
        };
        let value = variable.get("value").map(text_of).unwrap_or_default();
        walk.imported
            .variables
            .insert(key.clone(), map_variables(&value).into());
    }
    let auth = collection
        .get("auth")
        .and_then(|a| walk.auth(a, "the collection"));
    walk.items(collection, "item", 0, auth.as_ref())?;
    Ok(walk.imported)
}

struct Walk {
    imported: Imported,
    /// Items seen (folders and requests), bounded by [`MAX_TASKS`].
    visited: usize,
}

fn disabled(entry: &Value) -> bool {
    entry.get("disabled").and_then(Value::as_bool) == Some(true)
}

impl Walk {
    fn items(
        &mut self,
        node: &Map<String, Value>,
        at: &str,
        depth: usize,
        auth: Option<&Value>,
    ) -> Result<(), ImportError> {
        if depth > MAX_FOLDER_DEPTH {
            return Err(ImportError::new(format!(
                "{at}: folders nest more than {MAX_FOLDER_DEPTH} deep"
            )));
        }
        let items = node.get("item").and_then(Value::as_array);
        for (i, item) in items.into_iter().flatten().enumerate() {
            let Value::Object(item) = item else { continue };
            self.visited += 1;
            if self.visited > MAX_TASKS {
                return Err(too_many("items", self.visited));
            }
            let here = format!("{at}[{i}]");
            let inherited = match item.get("auth") {
                Some(own) => self.auth(own, &here),
                None => auth.cloned(),
            };
            if item.contains_key("item") {
                self.items(item, &format!("{here}.item"), depth + 1, inherited.as_ref())?;
            } else if let Some(task) = self.request(item, &here, inherited)? {
                self.imported.push(task)?;
            }
        }
        Ok(())
    }

    fn request(
        &mut self,
        item: &Map<String, Value>,
        at: &str,
        auth: Option<Value>,
    ) -> Result<Option<Value>, ImportError> {
        let empty = Map::new();
        let (request, url) = match item.get("request") {
            Some(Value::Object(request)) => (request, url_of(request.get("url"))),
            Some(Value::String(url)) => (&empty, Some(map_variables(url))),
            _ => return Ok(None),
        };
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let method = match request.get("method") {
            Some(Value::String(m)) => m.to_lowercase(),
            Some(other) if !other.is_null() => text_of(other).to_lowercase(),
            _ => "get".to_owned(),
        };
        if !sendable(&method) {
            self.imported.note(format!(
                "{at}: {} {url}: left out: a task cannot send {}",
                method.to_uppercase(),
                method.to_uppercase()
            ));
            return Ok(None);
        }
        let name = match item.get("name") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            _ => url.clone(),
        };
        let mut task = Map::new();
        task.insert("method".into(), method.into());
        task.insert("request_url".into(), url.into());
        task.insert("name".into(), name.into());
        let mut headers = headers(request.get("header"));
        let body = match request.get("body") {
            Some(Value::Object(body)) => self.body(body, at, &mut headers),
            _ => None,
        };
        if !headers.is_empty() {
            task.insert("headers".into(), Value::Object(headers));
        }
        if let Some((key, value, multipart)) = body {
            task.insert(key.into(), value);
            if multipart {
                task.insert("files".into(), Value::Object(Map::new()));
            }
        }
        let auth = match request.get("auth") {
            Some(own) => self.auth(own, at),
            None => auth,
        };
        if let Some(auth) = auth {
            task.insert("auth".into(), auth);
        }
        Ok(Some(Value::Object(task)))
    }

    /// The body as (task key, value, multipart).
    fn body(
        &mut self,
        body: &Map<String, Value>,
        at: &str,
        headers: &mut Map<String, Value>,
    ) -> Option<(&'static str, Value, bool)> {
        match body.get("mode").and_then(Value::as_str) {
            Some("raw") => {
                let raw = map_variables(body.get("raw").and_then(Value::as_str).unwrap_or(""));
                let language = body
                    .get("options")
                    .and_then(|o| o.get("raw"))
                    .and_then(|r| r.get("language"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_lowercase();
                let trimmed = raw.trim_start();
                if language == "json" || trimmed.starts_with('{') || trimmed.starts_with('[') {
                    if let Ok(json) = serde_json::from_str::<Value>(&raw) {
                        return Some(("json", json, false));
                    }
                }
                let content_type = match language.as_str() {
                    "json" => Some("application/json"),
                    "text" => Some("text/plain"),
                    "javascript" => Some("application/javascript"),
                    "html" => Some("text/html"),
                    "xml" => Some("application/xml"),
                    _ => None,
                };
                if let Some(content_type) = content_type {
                    if !headers
                        .keys()
                        .any(|k| k.eq_ignore_ascii_case("content-type"))
                    {
                        headers.insert("Content-Type".into(), content_type.into());
                    }
                }
                Some(("data", raw.into(), false))
            }
            Some("urlencoded") => {
                Some(("data", Value::Object(fields(body.get("urlencoded"))), false))
            }
            Some("formdata") => {
                let given = body.get("formdata").and_then(Value::as_array);
                for field in given.into_iter().flatten() {
                    if field.get("type").and_then(Value::as_str) == Some("file") && !disabled(field)
                    {
                        let key = field.get("key").map(text_of).unwrap_or_default();
                        self.imported.note(format!(
                            "{at}: formdata field {key} is a file: left out (a task's files \
                             take contents; add it by hand)"
                        ));
                    }
                }
                let text_only: Vec<Value> = given
                    .into_iter()
                    .flatten()
                    .filter(|f| f.get("type").and_then(Value::as_str) != Some("file"))
                    .cloned()
                    .collect();
                Some((
                    "data",
                    Value::Object(fields(Some(&Value::Array(text_only)))),
                    true,
                ))
            }
            Some("graphql") => {
                let graphql = body.get("graphql");
                let query = graphql
                    .and_then(|g| g.get("query"))
                    .and_then(Value::as_str)
                    .map(map_variables)
                    .unwrap_or_default();
                let variables = match graphql.and_then(|g| g.get("variables")) {
                    Some(Value::String(text)) if !text.trim().is_empty() => {
                        serde_json::from_str(&map_variables(text)).unwrap_or(Value::Null)
                    }
                    _ => Value::Null,
                };
                Some((
                    "json",
                    json!({"query": query, "variables": variables}),
                    false,
                ))
            }
            Some(other) => {
                self.imported.note(format!(
                    "{at}: a {other} body is left out (a task's body is raw, urlencoded, \
                     formdata or graphql)"
                ));
                None
            }
            None => None,
        }
    }

    /// A Postman auth as a task's: `basic`, `bearer`; `noauth` is none; any
    /// other type is left out with a note.
    fn auth(&mut self, auth: &Value, at: &str) -> Option<Value> {
        let kind = auth.get("type").and_then(Value::as_str)?;
        let field = |name: &str| {
            auth.get(kind)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|e| e.get("key").and_then(Value::as_str) == Some(name))
                .and_then(|e| e.get("value"))
                .map(|v| map_variables(&text_of(v)))
                .unwrap_or_default()
        };
        match kind {
            "noauth" => None,
            "basic" => Some(json!({
                "type": "basic", "username": field("username"), "password": field("password")
            })),
            "bearer" => Some(json!({"type": "bearer", "token": field("token")})),
            other => {
                self.imported.note(format!(
                    "{at}: {other} auth is left out (a task's auth is basic or bearer)"
                ));
                None
            }
        }
    }
}

fn headers(given: Option<&Value>) -> Map<String, Value> {
    let mut headers = Map::new();
    for header in given.and_then(Value::as_array).into_iter().flatten() {
        if disabled(header) {
            continue;
        }
        let name = header
            .get("key")
            .or_else(|| header.get("name"))
            .map(text_of)
            .unwrap_or_default();
        if name.is_empty() || name == "null" {
            continue;
        }
        let value = header.get("value").map(text_of).unwrap_or_default();
        headers.insert(name, map_variables(&value).into());
    }
    headers
}

/// `urlencoded`/`formdata` entries as an object, disabled ones dropped.
fn fields(given: Option<&Value>) -> Map<String, Value> {
    let mut fields = Map::new();
    for field in given.and_then(Value::as_array).into_iter().flatten() {
        let Some(Value::String(key)) = field.get("key").filter(|k| k.as_str() != Some("")) else {
            continue;
        };
        if disabled(field) {
            continue;
        }
        let value = field.get("value").map(text_of).unwrap_or_default();
        fields.insert(map_variables(key), map_variables(&value).into());
    }
    fields
}

/// A request's URL: a string; an object's `raw`; else built from its parts.
fn url_of(url: Option<&Value>) -> Option<String> {
    let url = match url? {
        Value::String(url) => return Some(map_variables(url)),
        Value::Object(url) => url,
        _ => return None,
    };
    let mut text = match url.get("raw") {
        Some(Value::String(raw)) if !raw.is_empty() => raw.clone(),
        _ => built(url),
    };
    // Path variables: `/:id` with the URL's `variable` list.
    for variable in url
        .get("variable")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(Value::String(key)), Some(value)) = (variable.get("key"), variable.get("value"))
        else {
            continue;
        };
        text = replace_path_variable(&text, key, &text_of(value));
    }
    Some(map_variables(&text))
}

/// `protocol://host.joined:port/path/joined?query` (`http://` when no
/// protocol is given, unless the host is a `{{variable}}`).
fn built(url: &Map<String, Value>) -> String {
    let joined = |key: &str, separator: &str| match url.get(key) {
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match p {
                Value::Object(o) => o.get("value").map(text_of).unwrap_or_default(),
                other => text_of(other),
            })
            .collect::<Vec<_>>()
            .join(separator),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let host = joined("host", ".");
    let path = joined("path", "/");
    let mut text = match url.get("protocol").and_then(Value::as_str) {
        Some(protocol) if !protocol.is_empty() => format!("{protocol}://"),
        _ if host.starts_with("{{") || host.is_empty() => String::new(),
        _ => "http://".to_owned(),
    };
    text.push_str(&host);
    if let Some(port) = url.get("port").filter(|p| !p.is_null()).map(text_of) {
        if !port.is_empty() {
            text.push(':');
            text.push_str(&port);
        }
    }
    if !path.starts_with('/') {
        text.push('/');
    }
    text.push_str(&path);
    let query: Vec<String> = url
        .get("query")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|q| !disabled(q))
        .filter_map(|q| {
            let key = q.get("key").map(text_of)?;
            Some(match q.get("value").filter(|v| !v.is_null()) {
                Some(value) => format!("{key}={}", text_of(value)),
                None => key,
            })
        })
        .collect();
    if !query.is_empty() {
        text.push('?');
        text.push_str(&query.join("&"));
    }
    text
}

/// `url` with each path segment `:key` replaced by `value`.
fn replace_path_variable(url: &str, key: &str, value: &str) -> String {
    let (path, rest) = match url.find(['?', '#']) {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let segment = format!(":{key}");
    let replaced: Vec<&str> = path
        .split('/')
        .map(|s| if s == segment { value } else { s })
        .collect();
    format!("{}{rest}", replaced.join("/"))
}

/// `{{NAME}}` written `${var.NAME}`; `{{$guid}}`, `{{$randomUUID}}`
/// written `${uuid()}`; other `{{$...}}` kept.
pub(crate) fn map_variables(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}").map(|at| at + open + 2) else {
            break;
        };
        let name = rest[open + 2..close].trim();
        out.push_str(&rest[..open]);
        match name {
            "$guid" | "$randomUUID" => out.push_str("${uuid()}"),
            _ if name.is_empty() || name.starts_with('$') || name.contains('}') => {
                out.push_str(&rest[open..close + 2])
            }
            _ => {
                out.push_str("${var.");
                out.push_str(name);
                out.push('}');
            }
        }
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imported(collection: Value) -> Imported {
        match to_tasks(&collection) {
            Ok(imported) => imported,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn folders_depth_first_with_urls_headers_and_bodies() {
        let collection = json!({
            "info": {"name": "shop", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
            "variable": [{"key": "baseUrl", "value": "http://shop.test:8080"}, {"key": "n", "value": 3},
                         {"key": "off", "value": "x", "disabled": true}],
            "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}]},
            "item": [
                {"name": "catalog", "item": [
                    {"name": "inner", "auth": {"type": "noauth"}, "item": [
                        {"name": "list", "request": {"method": "GET",
                            "url": {"protocol": "https", "host": ["api", "shop", "test"], "port": "8443",
                                    "path": ["v1", "items"], "query": [{"key": "page", "value": "{{n}}"},
                                    {"key": "off", "value": "1", "disabled": true}]},
                            "header": [{"key": "Accept", "value": "application/json"},
                                       {"key": "X-Off", "value": "1", "disabled": true}]}}
                    ]},
                    {"name": "one", "request": {"url": {"raw": "{{baseUrl}}/items/:id",
                        "variable": [{"key": "id", "value": "42"}]}}}
                ]},
                {"name": "create", "request": {"method": "POST", "url": "{{baseUrl}}/items",
                    "body": {"mode": "raw", "raw": "{\"name\": \"{{$guid}}\", \"n\": {{n}}}",
                             "options": {"raw": {"language": "json"}}}}},
                {"name": "login", "request": {"method": "POST", "url": "{{baseUrl}}/login",
                    "auth": {"type": "basic", "basic": [{"key": "username", "value": "ada"}, {"key": "password", "value": "pw"}]},
                    "body": {"mode": "urlencoded", "urlencoded": [{"key": "a", "value": "1"},
                             {"key": "b", "value": "2", "disabled": true}]}}},
                {"name": "upload", "request": {"method": "POST", "url": "{{baseUrl}}/up",
                    "body": {"mode": "formdata", "formdata": [{"key": "title", "value": "x", "type": "text"},
                             {"key": "pic", "src": "/tmp/a.png", "type": "file"}]}}},
                {"name": "no url", "request": {"method": "GET"}},
                {"name": "trace", "request": {"method": "TRACE", "url": "{{baseUrl}}/t"}}
            ]
        });
        let imported = imported(collection);
        assert_eq!(
            imported.tasks,
            vec![
                json!({"method": "get", "request_url": "https://api.shop.test:8443/v1/items?page=${var.n}",
                       "name": "list", "headers": {"Accept": "application/json"}}),
                json!({"method": "get", "request_url": "${var.baseUrl}/items/42", "name": "one",
                       "auth": {"type": "bearer", "token": "${var.token}"}}),
                json!({"method": "post", "request_url": "${var.baseUrl}/items", "name": "create",
                       "headers": {"Content-Type": "application/json"},
                       "data": "{\"name\": \"${uuid()}\", \"n\": ${var.n}}",
                       "auth": {"type": "bearer", "token": "${var.token}"}}),
                json!({"method": "post", "request_url": "${var.baseUrl}/login", "name": "login",
                       "data": {"a": "1"},
                       "auth": {"type": "basic", "username": "ada", "password": "pw"}}),
                json!({"method": "post", "request_url": "${var.baseUrl}/up", "name": "upload",
                       "data": {"title": "x"}, "files": {},
                       "auth": {"type": "bearer", "token": "${var.token}"}}),
            ]
        );
        assert_eq!(
            Value::Object(imported.variables),
            json!({"baseUrl": "http://shop.test:8080", "n": "3"})
        );
        assert_eq!(imported.notes.len(), 2, "{:?}", imported.notes);
        assert!(imported.notes[0].contains("formdata field pic is a file"));
        assert!(imported.notes[1].contains("TRACE ${var.baseUrl}/t: left out"));
        let tasks = Value::Array(imported.tasks);
        assert!(crate::engine::Scenario::parse(&tasks).is_ok());
    }

    #[test]
    fn a_url_object_without_raw_keeps_scheme_and_port() {
        assert_eq!(
            url_of(Some(
                &json!({"host": ["127", "0", "0", "1"], "port": "9", "path": "a/b"})
            )),
            Some("http://127.0.0.1:9/a/b".to_owned())
        );
        assert_eq!(
            url_of(Some(&json!({"host": ["{{host}}"], "path": ["x"]}))),
            Some("${var.host}/x".to_owned())
        );
    }

    #[test]
    fn variables_map() {
        assert_eq!(
            map_variables("{{a}}/{{ b }}/{{$timestamp}}/{{}}/{{x"),
            "${var.a}/${var.b}/{{$timestamp}}/{{}}/{{x"
        );
    }

    #[test]
    fn depth_and_count_are_bounded() {
        let mut deep = json!({"name": "leaf", "request": {"url": "http://h/"}});
        for _ in 0..=MAX_FOLDER_DEPTH {
            deep = json!({"name": "folder", "item": [deep]});
        }
        let message = to_tasks(&json!({"item": [deep]}))
            .err()
            .map(|e| e.to_string());
        assert!(message.is_some_and(|m| m.contains("folders nest more than 32 deep")));
        let many = vec![json!({"request": {"url": "http://h/"}}); MAX_TASKS + 1];
        let message = to_tasks(&json!({"item": many}))
            .err()
            .map(|e| e.to_string());
        assert!(message.is_some_and(|m| m.contains("10001 items, over the 10000")));
        assert!(to_tasks(&json!("x")).is_err());
    }
}
