//! Runs each example as a real process and checks what a user would see.
//!
//! `cargo test` and `cargo nextest run` build the examples next to the test
//! binaries (`<target>/debug/examples/<name>`); this file finds them from its
//! own path. A run limited to this file (`cargo test --test examples`) does
//! not build them: run `cargo build --examples` first.
//!
//! Every child process is killed when its guard drops, so a failing test
//! leaves nothing running. Waits have a generous deadline so a hang fails
//! instead of blocking; the only timing assertion is a lower bound.

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

type TestResult = Result<(), Box<dyn Error>>;

/// How long any single wait may take before the test fails (a hang guard,
/// not a timing assertion).
const DEADLINE: Duration = Duration::from_secs(30);

/// The terminator frame's body.
const END: &[u8] = b"Return_Data_Over_JE\n";

/// `LD_summary` on fresh state.
const EMPTY_SUMMARY: &str = r#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}"#;

// ------------------------------------------------------------- processes

/// The path of example `name`, built by `cargo test` / `cargo nextest run`
/// into `<target>/<profile>/examples/`, next to this binary's `deps/`.
fn example(name: &str) -> Result<PathBuf, Box<dyn Error>> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("cannot find the target directory from {}", exe.display()))?;
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = match std::fs::metadata(&path) {
        Ok(meta) => meta.modified()?,
        Err(_) => {
            return Err(format!(
                "example binary {} is missing: run `cargo build --examples` \
                 (with the same CARGO_TARGET_DIR) before `cargo test --test examples`",
                path.display()
            )
            .into())
        }
    };
    // A binary older than its own source is stale: this file's run alone
    // would not rebuild it.
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    if std::fs::metadata(&source)?.modified()? > built {
        return Err(format!(
            "example binary {} is older than {}: run `cargo build --examples`",
            path.display(),
            source.display()
        )
        .into());
    }
    Ok(path)
}

/// A child process, killed and reaped when dropped. Its stdout lines arrive
/// on a channel (read by a thread); its stderr goes to a file shown when a
/// wait fails.
struct Running {
    name: String,
    child: Child,
    lines: Receiver<String>,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    fn spawn(mut command: Command, name: &str) -> Result<Running, Box<dyn Error>> {
        let dir = tempfile::tempdir()?;
        let stderr = dir.path().join("stderr");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr)?)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Running {
            name: name.to_owned(),
            child,
            lines,
            stderr,
            _dir: dir,
        })
    }

    /// The next stdout line, within the deadline.
    fn next_line(&self) -> Result<String, Box<dyn Error>> {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                Err(self.failure("no stdout line within the deadline"))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.failure("stdout closed")),
        }
    }

    /// Waits for the next stdout line, which must start with `prefix`, and
    /// returns the rest of it.
    fn expect_line(&self, prefix: &str) -> Result<String, Box<dyn Error>> {
        let line = self.next_line()?;
        match line.strip_prefix(prefix) {
            Some(rest) => Ok(rest.to_owned()),
            None => Err(self.failure(&format!(
                "expected a line starting {prefix:?}, got {line:?}"
            ))),
        }
    }

    /// Waits for the process to exit, within the deadline.
    fn wait_exit(&mut self) -> Result<ExitStatus, Box<dyn Error>> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if start.elapsed() > DEADLINE {
                return Err(self.failure("did not exit within the deadline"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn failure(&self, what: &str) -> Box<dyn Error> {
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!("{}: {what}; its stderr:\n{stderr}", self.name).into()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(port: u16) -> Result<TcpStream, Box<dyn Error>> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(DEADLINE))?;
    stream.set_write_timeout(Some(DEADLINE))?;
    Ok(stream)
}

// ------------------------------------------------------------- framing

fn frame(body: &[u8]) -> Result<Vec<u8>, Box<dyn Error>> {
    let mut out = u32::try_from(body.len())?.to_be_bytes().to_vec();
    out.extend_from_slice(body);
    Ok(out)
}

/// Reads one frame; `None` at a clean end of stream.
fn read_frame(stream: &mut TcpStream) -> Result<Option<Vec<u8>>, Box<dyn Error>> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = stream.read(&mut header[got..])?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err("the stream ended inside a frame header".into())
            };
        }
        got += n;
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > 1024 * 1024 {
        return Err(format!("a reply frame of {len} bytes").into());
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Reads reply frames up to and including the terminator (or the end of
/// the stream) and returns their raw bytes, headers included.
fn read_reply(stream: &mut TcpStream) -> Result<Vec<u8>, Box<dyn Error>> {
    let mut raw = Vec::new();
    for _ in 0..64 {
        let Some(body) = read_frame(stream)? else {
            return Ok(raw);
        };
        raw.extend_from_slice(&frame(&body)?);
        if body == END {
            return Ok(raw);
        }
    }
    Err("more than 64 frames without the terminator".into())
}

// ------------------------------------------------------------- rate_limited_server

#[test]
fn rate_limited_server_answers_in_order_holds_back_the_third_command_and_quits() -> TestResult {
    let mut command = Command::new(example("rate_limited_server")?);
    command.args(["0", "2"]); // port 0, 2 commands per second per connection
    let mut server = Running::spawn(command, "rate_limited_server")?;
    let port: u16 = server
        .expect_line("Server started on 127.0.0.1:")?
        .parse()?;

    let request = frame(br#"{"load_density": [["LD_summary", {}]]}"#)?;
    let mut expected = frame(format!("{EMPTY_SUMMARY}\n").as_bytes())?;
    expected.extend_from_slice(&frame(END)?);

    // Three commands on one connection, each answered before the next is
    // sent. The rate limit lets two through per second; the third waits
    // until a second after the first was let through, which was after
    // `start`.
    let mut stream = connect(port)?;
    let start = Instant::now();
    for n in 1..=3 {
        stream.write_all(&request)?;
        let reply = read_reply(&mut stream)?;
        assert_eq!(
            String::from_utf8_lossy(&reply),
            String::from_utf8_lossy(&expected),
            "reply {n}"
        );
        assert_eq!(reply, expected, "reply {n}, byte for byte");
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "the third command was answered {elapsed:?} after the first was sent: \
         a limit of 2 per second should have held it back about a second"
    );
    drop(stream);

    // A new connection has its own budget; the bare quit word stops the
    // server (no token configured).
    let mut stream = connect(port)?;
    stream.write_all(&frame(b"quit_server")?)?;
    let reply = read_reply(&mut stream)?;
    assert_eq!(reply, frame(b"Server shutting down\n")?);
    assert_eq!(
        read_frame(&mut stream)?,
        None,
        "the connection closes after the quit reply"
    );

    assert_eq!(server.next_line()?, "Server shutdown complete");
    let status = server.wait_exit()?;
    assert!(status.success(), "exit status {status}");
    Ok(())
}

// ------------------------------------------------------------- http_auth

/// A raw HTTP/1.1 GET with an optional `Authorization` value; the whole
/// response, read to the end.
fn http_get(port: u16, authorization: Option<&str>) -> Result<String, Box<dyn Error>> {
    let mut stream = connect(port)?;
    let mut request = String::from("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// The value of header `name` (case-insensitive) in a raw response.
fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn body(response: &str) -> Option<&str> {
    response.split_once("\r\n\r\n").map(|(_, body)| body)
}

#[test]
fn http_auth_answers_401_without_a_valid_bearer_token_and_200_with_one() -> TestResult {
    let token = "example-token-7f3a";
    let mut command = Command::new(example("http_auth")?);
    command.arg("0").env("EXAMPLE_TOKEN", token);
    let server = Running::spawn(command, "http_auth")?;
    let port: u16 = server.expect_line("Listening on 127.0.0.1:")?.parse()?;

    let wrong = format!("Bearer {token}x");
    let basic = format!("Basic {token}");
    for authorization in [
        None,
        Some(wrong.as_str()),
        Some(basic.as_str()),
        Some("Bearer"),
    ] {
        refused(port, authorization, "Bearer", token)?;
    }
    served_hello(port, token)
}

/// Sends a GET with `authorization`; it must get a 401 with `challenge` and
/// not echo `token`. The response.
fn refused(
    port: u16,
    authorization: Option<&str>,
    challenge: &str,
    token: &str,
) -> Result<String, Box<dyn Error>> {
    let response = http_get(port, authorization)?;
    assert!(
        response.starts_with("HTTP/1.1 401 "),
        "{authorization:?} got {response:?}"
    );
    assert_eq!(
        header(&response, "www-authenticate"),
        Some(challenge),
        "{response:?}"
    );
    assert!(
        !response.contains(token),
        "the token leaked into {response:?}"
    );
    Ok(response)
}

/// A GET with `Authorization: Bearer <token>` gets 200 and `hello`.
fn served_hello(port: u16, token: &str) -> TestResult {
    let response = http_get(port, Some(&format!("Bearer {token}")))?;
    assert!(response.starts_with("HTTP/1.1 200 "), "got {response:?}");
    assert_eq!(body(&response), Some("hello\n"), "{response:?}");
    assert_eq!(header(&response, "www-authenticate"), None, "{response:?}");
    Ok(())
}

// ------------------------------------------------------------- axum_auth

#[test]
fn axum_auth_answers_401_with_a_bearer_challenge_and_200_with_the_token() -> TestResult {
    let token = "axum-example-token-91c2";
    let mut command = Command::new(example("axum_auth")?);
    command.arg("0").env("EXAMPLE_TOKEN", token);
    let server = Running::spawn(command, "axum_auth")?;
    let port: u16 = server.expect_line("Listening on 127.0.0.1:")?.parse()?;

    let response = refused(port, None, r#"Bearer realm="axum_auth example""#, token)?;
    assert_eq!(body(&response), Some(""), "{response:?}");
    let wrong = format!("Bearer {token}x");
    for authorization in [wrong.as_str(), "Bearer", &format!("Basic {token}")] {
        let invalid = r#"Bearer realm="axum_auth example", error="invalid_token""#;
        let response = refused(port, Some(authorization), invalid, token)?;
        assert_eq!(body(&response), Some(""), "{response:?}");
    }
    served_hello(port, token)?;

    // Each refusal was logged before its response was sent, with the
    // client's address from axum's ConnectInfo, and without the token.
    let log = std::fs::read_to_string(&server.stderr)?;
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request refused"))
        .collect();
    assert_eq!(refusals.len(), 4, "stderr:\n{log}");
    for line in &refusals {
        assert!(line.contains("peer=127.0.0.1:"), "no peer in {line:?}");
    }
    assert!(refusals[0].contains("no token presented"), "{log}");
    assert!(refusals[1].contains("WARN"), "{log}");
    assert!(!log.contains(token), "the token leaked into stderr:\n{log}");
    Ok(())
}

// ------------------------------------------------------------- client

/// Runs the client example against `port` with `args`, to its exit.
fn run_client(port: u16, args: &[&str]) -> Result<(ExitStatus, String, String), Box<dyn Error>> {
    let mut command = Command::new(example("client")?);
    command
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN");
    let mut client = Running::spawn(command, "client")?;
    let status = client.wait_exit()?;
    let mut stdout = String::new();
    while let Ok(line) = client.lines.recv_timeout(DEADLINE) {
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let stderr = std::fs::read_to_string(&client.stderr)?;
    Ok((status, stdout, stderr))
}

#[test]
fn client_prints_the_result_lines_and_exits_1_on_a_refusal() -> TestResult {
    let token = "client-example-token";
    let mut command = Command::new(env!("CARGO_BIN_EXE_ld-tower"));
    command
        .args(["serve", "--framed", "--port", "0", "--token", token])
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN");
    let server = Running::spawn(command, "ld-tower serve")?;
    let port: u16 = server
        .expect_line("Server started on localhost:")?
        .parse()?;

    let (status, stdout, stderr) = run_client(port, &["--framed", "--token", token])?;
    assert_eq!(
        status.code(),
        Some(0),
        "stdout {stdout:?}, stderr {stderr:?}"
    );
    assert_eq!(
        stdout,
        format!("{EMPTY_SUMMARY}\n{{\"status\":\"cleared\"}}\n")
    );

    let (status, stdout, stderr) = run_client(port, &["--framed", "--token", "not-the-token"])?;
    assert_eq!(
        status.code(),
        Some(1),
        "stdout {stdout:?}, stderr {stderr:?}"
    );
    assert_eq!(stdout, "Error: unauthorised\n");
    Ok(())
}
