//! `Config`: every setting of the relay, from flags or `CR_*` environment variables.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;

/// Where the relay listens, which database it uses and which URL phones reach it at.
#[derive(Clone, clap::Args)]
pub struct Config {
    /// Address to listen on. Loopback by default: put a TLS proxy in front to reach it from
    /// elsewhere.
    #[arg(long, env = "CR_LISTEN", default_value = "127.0.0.1:7700", global = true)]
    pub listen: SocketAddr,
    /// SQLite database file [default: $XDG_DATA_HOME/claude-remote/relay.db].
    #[arg(long, env = "CR_DB", global = true)]
    pub db: Option<PathBuf>,
    /// The URL phones use to reach the relay, such as <https://relay.example.com>. It sets the
    /// allowed Origin, the login links and the cookie's Secure flag [default: http://LISTEN].
    #[arg(long, env = "CR_PUBLIC_URL", global = true, value_parser = PublicUrl::parse)]
    pub public_url: Option<PublicUrl>,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For`
    /// names the real client, for rate limits and the audit log. Empty: trust no one.
    #[arg(
        long = "trusted-proxy",
        env = "CR_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true,
        value_parser = IpNet::parse
    )]
    pub trusted_proxies: Vec<IpNet>,
}

impl fmt::Debug for Config {
    // Nothing here is secret today; the impl stays explicit so adding a secret means deciding
    // how it prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("public_url", &self.public_url.as_ref().map(PublicUrl::as_str))
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

impl Config {
    /// A config for `listen` and `db`, with the public URL derived from the listen address.
    pub fn new(listen: SocketAddr, db: PathBuf) -> Self {
        Self { listen, db: Some(db), public_url: None, trusted_proxies: Vec::new() }
    }

    /// The database path: `--db`, else `$XDG_DATA_HOME/claude-remote/relay.db`, else
    /// `~/.local/share/claude-remote/relay.db`.
    pub fn db_path(&self) -> anyhow::Result<PathBuf> {
        if let Some(db) = &self.db {
            return Ok(db.clone());
        }
        let data = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .context("neither --db, CR_DB, XDG_DATA_HOME nor HOME is set; pass --db")?;
                PathBuf::from(home).join(".local/share")
            }
        };
        Ok(data.join("claude-remote").join("relay.db"))
    }

    /// The public URL: `--public-url`, else `http://` and the address actually bound (which
    /// differs from `--listen` when that asks for port 0).
    pub fn public_url_for(&self, bound: SocketAddr) -> PublicUrl {
        self.public_url.clone().unwrap_or_else(|| {
            PublicUrl::parse(&format!("http://{bound}")).expect("a socket address makes a URL")
        })
    }
}

/// An address range: `203.0.113.7`, `10.0.0.0/8`, `fd00::/8`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl fmt::Debug for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl IpNet {
    /// Parses an address (a range of one) or `address/prefix`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("{s:?} is not an IP address or CIDR range such as 10.0.0.0/8");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().map_err(|_| bad())?, Some(p)),
            None => (s.parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    /// True when `ip` is in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let keep = |bits: u32, width: u32| -> u128 {
            if bits == 0 { 0 } else { u128::MAX << (width - bits) }
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = keep(u32::from(self.prefix), 32) as u32;
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = keep(u32::from(self.prefix), 128);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A validated `http(s)://host[:port][/path]` without a trailing slash, and its origin.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicUrl {
    url: String,
    origin: String,
}

impl fmt::Debug for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl PublicUrl {
    /// Parses and normalises a public URL; the error says what a good one looks like.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "--public-url {s:?} {why}; want like https://relay.example.com or http://127.0.0.1:7700"
            )
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("has no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("is not http or https"));
        }
        if rest.contains(['?', '#']) {
            return Err(bad("has a query or fragment"));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains(['@', ' ']) {
            return Err(bad("has no usable host"));
        }
        let mut authority = authority.to_ascii_lowercase();
        // Browsers leave the default port out of Origin, so we do too.
        let default_port = if scheme == "http" { ":80" } else { ":443" };
        if authority.ends_with(default_port) {
            authority.truncate(authority.len() - default_port.len());
        }
        let origin = format!("{scheme}://{authority}");
        let path = path.trim_end_matches('/');
        Ok(Self { url: format!("{origin}{path}"), origin })
    }

    /// The URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`, as browsers send it in `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// True for `https://`: the session cookie then gets `Secure`.
    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }

    /// The phone login link for a one-time token: the token rides in the fragment, which
    /// browsers never send to servers or put in Referer headers.
    pub fn login_link(&self, token: &str) -> String {
        format!("{}/login#{token}", self.url)
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_normalise_to_browser_origins() {
        let u = PublicUrl::parse("HTTPS://Relay.Example.com:443/").unwrap();
        assert_eq!(u.as_str(), "https://relay.example.com");
        assert_eq!(u.origin(), "https://relay.example.com");
        assert!(u.is_https());
        let u = PublicUrl::parse("http://127.0.0.1:7700/cr/").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:7700/cr");
        assert_eq!(u.origin(), "http://127.0.0.1:7700");
        assert_eq!(u.login_link("crl_x"), "http://127.0.0.1:7700/cr/login#crl_x");
        assert!(!u.is_https());
        for bad in ["relay.example.com", "ftp://x", "http://", "http://a@b", "http://x/?q=1"] {
            let err = PublicUrl::parse(bad).unwrap_err();
            assert!(err.contains("--public-url"), "{err}");
        }
    }

    #[test]
    fn default_public_url_follows_the_bound_address() {
        let c = Config::new("127.0.0.1:0".parse().unwrap(), "/tmp/x.db".into());
        assert_eq!(
            c.public_url_for("127.0.0.1:4321".parse().unwrap()).as_str(),
            "http://127.0.0.1:4321"
        );
        assert_eq!(c.db_path().unwrap(), PathBuf::from("/tmp/x.db"));
    }

    #[test]
    fn ip_ranges() {
        let net = |s: &str| IpNet::parse(s).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("172.16.0.0/12").contains(ip("172.31.255.255")));
        assert!(!net("172.16.0.0/12").contains(ip("172.32.0.0")));
        assert!(net("203.0.113.7").contains(ip("203.0.113.7")));
        assert!(!net("203.0.113.7").contains(ip("203.0.113.8")));
        assert!(net("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")), "IPv4-mapped counts as IPv4");
        assert!(net("fd00::/8").contains(ip("fd12::1")));
        assert!(!net("fd00::/8").contains(ip("fe80::1")));
        assert!(!net("::/0").contains(ip("10.0.0.1")), "families never mix");
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0.0/x", "example.com", "10.0.0/8"] {
            assert!(IpNet::parse(bad).is_err(), "{bad:?}");
        }
    }
}
