//! The store: SQLite in WAL mode. All SQL of the relay lives in this module.
//!
//! - [`Store::write`] / [`Store::submit`] hand a job to the one writer thread (module `writer`),
//!   which commits whatever jobs are queued in one transaction, then runs their follow-ups in
//!   commit order: that is where acknowledgements are released and feed events published, so
//!   nothing is announced before it is on disk.
//! - [`Store::read`] runs a query on a pooled read connection on the blocking pool.
//! - [`Admin`] is a plain connection for the admin subcommands, which run in another process
//!   while the relay serves (WAL lets readers and one writer work at once; the busy timeout
//!   queues the rare concurrent writes).
//!
//! Durability: `synchronous = NORMAL` in WAL mode syncs the log only at checkpoints. A commit is
//! in the WAL file (the OS page cache) before `COMMIT` returns, so a `kill -9` of the relay loses
//! nothing it committed; only a power cut or kernel crash could lose the last transactions, and
//! `cr` re-sends whatever was not acknowledged.

mod auth;
mod block;
mod sessions;
mod writer;

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

pub use auth::*;
pub use block::Block;
pub use sessions::*;
pub use writer::Tx;

/// How long a connection waits for another one's write lock before giving up. Admin commands
/// and the writer thread take it for milliseconds at a time.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries at setting up a connection (WAL + migrations) when SQLite answers BUSY without waiting.
const OPEN_ATTEMPTS: u32 = 50;
/// Pause between those tries.
const OPEN_RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Idle read connections kept for reuse; more are opened on demand and closed after use.
const READ_POOL_IDLE: usize = 4;

/// Schema migrations, applied in order at open; `PRAGMA user_version` counts those applied.
/// Append-only: a shipped migration never changes.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_transcript_blocks.sql"),
    include_str!("../../migrations/0003_packed_blocks.sql"),
];

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON value did not parse.
    #[error("stored data does not parse: {0}")]
    Corrupt(String),
    /// The batch this write belonged to did not commit.
    #[error("database commit failed: {0}")]
    Commit(String),
    /// The writer thread is gone (the relay is shutting down).
    #[error("the database writer has stopped")]
    Stopped,
    /// Creating the database file or directory failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The database was written by a newer relay.
    #[error(
        "the database has schema version {0}, newer than this cr-server knows ({1}); upgrade cr-server"
    )]
    TooNew(i64, usize),
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// SQLite said the database is busy or locked by another connection.
    fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// The relay's handle on the database: one writer thread, a pool of readers.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: writer::Writer,
    idle_readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies migrations, marks every
    /// live session `disconnected` (no link survives a restart), and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = open_connection(path)?;
        sessions::disconnect_all(&conn)?;
        let writer = writer::Writer::start(conn)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer,
                idle_readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` in the next write batch and returns its result once the batch has committed.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(f, move |r| {
            let _ = tx.send(r);
        })
        .await?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Queues `f` for the next write batch; `then` runs on the writer thread with `f`'s result
    /// after the batch committed (or with the error if it did not), in commit order. `then` must
    /// not block. Waits only while the writer's queue is full.
    pub async fn submit<R, F, T>(&self, f: F, then: T) -> Result<()>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<R> + Send + 'static,
        T: FnOnce(Result<R>) + Send + 'static,
    {
        self.inner.writer.submit(f, then).await
    }

    /// Runs the query `f` on a read connection, off the async threads.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_now(f))
            .await
            .map_err(|e| StoreError::Commit(format!("read task failed: {e}")))?
    }

    /// Runs the point lookup `f` on a read connection right here, on the calling async thread.
    ///
    /// For the queries on a request's critical path that find one row by its key (a login's
    /// cookie, a prompt): they take microseconds, and a WAL reader never waits for the writer,
    /// while a trip to a blocking thread and back costs a hundred or more. Anything that
    /// scans goes through [`Store::read`].
    pub fn read_now<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let idle = self.inner.idle_readers.lock().expect("reader pool lock").pop();
        let conn = match idle {
            Some(c) => c,
            None => connect(&self.inner.path)?,
        };
        let result = f(&conn);
        let mut pool = self.inner.idle_readers.lock().expect("reader pool lock");
        if pool.len() < READ_POOL_IDLE {
            pool.push(conn);
        }
        result
    }

    /// The highest feed event id committed, without a query: where a new feed client starts.
    pub fn committed_eid(&self) -> u64 {
        self.inner.writer.committed_eid()
    }

    /// Stops taking writes, commits what is queued and waits for the writer thread to finish.
    pub fn close(&self) {
        self.inner.writer.close();
    }
}

/// A plain read-write connection for the admin subcommands.
pub struct Admin {
    /// The connection; queries are the functions of this module.
    pub conn: Connection,
}

impl Admin {
    /// Opens (creating if needed) the database and applies migrations.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self { conn: open_connection(path)? })
    }
}

/// Creates the file (0600, in a 0700 directory) if missing, connects, migrates.
fn open_connection(path: &Path) -> Result<Connection> {
    create_private(path)?;
    let conn = connect(path)?;
    // Two processes setting up a fresh file together (the relay and an admin command) can make
    // SQLite answer BUSY at once instead of waiting: it does not run the busy handler where
    // waiting could deadlock. Both steps are idempotent, so try again shortly.
    let mut attempt = 1;
    loop {
        match enable_wal(&conn).and_then(|()| migrate(&conn)) {
            Err(e) if e.is_busy() && attempt < OPEN_ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(OPEN_RETRY_PAUSE);
            }
            other => return other.map(|()| conn),
        }
    }
}

fn enable_wal(conn: &Connection) -> Result<()> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Commit(format!("SQLite refused WAL mode (got {mode})")));
    }
    Ok(())
}

/// The database holds device secrets: only its owner may read it.
fn create_private(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// `query_row` through the connection's statement cache: the relay runs the same few
/// statements all day, and parsing one costs more than running a point lookup.
fn row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// `execute` through the connection's statement cache.
fn exec<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Distinct statements each connection keeps prepared (the relay has about forty).
const STATEMENT_CACHE: usize = 64;

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // See the module docs for why NORMAL keeps every acknowledged event across kill -9.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// Applies the missing migrations in one `BEGIN IMMEDIATE` transaction. The version is read
/// inside it: the relay and an admin command may open a fresh database at the same moment, and
/// whichever takes the write lock second must see that the first already migrated.
fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let applied = (|| {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew(version, MIGRATIONS.len()));
        }
        for sql in MIGRATIONS.iter().skip(version as usize) {
            conn.execute_batch(sql)?;
        }
        conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
        Ok(version)
    })();
    match applied {
        Ok(from) => {
            conn.execute_batch("COMMIT")?;
            if from < MIGRATIONS.len() as i64 {
                tracing::info!(from, to = MIGRATIONS.len(), "applied database migrations");
            }
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// `PRAGMA integrity_check`: `ok`, or what is wrong.
pub fn integrity_check(conn: &Connection) -> Result<String> {
    Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_file_and_migrates_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/relay.db");
        let admin = Admin::open(&path).unwrap();
        let v: i64 = admin.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        drop(admin);
        assert!(Admin::open(&path).is_ok(), "reopening skips applied migrations");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("nested")), 0o700);
    }

    #[test]
    fn concurrent_first_opens_migrate_once() {
        // The relay and an admin command opening a brand-new database at the same moment.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("relay.db");
            let start = std::sync::Barrier::new(6);
            std::thread::scope(|s| {
                let opens: Vec<_> = (0..6)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            Admin::open(&path).map(drop)
                        })
                    })
                    .collect();
                for open in opens {
                    open.join().unwrap().expect("every concurrent open succeeds");
                }
            });
        }
    }

    #[test]
    fn line_by_line_transcripts_migrate_to_blocks() {
        use cr_proto::{SessionId, Timestamp, TranscriptLine};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        {
            // A database as the first schema left it, with lines stored one per row.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            let mut insert =
                conn.prepare("INSERT INTO output_log VALUES (?1, ?2, ?3, ?4, ?5)").unwrap();
            insert
                .execute(rusqlite::params![
                    "s1",
                    4,
                    1_763_730_720_123_i64,
                    "tab\t \"quoted\" ✓",
                    10
                ])
                .unwrap();
            insert.execute(rusqlite::params!["s1", 5, 1_763_730_720_999_i64, "", 11]).unwrap();
            insert.execute(rusqlite::params!["s2", 1, 1_763_730_721_000_i64, "other", 12]).unwrap();
            insert.execute(rusqlite::params!["s1", 7, 1_763_730_722_000_i64, "last", 14]).unwrap();
        }
        let admin = Admin::open(&path).unwrap();
        let s1 = SessionId::new("s1").unwrap();
        let want = [
            (4, 1_763_730_720_123, "tab\t \"quoted\" ✓"),
            (5, 1_763_730_720_999, ""),
            (7, 1_763_730_722_000, "last"),
        ]
        .map(|(seq, at, line)| TranscriptLine {
            seq,
            at: Timestamp(at),
            line: line.into(),
        });
        assert_eq!(transcript(&admin.conn, &s1, 0, None, 100).unwrap(), want);
        // The old view of the table still reads one row per line, with the same columns.
        let mut view = admin
            .conn
            .prepare(
                "SELECT seq, at, line, eid FROM output_log WHERE session_id = 's1' ORDER BY seq",
            )
            .unwrap();
        let rows: Vec<(i64, i64, String, i64)> = view
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let from_want: Vec<_> = want
            .iter()
            .zip([10, 11, 14])
            .map(|(l, eid)| (l.seq as i64, l.at.0, l.line.clone(), eid))
            .collect();
        assert_eq!(rows, from_want);
        // A phone that was sent eid 10 before the upgrade resumes with exactly what followed.
        let page = replay(&admin.conn, 10, Some(&s1), 100, usize::MAX).unwrap();
        let eids: Vec<u64> = page.events.iter().map(|e| e.eid).collect();
        assert_eq!(eids, [11, 14]);
        let lines: Vec<TranscriptLine> = serde_json::from_str(&page.events[1].data).unwrap();
        assert_eq!(lines, want[2..]);
        assert_eq!(max_eid(&admin.conn).unwrap(), 14);
    }

    #[test]
    fn json_blocks_migrate_to_packed_runs() {
        use cr_proto::{SessionId, Timestamp, TranscriptLine};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        let s1 = SessionId::new("s1").unwrap();
        let line =
            |seq, at, text: &str| TranscriptLine { seq, at: Timestamp(at), line: text.into() };
        let blocks = [
            vec![line(3, 1_763_730_720_123, "tab\t \"quoted\" ✓"), line(4, 1_763_730_720_123, "")],
            vec![line(6, 1_763_730_720_999, "\u{1b}[1mbold"), line(9, 1_763_730_721_000, "x")],
        ];
        {
            // A database as the second schema left it: blocks hold their SSE JSON.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            for (i, block) in blocks.iter().enumerate() {
                let (first, last) = (block[0].seq as i64, block[block.len() - 1].seq as i64);
                conn.execute(
                    "INSERT INTO transcript_blocks VALUES (?1, 's1', ?2, ?3, ?4)",
                    rusqlite::params![
                        20 + i as i64,
                        first,
                        last,
                        serde_json::to_string(block).unwrap()
                    ],
                )
                .unwrap();
            }
        }
        let admin = Admin::open(&path).unwrap();
        let all: Vec<TranscriptLine> = blocks.concat();
        assert_eq!(transcript(&admin.conn, &s1, 0, None, 100).unwrap(), all);
        let page = replay(&admin.conn, 0, Some(&s1), 100, usize::MAX).unwrap();
        for (event, block) in page.events.iter().zip(&blocks) {
            assert_eq!(serde_json::from_str::<Vec<TranscriptLine>>(&event.data).unwrap(), *block);
        }
        assert_eq!(page.events.iter().map(|e| e.eid).collect::<Vec<_>>(), [20, 21]);
        let mut view =
            admin.conn.prepare("SELECT seq, at, line FROM output_log ORDER BY seq").unwrap();
        let rows: Vec<(i64, i64, String)> = view
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            all.iter().map(|l| (l.seq as i64, l.at.0, l.line.clone())).collect::<Vec<_>>()
        );
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        let admin = Admin::open(&path).unwrap();
        admin.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(admin);
        assert!(matches!(Admin::open(&path), Err(StoreError::TooNew(99, _))));
    }
}
