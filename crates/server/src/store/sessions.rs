//! Queries about what happens in sessions: sessions, prompts, transcript lines, the feed log
//! used for SSE resume, and the answer audit.

use cr_proto::{
    AnsweredBy, DeviceId, Prompt, PromptId, PromptStatus, Screen, Session, SessionId, SessionMeta,
    SessionStatus, Timestamp, TranscriptLine,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Result, StoreError};

const SESSION_COLUMNS: &str = "s.id, s.name, d.name, s.command, s.cwd, s.status, s.started_at,
    s.ended_at, s.exit_code, s.title,
    (SELECT count(*) FROM prompts p WHERE p.session_id = s.id AND p.status = 'pending')";

fn session_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    let bad = |i, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
    };
    Ok(Session {
        id: SessionId::new(r.get::<_, String>(0)?).map_err(|e| bad(0, &e.to_string()))?,
        name: r.get(1)?,
        device: r.get(2)?,
        command: r.get(3)?,
        cwd: r.get(4)?,
        status: SessionStatus::parse(&r.get::<_, String>(5)?).ok_or_else(|| bad(5, "status"))?,
        started_at: Timestamp(r.get(6)?),
        ended_at: r.get::<_, Option<i64>>(7)?.map(Timestamp),
        exit_code: r.get(8)?,
        title: r.get(9)?,
        pending: r.get(10)?,
    })
}

/// Every session, newest first.
pub fn sessions(conn: &Connection) -> Result<Vec<Session>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s JOIN devices d ON d.id = s.device_id
         ORDER BY s.started_at DESC, s.rowid DESC"
    ))?;
    let rows = stmt.query_map([], session_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One session.
pub fn session(conn: &Connection, id: &SessionId) -> Result<Option<Session>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s JOIN devices d ON d.id = s.device_id WHERE s.id = ?1"
    ))?;
    Ok(stmt.query_row([id.as_str()], session_row).optional()?)
}

/// What `hello` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The session is this device's (new or continued); events up to `acked` are stored.
    Ours {
        /// Highest stored event number.
        acked: u64,
        /// True when this `hello` created the session.
        created: bool,
    },
    /// The id belongs to another device's session.
    Foreign,
}

/// Creates the session `meta` describes, or continues it if this device already has it.
pub fn open_session(conn: &Connection, device: &DeviceId, meta: &SessionMeta) -> Result<Opened> {
    let existing: Option<(String, i64)> = super::row(
        conn,
        "SELECT device_id, last_seq FROM sessions WHERE id = ?1",
        [meta.id.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?;
    match existing {
        Some((owner, _)) if owner != device.as_str() => Ok(Opened::Foreign),
        Some((_, last_seq)) => Ok(Opened::Ours { acked: last_seq as u64, created: false }),
        None => {
            super::exec(
                conn,
                "INSERT INTO sessions (id, device_id, name, command, cwd, status, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6)",
                params![
                    meta.id.as_str(),
                    device.as_str(),
                    meta.name,
                    meta.command,
                    meta.cwd,
                    meta.started_at.0
                ],
            )?;
            Ok(Opened::Ours { acked: 0, created: true })
        }
    }
}

/// The status a session should have now; writes it if it changed. Returns (before, after).
/// An ended session stays ended; otherwise it is `disconnected` without a link, `waiting`
/// with pending prompts, else `running`.
pub fn settle_status(
    conn: &Connection,
    id: &SessionId,
    linked: bool,
) -> Result<(SessionStatus, SessionStatus)> {
    let (status, pending): (String, u32) = super::row(
        conn,
        "SELECT status, (SELECT count(*) FROM prompts WHERE session_id = ?1 AND status = 'pending')
         FROM sessions WHERE id = ?1",
        [id.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let before = SessionStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(status))?;
    let after = match before {
        SessionStatus::Ended => SessionStatus::Ended,
        _ if !linked => SessionStatus::Disconnected,
        _ if pending > 0 => SessionStatus::Waiting,
        _ => SessionStatus::Running,
    };
    if after != before {
        super::exec(
            conn,
            "UPDATE sessions SET status = ?2 WHERE id = ?1",
            params![id.as_str(), after.as_str()],
        )?;
    }
    Ok((before, after))
}

/// At startup no link exists yet: every live session is `disconnected` until its `cr` returns.
pub(super) fn disconnect_all(conn: &Connection) -> Result<usize> {
    Ok(super::exec(
        conn,
        "UPDATE sessions SET status = 'disconnected' WHERE status IN ('running', 'waiting')",
        [],
    )?)
}

/// The highest event number stored for a session.
pub fn last_seq(conn: &Connection, id: &SessionId) -> Result<u64> {
    let mut stmt = conn.prepare_cached("SELECT last_seq FROM sessions WHERE id = ?1")?;
    Ok(stmt.query_row([id.as_str()], |r| r.get::<_, i64>(0))? as u64)
}

/// Records the highest event number stored.
pub fn set_last_seq(conn: &Connection, id: &SessionId, seq: u64) -> Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE sessions SET last_seq = ?2 WHERE id = ?1")?;
    stmt.execute(params![id.as_str(), seq as i64])?;
    Ok(())
}

/// Appends a transcript line.
pub fn insert_line(
    conn: &Connection,
    id: &SessionId,
    seq: u64,
    at: Timestamp,
    line: &str,
    eid: u64,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO output_log (session_id, seq, at, line, eid) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    stmt.execute(params![id.as_str(), seq as i64, at.0, line, eid as i64])?;
    Ok(())
}

/// Stores a newly opened prompt; false if a prompt with this id already exists.
pub fn insert_prompt(conn: &Connection, prompt: &Prompt) -> Result<bool> {
    let data = serde_json::to_string(prompt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let n = super::exec(
        conn,
        "INSERT OR IGNORE INTO prompts (id, session_id, data, status, created_at)
         VALUES (?1, ?2, ?3, 'pending', ?4)",
        params![prompt.id.as_str(), prompt.session_id.as_str(), data, prompt.created_at.0],
    )?;
    Ok(n == 1)
}

/// Settles a pending prompt of `session`; false if it is not pending there (already settled,
/// unknown, or another session's).
pub fn settle_prompt(
    conn: &Connection,
    session: &SessionId,
    id: &PromptId,
    status: PromptStatus,
    by: AnsweredBy,
    at: Timestamp,
) -> Result<bool> {
    let n = super::exec(
        conn,
        "UPDATE prompts SET status = ?3, settled_by = ?4, settled_at = ?5
         WHERE id = ?1 AND session_id = ?2 AND status = 'pending'",
        params![id.as_str(), session.as_str(), status.as_str(), by.as_str(), at.0],
    )?;
    Ok(n == 1)
}

fn prompt_row(r: &Row<'_>) -> rusqlite::Result<(String, String, Option<String>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn prompt_from(data: &str, status: &str, by: Option<&str>) -> Result<Prompt> {
    let mut p: Prompt =
        serde_json::from_str(data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    p.status = PromptStatus::parse(status).ok_or_else(|| StoreError::Corrupt(status.into()))?;
    p.by = by.and_then(AnsweredBy::parse);
    Ok(p)
}

/// One prompt in its current state.
pub fn prompt(conn: &Connection, id: &PromptId) -> Result<Option<Prompt>> {
    let row = super::row(
        conn,
        "SELECT data, status, settled_by FROM prompts WHERE id = ?1",
        [id.as_str()],
        prompt_row,
    )
    .optional()?;
    row.map(|(d, s, b)| prompt_from(&d, &s, b.as_deref())).transpose()
}

/// A session's pending prompts, oldest first.
pub fn pending_prompts(conn: &Connection, session: &SessionId) -> Result<Vec<Prompt>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data, status, settled_by FROM prompts WHERE session_id = ?1 AND status = 'pending'
         ORDER BY created_at, rowid",
    )?;
    let rows = stmt.query_map([session.as_str()], prompt_row)?;
    rows.map(|r| {
        let (d, s, b) = r?;
        prompt_from(&d, &s, b.as_deref())
    })
    .collect()
}

/// Marks a session ended.
pub fn end_session(
    conn: &Connection,
    id: &SessionId,
    at: Timestamp,
    exit_code: Option<i32>,
) -> Result<()> {
    super::exec(
        conn,
        "UPDATE sessions SET status = 'ended', ended_at = ?2, exit_code = ?3 WHERE id = ?1",
        params![id.as_str(), at.0, exit_code],
    )?;
    Ok(())
}

/// Saves the latest screen (JSON) and its title.
pub fn save_screen(conn: &Connection, id: &SessionId, screen: &Screen) -> Result<()> {
    let json = serde_json::to_string(screen).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    super::exec(
        conn,
        "UPDATE sessions SET screen = ?2, title = ?3 WHERE id = ?1",
        params![id.as_str(), json, screen.title],
    )?;
    Ok(())
}

/// The last saved screen of a session.
pub fn saved_screen(conn: &Connection, id: &SessionId) -> Result<Option<Screen>> {
    let json: Option<String> =
        super::row(conn, "SELECT screen FROM sessions WHERE id = ?1", [id.as_str()], |r| r.get(0))
            .optional()?
            .flatten();
    json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// Records a `prompt` or `prompt_response` feed event for SSE resume.
pub fn append_feed(
    conn: &Connection,
    eid: u64,
    session: &SessionId,
    event: &str,
    data: &str,
    at: Timestamp,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO feed_log (eid, session_id, event, data, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    stmt.execute(params![eid as i64, session.as_str(), event, data, at.0])?;
    Ok(())
}

/// The highest feed event id in use (0 if none).
pub fn max_eid(conn: &Connection) -> Result<u64> {
    let max: i64 = super::row(
        conn,
        "SELECT max(coalesce((SELECT max(eid) FROM output_log), 0),
                    coalesce((SELECT max(eid) FROM feed_log), 0))",
        [],
        |r| r.get(0),
    )?;
    Ok(max as u64)
}

/// Transcript lines of a session: after `after` ascending, or (with `before`) the `limit`
/// lines just before it, still returned ascending.
pub fn transcript(
    conn: &Connection,
    id: &SessionId,
    after: u64,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<TranscriptLine>> {
    let line = |r: &Row<'_>| {
        Ok(TranscriptLine {
            seq: r.get::<_, i64>(0)? as u64,
            at: Timestamp(r.get(1)?),
            line: r.get(2)?,
        })
    };
    let mut lines: Vec<TranscriptLine> = match before {
        Some(before) => {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, line FROM output_log WHERE session_id = ?1 AND seq > ?2 AND seq < ?3
                 ORDER BY seq DESC LIMIT ?4",
            )?;
            let rows =
                stmt.query_map(params![id.as_str(), after as i64, before as i64, limit], line)?;
            rows.collect::<rusqlite::Result<_>>()?
        }
        None => {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, line FROM output_log WHERE session_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![id.as_str(), after as i64, limit], line)?;
            rows.collect::<rusqlite::Result<_>>()?
        }
    };
    if before.is_some() {
        lines.reverse();
    }
    Ok(lines)
}

/// One stored feed event to replay after a `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// A transcript line of the watched session.
    Line {
        /// Feed event id.
        eid: u64,
        /// The line.
        line: TranscriptLine,
    },
    /// A `prompt` or `prompt_response` event of any session.
    Feed {
        /// Feed event id.
        eid: u64,
        /// Event name.
        event: String,
        /// JSON data as sent.
        data: String,
    },
}

impl Replayed {
    /// Its feed event id.
    pub fn eid(&self) -> u64 {
        match self {
            Self::Line { eid, .. } | Self::Feed { eid, .. } => *eid,
        }
    }
}

/// Up to `limit` feed events after `after`, in order: prompt events of every session, plus the
/// transcript lines of `session` if given.
pub fn replay(
    conn: &Connection,
    after: u64,
    session: Option<&SessionId>,
    limit: u32,
) -> Result<Vec<Replayed>> {
    let row = |r: &Row<'_>| -> rusqlite::Result<Replayed> {
        let eid = r.get::<_, i64>(0)? as u64;
        Ok(match r.get::<_, Option<i64>>(1)? {
            Some(seq) => Replayed::Line {
                eid,
                line: TranscriptLine { seq: seq as u64, at: Timestamp(r.get(2)?), line: r.get(3)? },
            },
            None => Replayed::Feed { eid, event: r.get(3)?, data: r.get(4)? },
        })
    };
    let out = match session {
        Some(s) => {
            let mut stmt = conn.prepare_cached(
                "SELECT eid, seq, at, line, NULL FROM output_log WHERE session_id = ?1 AND eid > ?2
                 UNION ALL
                 SELECT eid, NULL, at, event, data FROM feed_log WHERE eid > ?2
                 ORDER BY 1 LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![s.as_str(), after as i64, limit], row)?;
            rows.collect::<rusqlite::Result<_>>()?
        }
        None => {
            let mut stmt = conn.prepare_cached(
                "SELECT eid, NULL, at, event, data FROM feed_log WHERE eid > ?1 ORDER BY eid LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after as i64, limit], row)?;
            rows.collect::<rusqlite::Result<_>>()?
        }
    };
    Ok(out)
}

/// One answer attempt, for the audit table.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// The prompt answered.
    pub prompt_id: String,
    /// `phone:<session id>` or `token:<token id>`.
    pub actor: String,
    /// The client's address.
    pub remote_addr: String,
    /// The client's User-Agent.
    pub user_agent: String,
    /// The answer, as JSON.
    pub answer: String,
    /// HTTP status of the reply.
    pub outcome: u16,
    /// What happened, in words.
    pub detail: String,
    /// When.
    pub at: Timestamp,
}

/// Appends an audit row.
pub fn insert_audit(conn: &Connection, a: &AuditRow) -> Result<()> {
    super::exec(conn,
        "INSERT INTO answer_audit (prompt_id, actor, remote_addr, user_agent, answer, outcome, detail, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![a.prompt_id, a.actor, a.remote_addr, a.user_agent, a.answer, a.outcome, a.detail, a.at.0],
    )?;
    Ok(())
}

/// Audit rows of a prompt, oldest first: (actor, outcome, detail).
pub fn audit_for(conn: &Connection, prompt_id: &str) -> Result<Vec<(String, u16, String)>> {
    let mut stmt = conn.prepare(
        "SELECT actor, outcome, detail FROM answer_audit WHERE prompt_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([prompt_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
