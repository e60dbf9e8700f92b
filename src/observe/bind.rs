//! [`BindRule`]: where an action sent by a client may open a listener. A
//! listener on a public address shows the agent's figures (request names,
//! failure reasons) to whoever reaches it, so a client's action binds
//! loopback only, unless the operator allowed more with
//! `--allow-observer-addr` (the operator's own `serve --metrics` and
//! `serve --dashboard` bind where they say).

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The `serve` flag that widens the rule.
pub const BIND_FLAG: &str = "--allow-observer-addr";

/// The addresses, besides loopback, an action may bind a listener on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindRule {
    allowed: Vec<IpNet>,
    any: bool,
}

impl BindRule {
    /// Loopback only (the default of `serve`).
    pub fn loopback() -> BindRule {
        BindRule::default()
    }

    /// Any address (`ld-tower run`: the user owns the machine).
    pub fn any() -> BindRule {
        BindRule {
            allowed: Vec::new(),
            any: true,
        }
    }

    /// Loopback and the addresses in `allowed` (`--allow-observer-addr`).
    pub fn allowing(allowed: Vec<IpNet>) -> BindRule {
        BindRule {
            allowed,
            any: false,
        }
    }

    /// Whether an action may bind `addr`; the error says why not and which
    /// flag allows it.
    pub fn check(&self, addr: SocketAddr) -> Result<SocketAddr, String> {
        let ip = addr.ip();
        let unspecified_allowed = |ip: IpAddr| {
            ip.is_unspecified() && self.allowed.iter().any(|net| net.prefix_len() == 0)
        };
        if self.any
            || ip.is_loopback()
            || self.allowed.iter().any(|net| net.contains(&ip))
            || unspecified_allowed(ip)
        {
            Ok(addr)
        } else {
            Err(format!(
                "{ip} is not a loopback address: this agent lets an action listen on loopback only (its operator may allow more with `ld-tower serve {BIND_FLAG} CIDR`)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn loopback_is_allowed_and_the_rest_needs_the_flag() {
        let rule = BindRule::loopback();
        assert!(rule.check(addr("127.0.0.1:9646")).is_ok());
        assert!(rule.check(addr("[::1]:9646")).is_ok());
        let refused = rule.check(addr("0.0.0.0:9646")).unwrap_err();
        assert!(refused.contains(BIND_FLAG), "{refused}");
        assert!(rule.check(addr("10.1.2.3:80")).is_err());

        let nets = ["10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))];
        let rule = BindRule::allowing(nets.to_vec());
        assert!(rule.check(addr("10.1.2.3:80")).is_ok());
        assert!(rule.check(addr("0.0.0.0:80")).is_err());
        let all = ["0.0.0.0/0".parse().unwrap_or_else(|e| panic!("{e}"))];
        assert!(BindRule::allowing(all.to_vec())
            .check(addr("0.0.0.0:80"))
            .is_ok());
        assert!(BindRule::any().check(addr("0.0.0.0:80")).is_ok());
    }
}
