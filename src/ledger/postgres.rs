//! The ledger in PostgreSQL, shared by every instance: a pool from DATABASE_URL. Rows read for a
//! write are locked (`FOR UPDATE`), so two instances moving the same consent take turns.
//! The URL's password is never shown: sqlx's own `Debug` of its connect options would show it,
//! so they are never printed.

use std::fmt;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres, Transaction};

use super::OpenError;
use crate::config::DatabaseUrl;

/// How long a request waits for a connection (or for PostgreSQL to accept one).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The ledger on PostgreSQL.
pub struct PostgresLedger {
    pool: Pool<Postgres>,
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
            .connect_with(options)
            .await
            .map_err(OpenError::Connect)?;
        super::MIGRATOR
            .run(&pool)
            .await
            .map_err(OpenError::Migrate)?;
        Ok(Self { pool, shown })
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
}

super::ops::ledger_ops!(PostgresLedger, sqlx::Postgres, " FOR UPDATE");
