//! What both databases share: the SQL text (the same on SQLite and PostgreSQL: `$n`
//! parameters, row values, portable types), the rows as they are read, and their conversion
//! into the ledger's types.

use jiff::Timestamp;

use super::{Change, Consent, EventOutcome, FeedEventRecord, LedgerError, RowId};
use crate::domain::consent::{ConsentId, Source, Status};
use crate::domain::scope::Purpose;

/// The columns of a consent, in [`ConsentRow`]'s order.
macro_rules! consent_columns {
    () => {
        "row_id, consent_id, reference, source, purpose, duration_days, expires_at, nin_masked, \
         status, created_at, updated_at, request_digest"
    };
}
pub(super) use consent_columns;

pub(super) const INSERT_CONSENT: &str = concat!(
    "INSERT INTO consents (",
    consent_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
);

pub(super) const INSERT_HISTORY: &str = "INSERT INTO consent_history \
     (row_id, seq, at, from_status, to_status, reason) \
     VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM consent_history WHERE row_id = $1), \
     $2, $3, $4, $5)";

/// Whether the database answers from the consents table (an index lookup; row 0 is never made).
pub(super) const READY: &str = "SELECT row_id FROM consents WHERE row_id = 0";

pub(super) const SELECT_HISTORY: &str = "SELECT at, from_status, to_status, reason \
     FROM consent_history WHERE row_id = $1 ORDER BY seq";

/// A new status, and NGI's id and expiry when given (`COALESCE` keeps the stored ones).
pub(super) const UPDATE_STATUS: &str = "UPDATE consents SET status = $2, \
     consent_id = COALESCE($3, consent_id), expires_at = COALESCE($4, expires_at), \
     updated_at = $5 WHERE row_id = $1";

/// A row made from NGI's feed (no identity number: the feed carries none), filled in by the
/// redirect flow's callback: what the debt answer says wins; a reference already held stays.
pub(super) const ADOPT_FEED_ROW: &str = "UPDATE consents SET \
     reference = COALESCE(reference, $2), purpose = $3, duration_days = $4, \
     expires_at = COALESCE($5, expires_at), nin_masked = $6, updated_at = $7 \
     WHERE row_id = $1 AND nin_masked = ''";

pub(super) const REVOCATION_FAILED: &str = "UPDATE consents SET \
     revoke_attempts = revoke_attempts + 1, revoke_next_at = $2, updated_at = $3 \
     WHERE row_id = $1 AND status = 'revoking'";

/// Claims a `revoking` row for one attempt: its next attempt moves to the end of the lease, so
/// no other instance (nor housekeeping beside a person's own attempt) tries it meanwhile. Only a
/// row still due at `$3` is claimed; a crash mid-attempt leaves it due again when the lease ends.
pub(super) const CLAIM_REVOCATION: &str = "UPDATE consents SET revoke_next_at = $2 \
     WHERE row_id = $1 AND status = 'revoking' \
     AND (revoke_next_at IS NULL OR revoke_next_at <= $3)";

pub(super) const SELECT_DUE_REVOCATIONS: &str = concat!(
    "SELECT ",
    consent_columns!(),
    " FROM consents WHERE status = 'revoking' \
     AND (revoke_next_at IS NULL OR revoke_next_at <= $1) ORDER BY row_id LIMIT $2"
);

/// `sqlx::FromRow` for a row struct, by column name, on either database. Written here instead
/// of sqlx's derive: the derive's proc-macro crate builds a second copy of both database drivers
/// (SQLite's C source included) for the compiler, a large part of a first build.
macro_rules! from_row {
    ($row:ident { $($field:ident),* $(,)? }) => {
        impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for $row
        where
            &'r str: sqlx::ColumnIndex<R>,
            i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $($field: row.try_get(stringify!($field))?,)*
                })
            }
        }
    };
}

from_row!(ConsentRow {
    row_id,
    consent_id,
    reference,
    source,
    purpose,
    duration_days,
    expires_at,
    nin_masked,
    status,
    created_at,
    updated_at,
    request_digest,
});
from_row!(HistoryRow {
    at,
    from_status,
    to_status,
    reason
});
from_row!(FeedEventRow {
    event_id,
    sequence_nr,
    consent_id,
    event_type,
    event_timestamp,
    received_at,
    outcome,
});

/// A consent as stored.
pub(super) struct ConsentRow {
    pub row_id: i64,
    pub consent_id: Option<String>,
    pub reference: Option<String>,
    pub source: String,
    pub purpose: String,
    pub duration_days: Option<i32>,
    pub expires_at: Option<i64>,
    pub nin_masked: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub request_digest: Option<String>,
}

/// A history row as stored.
pub(super) struct HistoryRow {
    pub at: i64,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
}

/// A stored value the ledger cannot read back (a row written by something else).
#[derive(Debug, thiserror::Error)]
#[error("the consent ledger holds an unreadable {column}")]
pub(super) struct Unreadable {
    column: &'static str,
}

fn unreadable(column: &'static str) -> LedgerError {
    LedgerError::Database(Box::new(Unreadable { column }))
}

impl ConsentRow {
    pub fn status(&self) -> Result<Status, LedgerError> {
        self.status.parse().map_err(|_| unreadable("status"))
    }

    /// The consent this row holds, with `history` (oldest first).
    pub fn into_consent(self, history: Vec<HistoryRow>) -> Result<Consent, LedgerError> {
        Ok(Consent {
            row: RowId(self.row_id),
            id: self
                .consent_id
                .as_deref()
                .map(str::parse::<ConsentId>)
                .transpose()
                .map_err(|_| unreadable("consent_id"))?,
            status: self.status()?,
            reference: self.reference,
            source: self.source.parse().map_err(|_| unreadable("source"))?,
            purpose: purpose_from_name(&self.purpose).ok_or_else(|| unreadable("purpose"))?,
            duration_days: self
                .duration_days
                .map(u16::try_from)
                .transpose()
                .map_err(|_| unreadable("duration_days"))?,
            expires_at: self
                .expires_at
                .map(|s| timestamp(s, "expires_at"))
                .transpose()?,
            nin_masked: self.nin_masked,
            created_at: timestamp(self.created_at, "created_at")?,
            updated_at: timestamp(self.updated_at, "updated_at")?,
            history: history
                .into_iter()
                .map(HistoryRow::into_change)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl HistoryRow {
    fn into_change(self) -> Result<Change, LedgerError> {
        Ok(Change {
            at: timestamp(self.at, "consent_history.at")?,
            from: self
                .from_status
                .as_deref()
                .map(str::parse::<Status>)
                .transpose()
                .map_err(|_| unreadable("consent_history.from_status"))?,
            to: self
                .to_status
                .parse()
                .map_err(|_| unreadable("consent_history.to_status"))?,
            reason: self.reason,
        })
    }
}

/// A row about to be inserted.
pub(super) struct NewRow<'a> {
    pub row: i64,
    pub id: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub source: Source,
    pub purpose: Purpose,
    pub duration_days: Option<u16>,
    pub expires_at: Option<Timestamp>,
    pub nin_masked: &'a str,
    pub status: Status,
    pub now: Timestamp,
    pub request_digest: Option<&'a str>,
}

impl NewRow<'_> {
    /// The consent this row is once inserted with its first history row, as a read back would
    /// give it (times to the second, as the columns hold them), so a write need not read it
    /// again: two statements fewer on the ledger's connection per new consent.
    pub(super) fn inserted(&self, reason: &str) -> Result<Consent, LedgerError> {
        let now = timestamp(self.now.as_second(), "created_at")?;
        Ok(Consent {
            row: RowId(self.row),
            id: self
                .id
                .map(str::parse::<ConsentId>)
                .transpose()
                .map_err(|_| unreadable("consent_id"))?,
            reference: self.reference.map(str::to_owned),
            source: self.source,
            purpose: self.purpose,
            duration_days: self.duration_days,
            expires_at: self
                .expires_at
                .map(|t| timestamp(t.as_second(), "expires_at"))
                .transpose()?,
            nin_masked: self.nin_masked.to_owned(),
            status: self.status,
            created_at: now,
            updated_at: now,
            history: vec![Change {
                at: now,
                from: None,
                to: self.status,
                reason: reason.to_owned(),
            }],
        })
    }
}

/// The purpose as the `purpose` column holds it.
pub(super) const fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Presentation => "presentation",
        Purpose::Processing => "processing",
    }
}

fn purpose_from_name(name: &str) -> Option<Purpose> {
    Purpose::ALL.into_iter().find(|p| purpose_name(*p) == name)
}

fn timestamp(seconds: i64, column: &'static str) -> Result<Timestamp, LedgerError> {
    Timestamp::from_second(seconds).map_err(|_| unreadable(column))
}

/// A new row id: random, positive, never 0 (ids are made here, not by either database, so the
/// same SQL runs on both). A clash is retried once by the caller.
pub(super) fn new_row_id() -> i64 {
    i64::try_from(rand::random::<u64>() >> 1)
        .unwrap_or(1)
        .max(1)
}

/// Whether the database refused a write for a unique constraint.
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

pub(super) fn database(e: sqlx::Error) -> LedgerError {
    LedgerError::Database(Box::new(e))
}

/// What the redirect flow's consent becomes: single use → `used` (its one use was the fetch
/// that told us of it), with days → `active`.
pub(super) fn granted_status(duration_days: Option<u16>) -> Status {
    match duration_days {
        Some(_) => Status::Active,
        None => Status::Used,
    }
}

/// The largest page a listing gives.
pub(super) const MAX_PAGE: u32 = 1000;

/// The feed's cursor, read for a write (the caller appends PostgreSQL's lock).
macro_rules! select_feed_cursor {
    () => {
        "SELECT cursor FROM feed_cursor WHERE id = 1"
    };
}
pub(super) use select_feed_cursor;

pub(super) const UPDATE_FEED_CURSOR: &str =
    "UPDATE feed_cursor SET cursor = $1, updated_at = $2 WHERE id = 1";

/// Counts a second delivery of an event already recorded; no row changed: a new event.
pub(super) const COUNT_FEED_DUPLICATE: &str =
    "UPDATE feed_events SET duplicates = duplicates + 1 WHERE event_id = $1";

pub(super) const INSERT_FEED_EVENT: &str = "INSERT INTO feed_events \
     (event_id, sequence_nr, consent_id, event_type, event_timestamp, received_at, outcome) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// An event's outcome between its insert and its application, inside one transaction: never
/// committed.
pub(super) const FEED_OUTCOME_PENDING: &str = "pending";

pub(super) const UPDATE_FEED_OUTCOME: &str =
    "UPDATE feed_events SET outcome = $2 WHERE event_id = $1";

pub(super) const INSERT_TOMBSTONE: &str =
    "INSERT INTO feed_tombstones (consent_id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING";

pub(super) const SELECT_TOMBSTONE: &str =
    "SELECT consent_id FROM feed_tombstones WHERE consent_id = $1";

/// The feed events recorded, newest first; `event_id` last so equal rows keep one order.
pub(super) const SELECT_RECENT_FEED_EVENTS: &str = "SELECT event_id, sequence_nr, consent_id, \
     event_type, event_timestamp, received_at, outcome FROM feed_events \
     ORDER BY sequence_nr DESC, received_at DESC, event_id LIMIT $1";

/// A feed event as stored.
pub(super) struct FeedEventRow {
    pub event_id: String,
    pub sequence_nr: i64,
    pub consent_id: String,
    pub event_type: String,
    pub event_timestamp: i64,
    pub received_at: i64,
    pub outcome: String,
}

impl FeedEventRow {
    pub fn into_record(self) -> Result<FeedEventRecord, LedgerError> {
        Ok(FeedEventRecord {
            consent_id: self
                .consent_id
                .parse()
                .map_err(|_| unreadable("feed_events.consent_id"))?,
            outcome: EventOutcome::from_label(&self.outcome)
                .ok_or_else(|| unreadable("feed_events.outcome"))?,
            timestamp: timestamp(self.event_timestamp, "feed_events.event_timestamp")?,
            received_at: timestamp(self.received_at, "feed_events.received_at")?,
            sequence_nr: self.sequence_nr,
            event_id: self.event_id,
            event_type: self.event_type,
        })
    }
}
