//! The importers end to end: a HAR as Chrome saves it, an OpenAPI 3.0 YAML
//! and 3.1 JSON description, a Postman v2.1 collection and a file of cURL
//! commands (tests/fixtures/import/) made into action files by `ld-tower
//! import`, run by a real `ld-tower run --json --strict` process against a
//! target that records every request it receives; the requests must
//! arrive as the documents describe them. Then the same through `ld-tower
//! serve` and its import actions, and the bounds pushed past while the
//! server keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use common::framed::{framed_client, one};
use common::serve_in;

/// One request as the target received it.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// Lower-case names; repeated headers joined with ", ".
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: body is not JSON ({e}): {:?}",
                self.method, self.target, self.body
            )
        })
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

type Status = fn(&Method, &str) -> u16;

/// An HTTP/1.1 target on 127.0.0.1:0 that records every request and
/// answers the status `status` gives, in a runtime of its own.
struct Recorder {
    runtime: tokio::runtime::Runtime,
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Recorder {
    fn start(status: Status) -> Recorder {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let received = Arc::new(Mutex::new(Vec::new()));
        let listener = runtime
            .block_on(TcpListener::bind(("127.0.0.1", 0)))
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::clone(&received);
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let received = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req| record(Arc::clone(&received), status, req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Recorder {
            runtime,
            port,
            received,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// `--connect-to HOST:PORT:127.0.0.1:<this>` for each of `hosts`.
    fn connect_to(&self, hosts: &[&str]) -> Vec<String> {
        hosts
            .iter()
            .flat_map(|h| {
                [
                    "--connect-to".to_owned(),
                    format!("{h}:127.0.0.1:{}", self.port),
                ]
            })
            .collect()
    }
}

async fn record(
    received: Arc<Mutex<Vec<Received>>>,
    status: Status,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let code = status(&method, &target);
    received.lock().unwrap().push(Received {
        method: method.to_string(),
        target,
        headers,
        body,
    });
    Ok(Response::builder()
        .status(code)
        .body(Full::new(Bytes::from_static(b"ok")))
        .expect("response"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// Runs `ld-tower ARGS` in `dir`: (success, stdout, stderr).
fn ld_tower(dir: &Path, args: &[String]) -> (bool, String, String) {
    let (status, stdout, stderr) = common::run_cli_in(dir, args);
    (status.success(), stdout, stderr)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A short test's flags: one user, so the first pass over the tasks
/// arrives in order.
const SHORT_TEST: &[&str] = &["--user-count", "1", "--spawn-rate", "1", "--test-time", "3"];

/// `ld-tower import KIND FIXTURE -o out.json` (plus `extra`), then `ld-tower
/// run --json --strict out.json` against `recorder` for `hosts`; the
/// action file and what the target received.
fn import_and_run(
    recorder: &Recorder,
    kind: &str,
    name: &str,
    extra: &[&str],
    hosts: &[&str],
) -> (Value, Vec<Received>) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = strings(&["import", kind]);
    args.push(fixture(name).display().to_string());
    args.extend(strings(&["-o", "out.json"]));
    args.extend(strings(SHORT_TEST));
    args.extend(strings(extra));
    let (ok, stdout, stderr) = ld_tower(dir.path(), &args);
    assert!(ok, "import failed: {stderr}");
    assert_eq!(stdout, "", "with -o nothing goes to stdout");
    let written = std::fs::read_to_string(dir.path().join("out.json")).unwrap();
    let document: Value = serde_json::from_str(&written).unwrap();
    assert!(
        written.starts_with("{\n  \"load_density\": ["),
        "pretty JSON: {written}"
    );

    let mut run = strings(&["run", "--json", "--strict"]);
    run.extend(recorder.connect_to(hosts));
    run.push("out.json".into());
    let (ok, stdout, stderr) = ld_tower(dir.path(), &run);
    assert!(ok, "run failed:\n{stdout}\n{stderr}");
    assert!(!stdout.lines().any(|l| l.starts_with("Error")), "{stdout}");
    (document, recorder.received())
}

/// The distinct (method, target) pairs received, in first-seen order.
fn distinct(received: &[Received]) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for r in received {
        let pair = (r.method.clone(), r.target.clone());
        if !seen.contains(&pair) {
            seen.push(pair);
        }
    }
    seen
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(m, t)| ((*m).to_owned(), (*t).to_owned()))
        .collect()
}

fn default_status(method: &Method, _: &str) -> u16 {
    match *method {
        Method::POST => 201,
        Method::DELETE => 204,
        _ => 200,
    }
}

#[test]
fn a_chrome_har_runs_as_recorded() {
    fn status(method: &Method, target: &str) -> u16 {
        if method == Method::POST && target == "/api/cart" {
            201
        } else {
            200
        }
    }
    let recorder = Recorder::start(status);
    let (document, received) = import_and_run(
        &recorder,
        "har",
        "chrome.har",
        &["--exclude", r"\.(css|js|png)(\?|$)"],
        &["shop.example.test:80"],
    );
    let start = &document["load_density"][0];
    assert_eq!(start[0], "LD_start_test");
    assert_eq!(start[1]["tasks"]["mode"], "sequence");
    assert_eq!(
        start[1]["user_detail_dict"],
        json!({"user": "fast_http_user"})
    );
    assert_eq!(
        distinct(&received),
        pairs(&[
            ("GET", "/api/products?category=books&page=2"),
            ("POST", "/api/cart"),
            ("POST", "/login"),
        ]),
        "the first pass in order, the static assets excluded"
    );
    let get = &received[0];
    assert_eq!(get.header("host"), Some("shop.example.test"));
    assert_eq!(get.header("accept"), Some("application/json"));
    assert_eq!(get.header("accept-language"), Some("en-GB,en;q=0.9"));
    assert_eq!(get.header("cookie"), Some("sid=abc123; theme=dark"));
    assert_eq!(
        get.header("referer"),
        Some("http://shop.example.test/books")
    );
    assert!(get
        .header("user-agent")
        .is_some_and(|ua| ua.contains("Chrome/131.0.0.0")));
    assert_eq!(get.body, b"");

    let cart = &received[1];
    assert_eq!(cart.header("content-type"), Some("application/json"));
    assert_eq!(cart.header("x-csrf-token"), Some("t-91f0"));
    assert_eq!(cart.header("origin"), Some("http://shop.example.test"));
    assert_eq!(
        cart.header("host"),
        Some("shop.example.test"),
        "not :authority"
    );
    assert_eq!(
        cart.json(),
        json!({"sku": "BK-042", "qty": 2, "gift": false})
    );
    assert_eq!(
        cart.header("content-length"),
        Some(cart.body.len().to_string().as_str())
    );

    let login = &received[2];
    assert_eq!(
        login.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // The bytes the browser sent: Chrome records `params` still encoded,
    // which LoadDensity's rule would have encoded again (`%2540`).
    assert_eq!(
        login.text(),
        "user=ada%40shop.example.test&password=s3+cr%26t&remember=on"
    );
}

#[test]
fn an_openapi_3_0_yaml_description_runs_with_its_examples() {
    let recorder = Recorder::start(default_status);
    let (document, received) = import_and_run(
        &recorder,
        "openapi",
        "petstore.yaml",
        &[],
        &["petstore.example.test:8080"],
    );
    assert_eq!(
        document["load_density"][0],
        json!(["LD_register_variables", {"variables": {"petId": "42", "ownerId": "o-1"}}])
    );
    let tasks = &document["load_density"][1][1]["tasks"]["tasks"];
    assert_eq!(
        tasks[2],
        json!({"method": "get",
               "request_url": "http://petstore.example.test:8080/v1/pets/${var.petId}",
               "name": "showPetById", "assertions": [{"type": "status_code", "value": 200}]})
    );
    assert_eq!(
        distinct(&received),
        pairs(&[
            ("GET", "/v1/pets"),
            ("POST", "/v1/pets"),
            ("GET", "/v1/pets/42"),
            ("DELETE", "/v1/pets/42"),
            ("GET", "/v1/owners/o-1/pets"),
        ])
    );
    assert_eq!(
        received[0].header("host"),
        Some("petstore.example.test:8080")
    );
}

#[test]
fn an_openapi_3_1_json_description_runs_with_its_examples() {
    fn status(method: &Method, target: &str) -> u16 {
        if method == Method::POST {
            202
        } else if target.ends_with("/stock") {
            206
        } else {
            200
        }
    }
    let recorder = Recorder::start(status);
    let (document, received) = import_and_run(
        &recorder,
        "openapi",
        "inventory.json",
        &[],
        &["inventory.example.test:8090"],
    );
    assert_eq!(
        document["load_density"][0][1]["variables"],
        json!({"sku": "SKU-1", "code": "W-3"})
    );
    assert_eq!(
        distinct(&received),
        pairs(&[
            ("POST", "/api/items"),
            ("GET", "/api/items/SKU-1"),
            ("PUT", "/api/items/SKU-1"),
            ("GET", "/api/warehouses/W-3/stock"),
        ]),
        "the TRACE operation left out"
    );
}

#[test]
fn a_postman_collection_runs_with_its_variables() {
    let recorder = Recorder::start(default_status);
    let (document, received) = import_and_run(
        &recorder,
        "postman",
        "shop.postman_collection.json",
        &[],
        &["postman.example.test:8081", "postman.example.test:8082"],
    );
    assert_eq!(
        document["load_density"][0][1]["variables"],
        json!({"baseUrl": "http://postman.example.test:8081", "apiVersion": "v2", "client": "web"})
    );
    assert_eq!(
        distinct(&received),
        pairs(&[
            ("GET", "/v2/search?q=lamp"),
            ("GET", "/v2/products/77"),
            ("POST", "/v2/orders"),
            ("POST", "/v2/subscribe"),
        ]),
        "folders depth first; the disabled query parameter left out"
    );
    let search = &received[0];
    assert_eq!(
        search.header("host"),
        Some("postman.example.test:8082"),
        "the URL object's scheme and port kept"
    );
    assert_eq!(search.header("accept"), Some("application/json"));
    assert_eq!(search.header("x-debug"), None, "a disabled header");
    assert_eq!(
        received[1].header("host"),
        Some("postman.example.test:8081")
    );
    assert_eq!(received[1].header("x-client"), Some("web"));
    assert_eq!(received[2].header("content-type"), Some("application/json"));
    assert_eq!(received[2].json(), json!({"product": 77, "qty": 1}));
    assert_eq!(
        received[3].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(received[3].text(), "email=ada%40example.test&list=weekly");
}

#[test]
fn curl_commands_run_as_curl_would_send_them() {
    let recorder = Recorder::start(|_, _| 200);
    let (document, received) = import_and_run(
        &recorder,
        "curl",
        "commands.curl",
        &[],
        &["curl.example.test:80"],
    );
    let actions = document["load_density"].as_array().unwrap();
    assert_eq!(
        actions.len(),
        2,
        "LD_generate_from_curls' shape: {actions:?}"
    );
    assert_eq!(
        actions[1],
        json!(["LD_generate_summary_report", {"report_name": "summary"}])
    );
    assert_eq!(
        distinct(&received),
        pairs(&[
            ("GET", "/api/items?limit=5"),
            ("POST", "/api/items"),
            ("PATCH", "/api/items/7"),
            ("GET", "/account"),
            ("GET", "/search?q=red%20lamp&page=2"),
            ("POST", "/upload"),
        ])
    );
    let [list, create, patch, account, _search, upload] = &received[..6] else {
        panic!("{received:?}")
    };
    assert_eq!(list.header("accept"), Some("application/json"));
    assert_eq!(list.header("x-trace"), Some("t-1"));
    assert_eq!(create.header("content-type"), Some("application/json"));
    assert_eq!(create.json(), json!({"name": "lamp", "price": 19.5}));
    assert_eq!(patch.header("x-trace"), Some("t-2"));
    assert_eq!(patch.json(), json!({"price": 17}));
    assert_eq!(account.header("authorization"), Some("Basic YWRhOnB3"));
    assert_eq!(account.header("cookie"), Some("sid=abc; theme=dark"));
    assert_eq!(account.header("user-agent"), Some("probe/1.0"));
    let content_type = upload.header("content-type").unwrap_or_default();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    assert_eq!(
        upload.text(),
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nA lamp\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nhome\r\n\
             --{boundary}--\r\n"
        )
    );
}

#[test]
fn import_writes_stdout_yaml_and_toml_and_explains_what_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let har = fixture("chrome.har").display().to_string();
    let (ok, json_out, _) = ld_tower(dir.path(), &strings(&["import", "har", &har]));
    assert!(ok);
    let document: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(
        document["load_density"][0][1]["tasks"]["tasks"]
            .as_array()
            .map(Vec::len),
        Some(5),
        "nothing excluded"
    );
    assert_eq!(document["load_density"][0][1]["user_count"], 10);
    for (out, format) in [
        ("a.yaml", ld_tower::formats::Format::Yaml),
        ("a.toml", ld_tower::formats::Format::Toml),
    ] {
        let (ok, _, stderr) = ld_tower(dir.path(), &strings(&["import", "har", &har, "-o", out]));
        assert!(ok, "{stderr}");
        let text = std::fs::read(dir.path().join(out)).unwrap();
        assert_eq!(format.parse(&text).ok(), Some(document.clone()), "{out}");
    }

    let refused = |args: &[&str]| {
        let (ok, stdout, stderr) = ld_tower(dir.path(), &strings(args));
        assert!(!ok && stdout.is_empty(), "{args:?}: {stdout}");
        stderr
    };
    assert_eq!(
        refused(&["import", "har", &har, "--include", "(unclosed"]).lines().next(),
        Some("ld-tower: include[0] \"(unclosed\" is not a regular expression ld-tower can run: regex parse error:")
    );
    std::fs::write(
        dir.path().join("relative.yaml"),
        "openapi: 3.0.0\nservers: [{url: /v1}]\npaths: {/a: {get: {}}}\n",
    )
    .unwrap();
    assert_eq!(
        refused(&["import", "openapi", "relative.yaml"]),
        "ld-tower: the server URL \"/v1\" is relative: give base_url (the scheme and host, and \
         the server's path, the requests go to)\n"
    );
    let (ok, out, _) = ld_tower(
        dir.path(),
        &strings(&[
            "import",
            "openapi",
            "relative.yaml",
            "--base-url",
            "http://h:1/v1",
        ]),
    );
    assert!(ok);
    assert!(
        out.contains("\"request_url\": \"http://h:1/v1/a\""),
        "{out}"
    );
    std::fs::write(
        dir.path().join("bad.curl"),
        "curl -s http://h/ok\ncurl --frobnicate http://h/\n",
    )
    .unwrap();
    assert_eq!(
        refused(&["import", "curl", "bad.curl"]),
        "ld-tower: curls[1]: curl flag --frobnicate is not one ld-tower knows (it cannot tell \
         whether it takes a value or what it changes): remove it, or write the task by hand\n"
    );
    std::fs::write(
        dir.path().join("quote.curl"),
        "curl 'http://h/x -H 'A: b'\n",
    )
    .unwrap();
    assert!(refused(&["import", "curl", "quote.curl"])
        .contains("cannot be split as a shell would: a quote (' or \") is not closed"));
    assert!(refused(&["import", "postman", "missing.json"])
        .starts_with("ld-tower: cannot open missing.json"));
    assert!(refused(&["import", "curl", &har, "--base-url", "http://h"])
        .contains("--base-url applies to `import openapi` only"));
    let (_, _, stderr) = ld_tower(
        dir.path(),
        &strings(&[
            "import",
            "openapi",
            &fixture("inventory.json").display().to_string(),
        ]),
    );
    assert_eq!(
        stderr,
        "ld-tower: note: paths./items/{sku}.trace: left out: a task cannot send TRACE\n"
    );
}

/// A served agent confined to a directory holding the fixtures: its import
/// actions read them by path, their action document runs on it, and
/// documents past the bounds are refused while it keeps serving.
#[test]
fn served_import_actions_run_and_refuse_past_their_bounds() {
    let recorder = Recorder::start(|method, target| {
        if method == Method::POST && target == "/api/cart" {
            201
        } else {
            200
        }
    });
    let work = tempfile::tempdir().unwrap();
    for name in [
        "chrome.har",
        "petstore.yaml",
        "shop.postman_collection.json",
    ] {
        std::fs::copy(fixture(name), work.path().join(name)).unwrap();
    }
    std::fs::write(work.path().join("big.har"), vec![b' '; 70_000]).unwrap();
    let mut args = strings(&["--framed", "--max-file-bytes", "65536"]);
    args.extend(recorder.connect_to(&["shop.example.test:80"]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = serve_in(work.path(), &args, &[]);
    let client = framed_client(&server.addr().to_string(), None);

    recorder.runtime.block_on(async {
        let loaded = one(&client, "LD_load_har", json!({"file_path": "chrome.har"})).await;
        let file: Value =
            serde_json::from_slice(&std::fs::read(fixture("chrome.har")).unwrap()).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&loaded).unwrap(), file);

        let document = one(
            &client,
            "LD_har_to_action_json",
            json!({"har": "chrome.har", "user_count": 1, "spawn_rate": 1, "test_time": 3,
                   "exclude": ["\\.(css|js|png)(\\?|$)"]}),
        )
        .await;
        let document: Value = serde_json::from_str(&document).unwrap();
        let reply = client.send(&document.to_string()).await.expect("a reply");
        assert_eq!(reply.lines.len(), 1);
        assert!(reply.lines[0].starts_with('{'), "{:?}", reply.lines);
        assert_eq!(
            distinct(&recorder.received()),
            pairs(&[
                ("GET", "/api/products?category=books&page=2"),
                ("POST", "/api/cart"),
                ("POST", "/login"),
            ])
        );

        // Inline documents, as LoadDensity takes them, give the same tasks.
        let inline = one(&client, "LD_har_to_tasks", json!([file, null, ["\\.(css|js|png)"]])).await;
        assert_eq!(
            serde_json::from_str::<Value>(&inline).unwrap(),
            document["load_density"][0][1]["tasks"]["tasks"]
        );
        let yaml_text = std::fs::read_to_string(fixture("petstore.yaml")).unwrap();
        let tasks = one(&client, "LD_openapi_to_tasks", json!({"spec": yaml_text, "base_url": "http://api.test"})).await;
        let tasks: Value = serde_json::from_str(&tasks).unwrap();
        assert_eq!(tasks[3]["request_url"], "http://api.test/pets/${var.petId}");

        let generated = one(
            &client,
            "LD_generate_from_openapi",
            json!({"openapi_path": "petstore.yaml", "variables": {"petId": "9"}}),
        )
        .await;
        let generated: Value = serde_json::from_str(&generated).unwrap();
        assert_eq!(
            generated["load_density"][0],
            json!(["LD_register_variables", {"variables": {"petId": "9", "ownerId": "o-1"}}])
        );
        assert_eq!(generated["load_density"][1][1]["user_count"], 20);
        assert_eq!(
            generated["load_density"][2],
            json!(["LD_generate_summary_report", {"report_name": "summary"}])
        );
        let postman = one(&client, "LD_postman_to_tasks", json!({"collection": "shop.postman_collection.json"})).await;
        assert_eq!(
            serde_json::from_str::<Value>(&postman).unwrap()[0]["request_url"],
            "http://postman.example.test:8082/${var.apiVersion}/search?q=lamp"
        );

        assert_eq!(
            one(&client, "LD_curl_to_task", json!(["curl -s http://h/x"])).await,
            r#"{"method":"get","request_url":"http://h/x"}"#
        );
        assert_eq!(
            one(&client, "LD_curl_to_task", json!({"command": "curl -v -X POST http://h/x \\\n  -H 'A: b' -d '{\"a\":1}' -u user:pw -b 'k=v' -k -L"})).await,
            r#"{"method":"post","auth":{"type":"basic","username":"user","password":"pw"},"cookies":{"k":"v"},"verify":false,"allow_redirects":true,"headers":{"A":"b"},"json":{"a":1},"request_url":"http://h/x"}"#
        );
        let generated = one(
            &client,
            "LD_generate_from_curls",
            json!({"curls": ["curl --request=PATCH http://h/p"], "user_count": 2}),
        )
        .await;
        assert_eq!(
            serde_json::from_str::<Value>(&generated).unwrap()["load_density"][0][1]["tasks"],
            json!([{"method": "patch", "request_url": "http://h/p"}])
        );

        // Past the bounds: clear errors.
        let many = json!({"log": {"entries": vec![json!({}); 10_001]}});
        assert_eq!(
            one(&client, "LD_har_to_tasks", json!({"har": many})).await,
            "Error: LD_har_to_tasks: the document has 10001 entries, over the 10000 one import \
             may read: split it"
        );
        let big = one(&client, "LD_load_har", json!({"file_path": "big.har"})).await;
        assert!(
            big.starts_with("Error: LD_load_har: ")
                && big.ends_with("big.har is over the agent's limit of 65536 bytes (--max-file-bytes)"),
            "{big}"
        );
        assert!(one(&client, "LD_load_har", json!({"file_path": "../outside.har"}))
            .await
            .starts_with("Error: LD_load_har: "));
        let bad = one(&client, "LD_har_to_tasks", json!({"har": file, "include": ["a{99999}"]})).await;
        assert!(
            bad.starts_with("Error: LD_har_to_tasks: include[0] \"a{99999}\" is not a regular expression ld-tower can run"),
            "{bad}"
        );
        assert_eq!(
            one(&client, "LD_curl_to_task", json!({"command": "curl 'http://h/"})).await,
            "Error: LD_curl_to_task: the cURL command cannot be split as a shell would: a quote \
             (' or \") is not closed, or it ends with a backslash"
        );
        assert_eq!(
            one(&client, "LD_curl_to_task", json!({"command": "curl --bogus http://h/"})).await,
            "Error: LD_curl_to_task: curl flag --bogus is not one ld-tower knows (it cannot tell \
             whether it takes a value or what it changes): remove it, or write the task by hand"
        );
        assert!(one(&client, "LD_har_to_tasks", json!({"har": file, "colour": 1}))
            .await
            .starts_with("Error: LD_har_to_tasks: bad arguments: unknown field `colour`"));
        // Still serving.
        assert_eq!(
            one(&client, "LD_curl_to_task", json!(["curl -k https://h/after"])).await,
            r#"{"method":"get","verify":false,"request_url":"https://h/after"}"#
        );
    });
}

/// Scopes: the transformations of a document given inline need `read`;
/// reading a file (`LD_load_*`, a document given by path) needs `write`.
#[test]
fn reading_files_needs_the_write_scope() {
    let work = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("chrome.har"), work.path().join("chrome.har")).unwrap();
    let tokens = common::tokens::principals_file(
        work.path(),
        &[
            ("reader", "reader-token", &["read"]),
            ("writer", "writer-token", &["read", "write"]),
        ],
    );
    let server = serve_in(work.path(), &["--framed", "--token-file", &tokens], &[]);
    let addr = server.addr().to_string();
    let reader = framed_client(&addr, Some("reader-token"));
    let writer = framed_client(&addr, Some("writer-token"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(
            one(&reader, "LD_load_har", json!({"file_path": "chrome.har"})).await,
            "Error: LD_load_har: forbidden for reader"
        );
        assert_eq!(
            one(&reader, "LD_har_to_tasks", json!({"har": "chrome.har"})).await,
            "Error: LD_har_to_tasks: reading the HAR from a file needs the write scope, which \
             reader lacks: give the document itself"
        );
        let inline =
            json!({"log": {"entries": [{"request": {"method": "GET", "url": "http://h/a"}}]}});
        assert_eq!(
            one(&reader, "LD_har_to_tasks", json!({"har": inline})).await,
            r#"[{"method":"get","request_url":"http://h/a","name":"GET /a"}]"#
        );
        assert_eq!(
            one(&reader, "LD_curl_to_task", json!(["curl http://h/b"])).await,
            r#"{"method":"get","request_url":"http://h/b"}"#
        );
        let tasks = one(&writer, "LD_har_to_tasks", json!({"har": "chrome.har"})).await;
        assert_eq!(
            serde_json::from_str::<Value>(&tasks)
                .unwrap()
                .as_array()
                .map(Vec::len),
            Some(5)
        );
    });
}
