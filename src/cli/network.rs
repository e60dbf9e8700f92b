//! The flags of `serve` and `run*` that say how load tests reach their
//! targets: extra CA files, and connection overrides.

use std::path::PathBuf;

use clap::Args;

use ld_tower::engine::{ConnectTo, Network};

/// How load tests reach their targets.
#[derive(Debug, Args)]
pub(crate) struct NetworkArgs {
    /// Also trust the CA certificates of this PEM file for https targets (the Mozilla roots are
    /// always trusted), e.g. a private or test CA. Repeatable.
    #[arg(long = "ca-file", value_name = "PEM")]
    pub(crate) ca_files: Vec<PathBuf>,

    /// Send the connections for HOST1:PORT1 to HOST2:PORT2, keeping the requests' URL, Host
    /// header and TLS name (curl's --connect-to): an action file written for one host runs
    /// unchanged against another. Empty HOST1 or PORT1 match any; empty HOST2 or PORT2 keep the
    /// request's; IPv6 in brackets. Repeatable; the first match wins.
    #[arg(long = "connect-to", value_name = "HOST1:PORT1:HOST2:PORT2", value_parser = parse_connect_to)]
    pub(crate) connect_to: Vec<ConnectTo>,
}

fn parse_connect_to(text: &str) -> Result<ConnectTo, String> {
    text.parse()
}

impl NetworkArgs {
    /// The network these flags describe; an unreadable CA file is an error.
    pub(crate) fn network(&self) -> Result<Network, String> {
        Network::new(&self.ca_files, self.connect_to.clone()).map_err(|e| e.to_string())
    }
}
