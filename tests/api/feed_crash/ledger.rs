//! One ledger under the test, SQLite or PostgreSQL: made fresh, filled with consents granted
//! here, and read back as a snapshot without row ids or wall-clock times.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use ngi_consent::domain::scope::Purpose;
use ngi_consent::ledger::postgres::PostgresLedger;
use ngi_consent::ledger::sqlite::SqliteLedger;
use ngi_consent::ledger::{ConsentLedger, GrantedConsent};
use sqlx::Connection;

use crate::helpers::temp_data_dir;
use crate::ledger_flow::{drop_schema, postgres_schema};

#[derive(Clone, Copy, Debug)]
pub(super) enum Db {
    Sqlite,
    Postgres,
}

/// Where one ledger lives.
#[derive(Clone, Debug)]
pub(super) enum Store {
    Sqlite(PathBuf),
    Postgres { schema: String, url: String },
}

impl Store {
    /// A fresh, empty ledger; `None` (after saying SKIPPED) when PostgreSQL cannot be reached and
    /// NGI_REQUIRE_POSTGRES is not set.
    pub(super) async fn fresh(db: Db, test: &str) -> Option<Store> {
        match db {
            Db::Sqlite => Some(Store::Sqlite(temp_data_dir())),
            Db::Postgres => {
                let (schema, url) = postgres_schema(test).await?;
                Some(Store::Postgres { schema, url })
            }
        }
    }

    pub(super) async fn remove(self) {
        match self {
            Store::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Store::Postgres { schema, .. } => drop_schema(&schema).await,
        }
    }

    /// The setting that points the site at this ledger.
    pub(super) fn setting(&self) -> (&'static str, String) {
        match self {
            Store::Sqlite(dir) => ("DATA_DIR", dir.display().to_string()),
            Store::Postgres { url, .. } => ("DATABASE_URL", url.clone()),
        }
    }

    /// Opens the ledger through the library (its tables made), records `known` as consents
    /// granted through the redirect flow, active for 30 days, and closes it again.
    pub(super) async fn record_known(&self, known: &[String]) {
        match self {
            Store::Sqlite(dir) => {
                let ledger = SqliteLedger::open(dir).await.unwrap();
                record(&ledger, known).await;
                ledger.close().await;
            }
            Store::Postgres { url, .. } => {
                let options = url.parse().unwrap();
                let ledger = PostgresLedger::open_with(options, "test".into())
                    .await
                    .unwrap();
                record(&ledger, known).await;
                ledger.close().await;
            }
        }
    }

    /// Rows of `sql`, on a connection of its own.
    pub(super) async fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        match self {
            Store::Sqlite(dir) => {
                let file = dir.join(ngi_consent::ledger::sqlite::FILE_NAME);
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                        .await
                        .unwrap();
                let rows = sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap();
                let _ = conn.close().await;
                rows
            }
            Store::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let rows = sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap();
                let _ = conn.close().await;
                rows
            }
        }
    }

    pub(super) async fn cursor(&self) -> Option<i64> {
        let rows: Vec<CursorRow> = self.rows("SELECT cursor FROM feed_cursor").await;
        assert_eq!(rows.len(), 1);
        rows[0].cursor
    }

    /// What the ledger holds, without row ids or wall-clock times.
    pub(super) async fn snapshot(&self) -> Snapshot {
        let events: Vec<EventRow> = self
            .rows(
                "SELECT event_id, sequence_nr, consent_id, event_type, outcome, \
                 CAST(duplicates AS BIGINT) AS duplicates FROM feed_events ORDER BY sequence_nr",
            )
            .await;
        let statuses: Vec<StatusRow> = self
            .rows("SELECT consent_id, status FROM consents WHERE consent_id IS NOT NULL")
            .await;
        let history: Vec<HistoryRow> = self
            .rows(
                "SELECT c.consent_id, CAST(h.seq AS BIGINT) AS seq, h.from_status, h.to_status, \
                 h.reason FROM consent_history h JOIN consents c ON c.row_id = h.row_id \
                 WHERE c.consent_id IS NOT NULL",
            )
            .await;
        let mut consents: BTreeMap<String, Consent> = statuses
            .into_iter()
            .map(|row| {
                (
                    row.consent_id,
                    Consent {
                        status: row.status,
                        history: Vec::new(),
                    },
                )
            })
            .collect();
        let mut history = history;
        history.sort_by(|a, b| (&a.consent_id, a.seq).cmp(&(&b.consent_id, b.seq)));
        for row in history {
            consents.get_mut(&row.consent_id).unwrap().history.push((
                row.from_status,
                row.to_status,
                row.reason,
            ));
        }
        let tombstones: Vec<TombstoneRow> =
            self.rows("SELECT consent_id FROM feed_tombstones").await;
        Snapshot {
            events,
            consents,
            tombstones: tombstones.into_iter().map(|t| t.consent_id).collect(),
            cursor: self.cursor().await,
        }
    }
}

pub(super) async fn record(ledger: &dyn ConsentLedger, known: &[String]) {
    let now = Timestamp::now();
    for id in known {
        ledger
            .record_granted(
                GrantedConsent {
                    id: id.parse().unwrap(),
                    reference: None,
                    purpose: Purpose::Presentation,
                    duration_days: Some(30),
                    expires_at: Some(now + SignedDuration::from_hours(30 * 24)),
                    nin_masked: "148422*****".into(),
                },
                now,
            )
            .await
            .unwrap();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(super) struct EventRow {
    pub(super) event_id: String,
    pub(super) sequence_nr: i64,
    pub(super) consent_id: String,
    pub(super) event_type: String,
    pub(super) outcome: String,
    pub(super) duplicates: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct StatusRow {
    pub(super) consent_id: String,
    pub(super) status: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct HistoryRow {
    pub(super) consent_id: String,
    pub(super) seq: i64,
    pub(super) from_status: Option<String>,
    pub(super) to_status: String,
    pub(super) reason: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct TombstoneRow {
    pub(super) consent_id: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct CursorRow {
    pub(super) cursor: Option<i64>,
}

/// One consent as the ledger holds it: its status and its history (from, to, reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Consent {
    pub(super) status: String,
    pub(super) history: Vec<(Option<String>, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    /// By sequence number.
    pub(super) events: Vec<EventRow>,
    pub(super) consents: BTreeMap<String, Consent>,
    pub(super) tombstones: BTreeSet<String>,
    pub(super) cursor: Option<i64>,
}

impl Snapshot {
    /// No event left 'pending', and each consent changed once for every event applied to it
    /// (its first history row is the grant).
    pub(super) fn assert_each_event_applied_once(&self, context: &str) {
        let pending: Vec<&EventRow> = self
            .events
            .iter()
            .filter(|e| e.outcome == "pending")
            .collect();
        assert!(pending.is_empty(), "{context}: pending events {pending:?}");
        let ids: BTreeSet<&str> = self.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids.len(), self.events.len(), "{context}: an event id twice");
        for (id, consent) in &self.consents {
            let applied = self
                .events
                .iter()
                .filter(|e| &e.consent_id == id && e.outcome == "applied")
                .count();
            assert_eq!(
                consent.history.len(),
                1 + applied,
                "{context}: consent {id} has {:?} for {applied} applied events",
                consent.history
            );
        }
    }
}

pub(super) fn row(
    seq: i64,
    consent: &str,
    event_type: &str,
    outcome: &str,
    duplicates: i64,
) -> EventRow {
    EventRow {
        event_id: String::new(),
        sequence_nr: seq,
        consent_id: consent.into(),
        event_type: event_type.into(),
        outcome: outcome.into(),
        duplicates,
    }
}

pub(super) const CREATED: &str = "SAMTYKKE_OPPRETTET";
pub(super) const ARCHIVED: &str = "SAMTYKKE_ARKIVERT";
pub(super) const GRANTED: &str = "granted through the redirect flow";
/// The first history row of a consent the ledger did not know until the feed's OPPRETTET.
pub(super) const FROM_FEED: &str = "NGI's consent feed: created at NGI, not recorded here before";

/// A consent recorded by the callback (`GRANTED`) or from the feed (`FROM_FEED`), ended at NGI
/// by an ARKIVERT or not.
pub(super) fn consent(first: &str, ended: bool) -> Consent {
    let mut history = vec![(None, "active".into(), first.into())];
    if ended {
        history.push((
            Some("active".into()),
            "ended_at_ngi".into(),
            "NGI's consent feed: ended at NGI".into(),
        ));
    }
    Consent {
        status: if ended { "ended_at_ngi" } else { "active" }.into(),
        history,
    }
}
