//! `Config`: every setting of the relay, from flags or `CR_*` environment variables.

use std::fmt;
use std::net::SocketAddr;
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
}

impl fmt::Debug for Config {
    // Nothing here is secret today; the impl stays explicit so adding a secret means deciding
    // how it prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("public_url", &self.public_url.as_ref().map(PublicUrl::as_str))
            .finish()
    }
}

impl Config {
    /// A config for `listen` and `db`, with the public URL derived from the listen address.
    pub fn new(listen: SocketAddr, db: PathBuf) -> Self {
        Self { listen, db: Some(db), public_url: None }
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
}
