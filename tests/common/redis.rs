//! A small Redis server for the `redis_user` tests, on 127.0.0.1 port 0:
//! RESP2 requests (arrays of bulk strings), an in-memory store for GET,
//! SET, INCR, LPUSH, RPOP, DEL and EXISTS, `+OK` to SELECT, AUTH and
//! CLIENT, an error to anything else; it counts commands by name and
//! connections, and can close each connection after K data commands.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Data commands by name (GET, SET, ...), and the others (SELECT, ...).
    pub commands: BTreeMap<String, u64>,
    /// Connections accepted.
    pub connections: u64,
    /// The databases SELECTed.
    pub selected: Vec<String>,
}

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it saw.
    pub seen: Arc<Mutex<Seen>>,
}

impl Server {
    /// How many `name` commands it served.
    pub fn count(&self, name: &str) -> u64 {
        self.seen
            .lock()
            .unwrap()
            .commands
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// Connections it accepted.
    pub fn connections(&self) -> u64 {
        self.seen.lock().unwrap().connections
    }
}

#[derive(Default)]
struct Store {
    strings: HashMap<String, Vec<u8>>,
    lists: HashMap<String, VecDeque<Vec<u8>>>,
}

/// Starts a server; `close_after`: each connection is closed after that
/// many data commands.
pub async fn start(close_after: Option<u64>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let store = Arc::new(Mutex::new(Store::default()));
    let counts = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            counts.lock().unwrap().connections += 1;
            tokio::spawn(serve(
                tcp,
                Arc::clone(&counts),
                Arc::clone(&store),
                close_after,
            ));
        }
    });
    Server { addr, seen }
}

async fn serve(
    tcp: TcpStream,
    seen: Arc<Mutex<Seen>>,
    store: Arc<Mutex<Store>>,
    close_after: Option<u64>,
) {
    let (read, mut write) = tcp.into_split();
    let mut read = BufReader::new(read);
    let mut data_commands = 0;
    while let Some(args) = request(&mut read).await {
        let Some(name) = args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_uppercase())
        else {
            return;
        };
        let arg = |i: usize| {
            args.get(i)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .unwrap_or_default()
        };
        let reply = {
            let mut store = store.lock().unwrap();
            let mut seen = seen.lock().unwrap();
            *seen.commands.entry(name.clone()).or_default() += 1;
            match name.as_str() {
                "SELECT" => {
                    seen.selected.push(arg(1));
                    b"+OK\r\n".to_vec()
                }
                "AUTH" | "CLIENT" => b"+OK\r\n".to_vec(),
                "SET" => {
                    store
                        .strings
                        .insert(arg(1), args.get(2).cloned().unwrap_or_default());
                    b"+OK\r\n".to_vec()
                }
                // 17 MiB: past redis_user's limit on a reply.
                "GET" if arg(1) == "huge" => bulk(&vec![b'x'; 17 << 20]),
                "GET" => match store.strings.get(&arg(1)) {
                    Some(v) => bulk(v),
                    None => b"$-1\r\n".to_vec(),
                },
                "INCR" => {
                    let entry = store.strings.entry(arg(1)).or_insert_with(|| b"0".to_vec());
                    let n: i64 = String::from_utf8_lossy(entry).parse().unwrap_or(0) + 1;
                    *entry = n.to_string().into_bytes();
                    format!(":{n}\r\n").into_bytes()
                }
                "LPUSH" => {
                    let list = store.lists.entry(arg(1)).or_default();
                    list.push_front(args.get(2).cloned().unwrap_or_default());
                    format!(":{}\r\n", list.len()).into_bytes()
                }
                "RPOP" => match store.lists.get_mut(&arg(1)).and_then(VecDeque::pop_back) {
                    Some(v) => bulk(&v),
                    None => b"$-1\r\n".to_vec(),
                },
                "DEL" => {
                    let gone = store.strings.remove(&arg(1)).is_some() as u8
                        + store.lists.remove(&arg(1)).is_some() as u8;
                    format!(":{gone}\r\n").into_bytes()
                }
                "EXISTS" => {
                    let there =
                        store.strings.contains_key(&arg(1)) || store.lists.contains_key(&arg(1));
                    format!(":{}\r\n", there as u8).into_bytes()
                }
                other => format!("-ERR unknown command '{other}'\r\n").into_bytes(),
            }
        };
        if !matches!(name.as_str(), "SELECT" | "AUTH" | "CLIENT") {
            data_commands += 1;
        }
        if write.write_all(&reply).await.is_err() {
            return;
        }
        if close_after.is_some_and(|k| data_commands >= k) {
            return;
        }
    }
}

fn bulk(value: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", value.len()).into_bytes();
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    out
}

/// One request: an array of bulk strings; `None` at the end of the stream.
async fn request(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Vec<Vec<u8>>> {
    let mut line = String::new();
    read.read_line(&mut line).await.ok().filter(|n| *n > 0)?;
    let count: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        line.clear();
        read.read_line(&mut line).await.ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut arg = vec![0; len + 2];
        read.read_exact(&mut arg).await.ok()?;
        arg.truncate(len);
        args.push(arg);
    }
    Some(args)
}
