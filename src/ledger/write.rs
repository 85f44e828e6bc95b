//! How a write that records a consent reaches the database: one transaction of its own, tried
//! once more if a unique constraint refused it; and on SQLite, group commit.
//!
//! SQLite has one writer at a time. Every write in its own transaction means a `BEGIN
//! IMMEDIATE` and a `COMMIT` (two round trips to the connection's thread) and the changed pages
//! appended to the WAL once per consent; with several connections, writers that meet also sleep
//! in SQLite's busy handler (1, 2, 5, 10 ms…), which is what a callback's p99 was made of. So
//! the SQLite ledger writes through one connection, and the recording writes that arrive while
//! it is busy go into the next transaction together: each step runs in turn on that one
//! connection, one `COMMIT` for all, and every caller hears back only after it. If any step or
//! the commit fails, the whole batch is rolled back and each step runs again alone, so a batch
//! gives every caller exactly what running alone would have given it.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use sqlx::{Database, Pool, Sqlite, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

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

/// One caller's write, waiting in the queue.
trait Job: Send {
    /// Runs the step in the batch's transaction, keeping its value for `finish`.
    fn run<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;
    /// Runs the step alone (after a failed batch) and answers the caller.
    fn alone<'a>(self: Box<Self>, pool: &'a Pool<Sqlite>) -> BoxFuture<'a, ()>;
    /// Answers the caller with the value kept by `run` (the batch committed).
    fn committed(self: Box<Self>);
}

struct Pending<T> {
    step: Step<Sqlite, T>,
    value: Option<T>,
    reply: oneshot::Sender<Result<T, sqlx::Error>>,
}

impl<T: Send + 'static> Job for Pending<T> {
    fn run<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
        Box::pin(async move {
            self.value = Some((self.step)(conn).await?);
            Ok(())
        })
    }

    fn alone<'a>(self: Box<Self>, pool: &'a Pool<Sqlite>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let result = alone(pool, BEGIN_IMMEDIATE, &self.step).await;
            // The caller may have gone (its request was cancelled): nothing to answer.
            let _ = self.reply.send(result);
        })
    }

    fn committed(self: Box<Self>) {
        if let Some(value) = self.value {
            let _ = self.reply.send(Ok(value));
        }
    }
}

/// The queue of recording writes on an SQLite ledger, and the task that commits them.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl GroupCommit {
    /// Starts the writer task on `writer` (the ledger's one write connection). It ends when
    /// the last `GroupCommit` is dropped.
    pub(super) fn start(writer: Pool<Sqlite>) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(commit_batches(writer, queue));
        Self { jobs }
    }

    /// Runs `step` in the next batch and answers once that batch (or the step alone) committed.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        step: Step<Sqlite, T>,
    ) -> Result<T, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(Pending {
                step,
                value: None,
                reply,
            }))
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn commit_batches(writer: Pool<Sqlite>, mut queue: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() == 1 {
            for job in batch.drain(..) {
                job.alone(&writer).await;
            }
            continue;
        }
        if run_together(&writer, &mut batch).await.is_ok() {
            for job in batch.drain(..) {
                job.committed();
            }
        } else {
            // Rolled back (the transaction was dropped): each one alone, as if never batched.
            for job in batch.drain(..) {
                job.alone(&writer).await;
            }
        }
    }
}

async fn run_together(
    writer: &Pool<Sqlite>,
    batch: &mut [Box<dyn Job>],
) -> Result<(), sqlx::Error> {
    let mut tx = writer.begin_with(BEGIN_IMMEDIATE).await?;
    for job in batch.iter_mut() {
        job.run(&mut tx).await?;
    }
    tx.commit().await
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
        // The batch ran 0 to 5 together, was rolled back, and every write then ran alone.
        let runs: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
        assert_eq!(runs, [2, 2, 2, 2, 2, 2, 1, 1, 1, 1]);
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
