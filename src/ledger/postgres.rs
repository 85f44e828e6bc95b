//! The ledger in PostgreSQL, shared by every instance: a pool from DATABASE_URL. Rows read for a
//! write are locked (`FOR UPDATE`), so two instances moving the same consent take turns.
//! The URL's password is never shown: sqlx's own `Debug` of its connect options would show it,
//! so they are never printed.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, Pool, Postgres, Transaction};

use super::rows::database;
use super::write::Step;
use super::{FeedApplied, FeedLead, LedgerError, OpenError};
use crate::config::DatabaseUrl;
use crate::ngi::feed::FeedEvent;

/// How long a request waits for a connection (or for PostgreSQL to accept one).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The ledger on PostgreSQL.
pub struct PostgresLedger {
    pool: Pool<Postgres>,
    /// For the feed's lead, a connection outside the pool. Never printed (it holds the
    /// password).
    options: PgConnectOptions,
    /// The URL without its password, for `Debug`.
    shown: String,
}

impl fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresLedger")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl PostgresLedger {
    /// Connects to `url` and brings the tables up to date.
    pub async fn open(url: &DatabaseUrl) -> Result<Self, OpenError> {
        let options = url.connect_options().map_err(OpenError::Connect)?;
        Self::open_with(options, url.redacted()).await
    }

    /// Connects with `options` (tests add a `search_path`); `shown` is what `Debug` prints.
    pub async fn open_with(options: PgConnectOptions, shown: String) -> Result<Self, OpenError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(OpenError::Connect)?;
        super::migrations::migrator()
            .await
            .map_err(OpenError::Migrate)?
            .run(&pool)
            .await
            .map_err(OpenError::Migrate)?;
        Ok(Self {
            pool,
            options,
            shown,
        })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &Pool<Postgres> {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Every write is the caller's own: nothing to be down beside the pool.
    fn writes_open(&self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// A consent's record, in a transaction of its own (PostgreSQL has many writers at once).
    async fn write<T: Send + 'static>(&self, step: Step<Postgres, T>) -> Result<T, sqlx::Error> {
        super::write::alone(&self.pool, "BEGIN", &step).await
    }

    /// Tries the feed's advisory lock on a new connection of its own: kept as the lead when
    /// taken, closed when another instance holds it. The key is namespaced by the schema, so
    /// sites on different schemas of one database (tests) each have a leader.
    async fn lead(&self) -> Result<Option<Box<dyn FeedLead>>, LedgerError> {
        let options = self.options.clone().options(LEAD_SESSION);
        let mut conn = within(PgConnection::connect_with(&options)).await?;
        let taken: bool = within(sqlx::query_scalar(TRY_FEED_LOCK).fetch_one(&mut conn)).await?;
        if taken {
            return Ok(Some(Box::new(PgFeedLead { conn })));
        }
        // Closing politely, briefly; dropping it ends the session as well.
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
        Ok(None)
    }
}

/// The lead connection's session settings: a leader whose host vanishes without closing its
/// socket (no FIN reaches PostgreSQL) must lose its lock within about a minute, not when the
/// operating system's keepalive gives up two hours later; and no statement or open
/// transaction of the lead may hold it longer.
const LEAD_SESSION: [(&str, &str); 6] = [
    ("tcp_keepalives_idle", "30"),
    ("tcp_keepalives_interval", "10"),
    ("tcp_keepalives_count", "3"),
    ("tcp_user_timeout", "60000"),
    ("statement_timeout", "30s"),
    ("idle_in_transaction_session_timeout", "60s"),
];

/// How long one exchange on the lead connection may take on our side; past it the step fails
/// and the lead is given up (dropping the connection closes its socket).
const LEAD_TIMEOUT: Duration = Duration::from_secs(30);

async fn within<T>(
    step: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, LedgerError> {
    match tokio::time::timeout(LEAD_TIMEOUT, step).await {
        Ok(done) => done.map_err(database),
        Err(_) => Err(database(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the consent feed's lead connection did not answer within 30 s",
        )))),
    }
}

/// The feed's advisory lock, one per schema: a 64-bit key hashed from the schema's name.
const TRY_FEED_LOCK: &str =
    "SELECT pg_try_advisory_lock(hashtextextended('ngi-consent feed ' || current_schema(), 0))";

/// The feed's lead on PostgreSQL: the connection holding the advisory lock. Every page is
/// written on it, so a page cannot be written by an instance whose lock has gone with its
/// connection.
struct PgFeedLead {
    conn: PgConnection,
}

impl fmt::Debug for PgFeedLead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgFeedLead").finish_non_exhaustive()
    }
}

#[async_trait]
impl FeedLead for PgFeedLead {
    async fn cursor(&mut self) -> Result<Option<i64>, LedgerError> {
        within(async { Ok(ops::cursor_on(&mut self.conn).await) }).await?
    }

    async fn apply_page(
        &mut self,
        read: Option<i64>,
        to: i64,
        events: &[FeedEvent],
        now: Timestamp,
    ) -> Result<FeedApplied, LedgerError> {
        let conn = &mut self.conn;
        within(async move {
            let tx = conn.begin().await?;
            Ok(ops::commit_page(tx, read, to, events, now).await)
        })
        .await?
    }
}

super::ops::ledger_ops!(PostgresLedger, sqlx::Postgres, " FOR UPDATE");
