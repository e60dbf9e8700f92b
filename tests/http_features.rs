//! The engine's HTTP client features the task keys build on, against real
//! targets on loopback that record what they were sent: redirects
//! (`allow_redirects`), per-task TLS (`verify`, `cert`/`client_cert`, mutual
//! TLS with RSA and ECDSA client certificates) and `multipart/form-data`
//! bodies (`files`). Each assertion is on what the target really received.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ld_tower::acceptor::{Acceptor, PlainAcceptor, TlsAcceptor};
use ld_tower::engine::multipart::{self, FilePart};
use ld_tower::engine::{
    ClientCert, HttpClient, HttpError, Network, Redirects, Response, Retain, SendOptions,
    TlsOptions, Verify, MAX_REDIRECTS,
};
use ld_tower::paths::Paths;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::PrivateKeyDer;

use common::mtls::{Ca, ClientFiles, MutualTls};
use common::DEADLINE;

// ---------------------------------------------------------------- a recording target

/// A request as the target received it.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    /// Path and query.
    target: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

type Reply = http::Response<Full<Bytes>>;

/// A hyper target on 127.0.0.1:0 answering each request with `route`'s
/// reply, recording the requests and connections it saw.
struct Site {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Site {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn targets(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.target).collect()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn site(route: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Site {
    site_with(PlainAcceptor, route).await
}

async fn site_with<A: Acceptor>(
    acceptor: A,
    route: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> Site {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let route = Arc::new(route);
    let acceptor = Arc::new(acceptor);
    let task = {
        let (seen, connections) = (Arc::clone(&seen), Arc::clone(&connections));
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let (seen, route, acceptor) =
                    (Arc::clone(&seen), Arc::clone(&route), Arc::clone(&acceptor));
                tokio::spawn(async move {
                    let Ok(io) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (seen, route) = (Arc::clone(&seen), Arc::clone(&route));
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes());
                            let request = Seen {
                                method: parts.method,
                                target: parts
                                    .uri
                                    .path_and_query()
                                    .map_or("/".to_owned(), |pq| pq.to_string()),
                                headers: parts.headers,
                                body: body.unwrap_or_default(),
                            };
                            let reply = route(&request);
                            seen.lock().unwrap().push(request);
                            Ok::<_, std::convert::Infallible>(reply)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                });
            }
        })
    };
    Site {
        addr,
        seen,
        connections,
        task,
    }
}

fn reply(status: u16, body: &str) -> Reply {
    http::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// A redirect to `location`, with a body the client must read past.
fn redirect(status: u16, location: &str) -> Reply {
    http::Response::builder()
        .status(status)
        .header("location", location)
        .body(Full::new(Bytes::from_static(b"moved, see the Location")))
        .unwrap()
}

// ---------------------------------------------------------------- sending

const ALL: Retain = Retain {
    body: true,
    headers: true,
};

fn following() -> SendOptions {
    SendOptions::from(ALL)
}

async fn send(
    client: &mut HttpClient,
    request: Request<Bytes>,
    options: &SendOptions,
) -> Result<Response, HttpError> {
    tokio::time::timeout(DEADLINE, client.send(request, options))
        .await
        .expect("the client answered within the deadline")
}

fn client() -> HttpClient {
    HttpClient::new(Arc::new(Network::default()))
}

fn get(url: &str) -> Request<Bytes> {
    Request::get(url).body(Bytes::new()).unwrap()
}

fn text(response: &Response) -> &str {
    std::str::from_utf8(response.body.as_deref().expect("a kept body")).unwrap()
}

// ---------------------------------------------------------------- redirects

#[tokio::test]
async fn a_chain_of_redirects_is_followed_to_the_last_response() {
    let target = site(|seen| {
        let host = seen.header("host").unwrap().to_owned();
        match seen.target.as_str() {
            // Relative to the current URL's folder.
            "/dir/start" => redirect(302, "next?n=1"),
            // Absolute.
            "/dir/next?n=1" => redirect(301, &format!("http://{host}/scheme-relative")),
            // Scheme-relative.
            "/scheme-relative" => redirect(307, &format!("//{host}/end")),
            "/end" => http::Response::builder()
                .header("x-last", "yes")
                .body(Full::new(Bytes::from_static(b"the end")))
                .unwrap(),
            _ => reply(404, "?"),
        }
    })
    .await;
    let mut client = client();
    let response = send(&mut client, get(&target.url("/dir/start")), &following())
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(text(&response), "the end");
    assert_eq!(response.headers["x-last"], "yes");
    assert_eq!(
        target.targets(),
        ["/dir/start", "/dir/next?n=1", "/scheme-relative", "/end"]
    );
    // Every redirect's body was read past: one connection carried them all.
    assert_eq!(target.connections(), 1);
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get_and_307_keeps_it() {
    let target = site(|seen| match seen.target.as_str() {
        "/see-other" => redirect(303, "/result"),
        "/found" => redirect(302, "/result"),
        "/temporary" => redirect(307, "/result"),
        "/permanent" => redirect(308, "/result"),
        _ => reply(200, "result"),
    })
    .await;
    let mut client = client();
    for path in ["/see-other", "/found", "/temporary", "/permanent"] {
        let request = Request::post(target.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(b"a=1&b=2"))
            .unwrap();
        let response = send(&mut client, request, &following()).await.unwrap();
        assert_eq!(text(&response), "result", "{path}");
    }
    let seen = target.seen();
    assert_eq!(seen.len(), 8);
    for (i, path) in ["/see-other", "/found", "/temporary", "/permanent"]
        .iter()
        .enumerate()
    {
        let (first, then) = (&seen[2 * i], &seen[2 * i + 1]);
        assert_eq!(first.target, *path);
        assert_eq!(first.method, Method::POST);
        assert_eq!(first.body, "a=1&b=2");
        assert_eq!(then.target, "/result");
        if i < 2 {
            assert_eq!(then.method, Method::GET, "{path}");
            assert!(then.body.is_empty(), "{path}");
            assert_eq!(then.header("content-type"), None, "{path}");
            assert_eq!(then.header("content-length"), None, "{path}");
        } else {
            assert_eq!(then.method, Method::POST, "{path}");
            assert_eq!(then.body, "a=1&b=2", "{path}");
            assert_eq!(
                then.header("content-type"),
                Some("application/x-www-form-urlencoded"),
                "{path}"
            );
        }
    }

    // A HEAD stays a HEAD.
    let request = Request::head(target.url("/see-other"))
        .body(Bytes::new())
        .unwrap();
    let response = send(&mut client, request, &following()).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(target.seen()[9].method, Method::HEAD);
}

#[tokio::test]
async fn thirty_redirects_are_followed_and_the_thirty_first_fails() {
    let target = site(|seen| {
        let left: u32 = seen.target.trim_start_matches("/left/").parse().unwrap();
        if left == 0 {
            reply(200, "arrived")
        } else {
            redirect(302, &format!("/left/{}", left - 1))
        }
    })
    .await;
    let mut client = client();
    let response = send(&mut client, get(&target.url("/left/30")), &following())
        .await
        .unwrap();
    assert_eq!(text(&response), "arrived");
    assert_eq!(target.seen().len(), 31);

    let error = send(&mut client, get(&target.url("/left/31")), &following())
        .await
        .unwrap_err();
    assert!(matches!(error, HttpError::TooManyRedirects(MAX_REDIRECTS)));
    assert_eq!(error.to_string(), "too many redirects (30)");
    // The request, then the 30 redirects followed; the 31st never was.
    assert_eq!(target.seen().len(), 31 + 31);
    assert_eq!(target.seen().last().unwrap().target, "/left/1");
    assert_eq!(target.connections(), 1);
}

#[tokio::test]
async fn not_following_answers_with_the_redirect_itself() {
    let target = site(|seen| match seen.target.as_str() {
        "/old" => redirect(301, "/new"),
        _ => reply(200, "new"),
    })
    .await;
    let mut client = client();
    let options = SendOptions {
        retain: ALL,
        redirects: Redirects::Stop,
        tls: None,
        http2: false,
    };
    let response = send(&mut client, get(&target.url("/old")), &options)
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(response.headers["location"], "/new");
    assert_eq!(text(&response), "moved, see the Location");
    assert_eq!(target.targets(), ["/old"]);
    // What a task does not keep, a redirect does not keep either.
    let response = send(
        &mut client,
        get(&target.url("/old")),
        &Retain::default().into(),
    )
    .await
    .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.body.is_none() && response.headers.is_empty());
    assert_eq!(target.targets(), ["/old", "/old", "/new"]);
}

#[tokio::test]
async fn a_redirect_to_another_scheme_fails_and_says_why() {
    let target = site(|_| redirect(302, "ftp://files.example/report.csv")).await;
    let error = send(&mut client(), get(&target.url("/")), &following())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot follow the redirect: Location \"ftp://files.example/report.csv\" is a ftp: URL \
         (only http and https are followed)"
    );
}

#[tokio::test]
async fn cookies_set_on_a_hop_are_sent_on_the_next_where_they_apply() {
    let other = site(|_| reply(200, "other")).await;
    let other_url = format!("http://localhost:{}/elsewhere", other.port());
    let target = site(move |seen| match seen.target.as_str() {
        "/login" => http::Response::builder()
            .status(302)
            .header("location", "/home")
            .header("set-cookie", "sid=s1; Path=/")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        "/home" => redirect(302, &other_url),
        _ => reply(404, "?"),
    })
    .await;
    let mut client = client();
    let request = Request::get(target.url("/login"))
        .header("cookie", "own=1")
        .body(Bytes::new())
        .unwrap();
    let response = send(&mut client, request, &following()).await.unwrap();
    assert_eq!(text(&response), "other");
    let seen = target.seen();
    assert_eq!(seen[0].header("cookie"), Some("own=1"));
    assert_eq!(seen[1].header("cookie"), Some("own=1; sid=s1"));
    // The jar's cookie is 127.0.0.1's: not sent to localhost; the task's own goes on.
    assert_eq!(other.seen()[0].header("cookie"), Some("own=1"));
    // And it stays in the jar for the user's next request.
    send(&mut client, get(&target.url("/home")), &following())
        .await
        .unwrap();
    assert_eq!(target.seen()[2].header("cookie"), Some("sid=s1"));
}

#[tokio::test]
async fn connect_to_applies_to_the_host_a_redirect_names() {
    let there = site(|_| reply(200, "there")).await;
    let location = format!("http://example.invalid:{}/there", there.port());
    let here = site(move |_| redirect(302, &location)).await;
    let to = format!("example.invalid:{}:127.0.0.1:", there.port())
        .parse()
        .unwrap();
    let network = Network::new(&[], vec![to]).unwrap();
    let mut client = HttpClient::new(Arc::new(network));
    let response = send(&mut client, get(&here.url("/go")), &following())
        .await
        .unwrap();
    assert_eq!(text(&response), "there");
    let seen = there.seen();
    assert_eq!(seen[0].target, "/there");
    let host = format!("example.invalid:{}", there.port());
    assert_eq!(seen[0].header("host"), Some(host.as_str()));
}

#[tokio::test]
async fn authorization_stays_within_its_origin() {
    let other = site(|_| reply(200, "other")).await;
    let cross = format!("http://127.0.0.1:{}/landing", other.port());
    let target = site(move |seen| match seen.target.as_str() {
        "/same" => redirect(302, "/landing"),
        "/cross" => redirect(302, &cross),
        _ => reply(200, "landed"),
    })
    .await;
    let mut client = client();
    for path in ["/same", "/cross"] {
        let request = Request::get(target.url(path))
            .header("authorization", "Bearer secret")
            .body(Bytes::new())
            .unwrap();
        send(&mut client, request, &following()).await.unwrap();
    }
    // The URL's credentials: the same.
    for path in ["/same", "/cross"] {
        let url = format!("http://ada:pw@127.0.0.1:{}{path}", target.port());
        send(&mut client, get(&url), &following()).await.unwrap();
    }
    let seen = target.seen();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ada:pw")
    );
    let auth: Vec<(&str, Option<&str>)> = seen
        .iter()
        .map(|s| (s.target.as_str(), s.header("authorization")))
        .collect();
    assert_eq!(
        auth,
        [
            ("/same", Some("Bearer secret")),
            ("/landing", Some("Bearer secret")),
            ("/cross", Some("Bearer secret")),
            ("/same", Some(basic.as_str())),
            ("/landing", Some(basic.as_str())),
            ("/cross", Some(basic.as_str())),
        ]
    );
    // Neither the header nor the URL's credentials left the origin.
    let elsewhere: Vec<(String, Option<String>)> = other
        .seen()
        .iter()
        .map(|s| {
            (
                s.target.clone(),
                s.header("authorization").map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        elsewhere,
        [("/landing".to_owned(), None), ("/landing".to_owned(), None)]
    );
}

fn https(site: &Site, path: &str) -> String {
    format!("https://localhost:{}{path}", site.port())
}

/// A network trusting the test CA of `server`.
fn trusting(server: &common::TlsFiles) -> Arc<Network> {
    Arc::new(Network::new(std::slice::from_ref(&server.ca), Vec::new()).unwrap())
}

fn with_tls(tls: Arc<rustls::ClientConfig>) -> SendOptions {
    SendOptions {
        tls: Some(tls),
        ..following()
    }
}

// ---------------------------------------------------------------- verify

#[tokio::test]
async fn verify_off_accepts_a_self_signed_target_the_default_refuses() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivateKeyDer::try_from(certified.key_pair.serialize_der()).unwrap();
    let acceptor = TlsAcceptor::from_der(vec![certified.cert.der().clone()], key).unwrap();
    let target = site_with(acceptor, |_| reply(200, "self-signed")).await;
    let network = Arc::new(Network::default());
    let mut client = HttpClient::new(Arc::clone(&network));

    let error = send(&mut client, get(&https(&target, "/")), &following())
        .await
        .unwrap_err();
    assert!(matches!(error, HttpError::Tls(..)), "{error}");

    let options = TlsOptions {
        verify: Verify::Off,
        client_cert: None,
    };
    let tls = network.tls_for(&options, &Paths::default()).unwrap();
    let response = send(&mut client, get(&https(&target, "/")), &with_tls(tls))
        .await
        .unwrap();
    assert_eq!(text(&response), "self-signed");

    // The default options are the network's own configuration.
    let default = network
        .tls_for(&TlsOptions::default(), &Paths::default())
        .unwrap();
    assert!(Arc::ptr_eq(&default, &network.tls));
}

#[tokio::test]
async fn a_ca_bundle_path_is_what_is_trusted() {
    let server = common::tls_files();
    let target = site_with(server.acceptor(), |_| reply(200, "bundled")).await;
    let network = Arc::new(Network::default());
    let paths = Paths::confined(server.dir.path());
    let bundle = |path: &str| TlsOptions {
        verify: Verify::CaBundle(PathBuf::from(path)),
        client_cert: None,
    };
    let tls = network.tls_for(&bundle("ca.pem"), &paths).unwrap();
    let mut client = HttpClient::new(Arc::clone(&network));
    let response = send(&mut client, get(&https(&target, "/")), &with_tls(tls))
        .await
        .unwrap();
    assert_eq!(text(&response), "bundled");

    // Another CA's bundle: that one alone is trusted, so the target is not.
    let other = Ca::new("another CA");
    std::fs::write(server.dir.path().join("other.pem"), other.cert.pem()).unwrap();
    let tls = network.tls_for(&bundle("other.pem"), &paths).unwrap();
    let error = send(&mut client, get(&https(&target, "/")), &with_tls(tls))
        .await
        .unwrap_err();
    assert!(matches!(error, HttpError::Tls(..)), "{error}");

    // Files a served agent may not read, or that hold no certificate.
    let outside = server.ca.to_str().unwrap();
    let error = network
        .tls_for(&bundle(outside), &paths)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("CA bundle: ") && error.contains("is an absolute path"),
        "{error}"
    );
    std::fs::write(server.dir.path().join("empty.pem"), "nothing here\n").unwrap();
    let error = network
        .tls_for(&bundle("empty.pem"), &paths)
        .unwrap_err()
        .to_string();
    assert_eq!(error, "CA bundle \"empty.pem\": no CERTIFICATE block found");
    // `ld-tower run`'s rule reads any path.
    assert!(network.tls_for(&bundle(outside), &Paths::default()).is_ok());
}

// ---------------------------------------------------------------- client certificates

#[tokio::test]
async fn client_certificates_rsa_and_ecdsa_combined_or_in_pairs() {
    let server = common::tls_files();
    let files = ClientFiles::new();
    let acceptor = MutualTls::new(&server, &files.ca);
    let clients = Arc::clone(&acceptor.clients);
    let target = site_with(acceptor, |_| reply(200, "mutual")).await;
    let network = trusting(&server);
    let paths = files.paths();
    let with_cert = |cert: ClientCert| {
        let options = TlsOptions {
            verify: Verify::Network,
            client_cert: Some(cert),
        };
        with_tls(network.tls_for(&options, &paths).unwrap())
    };
    let combined = with_cert(ClientCert::Combined(files.ec_combined.clone()));
    let ec_pair = with_cert(ClientCert::Pair {
        cert: files.ec_cert.clone(),
        key: files.ec_sec1_key.clone(),
    });
    let rsa_pair = with_cert(ClientCert::Pair {
        cert: files.rsa_cert.clone(),
        key: files.rsa_pkcs1_key.clone(),
    });
    let mut client = HttpClient::new(Arc::clone(&network));
    for options in [&combined, &ec_pair, &rsa_pair, &combined] {
        let response = send(&mut client, get(&https(&target, "/")), options)
            .await
            .unwrap();
        assert_eq!(text(&response), "mutual");
    }
    // One connection per configuration: the last request reused the first's.
    assert_eq!(target.connections(), 3);
    assert_eq!(
        *clients.lock().unwrap(),
        [
            files.ec_der.clone(),
            files.ec_der.clone(),
            files.rsa_der.clone()
        ]
    );

    // Without a certificate the server lets no request through.
    let error = send(&mut client, get(&https(&target, "/")), &following()).await;
    assert!(error.is_err(), "{error:?}");
    assert_eq!(target.seen().len(), 4);
}

#[tokio::test]
async fn unusable_client_certificate_files_say_what_is_wrong() {
    let files = ClientFiles::new();
    let network = Network::default();
    let paths = files.paths();
    let error = |cert: ClientCert| {
        let options = TlsOptions {
            verify: Verify::Off,
            client_cert: Some(cert),
        };
        network.tls_for(&options, &paths).unwrap_err().to_string()
    };
    let pair = |cert: &Path, key: &Path| ClientCert::Pair {
        cert: cert.to_owned(),
        key: key.to_owned(),
    };
    assert_eq!(
        error(pair(&files.rsa_cert, &files.ec_sec1_key)),
        "client key \"ec.key\": does not match the certificate of \"rsa.crt\""
    );
    let mismatched = files.write(
        "mismatched.pem",
        format!(
            "{}{}",
            std::fs::read_to_string(files.dir.path().join(&files.rsa_cert)).unwrap(),
            std::fs::read_to_string(files.dir.path().join(&files.ec_sec1_key)).unwrap()
        ),
    );
    assert_eq!(
        error(ClientCert::Combined(mismatched)),
        "client certificate \"mismatched.pem\": its private key does not match its certificate"
    );
    assert_eq!(
        error(ClientCert::Combined(files.ec_cert.clone())),
        "client certificate \"ec.crt\": no private key (PRIVATE KEY, RSA PRIVATE KEY or \
         EC PRIVATE KEY block) found"
    );
    assert_eq!(
        error(pair(&files.ec_sec1_key, &files.ec_sec1_key)),
        "client certificate \"ec.key\": no certificate (CERTIFICATE block) found"
    );
    let missing = error(pair(Path::new("missing.crt"), &files.ec_sec1_key));
    assert!(
        missing.starts_with("client certificate: cannot open \"")
            && missing.contains("missing.crt\": "),
        "{missing}"
    );
    let large = files.write("large.pem", vec![b'a'; 1024 * 1024 + 1]);
    assert_eq!(
        error(pair(&files.ec_cert, &large)),
        "client key \"large.pem\": larger than 1 MiB, too large for a PEM file"
    );
    let escaping = error(ClientCert::Combined(PathBuf::from("../outside.pem")));
    assert!(
        escaping.starts_with("client certificate: ") && escaping.contains("leads out of"),
        "{escaping}"
    );
}

// ---------------------------------------------------------------- multipart

/// The parts of a `multipart/form-data` body: (headers, content) each.
fn parts(content_type: &str, body: &[u8]) -> Vec<(Vec<String>, Vec<u8>)> {
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("a multipart content type");
    let delimiter = format!("--{boundary}");
    let end = format!("{delimiter}--\r\n");
    assert!(body.ends_with(end.as_bytes()), "closed by {end:?}");
    let body = &body[..body.len() - end.len()];
    let separator = format!("\r\n{delimiter}\r\n");
    let first = format!("{delimiter}\r\n");
    let mut rest = body.strip_prefix(first.as_bytes()).expect("opens a part");
    let mut parts = Vec::new();
    loop {
        let head_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a part head");
        let headers = std::str::from_utf8(&rest[..head_end])
            .unwrap()
            .split("\r\n")
            .map(str::to_owned)
            .collect();
        let content = &rest[head_end + 4..];
        match content
            .windows(separator.len())
            .position(|w| w == separator.as_bytes())
        {
            Some(at) => {
                parts.push((headers, content[..at].to_vec()));
                rest = &content[at + separator.len()..];
            }
            None => {
                let content = content.strip_suffix(b"\r\n").expect("a part's CRLF");
                parts.push((headers, content.to_vec()));
                return parts;
            }
        }
    }
}

#[tokio::test]
async fn multipart_bodies_arrive_as_encoded() {
    let target = site(|_| reply(200, "uploaded")).await;
    let binary: Vec<u8> = (0..=255u8).chain(b"\r\n--\r\n".iter().copied()).collect();
    let fields = [
        ("user".to_owned(), "ada".to_owned()),
        ("note".to_owned(), "two\r\nlines".to_owned()),
    ];
    let files = [
        FilePart::new("plain", Bytes::from_static(b"just content")),
        FilePart {
            field: "report".into(),
            filename: "q\"1\".csv".into(),
            content: Bytes::from_static(b"a,b\n1,2\n"),
            content_type: Some("text/csv".into()),
        },
        FilePart {
            field: "blob".into(),
            filename: "blob.bin".into(),
            content: Bytes::from(binary.clone()),
            content_type: Some("application/octet-stream".into()),
        },
    ];
    let (content_type, body) = multipart::encode(&fields, &files);
    let request = Request::post(target.url("/upload"))
        .header("content-type", content_type.clone())
        .body(body.clone())
        .unwrap();
    send(&mut client(), request, &following()).await.unwrap();
    let seen = &target.seen()[0];
    assert_eq!(
        seen.header("content-type"),
        Some(content_type.to_str().unwrap())
    );
    assert_eq!(seen.body, body, "the bytes encoded are the bytes received");
    let got = parts(seen.header("content-type").unwrap(), &seen.body);
    let want: Vec<(Vec<String>, Vec<u8>)> = vec![
        (
            vec!["Content-Disposition: form-data; name=\"user\"".into()],
            b"ada".to_vec(),
        ),
        (
            vec!["Content-Disposition: form-data; name=\"note\"".into()],
            b"two\r\nlines".to_vec(),
        ),
        (
            vec!["Content-Disposition: form-data; name=\"plain\"; filename=\"plain\"".into()],
            b"just content".to_vec(),
        ),
        (
            vec![
                "Content-Disposition: form-data; name=\"report\"; filename=\"q%221%22.csv\"".into(),
                "Content-Type: text/csv".into(),
            ],
            b"a,b\n1,2\n".to_vec(),
        ),
        (
            vec![
                "Content-Disposition: form-data; name=\"blob\"; filename=\"blob.bin\"".into(),
                "Content-Type: application/octet-stream".into(),
            ],
            binary,
        ),
    ];
    assert_eq!(got, want);
}
