//! Queries about who may talk to the relay: devices, pairing codes, login tokens, phone
//! sessions, API tokens and seen nonces.

use std::fmt;

use cr_proto::{DeviceId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::Result;

/// A paired workstation, with its link secret.
#[derive(Clone)]
pub struct Device {
    /// Its id.
    pub id: DeviceId,
    /// Its display name.
    pub name: String,
    /// The HMAC key of its link.
    pub secret: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A device as `cr-server devices` lists it (no secret).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// When it was paired.
    pub created_at: Timestamp,
    /// When it last opened a link.
    pub last_seen_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp)
}

/// Stores a pairing code's hash.
pub fn insert_pairing_code(
    conn: &Connection,
    code_hash: &str,
    name: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    super::exec(
        conn,
        "INSERT INTO pairing_codes (code_hash, name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![code_hash, name, now.0, expires_at.0],
    )?;
    Ok(())
}

/// Uses up an unexpired, unused pairing code and creates the device it pairs. `None` if the
/// code is unknown, used or expired. `name` empty takes the name given when the code was made.
pub fn redeem_pairing_code(
    conn: &Connection,
    code_hash: &str,
    name: &str,
    device_id: &DeviceId,
    secret: &str,
    now: Timestamp,
) -> Result<Option<String>> {
    let code_name: Option<String> = super::row(
        conn,
        "UPDATE pairing_codes SET used_at = ?2, device_id = ?3
             WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING name",
        params![code_hash, now.0, device_id.as_str()],
        |r| r.get(0),
    )
    .optional()?;
    let Some(code_name) = code_name else { return Ok(None) };
    let name = [name, &code_name].into_iter().find(|n| !n.is_empty()).unwrap_or("workstation");
    super::exec(
        conn,
        "INSERT INTO devices (id, name, secret, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![device_id.as_str(), name, secret, now.0],
    )?;
    Ok(Some(name.to_owned()))
}

/// Stores a login token's hash.
pub fn insert_login_token(
    conn: &Connection,
    token_hash: &str,
    minted_by: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    super::exec(
        conn,
        "INSERT INTO login_tokens (token_hash, minted_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, minted_by, now.0, expires_at.0],
    )?;
    Ok(())
}

/// Uses up an unexpired, unused login token; false if there is none.
pub fn redeem_login_token(conn: &Connection, token_hash: &str, now: Timestamp) -> Result<bool> {
    let n = super::exec(
        conn,
        "UPDATE login_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
        params![token_hash, now.0],
    )?;
    Ok(n == 1)
}

/// Starts a phone session; returns its id.
pub fn create_phone_session(
    conn: &Connection,
    cookie_hash: &str,
    now: Timestamp,
    expires_at: Timestamp,
    remote_addr: &str,
    user_agent: &str,
) -> Result<i64> {
    super::exec(
        conn,
        "INSERT INTO phone_sessions (cookie_hash, created_at, expires_at, remote_addr, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![cookie_hash, now.0, expires_at.0, remote_addr, user_agent],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The live phone session with this cookie hash.
pub fn phone_session(conn: &Connection, cookie_hash: &str, now: Timestamp) -> Result<Option<i64>> {
    Ok(super::row(
        conn,
        "SELECT id FROM phone_sessions WHERE cookie_hash = ?1 AND ended_at IS NULL AND expires_at > ?2",
        params![cookie_hash, now.0],
        |r| r.get(0),
    )
    .optional()?)
}

/// Ends a phone session (logout).
pub fn end_phone_session(conn: &Connection, id: i64, now: Timestamp) -> Result<()> {
    super::exec(conn, "UPDATE phone_sessions SET ended_at = ?2 WHERE id = ?1", params![id, now.0])?;
    Ok(())
}

/// Stores a new API token's hash.
pub fn create_api_token(
    conn: &Connection,
    id: &str,
    name: &str,
    token_hash: &str,
    now: Timestamp,
) -> Result<()> {
    super::exec(
        conn,
        "INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, name, token_hash, now.0],
    )?;
    Ok(())
}

/// The id of the unrevoked API token with this hash.
pub fn api_token(conn: &Connection, token_hash: &str) -> Result<Option<String>> {
    Ok(super::row(
        conn,
        "SELECT id FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
        [token_hash],
        |r| r.get(0),
    )
    .optional()?)
}

/// The device with this id, revoked or not.
pub fn device(conn: &Connection, id: &str) -> Result<Option<Device>> {
    let row = super::row(
        conn,
        "SELECT id, name, secret, revoked_at FROM devices WHERE id = ?1",
        [id],
        |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()?;
    Ok(row.and_then(|(id, name, secret, revoked)| {
        Some(Device { id: DeviceId::new(id).ok()?, name, secret, revoked_at: ts(revoked) })
    }))
}

/// Every device, oldest first.
pub fn devices(conn: &Connection) -> Result<Vec<DeviceInfo>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, created_at, last_seen_at, revoked_at FROM devices ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DeviceInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: Timestamp(r.get(2)?),
            last_seen_at: ts(r.get(3)?),
            revoked_at: ts(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks a device revoked (keeping the first revocation time). False if there is no such device.
pub fn revoke_device(conn: &Connection, id: &str, now: Timestamp) -> Result<bool> {
    let n = super::exec(
        conn,
        "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
        params![id, now.0],
    )?;
    Ok(n == 1)
}

/// Ids of revoked devices.
pub fn revoked_devices(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM devices WHERE revoked_at IS NOT NULL")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records when a device last opened a link.
pub fn touch_device(conn: &Connection, id: &DeviceId, now: Timestamp) -> Result<()> {
    super::exec(
        conn,
        "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1",
        params![id.as_str(), now.0],
    )?;
    Ok(())
}

/// Remembers a nonce; false if it was seen before (a replay).
pub fn record_nonce(
    conn: &Connection,
    nonce: &str,
    device: &DeviceId,
    now: Timestamp,
) -> Result<bool> {
    let n = super::exec(
        conn,
        "INSERT OR IGNORE INTO nonces (nonce, device_id, seen_at) VALUES (?1, ?2, ?3)",
        params![nonce, device.as_str(), now.0],
    )?;
    Ok(n == 1)
}

/// Forgets nonces seen before `before`; their timestamps are too old to pass anyway.
pub fn prune_nonces(conn: &Connection, before: Timestamp) -> Result<usize> {
    Ok(super::exec(conn, "DELETE FROM nonces WHERE seen_at < ?1", [before.0])?)
}

/// True when nobody can use the relay yet: no device paired and no phone ever logged in.
pub fn is_unclaimed(conn: &Connection) -> Result<bool> {
    Ok(super::row(
        conn,
        "SELECT NOT EXISTS (SELECT 1 FROM devices) AND NOT EXISTS (SELECT 1 FROM phone_sessions)",
        [],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::super::Admin;
    use super::*;

    fn db() -> (tempfile::TempDir, Admin) {
        let dir = tempfile::tempdir().unwrap();
        let admin = Admin::open(&dir.path().join("relay.db")).unwrap();
        (dir, admin)
    }

    #[test]
    fn a_pairing_code_works_once_and_not_after_expiry() {
        let (_d, a) = db();
        let c = &a.conn;
        assert!(is_unclaimed(c).unwrap());
        insert_pairing_code(c, "h1", "laptop", Timestamp(1000), Timestamp(2000)).unwrap();
        insert_pairing_code(c, "h2", "", Timestamp(1000), Timestamp(2000)).unwrap();
        let d1 = DeviceId::new("dev_1").unwrap();
        let d2 = DeviceId::new("dev_2").unwrap();
        assert_eq!(
            redeem_pairing_code(c, "h1", "", &d1, "s", Timestamp(1500)).unwrap().as_deref(),
            Some("laptop")
        );
        assert_eq!(redeem_pairing_code(c, "h1", "", &d2, "s", Timestamp(1500)).unwrap(), None);
        assert_eq!(
            redeem_pairing_code(c, "h2", "x", &d2, "s", Timestamp(2000)).unwrap(),
            None,
            "expired"
        );
        assert_eq!(redeem_pairing_code(c, "nope", "x", &d2, "s", Timestamp(1500)).unwrap(), None);
        assert!(!is_unclaimed(c).unwrap());
        let dev = device(c, "dev_1").unwrap().unwrap();
        assert_eq!(dev.name, "laptop");
        assert!(!format!("{dev:?}").contains("secret: "), "{dev:?}");
        assert!(revoke_device(c, "dev_1", Timestamp(3000)).unwrap());
        assert!(revoke_device(c, "dev_1", Timestamp(4000)).unwrap());
        assert_eq!(device(c, "dev_1").unwrap().unwrap().revoked_at, Some(Timestamp(3000)));
        assert!(!revoke_device(c, "dev_9", Timestamp(3000)).unwrap());
        assert_eq!(revoked_devices(c).unwrap(), ["dev_1"]);
    }

    #[test]
    fn login_tokens_and_nonces_are_single_use() {
        let (_d, a) = db();
        let c = &a.conn;
        insert_login_token(c, "t", "admin", Timestamp(0), Timestamp(10)).unwrap();
        assert!(redeem_login_token(c, "t", Timestamp(5)).unwrap());
        assert!(!redeem_login_token(c, "t", Timestamp(5)).unwrap());
        let d = DeviceId::new("dev_1").unwrap();
        assert!(record_nonce(c, "n1", &d, Timestamp(0)).unwrap());
        assert!(!record_nonce(c, "n1", &d, Timestamp(1)).unwrap());
        assert_eq!(prune_nonces(c, Timestamp(1)).unwrap(), 1);
    }
}
