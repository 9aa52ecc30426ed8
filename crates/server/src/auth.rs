//! Who is asking: phones (cookie), scripts (bearer token) and devices (signed headers), plus
//! the Origin check that keeps other sites from using a phone's cookie.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use cr_proto::{DeviceId, sign};

use crate::config::{IpNet, PublicUrl};
use crate::error::AppError;
use crate::secret;
use crate::state::SharedState;
use crate::store;

/// The phone session cookie.
pub const COOKIE_NAME: &str = "cr_session";
/// Longest User-Agent kept for the audit.
const MAX_USER_AGENT: usize = 256;

/// Who an authenticated API request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A logged-in phone (its phone session id).
    Phone(i64),
    /// A script with an API token (its id).
    Token(String),
}

impl Actor {
    /// How the audit names it.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Phone(id) => format!("phone:{id}"),
            Self::Token(id) => format!("token:{id}"),
        }
    }
}

/// An authenticated phone or script. As an extractor it refuses (401) requests without valid
/// credentials, and (403) state-changing cookie requests from another origin.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who it is.
    pub actor: Actor,
}

/// Looks a caller's credential up. A state-changing request is a person answering or typing,
/// waiting for it: right here ([`store::Store::read_now`]). Reads (event streams, pages) take
/// the blocking pool: with 10,000 phones opening their streams at once, inline lookups raised
/// the relay's peak memory in the scale benchmark from 272 to 300 MB.
async fn lookup<R: Send + 'static>(
    state: &SharedState,
    method: &axum::http::Method,
    f: impl FnOnce(&rusqlite::Connection) -> store::Result<R> + Send + 'static,
) -> store::Result<R> {
    if method.is_safe() { state.store.read(f).await } else { state.store.read_now(f) }
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, AppError> {
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    AppError::Unauthorized(
                        "the Authorization header must be `Bearer <token>`".into(),
                    )
                })?;
            let hash = secret::hash(token);
            let id = lookup(state, &parts.method, move |c| store::api_token(c, &hash)).await?;
            let id = id.ok_or_else(|| {
                AppError::Unauthorized(
                    "unknown or revoked API token; make one with `cr-server token create NAME`"
                        .into(),
                )
            })?;
            // Bearer requests carry no ambient authority, so they need no Origin check.
            return Ok(Self { actor: Actor::Token(id) });
        }
        let cookie = cookie(&parts.headers, COOKIE_NAME).ok_or_else(|| {
            AppError::Unauthorized(
                "not logged in: open a login link from `cr-server login-link` or `cr qr`".into(),
            )
        })?;
        let hash = secret::hash(&cookie);
        let now = crate::now();
        let id = lookup(state, &parts.method, move |c| store::phone_session(c, &hash, now)).await?;
        let id = id.ok_or_else(|| {
            AppError::Unauthorized(
                "this login has expired or was logged out; open a new login link".into(),
            )
        })?;
        if !parts.method.is_safe() {
            check_origin(&state.public_url, &parts.headers)?;
        }
        Ok(Self { actor: Actor::Phone(id) })
    }
}

/// The value of cookie `name`, from any `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new phone session.
pub fn session_cookie(value: &str, public: &PublicUrl, max_age_secs: u64) -> String {
    let secure = if public.is_https() { "; Secure" } else { "" };
    format!(
        "{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}"
    )
}

/// Refuses a request whose `Origin` is not the public URL's. Without `Origin`, a browser's
/// `Sec-Fetch-Site: same-origin` is accepted; anything else is refused.
pub fn check_origin(public: &PublicUrl, headers: &HeaderMap) -> Result<(), AppError> {
    let expected = public.origin();
    let hint = format!(
        "the relay only accepts this from pages served at {expected}; if phones reach it at another \
         address, restart it with --public-url set to that address"
    );
    match headers.get(header::ORIGIN) {
        Some(origin) if origin.as_bytes().eq_ignore_ascii_case(expected.as_bytes()) => Ok(()),
        Some(origin) => {
            let shown: String =
                String::from_utf8_lossy(origin.as_bytes()).chars().take(100).collect();
            Err(AppError::Forbidden(format!("cross-origin request from {shown:?} refused: {hint}")))
        }
        None => match headers.get("sec-fetch-site") {
            Some(site) if site == "same-origin" => Ok(()),
            _ => Err(AppError::Forbidden(format!(
                "request without an Origin header refused: {hint}"
            ))),
        },
    }
}

/// Where a request comes from, for rate limits and the audit.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The peer address, if the server recorded it.
    pub ip: Option<IpAddr>,
    /// The User-Agent, truncated.
    pub user_agent: String,
}

impl ClientInfo {
    /// The address as the audit writes it.
    pub fn addr(&self) -> String {
        self.ip.map_or_else(|| "unknown".into(), |ip| ip.to_string())
    }
}

impl FromRequestParts<SharedState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let forwarded =
            parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let ip = peer.map(|peer| client_ip(peer, forwarded, &state.trusted_proxies));
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).chars().take(MAX_USER_AGENT).collect())
            .unwrap_or_default();
        Ok(Self { ip, user_agent })
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
/// `X-Forwarded-For` entry that is not itself a trusted proxy, read from the right (the left
/// part is whatever the client claimed, and anyone can claim anything).
fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded.flat_map(|h| h.split(',')).map(str::trim).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => break, // garbage: stop at the last address we could vouch for
        }
    }
    client
}

/// A device whose signed request passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedDevice {
    /// Its id.
    pub id: DeviceId,
    /// Its name.
    pub name: String,
    /// The link keys of this request's handshake values.
    pub keys: sign::LinkKeys,
}

fn refuse(why: &str) -> AppError {
    AppError::Unauthorized(format!("device signature refused: {why}"))
}

/// Checks the four `X-CR-*` headers of a device request signed under `context`: well-formed,
/// fresh, known and unrevoked device, valid signature, unseen nonce (recorded now). The
/// signature is checked before revocation is reported, so only the device itself learns that.
pub async fn verify_device(
    state: &SharedState,
    headers: &HeaderMap,
    context: &'static str,
) -> Result<VerifiedDevice, AppError> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(device), Some(timestamp), Some(nonce), Some(signature)) = (
        get(sign::HEADER_DEVICE),
        get(sign::HEADER_TIMESTAMP),
        get(sign::HEADER_NONCE),
        get(sign::HEADER_SIGNATURE),
    ) else {
        return Err(refuse(
            "send the X-CR-Device, X-CR-Timestamp, X-CR-Nonce and X-CR-Signature headers (pair with `cr pair`)",
        ));
    };
    let timestamp: i64 =
        timestamp.parse().map_err(|_| refuse("X-CR-Timestamp must be unix seconds"))?;
    if !sign::nonce_ok(nonce) {
        return Err(refuse("X-CR-Nonce must be 32 lowercase hex digits"));
    }
    let now = crate::now();
    if !sign::fresh(timestamp, now.as_secs()) {
        return Err(refuse(&format!(
            "the timestamp is {} s away from the relay's clock (at most {} s allowed); check the clocks",
            timestamp.abs_diff(now.as_secs()),
            sign::MAX_CLOCK_SKEW_SECS
        )));
    }
    let unknown = || refuse("unknown device or wrong signature; pair again with `cr pair`");
    let id = DeviceId::new(device).map_err(|_| unknown())?;
    let lookup = id.clone();
    let found = state.store.read(move |c| store::device(c, lookup.as_str())).await?;
    let device = found.ok_or_else(unknown)?;
    if !sign::verify(&device.secret, context, id.as_str(), timestamp, nonce, signature) {
        return Err(unknown());
    }
    if device.revoked_at.is_some() {
        return Err(refuse("this device was revoked; pair it again with a new code"));
    }
    let (nonce_owned, dev) = (nonce.to_owned(), id.clone());
    let fresh_nonce = state
        .store
        .write(move |tx| {
            let fresh = store::record_nonce(tx.conn(), &nonce_owned, &dev, now)?;
            if fresh {
                store::touch_device(tx.conn(), &dev, now)?;
            }
            Ok(fresh)
        })
        .await?;
    if !fresh_nonce {
        return Err(refuse("this nonce was already used (a replayed request)"));
    }
    let keys = sign::LinkKeys::derive(&device.secret, id.as_str(), timestamp, nonce);
    Ok(VerifiedDevice { id, name: device.name, keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[("cookie", "a=1; cr_session=abc ; b=2"), ("cookie", "c=3")]);
        assert_eq!(cookie(&h, "cr_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c").as_deref(), Some("3"));
        assert_eq!(cookie(&h, "cr"), None);
        assert_eq!(cookie(&headers(&[("cookie", "cr_session=")]), "cr_session"), None);
    }

    #[test]
    fn origin_must_match_the_public_url() {
        let public = PublicUrl::parse("https://relay.example.com").unwrap();
        assert!(
            check_origin(&public, &headers(&[("origin", "https://relay.example.com")])).is_ok()
        );
        let err =
            check_origin(&public, &headers(&[("origin", "https://evil.example")])).unwrap_err();
        assert!(
            matches!(&err, AppError::Forbidden(m) if m.contains("--public-url") && m.contains("https://relay.example.com"))
        );
        assert!(
            check_origin(&public, &headers(&[("origin", "http://relay.example.com")])).is_err()
        );
        assert!(check_origin(&public, &headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(check_origin(&public, &headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(check_origin(&public, &HeaderMap::new()).is_err());
    }

    #[test]
    fn cookie_attributes() {
        let http = PublicUrl::parse("http://127.0.0.1:7700").unwrap();
        let https = PublicUrl::parse("https://r.example").unwrap();
        let c = session_cookie("v", &http, 60);
        assert_eq!(c, "cr_session=v; HttpOnly; SameSite=Strict; Path=/; Max-Age=60");
        assert!(session_cookie("v", &https, 60).ends_with("; Secure"));
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = [IpNet::parse("172.16.0.0/12").unwrap()];
        let caddy = ip("172.18.0.3");
        // Not behind a proxy: whatever the header says is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.9"), ["6.6.6.6"].into_iter(), &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(client_ip(caddy, ["6.6.6.6"].into_iter(), &[]), caddy, "no trusted proxies");
        // Behind the proxy: the rightmost untrusted hop, not what the client claimed on the left.
        assert_eq!(client_ip(caddy, ["203.0.113.5"].into_iter(), &trusted), ip("203.0.113.5"));
        assert_eq!(
            client_ip(caddy, ["1.2.3.4, 203.0.113.5"].into_iter(), &trusted),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(caddy, ["1.2.3.4", "203.0.113.5, 172.18.0.9"].into_iter(), &trusted),
            ip("203.0.113.5"),
            "several headers and a chain of trusted proxies"
        );
        assert_eq!(client_ip(caddy, [].into_iter(), &trusted), caddy, "no header: the proxy");
        assert_eq!(client_ip(caddy, ["junk"].into_iter(), &trusted), caddy, "garbage: the proxy");
    }
}
