//! What runs beside the server: NGI's discovery document read at start-up and asked for again
//! until it answers, and the upkeep every 10 s (expired sessions and claims, quiet rate-limit
//! entries, the metrics' histograms, revocations NGI has not confirmed yet).

use std::sync::Arc;
use std::time::Duration;

use super::StartupError;
use crate::consents::Lifecycle;
use crate::ngi::client::NgiClient;
use crate::session::SessionBackend;
use crate::web::Clock;
use crate::web::ratelimit::RateLimit;

/// The first wait before asking NGI's discovery document again, and the longest.
pub(super) const DISCOVERY_RETRY_FIRST: Duration = Duration::from_secs(1);
pub(super) const DISCOVERY_RETRY_MAX: Duration = Duration::from_secs(30);

/// Without a pinned issuer, NGI's discovery document is read now. An answer that is not a
/// usable document stops start-up (only NGI_ISSUER or another host can fix that); a host that
/// cannot be reached yet leaves the site up but not ready, and `keep_discovering` asks again.
pub(super) async fn discover_at_start_up(ngi: &NgiClient) -> Result<(), StartupError> {
    if ngi.issuer_rule().is_some() {
        return Ok(());
    }
    match ngi.discover_issuer_once().await {
        Ok(rule) => {
            tracing::info!(issuer = %rule.issuer, "NGI's issuer read from its discovery document");
            Ok(())
        }
        Err(e) if e.is_retryable() => {
            tracing::warn!(
                error = %crate::error::chain(&e),
                "NGI's discovery document cannot be read yet; not ready until it is, retrying"
            );
            Ok(())
        }
        Err(e) => Err(StartupError::Discovery(Box::new(e))),
    }
}

/// Asks NGI's discovery document again, waiting `first`, then twice as long each time up to
/// `max`, until the issuer is known; then it ends. Nothing to do when it is known already.
pub(super) async fn keep_discovering(ngi: Arc<NgiClient>, first: Duration, max: Duration) {
    let mut wait = first;
    while ngi.issuer_rule().is_none() {
        tokio::time::sleep(wait).await;
        match ngi.discover_issuer_once().await {
            Ok(rule) => {
                tracing::info!(issuer = %rule.issuer, "NGI's issuer read from its discovery document; ready");
            }
            Err(e) => {
                tracing::warn!(
                    error = %crate::error::chain(&e),
                    retryable = e.is_retryable(),
                    "NGI's discovery document still cannot be read; not ready"
                );
            }
        }
        wait = (wait * 2).min(max);
    }
}

/// Periodic upkeep, every 10 s, at the app's clock's time: the round below, then the
/// revocations NGI has not confirmed yet, each tried again once its backoff is over.
pub(super) async fn housekeeping(
    rate_limit: Option<RateLimit>,
    sessions: SessionBackend,
    lifecycle: Arc<Lifecycle>,
    clock: Clock,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        tick.tick().await;
        housekeeping_once(rate_limit.as_ref(), &sessions, clock()).await;
        retry_revocations(&lifecycle, clock()).await;
    }
}

/// One step over the due revocations; a failing ledger is logged and tried at the next tick.
pub(super) async fn retry_revocations(lifecycle: &Lifecycle, now: jiff::Timestamp) {
    // NGI's trace id for these calls: no request to take it from.
    let trace_id = uuid::Uuid::new_v4().to_string();
    match lifecycle.retry_revocations(now, &trace_id).await {
        Ok(outcome) if outcome.tried > 0 => tracing::info!(
            tried = outcome.tried,
            revoked = outcome.revoked,
            ended = outcome.ended,
            pending = outcome.pending,
            trace_id,
            "revocations tried again"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(
            error = %crate::error::chain(&e),
            "revocations could not be tried again: the consent ledger failed"
        ),
    }
}

/// One round of upkeep at `now`: evict sessions and claims expired by then from memory, forget
/// rate-limit entries of clients gone quiet, and fold the metrics' histograms (the Prometheus
/// exporter asks for this when it does not serve its own listener).
pub async fn housekeeping_once(
    rate_limit: Option<&RateLimit>,
    sessions: &SessionBackend,
    now: jiff::Timestamp,
) {
    sessions.evict_expired_once(now).await;
    if let Some(limits) = rate_limit {
        limits.retain_recent();
    }
    if let Some(handle) = crate::metrics::handle() {
        handle.run_upkeep();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::HashMap;

    use jiff::{SignedDuration, Timestamp};
    use tower_sessions::SessionStore;
    use tower_sessions::cookie::time::OffsetDateTime;
    use tower_sessions::session::{Id, Record};

    use super::*;

    #[tokio::test]
    async fn a_housekeeping_round_evicts_the_sessions_expired_by_its_time() {
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let sessions = SessionBackend::memory(std::sync::Arc::new(move || start));
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([("k".to_owned(), serde_json::json!("v"))]),
            expiry_date: OffsetDateTime::from_unix_timestamp(start.as_second() + 60).unwrap(),
        };
        sessions.create(&mut record).await.unwrap();
        let SessionBackend::Memory { store, .. } = &sessions else {
            unreachable!()
        };

        housekeeping_once(None, &sessions, start).await;
        assert_eq!(store.len(), 1);
        housekeeping_once(None, &sessions, start + SignedDuration::from_secs(60)).await;
        assert_eq!(store.len(), 0);
    }
}
