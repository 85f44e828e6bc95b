//! The server-side session, one typed owner per key. No handler names a key as a string.
//!
//! Keys are namespaced `ngi.<area>.<thing>`. The access token is never stored: the debt summary
//! is, for at most `DEBT_SHOWN_FOR`, and the pending flows with their PKCE verifiers.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use tower_sessions::session::Error;

use crate::domain::debt::DebtSummary;
use crate::flow::pending::{CompletedFlows, PendingFlows};

/// How long fetched debt stays available to the debt page.
pub const DEBT_SHOWN_FOR: SignedDuration = SignedDuration::from_mins(15);

/// The pending flows (`ngi.flow.pending`) and the digests of completed ones (`ngi.flow.completed`).
pub struct FlowSession<'a>(pub &'a Session);

impl FlowSession<'_> {
    const PENDING: &'static str = "ngi.flow.pending";
    const COMPLETED: &'static str = "ngi.flow.completed";

    pub async fn pending(&self) -> Result<PendingFlows, Error> {
        Ok(self.0.get(Self::PENDING).await?.unwrap_or_default())
    }

    pub async fn set_pending(&self, flows: &PendingFlows) -> Result<(), Error> {
        if flows.is_empty() {
            self.0
                .remove::<PendingFlows>(Self::PENDING)
                .await
                .map(|_| ())
        } else {
            self.0.insert(Self::PENDING, flows).await
        }
    }

    pub async fn completed(&self) -> Result<CompletedFlows, Error> {
        Ok(self.0.get(Self::COMPLETED).await?.unwrap_or_default())
    }

    pub async fn set_completed(&self, done: &CompletedFlows) -> Result<(), Error> {
        self.0.insert(Self::COMPLETED, done).await
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

    pub async fn store(&self, summary: DebtSummary, now: Timestamp) -> Result<(), Error> {
        let shown = ShownDebt {
            fetched_at: now,
            summary,
        };
        self.0.insert(Self::KEY, shown).await
    }

    /// The summary while it is fresh; an expired one is deleted on the way.
    pub async fn current(&self, now: Timestamp) -> Result<Option<DebtSummary>, Error> {
        let Some(shown) = self.0.get::<ShownDebt>(Self::KEY).await? else {
            return Ok(None);
        };
        if now.duration_since(shown.fetched_at) >= DEBT_SHOWN_FOR {
            self.0.remove::<ShownDebt>(Self::KEY).await?;
            return Ok(None);
        }
        Ok(Some(shown.summary))
    }

    pub async fn has_current(&self, now: Timestamp) -> Result<bool, Error> {
        Ok(self.current(now).await?.is_some())
    }
}
