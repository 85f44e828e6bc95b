//! Using a consent that lasts: the debt again, NGI's word on its status, and its revocation
//! (retried with backoff until NGI confirms). NGI's calls and the ledger, no HTTP; the time is
//! passed in as `now`.
//!
//! The ledger only records what NGI confirmed: `revoked` after NGI's 204, `ended_at_ngi` after
//! NGI said the consent is no longer active. A revocation NGI did not confirm stays `revoking`
//! and is tried again; it is never reported as done.

pub mod register;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::domain::consent::{ConsentId, Status};
use crate::domain::debt::DebtSummary;
use crate::ledger::{Consent, Ledger, LedgerError, Transition};
use crate::ngi::client::NgiError;
use crate::ngi::consents::{ConsentError, ConsentStatus, Consents};
use crate::ngi::credentials::AuthorizedError;

/// The first wait before a failed revocation is tried again, and the longest.
pub const RETRY_FIRST: SignedDuration = SignedDuration::from_secs(30);
pub const RETRY_MAX: SignedDuration = SignedDuration::from_hours(1);
/// How many due revocations one housekeeping step tries.
pub const RETRIES_PER_STEP: u32 = 100;

/// The history reason when NGI refused a revocation because the consent had already ended.
pub const HAD_ALREADY_ENDED: &str = "had already ended";

/// Why a consent could not be used (or revoked).
#[derive(Debug, thiserror::Error)]
pub enum UseError {
    #[error("no consent with this id in the ledger")]
    Unknown,
    /// A single-use consent: its one use was the redirect flow's fetch.
    #[error("the consent is single-use ({status})")]
    SingleUse { status: Status },
    /// No longer active (as the ledger reads it at `now`, or as NGI just said).
    #[error("the consent is no longer active ({status})")]
    NotActive { status: Status },
    /// NGI failed or could not be reached; nothing was recorded as done.
    #[error("NGI could not answer for the consent")]
    Ngi(#[source] ConsentError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl UseError {
    /// The status that made the consent unusable, if that is the reason.
    pub fn status(&self) -> Option<Status> {
        match self {
            UseError::SingleUse { status } | UseError::NotActive { status } => Some(*status),
            _ => None,
        }
    }
}

/// How a revocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// NGI confirmed it (now or before).
    Revoked(Consent),
    /// The consent had already ended (at NGI or past its expiry): nothing to revoke.
    AlreadyEnded(Consent),
    /// NGI did not confirm it yet: the row stays `revoking` and is tried again.
    Pending(Consent),
}

impl Revocation {
    pub fn consent(&self) -> &Consent {
        match self {
            Revocation::Revoked(c) | Revocation::AlreadyEnded(c) | Revocation::Pending(c) => c,
        }
    }
}

/// What one housekeeping step over due revocations did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryOutcome {
    pub tried: usize,
    pub revoked: usize,
    /// Found to have ended at NGI already.
    pub ended: usize,
    pub pending: usize,
}

/// The consents this site holds, used through NGI.
#[derive(Debug)]
pub struct Lifecycle {
    ledger: Ledger,
    ngi: Arc<Consents>,
}

impl Lifecycle {
    pub fn new(ledger: Ledger, ngi: Arc<Consents>) -> Self {
        Self { ledger, ngi }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The debt again, for an extended consent active at `now`. Returned, never stored.
    pub async fn debt_again(
        &self,
        id: &ConsentId,
        now: Timestamp,
        trace_id: &str,
    ) -> Result<DebtSummary, UseError> {
        let row = self.row(id).await?;
        let status = row.status_at(now);
        if row.duration_days.is_none() {
            return Err(UseError::SingleUse { status });
        }
        if status != Status::Active {
            return Err(UseError::NotActive { status });
        }
        match self.ngi.debt_by_consent(id, trace_id).await {
            Ok(summary) => Ok(summary),
            Err(e) if consent_not_valid(&e) => {
                let to = ended_status(row.expires_at, None, now);
                let row = self
                    .move_to(&row, to, "NGI says the consent is not valid", None, now)
                    .await?;
                Err(UseError::NotActive {
                    status: row.status_at(now),
                })
            }
            Err(e) => Err(UseError::Ngi(e)),
        }
    }

    /// Asks NGI for the consent's status and records what it says: an active or revoking row
    /// NGI calls inactive has ended (or expired); an expiry NGI gives is kept.
    pub async fn refresh_status(
        &self,
        id: &ConsentId,
        now: Timestamp,
        trace_id: &str,
    ) -> Result<Consent, UseError> {
        let row = self.row(id).await?;
        let answer = self
            .ngi
            .consent_status(id, trace_id)
            .await
            .map_err(UseError::Ngi)?;
        let to = after_status(row.status, row.expires_at, &answer, now);
        let expiry = answer.expires_at().filter(|e| Some(*e) != row.expires_at);
        if to == row.status && expiry.is_none() {
            return Ok(row);
        }
        let reason = if to == row.status {
            "NGI gave the consent's expiry"
        } else {
            "NGI says the consent is no longer active"
        };
        Ok(self.move_to(&row, to, reason, expiry, now).await?)
    }

    /// Revokes the consent at NGI. Idempotent: a revoked row answers `Revoked`, an ended one
    /// `AlreadyEnded`, a `revoking` one is tried again. Refused before any call: an id not in
    /// the ledger, a single-use consent already used.
    pub async fn revoke(
        &self,
        id: &ConsentId,
        reason: &str,
        now: Timestamp,
        trace_id: &str,
    ) -> Result<Revocation, UseError> {
        let row = self.row(id).await?;
        match before_revoke(&row, now) {
            Before::Done(Status::Revoked) => Ok(Revocation::Revoked(row)),
            Before::Done(_) => Ok(Revocation::AlreadyEnded(row)),
            Before::Refuse(status) => Err(UseError::SingleUse { status }),
            Before::Attempt => {
                let row = if row.status == Status::Revoking {
                    row
                } else {
                    match self
                        .move_to(&row, Status::Revoking, reason, None, now)
                        .await
                    {
                        Ok(row) => row,
                        // Another request concluded it first (a double submit): its outcome
                        // stands.
                        Err(LedgerError::NotAllowed { .. }) => return self.reread(&row).await,
                        Err(e) => return Err(e.into()),
                    }
                };
                self.attempt(row, now, trace_id).await
            }
        }
    }

    /// One housekeeping step: every revocation due at `now` is tried once more.
    pub async fn retry_revocations(
        &self,
        now: Timestamp,
        trace_id: &str,
    ) -> Result<RetryOutcome, LedgerError> {
        let due = self.ledger.due_revocations(now, RETRIES_PER_STEP).await?;
        let mut outcome = RetryOutcome::default();
        for row in due {
            outcome.tried += 1;
            match self.attempt(row, now, trace_id).await {
                Ok(Revocation::Revoked(_)) => outcome.revoked += 1,
                Ok(Revocation::AlreadyEnded(_)) => outcome.ended += 1,
                Ok(Revocation::Pending(_)) => outcome.pending += 1,
                Err(UseError::Ledger(e)) => return Err(e),
                // `attempt` reports NGI's failures as `Pending`; nothing else comes back.
                Err(_) => outcome.pending += 1,
            }
        }
        Ok(outcome)
    }

    /// One DELETE for a `revoking` row, and what NGI's answer makes of it.
    async fn attempt(
        &self,
        row: Consent,
        now: Timestamp,
        trace_id: &str,
    ) -> Result<Revocation, UseError> {
        let Some(id) = row.id.clone() else {
            return Err(UseError::Unknown);
        };
        let refused = match self.ngi.revoke(&id, trace_id).await {
            Ok(()) => {
                tracing::info!(consent.outcome = "revoked", "consent revoked at NGI");
                return self
                    .conclude(
                        &row,
                        Status::Revoked,
                        "NGI confirmed the revocation",
                        None,
                        now,
                    )
                    .await;
            }
            Err(e) if consent_not_valid(&e) => e,
            Err(e) => {
                tracing::warn!(
                    error = %crate::error::chain(&e),
                    "NGI did not confirm a revocation; it will be tried again"
                );
                return self.later(row, now).await;
            }
        };
        // NGI answers 403 both for a consent that had ended and (in principle) for other
        // refusals: its status decides.
        match self.ngi.consent_status(&id, trace_id).await {
            Ok(answer) if !answer.is_active() => {
                let to = ended_status(row.expires_at, answer.expires_at(), now);
                self.conclude(&row, to, HAD_ALREADY_ENDED, answer.expires_at(), now)
                    .await
            }
            Ok(_) => {
                tracing::warn!(
                    error = %crate::error::chain(&refused),
                    "NGI refused a revocation of a consent it calls active; it will be tried again"
                );
                self.later(row, now).await
            }
            Err(e) => {
                tracing::warn!(
                    error = %crate::error::chain(&e),
                    "NGI refused a revocation and its status cannot be read; it will be tried again"
                );
                self.later(row, now).await
            }
        }
    }

    /// Records a failed attempt and when to try again; the row stays `revoking`.
    async fn later(&self, row: Consent, now: Timestamp) -> Result<Revocation, UseError> {
        let since = revoking_since(&row).unwrap_or(now);
        let retry_at = now
            .checked_add(retry_delay(since, now, rand::random::<f64>()))
            .unwrap_or(Timestamp::MAX);
        match self.ledger.revocation_failed(row.row, retry_at, now).await {
            Ok(()) => Ok(Revocation::Pending(row)),
            // Another attempt concluded meanwhile: its outcome stands.
            Err(LedgerError::NotAllowed { .. }) => self.reread(&row).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Records NGI's conclusion. Two attempts can overlap (the person's and housekeeping's):
    /// the first conclusion recorded stands, and the other reads it instead of failing.
    async fn conclude(
        &self,
        row: &Consent,
        to: Status,
        reason: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Revocation, UseError> {
        match self.move_to(row, to, reason, expires_at, now).await {
            Ok(row) => Ok(revocation_of(row)),
            Err(LedgerError::NotAllowed { .. }) => self.reread(row).await,
            Err(e) => Err(e.into()),
        }
    }

    async fn reread(&self, row: &Consent) -> Result<Revocation, UseError> {
        let row = self
            .ledger
            .get_row(row.row)
            .await?
            .ok_or(UseError::Unknown)?;
        Ok(revocation_of(row))
    }

    async fn row(&self, id: &ConsentId) -> Result<Consent, UseError> {
        self.ledger.get(id).await?.ok_or(UseError::Unknown)
    }

    async fn move_to(
        &self,
        row: &Consent,
        to: Status,
        reason: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Consent, LedgerError> {
        self.ledger
            .transition(
                row.row,
                Transition {
                    to,
                    reason: reason.to_owned(),
                    id: None,
                    expires_at,
                },
                now,
            )
            .await
    }
}

/// What a row's stored status says of its revocation.
fn revocation_of(row: Consent) -> Revocation {
    match row.status {
        Status::Revoked => Revocation::Revoked(row),
        status if status.is_terminal() => Revocation::AlreadyEnded(row),
        _ => Revocation::Pending(row),
    }
}

/// NGI's 403 `invalid consent`: unknown, expired, used or already revoked at NGI.
fn consent_not_valid(e: &ConsentError) -> bool {
    matches!(e, AuthorizedError::Call(NgiError::ConsentNotValid { .. }))
}

/// What a revocation does with a row before calling NGI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Before {
    /// Nothing to ask NGI: the row already reads as this.
    Done(Status),
    /// Refused: a single-use consent that was used.
    Refuse(Status),
    /// Ask NGI (the row is, or becomes, `revoking`).
    Attempt,
}

fn before_revoke(row: &Consent, now: Timestamp) -> Before {
    match row.status {
        Status::Used if row.duration_days.is_none() => Before::Refuse(Status::Used),
        // Past its expiry by our clock NGI is still asked: our clock may run ahead of NGI's,
        // and a consent NGI still holds must not stay unrevoked. NGI's 403 and its status
        // then record it as expired.
        Status::Active | Status::Revoking => Before::Attempt,
        _ => Before::Done(row.status_at(now)),
    }
}

/// A consent NGI calls ended: `expired` if past its expiry (NGI's, else ours), else
/// `ended_at_ngi`.
fn ended_status(ours: Option<Timestamp>, ngis: Option<Timestamp>, now: Timestamp) -> Status {
    match ngis.or(ours) {
        Some(expiry) if now >= expiry => Status::Expired,
        _ => Status::EndedAtNgi,
    }
}

/// The status a row takes after NGI's status answer. Only an active or revoking row changes:
/// NGI calling it inactive means it ended there. Anything else stays (terminal rows never
/// reopen, a registering one has nothing NGI could say of yet).
fn after_status(
    stored: Status,
    expires_at: Option<Timestamp>,
    answer: &ConsentStatus,
    now: Timestamp,
) -> Status {
    match (stored, answer.is_active()) {
        (Status::Active | Status::Revoking, false) => {
            ended_status(expires_at, answer.expires_at(), now)
        }
        _ => stored,
    }
}

/// When the row last became `revoking`.
fn revoking_since(row: &Consent) -> Option<Timestamp> {
    row.history
        .iter()
        .rev()
        .find(|change| change.to == Status::Revoking)
        .map(|change| change.at)
}

/// How long to wait before the next attempt of a revocation that began at `since`: as long as
/// it has been going on, at least [`RETRY_FIRST`] and at most [`RETRY_MAX`], so the waits
/// double (30 s, 1 min, 2 min …) without a counter; plus up to a fifth more (`jitter` in
/// 0..1), so that revocations failed together are not retried together.
pub fn retry_delay(since: Timestamp, now: Timestamp, jitter: f64) -> SignedDuration {
    let elapsed = now.duration_since(since);
    let base = elapsed.clamp(RETRY_FIRST, RETRY_MAX);
    let extra = base.as_secs_f64() * 0.2 * jitter.clamp(0.0, 1.0);
    base + SignedDuration::from_secs_f64(extra)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
