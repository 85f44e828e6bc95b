//! The server-side session, one typed owner per key. No handler names a key as a string.
//!
//! Keys are namespaced `ngi.<area>.<thing>`. The access token is never stored: the debt summary
//! is, for at most `DEBT_SHOWN_FOR`, and the pending flows with their PKCE verifiers. Every
//! function that judges by the time is given `now`.

use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::Error;
use tower_sessions::session_store;
use tower_sessions::{Expiry, Session};

use crate::domain::consent::ConsentId;
use crate::domain::debt::DebtSummary;
use crate::flow::pending::{CompletedFlows, PendingFlows};

/// How long fetched debt stays available to the debt page.
pub const DEBT_SHOWN_FOR: SignedDuration = SignedDuration::from_mins(15);
/// How long a session lives at most from its first write, however active: a session is a
/// bearer credential to a person's debt page, and a stolen one must stop working on its own.
pub const DEFAULT_SESSION_MAX_AGE: SignedDuration = SignedDuration::from_hours(1);

/// Each value is kept as one JSON string, not as a tree of JSON values: the store clones a whole
/// record on every load and save, and one string clones (and weighs) a fraction of a tree.
/// A value that does not read back (another version's shape, during a rolling deploy on a
/// shared Redis) is dropped as if it were not there, so the person starts that part afresh
/// instead of meeting a 503 on every page until the session expires; the warning names the key
/// and where the JSON broke, never serde's text, which would quote the value — a creditor's
/// name or an identity number — into the log.
async fn get_packed<T: DeserializeOwned>(session: &Session, key: &str) -> Result<Option<T>, Error> {
    let Some(packed) = session.get::<String>(key).await? else {
        return Ok(None);
    };
    match serde_json::from_str(&packed) {
        Ok(value) => Ok(Some(value)),
        Err(e) => {
            tracing::warn!(
                session.key = key,
                error.kind = ?e.classify(),
                error.line = e.line(),
                error.column = e.column(),
                "a session value does not read back; dropped"
            );
            session.remove_value(key).await?;
            Ok(None)
        }
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

/// [`ShownDebt`]'s time alone.
#[derive(Deserialize)]
struct FetchedAt {
    fetched_at: Timestamp,
}

impl DebtSession<'_> {
    const KEY: &'static str = "ngi.debt.shown";

    /// Keeps the summary. The session's own expiry follows it (`SessionLife::settle`): the
    /// store drops the data when it goes stale even if the person never comes back.
    pub async fn store(&self, summary: DebtSummary, now: Timestamp) -> Result<(), Error> {
        let shown = ShownDebt {
            fetched_at: now,
            summary,
        };
        insert_packed(self.0, Self::KEY, &shown).await
    }

    /// Forgets the summary (a new flow is starting); the session's expiry then no longer
    /// follows it.
    pub async fn clear(&self) -> Result<(), Error> {
        self.0.remove_value(Self::KEY).await.map(|_| ())
    }

    /// Until when the summary kept, if any, may be shown. Only the time is read: the summary
    /// beside it is skipped, not built (this runs after every request that changed the session).
    pub async fn shown_until(&self) -> Result<Option<Timestamp>, Error> {
        Ok(get_packed::<FetchedAt>(self.0, Self::KEY)
            .await?
            .map(|shown| later(shown.fetched_at, DEBT_SHOWN_FOR)))
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

/// The consent this session's person may withdraw (`ngi.consent.withdrawable`): NGI's id of the
/// extended consent behind the debt shown. Set by the callback, read by the withdrawal, which
/// takes the id from here only, never from a form.
pub struct ConsentSession<'a>(pub &'a Session);

impl ConsentSession<'_> {
    const KEY: &'static str = "ngi.consent.withdrawable";

    pub async fn keep(&self, id: &ConsentId) -> Result<(), Error> {
        insert_packed(self.0, Self::KEY, &id.as_str()).await
    }

    /// Forgets it (a new flow is starting).
    pub async fn clear(&self) -> Result<(), Error> {
        self.0.remove_value(Self::KEY).await.map(|_| ())
    }

    /// The consent kept, if any (a value that is not a consent id reads as none).
    pub async fn current(&self) -> Result<Option<ConsentId>, Error> {
        Ok(get_packed::<String>(self.0, Self::KEY)
            .await?
            .and_then(|id| id.parse().ok()))
    }
}

/// `at + by`, or the end of time (not a panic) past jiff's range.
fn later(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.checked_add(by).unwrap_or(Timestamp::MAX)
}

/// How long a session may live: `idle` without a change, `max_age` at most from its start.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub idle: SignedDuration,
    pub max_age: SignedDuration,
}

/// When the session began (`ngi.session.started`), and so when it ends at the latest; and the
/// one place that sets when the store drops a session.
pub struct SessionLife<'a>(pub &'a Session);

impl SessionLife<'_> {
    const STARTED: &'static str = "ngi.session.started";

    pub async fn started(&self) -> Result<Option<Timestamp>, Error> {
        get_packed(self.0, Self::STARTED).await
    }

    /// Whether the session has lived `max_age` or more by `now`.
    pub async fn is_over(&self, now: Timestamp, max_age: SignedDuration) -> Result<bool, Error> {
        Ok(self
            .started()
            .await?
            .is_some_and(|started| later(started, max_age) <= now))
    }

    /// Ends the session: its data goes, here and in the store, and the cookie with it. Whatever
    /// the request writes next starts a new session under a new id: `flush` alone keeps the old
    /// id for the next write, so a stolen cookie would come back to life with it.
    pub async fn end(&self) -> Result<(), Error> {
        self.0.flush().await?;
        self.0.cycle_id().await
    }

    /// After a request that changed the session: records when it began (at its first write)
    /// and sets when the store drops it — `idle` from now, but never past its maximum age, nor
    /// past the moment the debt it holds goes stale. A new flow clears the debt, and with it
    /// that earlier limit.
    pub async fn settle(&self, now: Timestamp, limits: SessionLimits) -> Result<(), Error> {
        if !self.0.is_modified() || self.0.is_empty().await {
            return Ok(());
        }
        let started = match self.started().await? {
            Some(started) => started,
            None => {
                insert_packed(self.0, Self::STARTED, &now).await?;
                now
            }
        };
        let mut until = later(now, limits.idle).min(later(started, limits.max_age));
        if let Some(stale) = DebtSession(self.0).shown_until().await? {
            until = until.min(stale);
        }
        let until = OffsetDateTime::from_unix_timestamp_nanos(until.as_nanosecond())
            .map_err(|e| Error::Store(session_store::Error::Encode(e.to_string())))?;
        self.0.set_expiry(Some(Expiry::AtDateTime(until)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::session::memory::MemoryStore;

    /// A session ended at its maximum age, written again in the same request (a new flow), must
    /// not keep its id: the old cookie, stolen or not, must open nothing.
    #[tokio::test]
    async fn a_value_of_another_shape_is_dropped_not_an_error() {
        let store = Arc::new(MemoryStore::new(Arc::new(Timestamp::now)));
        let session = Session::new(None, store, None);
        session
            .insert(FlowSession::PENDING, "{\"flows\": \"not a list\"}")
            .await
            .unwrap();
        let flows = FlowSession(&session).pending().await.unwrap();
        assert!(flows.is_empty());
        assert!(
            session
                .get::<String>(FlowSession::PENDING)
                .await
                .unwrap()
                .is_none(),
            "the unreadable value is still there"
        );
    }

    #[tokio::test]
    async fn an_ended_session_written_again_gets_a_new_id() {
        use tower_sessions::SessionStore;
        let store = Arc::new(MemoryStore::new(Arc::new(Timestamp::now)));
        let first = Session::new(None, store.clone(), None);
        first.insert("k", "v").await.unwrap();
        first.save().await.unwrap();
        let old = first.id().unwrap();

        let again = Session::new(Some(old), store.clone(), None);
        SessionLife(&again).end().await.unwrap();
        again.insert("k", "new").await.unwrap();
        again.save().await.unwrap();

        assert_ne!(again.id(), Some(old));
        assert!(store.load(&old).await.unwrap().is_none());
    }
}
