//! The writer thread: every write of the relay, committed in batches.
//!
//! Jobs queue on a bounded channel. The thread takes the first job, drains whatever else is
//! queued (up to [`MAX_BATCH_JOBS`]), runs each in its own savepoint inside one transaction,
//! commits, and only then runs the jobs' follow-ups, in order. Under load many links' events
//! share one commit (group commit); when idle a single job commits at once, with no timer
//! adding latency.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::mpsc;

use super::{Result, StoreError};

/// Jobs waiting for the writer. When full, submitters wait: that is the back-pressure that
/// slows a flood of events down to the disk's pace instead of buffering it in memory.
const QUEUE_CAPACITY: usize = 1024;
/// Most jobs committed in one transaction, so one commit never holds the lock for long.
const MAX_BATCH_JOBS: usize = 256;

/// What a write job sees: the connection inside the batch's transaction, and the relay-wide
/// feed event counter.
pub struct Tx<'a> {
    conn: &'a Connection,
    next_eid: &'a mut u64,
}

impl Tx<'_> {
    /// The connection, inside the batch's transaction and the job's savepoint.
    pub fn conn(&self) -> &Connection {
        self.conn
    }

    /// Takes the next feed event id. Ids only ever grow; a rolled-back job may leave a hole.
    pub fn next_eid(&mut self) -> u64 {
        let id = *self.next_eid;
        *self.next_eid += 1;
        id
    }
}

type Finish = Box<dyn FnOnce(Result<()>) + Send>;
type Job = Box<dyn FnOnce(Result<&mut Tx<'_>>) -> Finish + Send>;

pub(super) struct Writer {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The highest feed event id committed, set after each commit and before its follow-ups.
    committed_eid: Arc<AtomicU64>,
}

impl Writer {
    pub(super) fn start(conn: Connection) -> Result<Self> {
        let max_eid = super::sessions::max_eid(&conn)?;
        let committed_eid = Arc::new(AtomicU64::new(max_eid));
        let committed = committed_eid.clone();
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, max_eid + 1, &committed))?;
        Ok(Self { jobs: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)), committed_eid })
    }

    /// The highest feed event id committed so far. Every event above it is either not yet
    /// committed or committed after this read, so it reaches whoever subscribed before.
    pub(super) fn committed_eid(&self) -> u64 {
        self.committed_eid.load(Ordering::Acquire)
    }

    pub(super) async fn submit<R, F, T>(&self, f: F, then: T) -> Result<()>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<R> + Send + 'static,
        T: FnOnce(Result<R>) + Send + 'static,
    {
        let job: Job = Box::new(move |tx| {
            let result = match tx {
                Ok(tx) => in_savepoint(tx, f),
                Err(e) => Err(e),
            };
            Box::new(move |committed| then(committed.and(result)))
        });
        let sender = self.jobs.lock().expect("writer lock").clone().ok_or(StoreError::Stopped)?;
        sender.send(job).await.map_err(|_| StoreError::Stopped)
    }

    pub(super) fn close(&self) {
        self.jobs.lock().expect("writer lock").take();
        if let Some(thread) = self.thread.lock().expect("writer lock").take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

/// A transaction or savepoint statement, through the statement cache like every statement the
/// writer runs all day (parsing `BEGIN IMMEDIATE` anew cost 40 µs a batch).
fn sql(conn: &Connection, statement: &str) -> rusqlite::Result<()> {
    super::exec(conn, statement, []).map(drop)
}

fn in_savepoint<R>(tx: &mut Tx<'_>, f: impl FnOnce(&mut Tx<'_>) -> Result<R>) -> Result<R> {
    let eid_before = *tx.next_eid;
    sql(tx.conn, "SAVEPOINT job")?;
    let result = match catch_unwind(AssertUnwindSafe(|| f(tx))) {
        Ok(r) => r,
        Err(_) => Err(StoreError::Commit("a write job panicked".into())),
    };
    if result.is_err() {
        *tx.next_eid = eid_before;
        sql(tx.conn, "ROLLBACK TO job")?;
    }
    sql(tx.conn, "RELEASE job")?;
    result
}

fn run(
    conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    mut next_eid: u64,
    committed_eid: &AtomicU64,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH_JOBS);
    let mut finishers: Vec<Finish> = Vec::with_capacity(MAX_BATCH_JOBS);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH_JOBS {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let batch_eid = next_eid;
        let committed = match sql(&conn, "BEGIN IMMEDIATE") {
            Ok(()) => {
                let mut tx = Tx { conn: &conn, next_eid: &mut next_eid };
                finishers.extend(batch.drain(..).map(|job| job(Ok(&mut tx))));
                sql(&conn, "COMMIT").map_err(|e| {
                    let _ = sql(&conn, "ROLLBACK");
                    StoreError::Commit(e.to_string())
                })
            }
            Err(e) => {
                let e = e.to_string();
                finishers
                    .extend(batch.drain(..).map(|job| job(Err(StoreError::Commit(e.clone())))));
                Err(StoreError::Commit(e))
            }
        };
        match &committed {
            Ok(()) => committed_eid.store(next_eid - 1, Ordering::Release),
            Err(e) => {
                tracing::error!(error = %e, "database batch did not commit");
                next_eid = batch_eid;
            }
        }
        for finish in finishers.drain(..) {
            let result = match &committed {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Commit(e.to_string())),
            };
            if catch_unwind(AssertUnwindSafe(|| finish(result))).is_err() {
                tracing::error!("a write follow-up panicked");
            }
        }
    }
    tracing::debug!("store writer stopped");
}

#[cfg(test)]
mod tests {
    use super::super::{Admin, Store};
    use super::*;

    #[tokio::test]
    async fn failed_jobs_roll_back_alone_and_eids_keep_growing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        let store = Store::open(&path).unwrap();
        let ok = store
            .write(|tx| {
                tx.conn().execute("CREATE TABLE t (x INTEGER)", [])?;
                Ok(tx.next_eid())
            })
            .await
            .unwrap();
        let bad = store
            .write(|tx| {
                tx.conn().execute("INSERT INTO t VALUES (1)", [])?;
                let _ = tx.next_eid();
                tx.conn().execute("INSERT INTO nope VALUES (1)", [])?;
                Ok(())
            })
            .await;
        assert!(bad.is_err());
        let next = store.write(|tx| Ok(tx.next_eid())).await.unwrap();
        assert_eq!(next, ok + 1, "a rolled-back job gives its eids back");
        let rows: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(rows, 0, "the failed job's insert was rolled back");
        store.close();
        assert!(matches!(store.write(|_| Ok(())).await, Err(StoreError::Stopped)));
        drop(Admin::open(&path).unwrap());
    }

    #[tokio::test]
    async fn follow_ups_run_in_commit_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("relay.db")).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..100u32 {
            let tx = tx.clone();
            store.submit(move |_| Ok(i), move |r| tx.send(r.unwrap()).unwrap()).await.unwrap();
        }
        for want in 0..100u32 {
            assert_eq!(rx.recv().await, Some(want));
        }
    }
}
