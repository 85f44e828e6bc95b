//! The ledger in an SQLite file: `DATA_DIR/ngi-consent.db`, created on first start, in WAL mode
//! with foreign keys on and a busy timeout; every write in a `BEGIN IMMEDIATE` transaction, so a
//! read-then-write never meets another writer halfway. Writes go through one connection of
//! their own (SQLite has one writer at a time: with more, writers that meet sleep in its busy
//! handler), reads through a pool beside it; consents recorded at the same moment share one
//! transaction (`ledger::write`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, Transaction};

use async_trait::async_trait;
use jiff::Timestamp;

use super::rows::database;
use super::write::{BEGIN_IMMEDIATE, GroupCommit, Step};
use super::{FeedApplied, FeedLead, LedgerError, OpenError};
use crate::ngi::feed::FeedEvent;

/// The ledger's file in DATA_DIR.
pub const FILE_NAME: &str = "ngi-consent.db";
/// How long a write waits for another connection's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The WAL's size, in bytes, to which it is cut back when reset after a checkpoint.
const WAL_SIZE_LIMIT: &str = "67108864";

/// The ledger on SQLite.
pub struct SqliteLedger {
    /// Reads.
    pool: Pool<Sqlite>,
    /// Writes: one connection.
    writer: Pool<Sqlite>,
    batches: GroupCommit,
    file: PathBuf,
}

impl fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl SqliteLedger {
    /// Opens (creating it if needed) `data_dir/ngi-consent.db` and brings its tables up to date.
    pub async fn open(data_dir: &Path) -> Result<Self, OpenError> {
        let file = data_dir.join(FILE_NAME);
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL makes NORMAL safe against corruption; a crash may lose only the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // The WAL is reused from its start after a checkpoint; under load with reads always
            // open it can still grow, and this gives the space back when it is next reset.
            .pragma("journal_size_limit", WAL_SIZE_LIMIT);
        let pool = |connections| {
            SqlitePoolOptions::new()
                .max_connections(connections)
                // A connection to a file cannot have gone away: no ping (a round trip to the
                // connection's thread) before every use.
                .test_before_acquire(false)
                .acquire_timeout(BUSY_TIMEOUT)
        };
        let writer = pool(1)
            .after_release(super::write::closed_if_still_in_a_transaction)
            .connect_with(options.clone())
            .await
            .map_err(OpenError::Connect)?;
        super::migrations::migrator()
            .await
            .map_err(OpenError::Migrate)?
            .run(&writer)
            .await
            .map_err(OpenError::Migrate)?;
        let reader = pool(4)
            .connect_with(options)
            .await
            .map_err(OpenError::Connect)?;
        Ok(Self {
            pool: reader,
            batches: GroupCommit::start(writer.clone()),
            writer,
            file,
        })
    }

    /// The database file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Closes every connection (tests reopen the same file as a restart would).
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &Pool<Sqlite> {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'_, Sqlite>, sqlx::Error> {
        self.writer.begin_with(BEGIN_IMMEDIATE).await
    }

    /// Whether the writer task still takes writes (for `/readyz`).
    fn writes_open(&self) -> Result<(), sqlx::Error> {
        if self.batches.is_running() {
            Ok(())
        } else {
            Err(sqlx::Error::PoolClosed)
        }
    }

    /// A consent's record, in the next batch of the writer.
    async fn write<T: Send + 'static>(&self, step: Step<Sqlite, T>) -> Result<T, sqlx::Error> {
        self.batches.write(step).await
    }

    /// Always the leader: one instance per file.
    async fn lead(&self) -> Result<Option<Box<dyn FeedLead>>, LedgerError> {
        Ok(Some(Box::new(SqliteFeedLead {
            pool: self.pool.clone(),
            writer: self.writer.clone(),
        })))
    }
}

/// The feed's lead on SQLite: the ledger's own pools.
#[derive(Debug)]
struct SqliteFeedLead {
    pool: Pool<Sqlite>,
    writer: Pool<Sqlite>,
}

#[async_trait]
impl FeedLead for SqliteFeedLead {
    async fn cursor(&mut self) -> Result<Option<i64>, LedgerError> {
        let mut conn = self.pool.acquire().await.map_err(database)?;
        ops::cursor_on(&mut conn).await
    }

    async fn apply_page(
        &mut self,
        read: Option<i64>,
        to: i64,
        events: &[FeedEvent],
        now: Timestamp,
    ) -> Result<FeedApplied, LedgerError> {
        let tx = self
            .writer
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(database)?;
        ops::commit_page(tx, read, to, events, now).await
    }
}

super::ops::ledger_ops!(SqliteLedger, sqlx::Sqlite, "");
