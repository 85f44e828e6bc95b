//! The ledger in an SQLite file: `DATA_DIR/ngi-consent.db`, created on first start, in WAL mode
//! with foreign keys on and a busy timeout; every write in a `BEGIN IMMEDIATE` transaction, so a
//! read-then-write never meets another writer halfway.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, Transaction};

use async_trait::async_trait;
use jiff::Timestamp;

use super::rows::database;
use super::{FeedApplied, FeedLead, LedgerError, OpenError};
use crate::ngi::feed::FeedEvent;

/// The ledger's file in DATA_DIR.
pub const FILE_NAME: &str = "ngi-consent.db";
/// How long a write waits for another connection's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The ledger on SQLite.
pub struct SqliteLedger {
    pool: Pool<Sqlite>,
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
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A connection to a file cannot have gone away: no ping (a round trip to the
            // connection's thread) before every use.
            .test_before_acquire(false)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(OpenError::Connect)?;
        super::migrations::migrator()
            .await
            .map_err(OpenError::Migrate)?
            .run(&pool)
            .await
            .map_err(OpenError::Migrate)?;
        Ok(Self { pool, file })
    }

    /// The database file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Closes every connection (tests reopen the same file as a restart would).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &Pool<Sqlite> {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'_, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Always the leader: one instance per file.
    async fn lead(&self) -> Result<Option<Box<dyn FeedLead>>, LedgerError> {
        Ok(Some(Box::new(SqliteFeedLead {
            pool: self.pool.clone(),
        })))
    }
}

/// The feed's lead on SQLite: the ledger's own pool.
#[derive(Debug)]
struct SqliteFeedLead {
    pool: Pool<Sqlite>,
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
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(database)?;
        ops::commit_page(tx, read, to, events, now).await
    }
}

super::ops::ledger_ops!(SqliteLedger, sqlx::Sqlite, "");
