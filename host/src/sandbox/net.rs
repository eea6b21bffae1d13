//! Outbound network access as an allow-list of `host:port` patterns, and
//! the per-call check wasmtime-wasi consults before any socket operation.
//!
//! A pattern is `HOST:PORT`: HOST an IP address (`127.0.0.1`, `[::1]`), a
//! DNS name (`api.example.com`) or a wildcard over subdomains
//! (`*.example.com`, which does not match `example.com` itself); PORT a
//! number or `*`. What a task with patterns may do:
//! - look up a name matching some pattern (the host resolves it); any other
//!   name is refused before a query is sent, so lookups cannot carry data out;
//! - open a TCP connection to an address matching an IP pattern, or to an
//!   address its own lookup of a matching name returned in this call, on a
//!   port the pattern allows.
//!
//! Everything else is refused, and logged (`tracing`, target
//! `sandstep::sandbox`): listening, accepting, explicit binds, UDP, and
//! connections anywhere else. A task without patterns gets no sockets and
//! no lookups at all. `wasi:http` is not provided.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime_wasi::sockets::SocketAddrUse;

use super::refusals::{LOGGED_CHARS, RefusalLog, escape_for_log};

/// Addresses one call's lookups may add to what it may connect to; past
/// this the oldest are forgotten, so lookups cannot grow host memory.
const RESOLVED_KEPT: usize = 256;

/// One allowed destination, as written in the manifest.
#[derive(Clone, PartialEq, Eq)]
pub struct NetRule {
    text: String,
    host: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Ip(IpAddr),
    Name(String),
    /// `*.suffix`: names ending in `.suffix`.
    Subdomains(String),
}

impl fmt::Debug for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetRule({:?})", self.text)
    }
}

impl fmt::Display for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for NetRule {
    type Err = String;

    fn from_str(text: &str) -> Result<NetRule, String> {
        let bad = |why: &str| {
            format!(
                "{text:?} is not a valid network pattern: {why} (write \"host:port\", e.g. \"api.example.com:443\", \"127.0.0.1:*\" or \"[::1]:8080\")"
            )
        };
        let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let port = match port {
            "*" => None,
            digits => match digits.parse::<u16>() {
                Ok(p) if p > 0 => Some(p),
                _ => return Err(bad("the port must be 1 to 65535, or *")),
            },
        };
        let host = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            HostPattern::Ip(IpAddr::from_str(v6).map_err(|_| bad("not an IPv6 address"))?)
        } else if let Ok(ip) = IpAddr::from_str(host) {
            HostPattern::Ip(ip.to_canonical())
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Subdomains(dns_name(suffix).ok_or_else(|| bad("not a DNS name"))?)
        } else {
            HostPattern::Name(dns_name(host).ok_or_else(|| bad("not a DNS name or IP address"))?)
        };
        Ok(NetRule {
            text: text.to_owned(),
            host,
            port,
        })
    }
}

/// The name lowercased without a trailing dot, when it is a plausible DNS name.
fn dns_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some(name)
}

impl NetRule {
    fn port_matches(&self, port: u16) -> bool {
        self.port.is_none_or(|p| p == port)
    }

    fn name_matches(&self, name: &str) -> bool {
        match &self.host {
            HostPattern::Name(n) => n == name,
            HostPattern::Subdomains(suffix) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
            HostPattern::Ip(_) => false,
        }
    }
}

/// The allow-list of one call, and the addresses its lookups returned.
pub(crate) struct NetCall {
    refusals: Arc<RefusalLog>,
    rules: Vec<NetRule>,
    /// (address, the name it was resolved from).
    resolved: Mutex<Vec<(IpAddr, String)>>,
}

impl NetCall {
    pub fn new(refusals: Arc<RefusalLog>, rules: &[NetRule]) -> Arc<NetCall> {
        Arc::new(NetCall {
            refusals,
            rules: rules.to_vec(),
            resolved: Mutex::default(),
        })
    }

    /// The name, normalized, when the guest may look it up; logs a refusal.
    pub fn lookup_allowed(&self, name: &str) -> Option<String> {
        if IpAddr::from_str(name).is_ok() {
            // An address "resolves" to itself without any query.
            return Some(name.to_owned());
        }
        let normalized = dns_name(name);
        let allowed = normalized
            .as_deref()
            .is_some_and(|n| self.rules.iter().any(|r| r.name_matches(n)));
        if allowed {
            normalized
        } else {
            if self.refusals.admit("dns lookup") {
                tracing::warn!(
                    target: "sandstep::sandbox",
                    task = ?self.refusals.task(),
                    name = %escape_for_log(name, LOGGED_CHARS),
                    "refused a DNS lookup: the name matches none of the task's `network` patterns"
                );
            }
            None
        }
    }

    /// A lookup of `name` returned `ip`.
    pub fn resolved(&self, name: &str, ip: IpAddr) {
        let mut resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = (ip.to_canonical(), name.to_owned());
        if !resolved.contains(&entry) {
            if resolved.len() >= RESOLVED_KEPT {
                resolved.remove(0);
            }
            resolved.push(entry);
        }
    }

    fn connect_allowed(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        let resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        self.rules.iter().any(|rule| {
            rule.port_matches(addr.port())
                && match &rule.host {
                    HostPattern::Ip(allowed) => *allowed == ip,
                    _ => resolved
                        .iter()
                        .any(|(r, name)| *r == ip && rule.name_matches(name)),
                }
        })
    }

    /// wasmtime-wasi's socket check: may the guest use `addr` this way?
    pub fn check(&self, addr: SocketAddr, usage: SocketAddrUse) -> bool {
        let allowed = match usage {
            // The implicit bind before a connect: the wildcard address, any port.
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            SocketAddrUse::TcpConnect => self.connect_allowed(addr),
            _ => false,
        };
        if !allowed && self.refusals.admit("socket") {
            tracing::warn!(
                target: "sandstep::sandbox",
                task = ?self.refusals.task(),
                address = %addr,
                usage = ?usage,
                "refused a socket operation: not allowed by the task's `network` patterns"
            );
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str]) -> Arc<NetCall> {
        let rules: Vec<NetRule> = patterns
            .iter()
            .map(|p| p.parse().expect("valid pattern"))
            .collect();
        NetCall::new(RefusalLog::new("t"), &rules)
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("socket address")
    }

    #[test]
    fn patterns_parse_or_say_why_not() {
        for good in [
            "api.example.com:443",
            "127.0.0.1:*",
            "[::1]:8080",
            "*.Example.com.:1",
        ] {
            assert!(good.parse::<NetRule>().is_ok(), "{good}");
        }
        for (bad, why) in [
            ("example.com", "no port"),
            ("example.com:0", "1 to 65535"),
            ("example.com:http", "1 to 65535"),
            ("[nope]:1", "not an IPv6 address"),
            ("exa mple.com:1", "not a DNS name"),
            ("*:443", "not a DNS name"),
        ] {
            let e = bad.parse::<NetRule>().expect_err(bad);
            assert!(e.contains(why) && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn ip_patterns_allow_their_address_and_port_only() {
        let net = rules(&["127.0.0.1:8080", "[::1]:*"]);
        assert!(net.check(addr("127.0.0.1:8080"), SocketAddrUse::TcpConnect));
        assert!(net.check(addr("[::ffff:127.0.0.1]:8080"), SocketAddrUse::TcpConnect));
        assert!(!net.check(addr("127.0.0.1:8081"), SocketAddrUse::TcpConnect));
        assert!(!net.check(addr("127.0.0.2:8080"), SocketAddrUse::TcpConnect));
        assert!(net.check(addr("[::1]:1"), SocketAddrUse::TcpConnect));
        assert!(net.check(addr("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(!net.check(addr("0.0.0.0:8080"), SocketAddrUse::TcpBind));
        assert!(!net.check(addr("127.0.0.1:8080"), SocketAddrUse::TcpListen));
        assert!(!net.check(addr("127.0.0.1:8080"), SocketAddrUse::UdpSend));
    }

    #[test]
    fn names_allow_only_what_their_own_lookup_returned() {
        let net = rules(&["api.example.com:443", "*.corp.test:*"]);
        assert_eq!(
            net.lookup_allowed("API.example.com.").as_deref(),
            Some("api.example.com")
        );
        assert!(net.lookup_allowed("evil.com").is_none());
        assert!(
            net.lookup_allowed("corp.test").is_none(),
            "the wildcard needs a label"
        );
        assert!(net.lookup_allowed("db.corp.test").is_some());
        assert!(
            !net.check(addr("10.0.0.1:443"), SocketAddrUse::TcpConnect),
            "not looked up yet"
        );
        net.resolved("api.example.com", "10.0.0.1".parse().expect("ip"));
        net.resolved("db.corp.test", "10.0.0.2".parse().expect("ip"));
        assert!(net.check(addr("10.0.0.1:443"), SocketAddrUse::TcpConnect));
        assert!(!net.check(addr("10.0.0.1:80"), SocketAddrUse::TcpConnect));
        assert!(net.check(addr("10.0.0.2:5432"), SocketAddrUse::TcpConnect));
        assert!(!net.check(addr("10.0.0.3:443"), SocketAddrUse::TcpConnect));
    }
}
