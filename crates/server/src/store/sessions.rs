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

/// The status a session should have now; writes it if it changed. Returns the status before
/// and the session after, read with the status in one query (`None` if there is no such
/// session). An ended session stays ended; otherwise it is `disconnected` without a link,
/// `waiting` with pending prompts, else `running`.
pub fn settle_status(
    conn: &Connection,
    id: &SessionId,
    linked: bool,
) -> Result<Option<(SessionStatus, Session)>> {
    let Some(mut session) = session(conn, id)? else { return Ok(None) };
    let before = session.status;
    session.status = match before {
        SessionStatus::Ended => SessionStatus::Ended,
        _ if !linked => SessionStatus::Disconnected,
        _ if session.pending > 0 => SessionStatus::Waiting,
        _ => SessionStatus::Running,
    };
    if session.status != before {
        super::exec(
            conn,
            "UPDATE sessions SET status = ?2 WHERE id = ?1",
            params![id.as_str(), session.status.as_str()],
        )?;
    }
    Ok(Some((before, session)))
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

/// Appends a block of transcript lines in its packed form ([`super::Block`]); `first_seq` and
/// `last_seq` are the smallest and greatest `seq` in it, `eid` its `lines` event's feed id.
pub fn insert_block(
    conn: &Connection,
    id: &SessionId,
    eid: u64,
    first_seq: u64,
    last_seq: u64,
    packed: &str,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO transcript_blocks (eid, session_id, first_seq, last_seq, runs)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    stmt.execute(params![eid as i64, id.as_str(), first_seq as i64, last_seq as i64, packed])?;
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
        "SELECT max(coalesce((SELECT max(eid) FROM transcript_blocks), 0),
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
    let limit = limit as usize;
    let upper = before.unwrap_or(u64::MAX);
    let wanted = |l: &TranscriptLine| l.seq > after && l.seq < upper;
    let mut lines = Vec::new();
    // Blocks never overlap and their `seq` ranges grow with their order, so one index walks
    // forward from `after` and another backward from `before`.
    let mut stmt;
    let mut rows = match before {
        Some(before) => {
            stmt = conn.prepare_cached(
                "SELECT runs FROM transcript_blocks
                 WHERE session_id = ?1 AND first_seq < ?3 AND last_seq > ?2
                 ORDER BY first_seq DESC",
            )?;
            stmt.query(params![id.as_str(), sql_int(after), sql_int(before)])?
        }
        None => {
            stmt = conn.prepare_cached(
                "SELECT runs FROM transcript_blocks WHERE session_id = ?1 AND last_seq > ?2
                 ORDER BY last_seq",
            )?;
            stmt.query(params![id.as_str(), sql_int(after)])?
        }
    };
    while lines.len() < limit
        && let Some(row) = rows.next()?
    {
        let block = super::block::parse(&row.get::<_, String>(0)?)?;
        let room = limit - lines.len();
        match before {
            Some(_) => lines.extend(block.into_iter().rev().filter(wanted).take(room)),
            None => lines.extend(block.into_iter().filter(wanted).take(room)),
        }
    }
    if before.is_some() {
        lines.reverse();
    }
    Ok(lines)
}

/// A sequence number or feed id as SQLite's signed integer (ids past its range are clamped;
/// none that large is ever stored).
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One stored feed event to replay after a `Last-Event-ID`: a `lines` block of the watched
/// session, or a `prompt` / `prompt_response` event of any session, with its data as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Feed event id.
    pub eid: u64,
    /// Event name.
    pub event: String,
    /// JSON data as sent.
    pub data: String,
}

/// A page of feed events to replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayPage {
    /// The events, in order.
    pub events: Vec<Replayed>,
    /// The page stopped at its limit: more may follow after the last event.
    pub more: bool,
}

/// Feed events after `after`, in order, until `limit` events or about `max_bytes` of data:
/// prompt events of every session, plus the transcript blocks of `session` if given.
pub fn replay(
    conn: &Connection,
    after: u64,
    session: Option<&SessionId>,
    limit: u32,
    max_bytes: usize,
) -> Result<ReplayPage> {
    let after = sql_int(after);
    let mut stmt;
    let mut rows = match session {
        Some(s) => {
            stmt = conn.prepare_cached(
                "SELECT eid, ?4, runs, 1 FROM transcript_blocks WHERE session_id = ?1 AND eid > ?2
                 UNION ALL
                 SELECT eid, event, data, 0 FROM feed_log WHERE eid > ?2
                 ORDER BY 1 LIMIT ?3",
            )?;
            stmt.query(params![s.as_str(), after, limit, cr_proto::feed::LINES])?
        }
        None => {
            stmt = conn.prepare_cached(
                "SELECT eid, event, data, 0 FROM feed_log WHERE eid > ?1 ORDER BY eid LIMIT ?2",
            )?;
            stmt.query(params![after, limit])?
        }
    };
    let mut page = ReplayPage::default();
    let mut bytes = 0;
    while let Some(r) = rows.next()? {
        let (stored, packed): (String, bool) = (r.get(2)?, r.get(3)?);
        let data = if packed { super::block::expand(&stored)? } else { stored };
        let event = Replayed { eid: r.get::<_, i64>(0)? as u64, event: r.get(1)?, data };
        bytes += event.data.len();
        page.events.push(event);
        if bytes >= max_bytes {
            page.more = true;
            return Ok(page);
        }
    }
    page.more = page.events.len() >= limit as usize;
    Ok(page)
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

#[cfg(test)]
mod tests {
    use super::super::{Admin, Block};
    use super::*;

    fn line(seq: u64) -> TranscriptLine {
        TranscriptLine {
            seq,
            at: Timestamp(1_763_730_000_000 + seq as i64),
            line: format!("l{seq}"),
        }
    }

    /// Stores `session`'s lines as blocks of the given sizes, with gaps in `seq`, interleaved
    /// with another session's blocks; returns every line of `session` in order.
    fn store_blocks(
        conn: &Connection,
        session: &SessionId,
        sizes: &[usize],
    ) -> Vec<TranscriptLine> {
        let other = SessionId::new("other-session").unwrap();
        let (mut seq, mut eid, mut all) = (0, 0, Vec::new());
        for (i, &n) in sizes.iter().enumerate() {
            seq += 1 + (i % 3) as u64; // a prompt event between blocks takes a number
            let mut block = vec![line(seq)];
            for k in 1..n as u64 {
                seq += 1 + k % 2; // seq may skip numbers inside a block too
                block.push(line(seq));
            }
            eid += 1;
            let packed = Block::new(&block).packed;
            insert_block(conn, session, eid, block[0].seq, seq, &packed).unwrap();
            eid += 1;
            insert_block(conn, &other, eid, seq, seq, &Block::new(&[line(seq)]).packed).unwrap();
            all.extend(block);
        }
        all
    }

    #[test]
    fn transcript_pages_across_blocks_match_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let admin = Admin::open(&dir.path().join("relay.db")).unwrap();
        let s = SessionId::new("blocks-session").unwrap();
        let all = store_blocks(&admin.conn, &s, &[1, 7, 3, 40, 1, 1, 12, 5]);
        let max = all.last().unwrap().seq;
        let seqs = |v: &[TranscriptLine]| v.iter().map(|l| l.seq).collect::<Vec<_>>();
        for after in (0..=max + 1).step_by(3) {
            for limit in [1, 2, 5, 13, 1000] {
                let got = transcript(&admin.conn, &s, after, None, limit).unwrap();
                let want: Vec<_> =
                    all.iter().filter(|l| l.seq > after).take(limit as usize).cloned().collect();
                assert_eq!(seqs(&got), seqs(&want), "after {after} limit {limit}");
                assert_eq!(got, want);
                for before in (after..=max + 2).step_by(7) {
                    let got = transcript(&admin.conn, &s, after, Some(before), limit).unwrap();
                    let fit: Vec<_> =
                        all.iter().filter(|l| l.seq > after && l.seq < before).cloned().collect();
                    let want = &fit[fit.len().saturating_sub(limit as usize)..];
                    assert_eq!(
                        seqs(&got),
                        seqs(want),
                        "after {after} before {before} limit {limit}"
                    );
                }
            }
        }
    }

    #[test]
    fn replay_pages_stop_at_their_budget_and_resume_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let admin = Admin::open(&dir.path().join("relay.db")).unwrap();
        let s = SessionId::new("blocks-session").unwrap();
        store_blocks(&admin.conn, &s, &[30, 2, 30, 30, 1, 30]);
        let other = SessionId::new("other-session").unwrap();
        append_feed(&admin.conn, 100, &other, "prompt", "{}", Timestamp(0)).unwrap();
        let want: Vec<u64> = [1, 3, 5, 7, 9, 11, 100].into();

        let mut after = 0;
        let mut got = Vec::new();
        let mut pages = 0;
        loop {
            let page = replay(&admin.conn, after, Some(&s), 256, 1500).unwrap();
            pages += 1;
            assert!(page.events.len() <= 2, "a page holds about 1500 bytes: {page:?}");
            for e in &page.events {
                assert_eq!(e.event, if e.eid == 100 { "prompt" } else { "lines" });
                if e.event == "lines" {
                    let block: Vec<TranscriptLine> = serde_json::from_str(&e.data).unwrap();
                    assert!(!block.is_empty());
                }
                got.push(e.eid);
            }
            after = got.last().copied().unwrap_or(after);
            if !page.more {
                break;
            }
        }
        assert_eq!(got, want);
        assert!(pages >= 4, "the budget split the replay: {pages} pages");
        let page = replay(&admin.conn, 0, Some(&s), 3, usize::MAX).unwrap();
        assert_eq!((page.events.len(), page.more), (3, true), "the count limit holds too");
        let page = replay(&admin.conn, 0, None, 256, usize::MAX).unwrap();
        assert_eq!(page.events.iter().map(|e| e.eid).collect::<Vec<_>>(), [100]);
        assert!(!page.more);
        assert_eq!(max_eid(&admin.conn).unwrap(), 100);
    }
}
