//! Headless Chromium driven over the DevTools protocol: a page that keeps
//! a server-sent event stream open never lets `--dump-dom
//! --virtual-time-budget` finish (virtual time waits for the stream), so
//! the tests open the page in a real browser, wait (with a deadline) for a
//! condition on its DOM, read the DOM with a script and take screenshots.
//!
//! The browser runs under the tests' process guard ([`Child`]): it and the
//! processes it started are ended when the [`Browser`] drops.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::child::Child;
use super::DEADLINE;

/// What Chromium prints when its DevTools endpoint listens.
const LISTENING: &str = "DevTools listening on ws://";

/// The browser's binary, if one is installed; under CI (`CI` set) a
/// missing one fails the test rendering `what`, as CI installs it
/// (`.ci/run`).
pub fn chromium(what: &str) -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs chromium (.ci/run): {what} must be rendered there"
        );
        eprintln!(
            "no chromium here (apt-get install chromium): the rendering of {what} is skipped"
        );
    }
    found
}

/// A headless Chromium with a profile of its own, off the network but
/// for the pages it is sent to.
pub struct Browser {
    child: Child,
    devtools: SocketAddr,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `binary` headless, `width` x `height`, and waits for its
    /// DevTools endpoint.
    pub fn launch(binary: &str, width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut cmd = Command::new("sh");
        // Chromium says where DevTools listens on stderr: read it as stdout.
        cmd.arg("-c")
            .arg("exec \"$0\" \"$@\" 2>&1")
            .arg(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ]);
        let mut child = Child::spawn("chromium", &mut cmd).unwrap_or_else(|e| panic!("{e}"));
        let devtools = child
            .wait_for_line(DEADLINE, "`DevTools listening` line", |line| {
                let rest = line.split_once(LISTENING)?.1;
                rest.split('/').next()?.parse::<SocketAddr>().ok()
            })
            .unwrap_or_else(|e| panic!("{e}"));
        Browser {
            child,
            devtools,
            _profile: profile,
        }
    }

    /// The browser's page, connected, with page events on.
    pub async fn page(&self) -> Page {
        let list = http_get(self.devtools, "/json/list").await;
        let targets: Value = serde_json::from_str(&list)
            .unwrap_or_else(|e| panic!("DevTools' target list is not JSON ({e}): {list}"));
        let url = targets
            .as_array()
            .and_then(|all| all.iter().find(|t| t["type"] == "page"))
            .and_then(|page| page["webSocketDebuggerUrl"].as_str())
            .unwrap_or_else(|| panic!("no page among {targets}"))
            .to_owned();
        let tcp = TcpStream::connect(self.devtools)
            .await
            .expect("connect to DevTools");
        let (ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
            .await
            .expect("the DevTools handshake");
        let mut page = Page {
            ws,
            next_id: 0,
            events: Vec::new(),
        };
        page.call("Page.enable", json!({})).await;
        page
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// One page of the browser.
pub struct Page {
    ws: WebSocketStream<TcpStream>,
    next_id: u64,
    /// The names of the events seen while waiting for replies.
    events: Vec<String>,
}

impl Page {
    /// Calls a DevTools method; its result (a protocol error fails).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.call_within(method, params, DEADLINE).await
    }

    /// Calls a DevTools method that may take up to `within`.
    async fn call_within(&mut self, method: &str, params: Value, within: Duration) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws
            .send(Message::Text(message.into()))
            .await
            .expect("send to DevTools");
        loop {
            let reply = self.next_message(within).await;
            if reply["id"] == id {
                if let Some(error) = reply.get("error") {
                    panic!("{method}: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    async fn next_message(&mut self, within: Duration) -> Value {
        loop {
            let message = tokio::time::timeout(within, self.ws.next())
                .await
                .expect("DevTools answered in time")
                .expect("DevTools' connection open")
                .expect("a DevTools message");
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
                if let Some(event) = value["method"].as_str() {
                    self.events.push(event.to_owned());
                }
                return value;
            }
        }
    }

    /// Goes to `url` and waits for its load event.
    pub async fn navigate(&mut self, url: &str) {
        self.events.clear();
        self.call("Page.navigate", json!({"url": url})).await;
        while !self.events.iter().any(|e| e == "Page.loadEventFired") {
            self.next_message(DEADLINE).await;
        }
    }

    /// Evaluates `expression` in the page (a promise is awaited); its
    /// value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        self.eval_within(expression, DEADLINE).await
    }

    async fn eval_within(&mut self, expression: &str, within: Duration) -> Value {
        let result = self
            .call_within(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
                within,
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until `condition` (a script expression) is true, looking again
    /// at each change of the page's DOM, for at most the tests' deadline;
    /// then the value of `read`.
    pub async fn wait_for(&mut self, condition: &str, read: &str) -> Value {
        self.wait_for_within(condition, read, DEADLINE).await
    }

    /// [`Page::wait_for`], for at most `within`.
    pub async fn wait_for_within(
        &mut self,
        condition: &str,
        read: &str,
        within: Duration,
    ) -> Value {
        let script = format!(
            "new Promise(resolve => {{
               const check = () => {{ if ({condition}) {{ observer.disconnect(); resolve(true); }} }};
               const observer = new MutationObserver(check);
               observer.observe(document.documentElement, {{attributes: true, childList: true, subtree: true, characterData: true}});
               check();
             }})"
        );
        // The reply is awaited past `within`, so the timeout below is the
        // one that fires (a DevTools reply left unread is skipped by id).
        let met = tokio::time::timeout(within, self.eval_within(&script, within + DEADLINE)).await;
        if met.is_err() {
            let now = self.eval(read).await;
            panic!("the page never met `{condition}` within {within:?}; it shows {now}");
        }
        self.eval(read).await
    }

    /// A PNG of the whole page as it is now.
    pub async fn screenshot(&mut self) -> Vec<u8> {
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("a screenshot's data"))
            .expect("base64 PNG")
    }
}

/// A GET over HTTP/1.1 (one request, then the connection closes): the
/// body, read to its `Content-Length`.
async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut reply = Vec::new();
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&reply).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse::<usize>().ok());
                if length.is_some_and(|n| body.len() >= n) {
                    return body.to_owned();
                }
            }
            let mut chunk = [0; 16 * 1024];
            let n = tcp.read(&mut chunk).await.expect("read");
            assert!(n > 0, "DevTools closed before its reply: {text}");
            reply.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("an answer in time")
}
