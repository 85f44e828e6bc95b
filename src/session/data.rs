//! The server-side session, one typed owner per key. No handler names a key as a string.
//!
//! Keys are namespaced `ngi.<area>.<thing>`. The access token is never stored: the debt summary
//! is, for at most `DEBT_SHOWN_FOR`, and the pending flows with their PKCE verifiers.

use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::time::{Duration as CookieDuration, OffsetDateTime};
use tower_sessions::session::Error;
use tower_sessions::{Expiry, Session};

use crate::domain::debt::DebtSummary;
use crate::flow::pending::{CompletedFlows, PendingFlows};

/// How long fetched debt stays available to the debt page.
pub const DEBT_SHOWN_FOR: SignedDuration = SignedDuration::from_mins(15);

/// Each value is kept as one JSON string, not as a tree of JSON values: the store clones a whole
/// record on every load and save, and one string clones (and weighs) a fraction of a tree.
/// A value that does not read back (another version's shape, during a rolling deploy on a
/// shared Redis) is an error without serde's text, which would quote the value — a creditor's
/// name or an identity number — into the log.
async fn get_packed<T: DeserializeOwned>(session: &Session, key: &str) -> Result<Option<T>, Error> {
    match session.get::<String>(key).await? {
        Some(packed) => serde_json::from_str(&packed).map(Some).map_err(|e| {
            Error::Store(tower_sessions::session_store::Error::Decode(format!(
                "{key}: {:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            )))
        }),
        None => Ok(None),
    }
}

async fn insert_packed<T: Serialize>(session: &Session, key: &str, value: &T) -> Result<(), Error> {
    session.insert(key, serde_json::to_string(value)?).await
}

/// The pending flows (`ngi.flow.pending`) and the digests of completed ones (`ngi.flow.completed`).
pub struct FlowSession<'a>(pub &'a Session);

impl FlowSession<'_> {
    const PENDING: &'static str = "ngi.flow.pending";
    const COMPLETED: &'static str = "ngi.flow.completed";

    pub async fn pending(&self) -> Result<PendingFlows, Error> {
        Ok(get_packed(self.0, Self::PENDING).await?.unwrap_or_default())
    }

    pub async fn set_pending(&self, flows: &PendingFlows) -> Result<(), Error> {
        if flows.is_empty() {
            self.0.remove_value(Self::PENDING).await.map(|_| ())
        } else {
            insert_packed(self.0, Self::PENDING, flows).await
        }
    }

    pub async fn completed(&self) -> Result<CompletedFlows, Error> {
        Ok(get_packed(self.0, Self::COMPLETED)
            .await?
            .unwrap_or_default())
    }

    pub async fn set_completed(&self, done: &CompletedFlows) -> Result<(), Error> {
        insert_packed(self.0, Self::COMPLETED, done).await
    }
}

/// The debt fetched by the last completed flow (`ngi.debt.shown`), with when it was fetched.
pub struct DebtSession<'a>(pub &'a Session);

#[derive(Serialize, Deserialize)]
struct ShownDebt {
    fetched_at: Timestamp,
    summary: DebtSummary,
}

impl DebtSession<'_> {
    const KEY: &'static str = "ngi.debt.shown";

    /// Keeps the summary, and ends the whole session when it expires, so the store itself
    /// drops the data then even if the person never comes back.
    pub async fn store(&self, summary: DebtSummary, now: Timestamp) -> Result<(), Error> {
        let shown = ShownDebt {
            fetched_at: now,
            summary,
        };
        insert_packed(self.0, Self::KEY, &shown).await?;
        let shown_for = CookieDuration::seconds(DEBT_SHOWN_FOR.as_secs());
        self.0.set_expiry(Some(Expiry::AtDateTime(
            OffsetDateTime::now_utc() + shown_for,
        )));
        Ok(())
    }

    /// Forgets the summary (a new flow is starting).
    pub async fn clear(&self) -> Result<(), Error> {
        self.0.remove_value(Self::KEY).await.map(|_| ())
    }

    /// The summary while it is fresh; an expired one is deleted on the way.
    pub async fn current(&self, now: Timestamp) -> Result<Option<DebtSummary>, Error> {
        let Some(shown) = get_packed::<ShownDebt>(self.0, Self::KEY).await? else {
            return Ok(None);
        };
        if now.duration_since(shown.fetched_at) >= DEBT_SHOWN_FOR {
            self.0.remove_value(Self::KEY).await?;
            return Ok(None);
        }
        Ok(Some(shown.summary))
    }

    pub async fn has_current(&self, now: Timestamp) -> Result<bool, Error> {
        Ok(self.current(now).await?.is_some())
    }
}
