//! How a write that records a consent reaches the database: one transaction of its own, tried
//! once more if a unique constraint refused it; and on SQLite, group commit.
//!
//! SQLite has one writer at a time. Every write in its own transaction means a `BEGIN
//! IMMEDIATE` and a `COMMIT` (two round trips to the connection's thread) and the changed pages
//! appended to the WAL once per consent; with several connections, writers that meet also sleep
//! in SQLite's busy handler (1, 2, 5, 10 ms…), which is what a callback's p99 was made of. So
//! the SQLite ledger writes through one connection, and the recording writes that arrive while
//! it is busy go into the next transaction together: each step runs in turn on that one
//! connection, one `COMMIT` for all, and every caller hears back only after it. If a step fails,
//! the batch is rolled back, that step runs alone (answering its own error) and the others run
//! together again, so a batch gives every caller what running alone would have given it. A
//! batch that cannot begin or commit fails every caller in it alike; a caller waits at most
//! `WRITE_DEADLINE`, and the write of a caller that gave up is not made.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::{Connection, Database, Pool, Sqlite, SqliteConnection};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::rows::is_unique_violation;

/// A write's work inside its transaction; run again on a retry or after a failed batch.
pub(super) type Step<DB, T> = Arc<
    dyn for<'c> Fn(&'c mut <DB as Database>::Connection) -> BoxFuture<'c, Result<T, sqlx::Error>>
        + Send
        + Sync,
>;

/// At most this many writes share one transaction: long enough to take what 32 concurrent
/// flows bring, short enough that a batch's last caller does not wait long for its first.
const MAX_BATCH: usize = 64;

/// Runs `step` in a transaction of its own (begun with `begin`), once more if a unique
/// constraint refused it: a row id that clashed gets a new one, and a consent another request
/// inserted meanwhile is found by the second attempt's read.
pub(super) async fn alone<DB: Database, T>(
    pool: &Pool<DB>,
    begin: &'static str,
    step: &Step<DB, T>,
) -> Result<T, sqlx::Error> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut tx = pool.begin_with(begin).await?;
        match step(&mut tx).await {
            Ok(value) => {
                tx.commit().await?;
                return Ok(value);
            }
            Err(e) if attempts < 2 && is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// SQLite's write transaction: the write lock taken at once, so a read inside it is never
/// overtaken by another writer.
pub(super) const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

/// How long a caller waits for its write (queued, run and committed) before it hears that the
/// ledger is unavailable: as long as the busy timeout of a write on its own connection.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Writes waiting at most; a caller beyond them waits for room within its deadline.
const QUEUE: usize = 1024;

/// One caller's write, waiting in the queue.
trait Job: Send {
    /// The caller has gone (its deadline passed, or its request was cancelled).
    fn abandoned(&self) -> bool;
    /// Runs the step in the batch's transaction, keeping its value for `committed`.
    fn run<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;
    /// Runs the step alone and answers the caller.
    fn alone<'a>(self: Box<Self>, pool: &'a Pool<Sqlite>) -> BoxFuture<'a, ()>;
    /// Answers the caller with the value kept by `run` (the batch committed).
    fn committed(self: Box<Self>);
    /// Answers the caller with the batch's failure.
    fn failed(self: Box<Self>, e: sqlx::Error);
}

struct Pending<T> {
    step: Step<Sqlite, T>,
    value: Option<T>,
    reply: oneshot::Sender<Result<T, sqlx::Error>>,
    /// The caller's span: the driver's statement logs stay on the caller's request.
    span: tracing::Span,
}

impl<T: Send + 'static> Job for Pending<T> {
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn run<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let span = self.span.clone();
            self.value = Some((self.step)(conn).instrument(span).await?);
            Ok(())
        })
    }

    fn alone<'a>(self: Box<Self>, pool: &'a Pool<Sqlite>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let result = alone(pool, BEGIN_IMMEDIATE, &self.step)
                .instrument(self.span.clone())
                .await;
            // The caller may have gone meanwhile: nothing to answer.
            let _ = self.reply.send(result);
        })
    }

    fn committed(self: Box<Self>) {
        if let Some(value) = self.value {
            let _ = self.reply.send(Ok(value));
        }
    }

    fn failed(self: Box<Self>, e: sqlx::Error) {
        let _ = self.reply.send(Err(e));
    }
}

/// The queue of recording writes on an SQLite ledger, and the task that commits them.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl GroupCommit {
    /// Starts the writer task on `writer` (the ledger's one write connection). It ends when
    /// the last `GroupCommit` is dropped.
    pub(super) fn start(writer: Pool<Sqlite>) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(commit_batches(writer, queue));
        Self { jobs }
    }

    /// Whether the writer task still runs (it ends only with its runtime, or if a step panicked).
    pub(super) fn is_running(&self) -> bool {
        !self.jobs.is_closed()
    }

    /// Runs `step` in the next batch and answers once that batch (or the step alone) committed;
    /// `PoolTimedOut` if that took longer than the deadline.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        step: Step<Sqlite, T>,
    ) -> Result<T, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            step,
            value: None,
            reply,
            span: tracing::Span::current(),
        });
        let written = async {
            self.jobs
                .send(job)
                .await
                .map_err(|_| sqlx::Error::PoolClosed)?;
            answer.await.map_err(|_| sqlx::Error::PoolClosed)?
        };
        tokio::time::timeout(WRITE_DEADLINE, written)
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    }
}

/// Where a batch failed.
enum BatchError {
    /// No transaction (the connection or the lock could not be had): every write fails alike.
    Begin(sqlx::Error),
    /// The write at this index failed; the transaction is rolled back.
    Step(usize),
    /// The commit failed; nothing was written.
    Commit(sqlx::Error),
}

async fn commit_batches(writer: Pool<Sqlite>, mut queue: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A caller that gave up was told the ledger is unavailable: its write is not made.
        batch.retain(|job| !job.abandoned());
        while !batch.is_empty() {
            if batch.len() == 1 {
                for job in batch.drain(..) {
                    job.alone(&writer).await;
                }
                break;
            }
            match run_together(&writer, &mut batch).await {
                Ok(()) => batch.drain(..).for_each(|job| job.committed()),
                Err(BatchError::Begin(e) | BatchError::Commit(e)) => {
                    batch.drain(..).for_each(|job| job.failed(copy(&e)));
                }
                // Rolled back: the failed write alone (it may be retried, and answers its
                // own error), then the others together again.
                Err(BatchError::Step(failed)) => batch.remove(failed).alone(&writer).await,
            }
        }
    }
}

async fn run_together(writer: &Pool<Sqlite>, batch: &mut [Box<dyn Job>]) -> Result<(), BatchError> {
    let mut tx = writer
        .begin_with(BEGIN_IMMEDIATE)
        .await
        .map_err(BatchError::Begin)?;
    for (i, job) in batch.iter_mut().enumerate() {
        if job.run(&mut tx).await.is_err() {
            return Err(BatchError::Step(i));
        }
    }
    tx.commit().await.map_err(BatchError::Commit)
}

/// The same failure for every caller of a batch (sqlx's errors cannot be cloned).
fn copy(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        e => sqlx::Error::Io(std::io::Error::other(e.to_string())),
    }
}

/// On the writer pool: a connection given back still inside a transaction (SQLite rolled it
/// back by itself after a full disk or an I/O error, so the driver's rollback failed and its
/// count stayed) is closed instead of kept, or every later write on it would fail to begin.
pub(super) fn closed_if_still_in_a_transaction(
    conn: &mut SqliteConnection,
    _: sqlx::pool::PoolConnectionMetadata,
) -> BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        // The ping runs the rollback a dropped transaction queued.
        conn.ping().await?;
        Ok(!conn.is_in_transaction())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::join_all;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;

    /// A one-connection pool on a new file with a table of numbers.
    async fn writer() -> (Pool<Sqlite>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ngi-write-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.join("numbers.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE numbers (n INTEGER NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        (pool, dir)
    }

    /// Inserts `n` and answers it (or fails for `fail`), counting how often it ran.
    fn step(n: i64, fail: bool, runs: Arc<AtomicUsize>) -> Step<Sqlite, i64> {
        Arc::new(move |conn| {
            let runs = runs.clone();
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let sql = if fail {
                    "INSERT INTO no_such_table (n) VALUES ($1)"
                } else {
                    "INSERT INTO numbers (n) VALUES ($1)"
                };
                sqlx::query(sql).bind(n).execute(&mut *conn).await?;
                Ok(n)
            })
        })
    }

    async fn numbers(pool: &Pool<Sqlite>) -> Vec<i64> {
        sqlx::query_scalar("SELECT n FROM numbers ORDER BY n")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    // On the test's one thread every write below is queued before the writer task runs, so
    // they all arrive as one batch.

    #[tokio::test]
    async fn writes_queued_together_are_committed_together_and_each_caller_gets_its_own_answer() {
        let (pool, dir) = writer().await;
        let batches = GroupCommit::start(pool.clone());
        let runs: Vec<_> = (0..10).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let answers =
            join_all((0..10).map(|n| batches.write(step(n, false, runs[n as usize].clone()))))
                .await;
        let answers: Vec<i64> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, (0..10).collect::<Vec<_>>());
        assert_eq!(numbers(&pool).await, (0..10).collect::<Vec<_>>());
        assert!(runs.iter().all(|r| r.load(Ordering::SeqCst) == 1));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_write_that_fails_in_a_batch_fails_alone_and_the_others_are_written_once() {
        let (pool, dir) = writer().await;
        let batches = GroupCommit::start(pool.clone());
        let runs: Vec<_> = (0..10).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let answers =
            join_all((0..10).map(|n| batches.write(step(n, n == 5, runs[n as usize].clone()))))
                .await;
        for (n, answer) in answers.into_iter().enumerate() {
            match answer {
                Ok(value) => assert_eq!(value, n as i64),
                Err(e) => assert_eq!(n, 5, "{e}"),
            }
        }
        let expected: Vec<i64> = (0..10).filter(|&n| n != 5).collect();
        assert_eq!(
            numbers(&pool).await,
            expected,
            "each written once, none lost"
        );
        // 0 to 5 ran together and were rolled back; 5 then ran alone, the others together.
        let runs: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
        assert_eq!(runs, [2, 2, 2, 2, 2, 2, 1, 1, 1, 1]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn the_write_of_a_caller_that_gave_up_before_its_batch_is_not_made() {
        use futures_util::FutureExt as _;

        let (pool, dir) = writer().await;
        let batches = GroupCommit::start(pool.clone());
        let gave_up = Arc::new(AtomicUsize::new(0));
        // Queued, then dropped before the writer task ran (as a cancelled request would be).
        assert!(
            batches
                .write(step(1, false, gave_up.clone()))
                .now_or_never()
                .is_none()
        );
        let stayed = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            batches.write(step(2, false, stayed.clone())).await.unwrap(),
            2
        );
        assert_eq!(numbers(&pool).await, [2]);
        assert_eq!(gave_up.load(Ordering::SeqCst), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn when_a_batch_cannot_begin_every_caller_in_it_hears_so() {
        let (pool, dir) = writer().await;
        let batches = GroupCommit::start(pool.clone());
        pool.close().await;
        let runs = Arc::new(AtomicUsize::new(0));
        let answers = join_all((0..4).map(|n| batches.write(step(n, false, runs.clone())))).await;
        for answer in answers {
            assert!(matches!(answer, Err(sqlx::Error::PoolClosed)), "{answer:?}");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_writer_whose_task_has_ended_says_so_and_refuses_writes() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (batches, dir) = runtime.block_on(async {
            let (pool, dir) = writer().await;
            let batches = GroupCommit::start(pool);
            assert!(batches.is_running());
            (batches, dir)
        });
        // The task goes with its runtime, as it would if a step panicked.
        drop(runtime);
        assert!(!batches.is_running());
        let again = tokio::runtime::Runtime::new().unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let answer = again.block_on(batches.write(step(1, false, runs.clone())));
        assert!(matches!(answer, Err(sqlx::Error::PoolClosed)), "{answer:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_write_alone_is_tried_once_more_after_a_unique_violation() {
        let (pool, dir) = writer().await;
        sqlx::query("CREATE UNIQUE INDEX one_each ON numbers (n)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO numbers (n) VALUES (7)")
            .execute(&pool)
            .await
            .unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let error = alone(&pool, BEGIN_IMMEDIATE, &step(7, false, runs.clone()))
            .await
            .unwrap_err();
        assert!(is_unique_violation(&error), "{error}");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
