//! The ledger's conformance suite: every test runs on SQLite (a temporary file) and on
//! PostgreSQL (database `test` on 127.0.0.1, a schema of its own per test, dropped afterwards, so
//! the tests run in parallel). Without a reachable PostgreSQL the PostgreSQL variants say SKIPPED
//! and pass, unless `NGI_REQUIRE_POSTGRES=1` (as `.ci/run` sets) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::migrations::migrator;
use super::postgres::PostgresLedger;
use super::sqlite::SqliteLedger;
use super::*;
use crate::domain::nin::Nin;

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const PERSON: &str = "14842249091";

enum Store {
    Sqlite {
        dir: PathBuf,
        ledger: Arc<SqliteLedger>,
    },
    Postgres {
        schema: String,
        ledger: Arc<PostgresLedger>,
    },
}

struct TestDb {
    store: Store,
}

fn postgres_required() -> bool {
    std::env::var("NGI_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

fn schema_options(schema: &str) -> PgConnectOptions {
    POSTGRES_URL
        .parse::<PgConnectOptions>()
        .unwrap()
        .options([("search_path", schema)])
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("ngi-ledger-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let ledger = Arc::new(SqliteLedger::open(&dir).await.unwrap());
        TestDb {
            store: Store::Sqlite { dir, ledger },
        }
    }

    /// A fresh schema in the machine's PostgreSQL, or `None` (after saying SKIPPED) when there
    /// is none to reach.
    async fn postgres(test: &str) -> Option<TestDb> {
        let admin =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(POSTGRES_URL)).await;
        let mut admin = match admin {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return skip(test, &e.to_string()),
            Err(_) => return skip(test, "no answer within 5 s"),
        };
        let schema = format!("ledger_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let ledger = PostgresLedger::open_with(schema_options(&schema), schema.clone())
            .await
            .unwrap();
        Some(TestDb {
            store: Store::Postgres {
                schema,
                ledger: Arc::new(ledger),
            },
        })
    }

    fn ledger(&self) -> &dyn ConsentLedger {
        match &self.store {
            Store::Sqlite { ledger, .. } => ledger.as_ref(),
            Store::Postgres { ledger, .. } => ledger.as_ref(),
        }
    }

    /// Closes every connection and opens the same file or schema again, as a restart does
    /// (the migrations run again on the way).
    async fn restart(self) -> TestDb {
        match self.store {
            Store::Sqlite { dir, ledger } => {
                ledger.close().await;
                let ledger = Arc::new(SqliteLedger::open(&dir).await.unwrap());
                TestDb {
                    store: Store::Sqlite { dir, ledger },
                }
            }
            Store::Postgres { schema, ledger } => {
                ledger.close().await;
                let ledger = PostgresLedger::open_with(schema_options(&schema), schema.clone())
                    .await
                    .unwrap();
                TestDb {
                    store: Store::Postgres {
                        schema,
                        ledger: Arc::new(ledger),
                    },
                }
            }
        }
    }

    async fn migrate_again(&self) {
        match &self.store {
            Store::Sqlite { ledger, .. } => {
                migrator().await.unwrap().run(ledger.pool()).await.unwrap()
            }
            Store::Postgres { ledger, .. } => {
                migrator().await.unwrap().run(ledger.pool()).await.unwrap()
            }
        }
    }

    /// Every value of every table, as text.
    async fn dump(&self) -> String {
        const TABLES: [&str; 3] = [
            "SELECT CAST(row_id AS TEXT) || '|' || COALESCE(consent_id, '') || '|' || \
             COALESCE(reference, '') || '|' || source || '|' || purpose || '|' || \
             COALESCE(CAST(duration_days AS TEXT), '') || '|' || \
             COALESCE(CAST(expires_at AS TEXT), '') || '|' || nin_masked || '|' || status || \
             '|' || CAST(created_at AS TEXT) || '|' || CAST(updated_at AS TEXT) || '|' || \
             COALESCE(request_digest, '') || '|' || CAST(revoke_attempts AS TEXT) || '|' || \
             COALESCE(CAST(revoke_next_at AS TEXT), '') FROM consents",
            "SELECT CAST(row_id AS TEXT) || '|' || CAST(seq AS TEXT) || '|' || \
             CAST(at AS TEXT) || '|' || COALESCE(from_status, '') || '|' || to_status || '|' || \
             reason FROM consent_history",
            "SELECT CAST(version AS TEXT) || '|' || description FROM _sqlx_migrations",
        ];
        let mut lines = Vec::new();
        for sql in TABLES {
            let rows: Vec<String> = match &self.store {
                Store::Sqlite { ledger, .. } => sqlx::query_scalar(sql)
                    .fetch_all(ledger.pool())
                    .await
                    .unwrap(),
                Store::Postgres { ledger, .. } => sqlx::query_scalar(sql)
                    .fetch_all(ledger.pool())
                    .await
                    .unwrap(),
            };
            lines.extend(rows);
        }
        lines.join("\n")
    }

    async fn finish(self) {
        match self.store {
            Store::Sqlite { dir, ledger } => {
                ledger.close().await;
                let _ = std::fs::remove_dir_all(dir);
            }
            Store::Postgres { schema, ledger } => {
                ledger.close().await;
                let mut admin = PgConnection::connect(POSTGRES_URL).await.unwrap();
                sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let _ = admin.close().await;
            }
        }
    }
}

fn skip(test: &str, why: &str) -> Option<TestDb> {
    assert!(
        !postgres_required(),
        "{test}: PostgreSQL at {POSTGRES_URL} cannot be reached ({why}), and NGI_REQUIRE_POSTGRES=1"
    );
    eprintln!(
        "SKIPPED {test} on PostgreSQL: {POSTGRES_URL} cannot be reached ({why}). This test did \
         NOT run on PostgreSQL (set NGI_REQUIRE_POSTGRES=1 to make it fail)."
    );
    None
}

/// Each test, once on SQLite and once on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::TestDb::sqlite().await;
                let db = super::$name(db).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = super::TestDb::postgres(stringify!($name)).await {
                    let db = super::$name(db).await;
                    db.finish().await;
                }
            }
        }
    )*};
}

/// Recording, changing, listing and keeping consents.
mod consents;
/// The consent feed's page applied to the ledger: events, cursor, tombstones.
mod feed;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn masked() -> String {
    Nin::parse(PERSON).unwrap().masked()
}

fn granted(id: &str, days: Option<u16>) -> GrantedConsent {
    GrantedConsent {
        id: id.parse().unwrap(),
        reference: None,
        purpose: Purpose::Presentation,
        duration_days: days,
        expires_at: Some(at(86_400 * i64::from(days.unwrap_or(1)))),
        nin_masked: masked(),
    }
}

fn registration(reference: &str, digest: &str) -> Registration {
    Registration {
        reference: reference.into(),
        purpose: Purpose::Processing,
        duration_days: 14,
        nin_masked: masked(),
        request_digest: digest.into(),
    }
}

/// A registration with a new reference: it must begin a new `registering` row.
async fn new_registration(
    ledger: &dyn ConsentLedger,
    reference: &str,
    digest: &str,
    now: Timestamp,
) -> Consent {
    match ledger
        .begin_registration(registration(reference, digest), now)
        .await
        .unwrap()
    {
        Begun::New(consent) => consent,
        other => panic!("a new reference begins a new registration: {other:?}"),
    }
}

/// NGI confirmed a registration: its consent id and expiry.
fn registered(id: &str, expires_at: Timestamp) -> Transition {
    Transition {
        id: Some(id.parse().unwrap()),
        expires_at: Some(expires_at),
        ..to(Status::Active, "registered at NGI")
    }
}

fn to(status: Status, reason: &str) -> Transition {
    Transition {
        to: status,
        reason: reason.into(),
        id: None,
        expires_at: None,
    }
}
