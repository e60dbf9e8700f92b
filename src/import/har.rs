//! HAR recordings (a browser's "Save all as HAR", mitmproxy's, Charles')
//! into tasks, as LoadDensity's `har_importer.py`: one task per entry, in
//! order.
//!
//! An entry becomes `{method (lower case), request_url, name ("GET
//! /path?query"), headers, json | data, assertions}`: the request headers
//! but `Host`, `Content-Length`, `Connection` and HTTP/2's pseudo-headers
//! (`:authority`, `:method`, `:path`, `:scheme`), left out when none is
//! left; the body as `json` when the MIME type says JSON and the text
//! parses, else the text as `data` (with a `Content-Type` of the recorded
//! MIME type if the headers have none), else the form's `params` as a
//! `data` object when the recording has no text; a `status_code` assertion of the recorded status when it is a
//! non-zero integer (a blocked request records 0).

use serde_json::{Map, Value};

use super::{path_only, sendable, too_many, Filters, ImportError, Imported, MAX_TASKS};

/// Request headers a task does not copy: the client writes its own.
const NOT_COPIED: &[&str] = &[
    "host",
    "content-length",
    "connection",
    ":authority",
    ":method",
    ":path",
    ":scheme",
];

/// The tasks of `har`'s entries whose URL `filters` keeps.
pub fn to_tasks(har: &Value, filters: &Filters) -> Result<Imported, ImportError> {
    let Value::Object(har) = har else {
        return Err(ImportError::new(
            "a HAR document is a JSON object: {\"log\": {\"entries\": [...]}}",
        ));
    };
    let entries = match har.get("log") {
        None | Some(Value::Null) => None,
        Some(Value::Object(log)) => log.get("entries"),
        Some(_) => return Err(ImportError::new("the HAR's log is not an object")),
    };
    let entries: &[Value] = match entries {
        None | Some(Value::Null) => &[],
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(ImportError::new("the HAR's log.entries is not a list")),
    };
    if entries.len() > MAX_TASKS {
        return Err(too_many("entries", entries.len()));
    }
    let mut imported = Imported::default();
    for (i, entry) in entries.iter().enumerate() {
        let at = || format!("log.entries[{i}]");
        let Value::Object(entry) = entry else {
            return Err(ImportError::new(format!("{} is not an object", at())));
        };
        let request = match entry.get("request") {
            None | Some(Value::Null) => &Map::new(),
            Some(Value::Object(request)) => request,
            Some(_) => {
                return Err(ImportError::new(format!(
                    "{}.request is not an object",
                    at()
                )))
            }
        };
        let url = match request.get("url") {
            None | Some(Value::Null) => "",
            Some(Value::String(url)) => url,
            Some(_) => {
                return Err(ImportError::new(format!(
                    "{}.request.url is not a string",
                    at()
                )))
            }
        };
        if !filters.keeps(url) {
            continue;
        }
        let method = match request.get("method") {
            Some(Value::String(method)) => method.to_lowercase(),
            _ => String::new(),
        };
        if method.is_empty() || url.is_empty() {
            continue;
        }
        if !sendable(&method) {
            imported.note(format!(
                "{}: {} {url}: a task cannot send {}",
                at(),
                method.to_uppercase(),
                method.to_uppercase()
            ));
            continue;
        }
        let status = entry
            .get("response")
            .and_then(|r| r.get("status"))
            .and_then(Value::as_u64);
        imported.push(entry_task(&method, url, request, status))?;
    }
    Ok(imported)
}

fn entry_task(method: &str, url: &str, request: &Map<String, Value>, status: Option<u64>) -> Value {
    let mut task = Map::new();
    task.insert("method".into(), method.into());
    task.insert("request_url".into(), url.into());
    task.insert(
        "name".into(),
        format!("{} {}", method.to_uppercase(), path_only(url)).into(),
    );
    let headers = headers(request.get("headers"));
    if !headers.is_empty() {
        task.insert("headers".into(), Value::Object(headers));
    }
    if let Some(Value::Object(post)) = request.get("postData") {
        body(&mut task, post);
    }
    if let Some(status) = status.filter(|s| *s != 0) {
        task.insert(
            "assertions".into(),
            serde_json::json!([{"type": "status_code", "value": status}]),
        );
    }
    Value::Object(task)
}

fn headers(given: Option<&Value>) -> Map<String, Value> {
    let mut headers = Map::new();
    for header in given.and_then(Value::as_array).into_iter().flatten() {
        let name = match header.get("name") {
            Some(Value::String(name)) => name.trim(),
            _ => continue,
        };
        if name.is_empty() || NOT_COPIED.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let value = header.get("value").cloned().unwrap_or_else(|| "".into());
        headers.insert(name.to_owned(), value);
    }
    headers
}

fn body(task: &mut Map<String, Value>, post: &Map<String, Value>) {
    let mime = post
        .get("mimeType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    let text = post
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    let params = post
        .get("params")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty());
    if let (true, Some(text)) = (mime.contains("application/json"), text) {
        match serde_json::from_str::<Value>(text) {
            Ok(json) => task.insert("json".into(), json),
            Err(_) => task.insert("data".into(), text.into()),
        };
        return;
    }
    if let (Some(_), Some(text)) = (params, text) {
        // The bytes the browser sent. A recorder writes `params` as they
        // appear in the body, still percent-encoded (Chrome does), so
        // LoadDensity's rule (params as a `data` object, which the client
        // encodes again) sent `a%40b` as `a%2540b`, and kept one of a
        // repeated name.
        task.insert("data".into(), text.into());
        content_type(task, &mime, post);
        return;
    }
    if let Some(params) = params {
        let mut form = Map::new();
        for param in params {
            if let Some(Value::String(name)) = param.get("name").filter(|n| n.as_str() != Some(""))
            {
                let value = param.get("value").cloned().unwrap_or_else(|| "".into());
                form.insert(name.clone(), value);
            }
        }
        task.insert("data".into(), Value::Object(form));
        return;
    }
    if let Some(text) = text {
        task.insert("data".into(), text.into());
    }
}

/// A `Content-Type` header of the recorded MIME type, unless the recorded
/// headers have one: a text body's client adds none of its own.
fn content_type(task: &mut Map<String, Value>, mime: &str, post: &Map<String, Value>) {
    let Some(Value::String(recorded)) = post.get("mimeType").filter(|_| !mime.is_empty()) else {
        return;
    };
    let headers = task
        .entry("headers")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(headers) = headers {
        if !headers
            .keys()
            .any(|name| name.eq_ignore_ascii_case("content-type"))
        {
            headers.insert("Content-Type".into(), recorded.clone().into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tasks(har: Value, filters: &Filters) -> Vec<Value> {
        match to_tasks(&har, filters) {
            Ok(imported) => imported.tasks,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn entries_become_loaddensity_tasks() {
        let har = json!({"log": {"version": "1.2", "entries": [
            {"request": {"method": "GET", "url": "https://shop.test/api/items?page=2",
                "headers": [
                    {"name": ":authority", "value": "shop.test"},
                    {"name": "Host", "value": "shop.test"},
                    {"name": "Accept", "value": "application/json"},
                    {"name": "Cookie", "value": "sid=1"},
                    {"name": "content-length", "value": "0"}
                ]},
             "response": {"status": 200}},
            {"request": {"method": "POST", "url": "https://shop.test/api/cart",
                "postData": {"mimeType": "application/json; charset=utf-8",
                             "text": "{\"sku\": \"A1\", \"qty\": 2}"}},
             "response": {"status": 201}},
            {"request": {"method": "POST", "url": "https://shop.test/login",
                "postData": {"mimeType": "application/x-www-form-urlencoded",
                             "text": "user=ada&pw=x",
                             "params": [{"name": "user", "value": "ada"}, {"name": "pw", "value": "x"}]}},
             "response": {"status": 0}},
            {"request": {"method": "PUT", "url": "https://shop.test",
                "postData": {"mimeType": "application/json", "text": "not json"}}},
            {"request": {"method": "", "url": "https://shop.test/"}},
            {"request": {"method": "GET"}}
        ]}});
        assert_eq!(
            tasks(har, &Filters::none()),
            vec![
                json!({"method": "get", "request_url": "https://shop.test/api/items?page=2",
                       "name": "GET /api/items?page=2",
                       "headers": {"Accept": "application/json", "Cookie": "sid=1"},
                       "assertions": [{"type": "status_code", "value": 200}]}),
                json!({"method": "post", "request_url": "https://shop.test/api/cart",
                       "name": "POST /api/cart", "json": {"sku": "A1", "qty": 2},
                       "assertions": [{"type": "status_code", "value": 201}]}),
                json!({"method": "post", "request_url": "https://shop.test/login",
                       "name": "POST /login", "data": "user=ada&pw=x",
                       "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
                json!({"method": "put", "request_url": "https://shop.test",
                       "name": "PUT /", "data": "not json"}),
            ]
        );
    }

    #[test]
    fn filters_and_unsendable_methods() {
        let har = json!({"log": {"entries": [
            {"request": {"method": "GET", "url": "https://shop.test/app.css"}},
            {"request": {"method": "TRACE", "url": "https://shop.test/api/x"}},
            {"request": {"method": "GET", "url": "https://shop.test/api/y"}},
            {"request": {"method": "GET", "url": "https://cdn.test/api/z"}}
        ]}});
        let filters = Filters::new(Some(&json!(["shop\\.test"])), Some(&json!(["\\.css$"])));
        let filters = filters.map_err(|e| e.to_string());
        let Ok(filters) = filters else {
            panic!("{filters:?}")
        };
        let imported = to_tasks(&har, &filters).map_err(|e| e.to_string());
        let Ok(imported) = imported else {
            panic!("{imported:?}")
        };
        assert_eq!(imported.tasks.len(), 1);
        assert_eq!(imported.tasks[0]["request_url"], "https://shop.test/api/y");
        assert_eq!(
            imported.notes,
            ["log.entries[1]: TRACE https://shop.test/api/x: a task cannot send TRACE"]
        );
    }

    #[test]
    fn produced_tasks_compile() {
        let har = json!({"log": {"entries": [
            {"request": {"method": "POST", "url": "http://h/f", "headers": [{"name": "X-A", "value": "1"}],
              "postData": {"params": [{"name": "a", "value": "1"}]}}, "response": {"status": 302}}
        ]}});
        let tasks = Value::Array(tasks(har, &Filters::none()));
        assert!(crate::engine::Scenario::parse(&tasks).is_ok());
    }

    #[test]
    fn bad_shapes_and_too_many_entries_are_refused() {
        let message = |har: Value| {
            to_tasks(&har, &Filters::none())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(message(json!([])).starts_with("a HAR document is a JSON object"));
        assert_eq!(
            message(json!({"log": {"entries": {}}})),
            "the HAR's log.entries is not a list"
        );
        assert_eq!(
            message(json!({"log": {"entries": [1]}})),
            "log.entries[0] is not an object"
        );
        let many = vec![json!({}); MAX_TASKS + 1];
        assert!(
            message(json!({"log": {"entries": many}})).contains("10001 entries, over the 10000")
        );
        assert_eq!(
            to_tasks(&json!({}), &Filters::none()),
            Ok(Imported::default())
        );
    }
}
