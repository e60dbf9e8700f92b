//! [`TargetPolicy`]: which addresses a load test may connect to
//! (`--allow-target`, `--deny-target`, and the built-in deny of link-local
//! and cloud metadata addresses), checked on every connection the engine
//! opens, on the address it is about to connect to.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

/// The addresses a served agent refuses unless an `--allow-target` entry
/// naming an address or block holds them, and why each is there.
pub const BUILT_IN_DENY: &[(&str, &str)] = &[
    (
        "169.254.0.0/16",
        "IPv4 link-local: the metadata services of AWS, GCP, Azure, Oracle, DigitalOcean (169.254.169.254) and AWS ECS (169.254.170.2)",
    ),
    ("fe80::/10", "IPv6 link-local"),
    ("fd00:ec2::254/128", "AWS's IPv6 metadata service"),
    ("fd20:ce::254/128", "GCP's IPv6 metadata service"),
    ("100.100.100.200/32", "Alibaba Cloud's metadata service"),
    (
        "0.0.0.0/8",
        "\"this network\": connecting to 0.0.0.0 reaches the agent's own host, past any rule on its loopback addresses",
    ),
    ("::/128", "the IPv6 unspecified address, likewise"),
];

/// What an entry matches, besides its port.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Subject {
    /// Any host (an entry that is a port alone, `:8080`).
    Any,
    /// Addresses in a block (a single address is a /32 or /128).
    Net(IpNet),
    /// This host name exactly (lower case, no trailing dot).
    Name(String),
    /// Names below this domain (`*.example.com`: `a.example.com`,
    /// `a.b.example.com`, not `example.com`), kept as `.example.com`.
    Below(String),
}

/// One `--allow-target`/`--deny-target` entry: a CIDR block (`10.0.0.0/8`),
/// an address (`127.0.0.1`, `::1`), a host name (`api.example.com`) or the
/// names below a domain (`*.example.com`), each with an optional port
/// (`10.0.0.0/8:443`, `[::1]:8080`, `example.com:443`), or a port alone
/// (`:8080`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    subject: Subject,
    port: Option<u16>,
    /// As given, for messages.
    text: String,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An address or a block: `IpNet` or a bare `IpAddr` (a host block).
fn net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|net| match net {
            // A v4-mapped block is its IPv4 block.
            IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) if v6.prefix_len() >= 96 => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                    .map_or(net, |v4net| IpNet::V4(v4net).trunc()),
                _ => net.trunc(),
            },
            IpNet::V4(_) => net.trunc(),
        })
}

/// A host name's canonical form: lower case, no trailing dot.
fn canonical_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn subject(text: &str) -> Option<Subject> {
    if let Some(net) = net(text) {
        return Some(Subject::Net(net));
    }
    let name = canonical_name(text);
    match name.strip_prefix("*.") {
        Some(domain) if valid_name(domain) => Some(Subject::Below(format!(".{domain}"))),
        Some(_) => None,
        None if valid_name(&name) => Some(Subject::Name(name)),
        None => None,
    }
}

fn port(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

impl FromStr for Entry {
    type Err = String;

    fn from_str(text: &str) -> Result<Entry, String> {
        let bad = || {
            format!(
                "{text:?} is not a target: give a CIDR block (10.0.0.0/8), an address (127.0.0.1, ::1), \
                 a host name (api.example.com, *.example.com), each with an optional :PORT \
                 ([::1]:8080 for IPv6), or :PORT alone"
            )
        };
        let (subject, port) = if let Some(p) = text.strip_prefix(':').filter(|p| !p.contains(':')) {
            (Subject::Any, Some(port(p).ok_or_else(bad)?))
        } else if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
            let net = net(inside)
                .filter(|n| matches!(n, IpNet::V6(_)))
                .ok_or_else(bad)?;
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':').and_then(port).ok_or_else(bad)?),
            };
            (Subject::Net(net), port)
        } else if let Some(subject) = subject(text) {
            (subject, None)
        } else {
            let (host, p) = text.rsplit_once(':').ok_or_else(bad)?;
            // An IPv6 address with a port must be bracketed.
            if host.contains(':') {
                return Err(bad());
            }
            (
                subject(host).ok_or_else(bad)?,
                Some(port(p).ok_or_else(bad)?),
            )
        };
        Ok(Entry {
            subject,
            port,
            text: text.to_owned(),
        })
    }
}

impl Entry {
    fn port_matches(&self, port: u16) -> bool {
        self.port.is_none_or(|p| p == port)
    }

    /// Whether this entry names `address` by its address (a block or an
    /// address holding it, the port matching).
    fn holds_address(&self, address: SocketAddr) -> bool {
        self.port_matches(address.port())
            && matches!(&self.subject, Subject::Net(net) if net.contains(&address.ip()))
    }

    /// Whether this entry matches a connection to `address` for `names`
    /// (by its address, a name, or its port alone).
    fn matches(&self, names: &[&str], address: SocketAddr) -> bool {
        if !self.port_matches(address.port()) {
            return false;
        }
        match &self.subject {
            Subject::Any => true,
            Subject::Net(net) => net.contains(&address.ip()),
            Subject::Name(name) => names.iter().any(|n| canonical_name(n) == *name),
            Subject::Below(domain) => names.iter().any(|n| canonical_name(n).ends_with(domain)),
        }
    }
}

/// Why a connection is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A `--deny-target` entry matches it.
    Denied(String),
    /// The address is one of [`BUILT_IN_DENY`] and no `--allow-target`
    /// names it.
    BuiltIn,
    /// `--allow-target` entries are given and none matches it.
    NotAllowed,
}

/// A connection the policy refuses: where to, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("target {target} is denied by the agent's policy ({})", self.why())]
pub struct Refused {
    /// `host:port`, with the address connected to when the host is a name
    /// (`example.com:80 (203.0.113.7)`).
    pub target: String,
    /// Why.
    pub reason: Reason,
}

impl Refused {
    fn why(&self) -> String {
        match &self.reason {
            Reason::Denied(entry) => format!("--deny-target {entry}"),
            Reason::BuiltIn => "link-local and cloud metadata addresses are denied unless --allow-target names them".into(),
            Reason::NotAllowed => "it is not in --allow-target".into(),
        }
    }
}

/// Which addresses load tests may connect to.
///
/// A connection to `address` (the address about to be connected to: after
/// `--connect-to` and DNS) for the host `names` (the URL's host, and the
/// `--connect-to` destination's) is judged in this order:
///
/// 1. a `--deny-target` entry matching it (its address, a name, its port)
///    refuses it: an explicit deny wins over any allow;
/// 2. an address of [`BUILT_IN_DENY`] (when on) is refused unless an
///    `--allow-target` entry naming an address or block holds it (a host
///    name allowed does not lift it: its DNS may point anywhere);
/// 3. with `--allow-target` entries given, one of them must match it;
/// 4. anything else is allowed (loopback and private addresses included).
///
/// IPv4-mapped IPv6 addresses (`::ffff:169.254.169.254`) are judged as
/// the IPv4 address they carry; NAT64 (`64:ff9b::a9fe:a9fe`) and
/// IPv4-compatible (`::169.254.169.254`) ones both as themselves and as
/// the IPv4 address a translator reaches with them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    allow: Vec<Entry>,
    deny: Vec<Entry>,
    built_in: Vec<IpNet>,
}

impl TargetPolicy {
    /// No rule: every address allowed (`ld-tower run` by default).
    pub fn open() -> TargetPolicy {
        TargetPolicy::default()
    }

    /// The built-in deny of [`BUILT_IN_DENY`], then `allow` and `deny`
    /// (a served agent's).
    pub fn served(allow: Vec<Entry>, deny: Vec<Entry>) -> TargetPolicy {
        TargetPolicy {
            allow,
            deny,
            built_in: BUILT_IN_DENY
                .iter()
                .filter_map(|(block, _)| block.parse().ok())
                .collect(),
        }
    }

    /// `allow` and `deny` without the built-in deny (`ld-tower run` given
    /// these flags: the local owner asked for these rules only).
    pub fn only(allow: Vec<Entry>, deny: Vec<Entry>) -> TargetPolicy {
        TargetPolicy {
            allow,
            deny,
            built_in: Vec::new(),
        }
    }

    /// Whether every address is allowed (no check needed).
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty() && self.built_in.is_empty()
    }

    /// Whether a connection to `address` for the host `names` may be
    /// opened (see the type's documentation for the order).
    pub fn check(&self, names: &[&str], address: SocketAddr) -> Result<(), Refused> {
        let address = SocketAddr::new(address.ip().to_canonical(), address.port());
        let refuse = |reason| {
            let target = match names.first() {
                Some(name)
                    if name.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
                        != Some(address.ip()) =>
                {
                    format!("{}:{} ({})", bracketed(name), address.port(), address.ip())
                }
                _ => address.to_string(),
            };
            Err(Refused { target, reason })
        };
        // The address, and the IPv4 address it reaches through a
        // translator if it embeds one: a rule on either holds.
        let forms: Vec<SocketAddr> = std::iter::once(address)
            .chain(embedded_v4(address.ip()).map(|v4| SocketAddr::new(v4, address.port())))
            .collect();
        let matched = |entry: &Entry| forms.iter().any(|form| entry.matches(names, *form));
        if let Some(entry) = self.deny.iter().find(|e| matched(e)) {
            return refuse(Reason::Denied(entry.text.clone()));
        }
        if forms
            .iter()
            .any(|form| self.built_in.iter().any(|net| net.contains(&form.ip())))
            && !self
                .allow
                .iter()
                .any(|e| forms.iter().any(|form| e.holds_address(*form)))
        {
            return refuse(Reason::BuiltIn);
        }
        if !self.allow.is_empty() && !self.allow.iter().any(&matched) {
            return refuse(Reason::NotAllowed);
        }
        Ok(())
    }
}

/// The IPv4 address an IPv6 address reaches through translation, if it
/// embeds one in its last 32 bits: the NAT64 well-known prefix
/// `64:ff9b::/96` (RFC 6052: a NAT64 gateway connects to that IPv4
/// address) and the deprecated IPv4-compatible `::a.b.c.d` (not `::` or
/// `::1`). (IPv4-mapped addresses are made IPv4 before this.)
fn embedded_v4(ip: IpAddr) -> Option<IpAddr> {
    let IpAddr::V6(v6) = ip else {
        return None;
    };
    let segments = v6.segments();
    let o = v6.octets();
    let v4 = IpAddr::from([o[12], o[13], o[14], o[15]]);
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let compatible = segments[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback();
    (nat64 || compatible).then_some(v4)
}

/// `host` for `host:port`: an IPv6 address in brackets.
fn bracketed(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}
