//! The consents this site holds, on SQLite (the default, `DATA_DIR`) or PostgreSQL
//! (`DATABASE_URL`), behind one interface. What a row holds: NGI's consent id, the partner's
//! reference, how the consent was obtained, its purpose and duration, its expiry, the identity
//! number masked, its status and a history row for every change. No debt, no token, no full
//! identity number.
//!
//! Times are passed in (from the site's clock) and stored as integer seconds.

mod feed_ops;
mod list_ops;
mod ops;
pub mod postgres;
mod rows;
pub mod sqlite;
#[cfg(test)]
mod tests;
mod write;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::domain::consent::{ConsentId, Source, Status};
use crate::domain::scope::Purpose;
use crate::ngi::feed::FeedEvent;

/// How long one attempt at a revocation holds its row: no other instance, and no housekeeping
/// beside a person's own attempt, tries the row meanwhile. Longer than any NGI call may take.
pub const REVOCATION_LEASE: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);

/// The ledger, shared.
pub type Ledger = Arc<dyn ConsentLedger>;

mod migrations;

/// Why the ledger could not be opened at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the consent ledger's database")]
    Connect(#[source] sqlx::Error),
    #[error("cannot bring the consent ledger's tables up to date")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Opens the ledger `store` names and runs its migrations.
pub async fn open(store: &crate::config::LedgerStore) -> Result<Ledger, OpenError> {
    Ok(match store {
        crate::config::LedgerStore::Sqlite { data_dir } => {
            Arc::new(sqlite::SqliteLedger::open(data_dir).await?)
        }
        crate::config::LedgerStore::Postgres { url } => {
            Arc::new(postgres::PostgresLedger::open(url).await?)
        }
    })
}

/// The ledger's own key for a row (a consent being registered has no NGI id yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowId(pub i64);

/// One consent as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub row: RowId,
    /// NGI's consent id; `None` only while an integrated consent is `registering` or `refused`.
    pub id: Option<ConsentId>,
    /// The partner's reference: the `client_consent_id` of an integrated consent, or the signed
    /// application reference a redirect flow was started with.
    pub reference: Option<String>,
    pub source: Source,
    pub purpose: Purpose,
    /// `None`: single use.
    pub duration_days: Option<u16>,
    pub expires_at: Option<Timestamp>,
    /// As [`crate::domain::nin::Nin::masked`] gives it; the full number is never stored.
    pub nin_masked: String,
    /// As stored; read it with [`Consent::status_at`].
    pub status: Status,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Oldest first.
    pub history: Vec<Change>,
}

impl Consent {
    /// The status as read at `now` (an active consent past its expiry is expired).
    pub fn status_at(&self, now: Timestamp) -> Status {
        self.status.at(self.expires_at, now)
    }
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub at: Timestamp,
    /// `None` for the row's first status.
    pub from: Option<Status>,
    pub to: Status,
    pub reason: String,
}

/// What the redirect flow learned of a consent from the debt answer.
#[derive(Debug, Clone)]
pub struct GrantedConsent {
    pub id: ConsentId,
    pub reference: Option<String>,
    pub purpose: Purpose,
    pub duration_days: Option<u16>,
    pub expires_at: Option<Timestamp>,
    pub nin_masked: String,
}

/// An integrated consent about to be registered at NGI.
#[derive(Clone)]
pub struct Registration {
    /// The `client_consent_id` sent to NGI: unique among integrated consents.
    pub reference: String,
    pub purpose: Purpose,
    pub duration_days: u16,
    pub nin_masked: String,
    /// A keyed digest of everything sent to NGI (the full identity number included), so the same
    /// body again is recognised without the number being stored.
    pub request_digest: String,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("reference", &self.reference)
            .field("purpose", &self.purpose)
            .field("duration_days", &self.duration_days)
            .field("nin_masked", &self.nin_masked)
            .finish_non_exhaustive()
    }
}

/// What [`ConsentLedger::begin_registration`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// A new row, committed as `registering`.
    New(Consent),
    /// A row with this reference and the same digest: the same registration again.
    Same(Consent),
    /// A row with this reference and another digest.
    Conflict(Consent),
}

/// A status change asked of the ledger.
#[derive(Debug, Clone)]
pub struct Transition {
    pub to: Status,
    pub reason: String,
    /// A new NGI consent id (a registration NGI confirmed); `None` leaves it.
    pub id: Option<ConsentId>,
    /// A new expiry (NGI's word); `None` leaves it.
    pub expires_at: Option<Timestamp>,
}

/// Which consents to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The status as read at `now`: `active` leaves out, and `expired` takes in, an active
    /// consent past its expiry.
    pub status: Option<Status>,
    /// When the listing is read (the site's clock).
    pub now: Timestamp,
    pub reference: Option<String>,
    /// 1..=1000.
    pub limit: u32,
    /// Continue after this row (from [`ConsentPage::next`]).
    pub after: Option<Cursor>,
}

/// Where a listing continues: the last row's creation time and row id. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: Timestamp,
    pub row: RowId,
}

/// One page of a listing. Rows in a listing carry no history (`history` is empty).
#[derive(Debug, Clone)]
pub struct ConsentPage {
    pub consents: Vec<Consent>,
    pub next: Option<Cursor>,
}

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed (the source says how; its text never reaches a page or a client).
    #[error("the consent ledger's database failed")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("no consent with that key in the ledger")]
    NotFound,
    /// The change would reopen or skip a status ([`Status::may_become`]).
    #[error("a {from} consent cannot become {to}")]
    NotAllowed { from: Status, to: Status },
    /// Another consent already has this NGI id.
    #[error("another consent already has this id")]
    DuplicateId,
}

/// The ledger's operations. Every write is one transaction; a refused write changes nothing.
#[async_trait]
pub trait ConsentLedger: Send + Sync + fmt::Debug {
    /// Whether the database answers (for `/readyz`).
    async fn ready(&self) -> Result<(), LedgerError>;

    /// The redirect flow's consent, after the debt fetch: inserted (single use → `used`, with
    /// days → `active`) or, if the id is known, left as it is unless that status may become the
    /// new one. A terminal row never reopens.
    async fn record_granted(
        &self,
        consent: GrantedConsent,
        now: Timestamp,
    ) -> Result<Consent, LedgerError>;

    /// An integrated consent: a new `registering` row, or the row that already has this
    /// reference (the same body again, or a conflict).
    async fn begin_registration(
        &self,
        registration: Registration,
        now: Timestamp,
    ) -> Result<Begun, LedgerError>;

    /// Moves a row, with a history row, if [`Status::may_become`] allows it; a move to the status
    /// it already has changes only `id`/`expires_at` if given, and adds no history.
    async fn transition(
        &self,
        row: RowId,
        change: Transition,
        now: Timestamp,
    ) -> Result<Consent, LedgerError>;

    /// A consent by NGI's id, with its history.
    async fn get(&self, id: &ConsentId) -> Result<Option<Consent>, LedgerError>;

    /// A consent by row, with its history.
    async fn get_row(&self, row: RowId) -> Result<Option<Consent>, LedgerError>;

    /// The integrated consent with this reference, with its history.
    async fn integrated_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<Consent>, LedgerError>;

    /// Consents newest first, from an index.
    async fn list(&self, query: ListQuery) -> Result<ConsentPage, LedgerError>;

    /// Revocations to try again: `revoking` rows whose next attempt is due at `now`, each
    /// claimed for [`REVOCATION_LEASE`] (an instance that finds a row claimed by another skips
    /// it). A row that has just become `revoking` is claimed by the one who moved it.
    async fn due_revocations(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Consent>, LedgerError>;

    /// Records a failed revocation attempt of a `revoking` row and when to try again.
    async fn revocation_failed(
        &self,
        row: RowId,
        retry_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), LedgerError>;

    /// The feed follower's cursor: the highest sequence number handled, `None` before the first
    /// page.
    async fn feed_cursor(&self) -> Result<Option<i64>, LedgerError>;

    /// One page of NGI's consent feed, in one transaction: each event recorded once by its id (a
    /// duplicate is counted, not applied again), applied to the consent its top-level id names,
    /// and the cursor moved from `read` to `to` — only if it is still `read` when the transaction
    /// runs; otherwise nothing is written and [`FeedApplied::CursorMoved`] says so.
    async fn apply_feed_page(
        &self,
        read: Option<i64>,
        to: i64,
        events: &[FeedEvent],
        now: Timestamp,
    ) -> Result<FeedApplied, LedgerError>;

    /// The right to follow NGI's consent feed, when no other instance holds it. PostgreSQL: a
    /// session advisory lock on a connection of its own, held while the returned lead lives and
    /// released by PostgreSQL when that connection ends (a crash included). SQLite: one
    /// instance per file, always the leader.
    async fn lead_feed(&self) -> Result<Option<Box<dyn FeedLead>>, LedgerError>;

    /// The feed events recorded, newest first (highest sequence number, then latest received),
    /// at most `limit` (1..=1000); a duplicate delivery is one event.
    async fn recent_feed_events(&self, limit: u32) -> Result<Vec<FeedEventRecord>, LedgerError>;
}

/// Held by the instance that follows the feed: the cursor is read and every page written
/// through it (on PostgreSQL, on the connection that holds the lock, so a page can only be
/// written while the lock is held). Dropping it gives the leadership up.
#[async_trait]
pub trait FeedLead: Send + Sync + fmt::Debug {
    /// The cursor, as [`ConsentLedger::feed_cursor`].
    async fn cursor(&mut self) -> Result<Option<i64>, LedgerError>;

    /// One page, as [`ConsentLedger::apply_feed_page`].
    async fn apply_page(
        &mut self,
        read: Option<i64>,
        to: i64,
        events: &[FeedEvent],
        now: Timestamp,
    ) -> Result<FeedApplied, LedgerError>;
}

/// One event of NGI's consent feed as the ledger recorded it (its first delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEventRecord {
    pub sequence_nr: i64,
    pub event_id: String,
    /// The event's top-level consent id: NGI's opaque id, not a person's number.
    pub consent_id: ConsentId,
    /// NGI's own name for the type (`SAMTYKKE_ARKIVERT`, or one not known here).
    pub event_type: String,
    /// When it happened at NGI (it does not follow the sequence).
    pub timestamp: Timestamp,
    pub received_at: Timestamp,
    pub outcome: EventOutcome,
}

/// What [`ConsentLedger::apply_feed_page`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedApplied {
    /// Committed: the cursor is now the page's, and each event's outcome, in page order.
    Committed(Vec<EventOutcome>),
    /// Someone else moved the cursor since it was read (`found`): nothing was written.
    CursorMoved { found: Option<i64> },
}

/// What one feed event did to the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventOutcome {
    /// The consent's status changed.
    Applied,
    /// `SAMTYKKE_OPPRETTET` for a consent the ledger holds, still open: nothing to change.
    Confirmed,
    /// The consent had ended already (or stays as it is): nothing changed.
    Unchanged,
    /// `SAMTYKKE_ARKIVERT` for a consent not in the ledger: a tombstone keeps it ended.
    Tombstoned,
    /// `SAMTYKKE_OPPRETTET` for a consent not in the ledger: a row is made from the event,
    /// without an identity number (the feed carries none), which a later callback fills in.
    Recorded,
    /// An event id seen before: not applied again.
    Duplicate,
    /// An unknown type, or a known one without its block: recorded and skipped.
    Skipped,
}

impl EventOutcome {
    /// Every label, for the metrics.
    pub const LABELS: &'static [&'static str] = &[
        "applied",
        "confirmed",
        "unchanged",
        "tombstoned",
        "recorded",
        "duplicate",
        "skipped",
    ];

    /// The outcome a label names (as the `outcome` column holds it).
    pub fn from_label(label: &str) -> Option<Self> {
        [
            EventOutcome::Applied,
            EventOutcome::Confirmed,
            EventOutcome::Unchanged,
            EventOutcome::Tombstoned,
            EventOutcome::Recorded,
            EventOutcome::Duplicate,
            EventOutcome::Skipped,
        ]
        .into_iter()
        .find(|outcome| outcome.label() == label)
        // An earlier release recorded an OPPRETTET for a consent it did not hold, without
        // acting on it, under this label.
        .or((label == "unknown_consent").then_some(EventOutcome::Skipped))
    }

    /// A short, fixed label for logs, metrics and the `outcome` column.
    pub const fn label(self) -> &'static str {
        match self {
            EventOutcome::Applied => "applied",
            EventOutcome::Confirmed => "confirmed",
            EventOutcome::Unchanged => "unchanged",
            EventOutcome::Tombstoned => "tombstoned",
            EventOutcome::Recorded => "recorded",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::Skipped => "skipped",
        }
    }
}
