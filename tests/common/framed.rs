//! A framed `ld_tower::client` to a served process, and one action on a
//! connection of its own: how the fleet's tests drive agents and
//! coordinators.

use ld_tower::client::{Client, ClientConfig};
use ld_tower::codec::Framing;
use serde_json::{json, Value};

use super::DEADLINE;

/// A framed client of the server at `addr`, with `token` if given; a reply
/// may take up to the tests' deadline.
pub fn framed_client(addr: &str, token: Option<&str>) -> Client {
    let config = ClientConfig {
        framing: Framing::Framed,
        token: token.map(str::to_owned),
        timeout: DEADLINE,
        ..ClientConfig::default()
    };
    Client::new(addr, config)
}

/// One action on a connection of its own; its result line.
pub async fn one(client: &Client, name: &str, args: Value) -> String {
    let request = json!([[name, args]]).to_string();
    let mut lines = client.send(&request).await.expect("a reply").lines;
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.remove(0)
}
