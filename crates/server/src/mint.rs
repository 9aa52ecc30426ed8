//! Minting one-time pairing codes, login links and API tokens: the random string from
//! [`crate::secret`], its hash into the store, the plain string back to the caller once.

use std::time::Duration;

use cr_proto::{LoginLink, Timestamp};
use rusqlite::Connection;
use serde::Serialize;

use crate::config::PublicUrl;
use crate::{secret, store};

/// How long a pairing code works.
pub const PAIR_CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a login link works.
pub const LOGIN_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);

fn later(now: Timestamp, ttl: Duration) -> Timestamp {
    Timestamp(now.0 + ttl.as_millis() as i64)
}

/// A fresh pairing code (`cr-server pair-code --json`).
#[derive(Debug, Clone, Serialize)]
pub struct PairCode {
    /// The code to type, `ABCD-EFGH-JKMN`.
    pub code: String,
    /// The command to run on the workstation.
    pub command: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Mints a pairing code; the device it pairs is called `name` unless `cr pair --name` says
/// otherwise.
pub fn pairing_code(
    conn: &Connection,
    public: &PublicUrl,
    name: &str,
    now: Timestamp,
) -> store::Result<PairCode> {
    let code = secret::pairing_code();
    let canonical = secret::normalize_pairing_code(&code).expect("fresh codes are well-formed");
    let expires_at = later(now, PAIR_CODE_TTL);
    store::insert_pairing_code(conn, &secret::hash(&canonical), name, now, expires_at)?;
    let command = format!("cr pair {public} {code}");
    Ok(PairCode { code, command, expires_at })
}

/// Mints a phone login link; `minted_by` is `admin` or the asking device's id.
pub fn login_link(
    conn: &Connection,
    public: &PublicUrl,
    minted_by: &str,
    now: Timestamp,
) -> store::Result<LoginLink> {
    let token = secret::token("crl_");
    let expires_at = later(now, LOGIN_TOKEN_TTL);
    store::insert_login_token(conn, &secret::hash(&token), minted_by, now, expires_at)?;
    Ok(LoginLink { url: public.login_link(&token), token, expires_at })
}

/// A fresh API token (`cr-server token create --json`).
#[derive(Clone, Serialize)]
pub struct ApiToken {
    /// The bearer token, shown once.
    pub token: String,
    /// Its id.
    pub id: String,
}

/// Mints an API token named `name`.
pub fn api_token(conn: &Connection, name: &str, now: Timestamp) -> store::Result<ApiToken> {
    let token = secret::token("crt_");
    let id = secret::token_id();
    store::create_api_token(conn, &id, name, &secret::hash(&token), now)?;
    Ok(ApiToken { token, id })
}
