//! Prometheus metrics: flows started, callbacks by outcome, NGI latency and errors.
//! The recorder is process-wide (the `metrics` facade has one); every `Application` in the
//! process renders the same registry.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const FLOWS_STARTED: &str = "ngi_consent_flows_started_total";
pub const CALLBACKS: &str = "ngi_consent_callbacks_total";
pub const NGI_REQUEST_SECONDS: &str = "ngi_consent_ngi_request_duration_seconds";
pub const NGI_ERRORS: &str = "ngi_consent_ngi_errors_total";
pub const CLIENT_CREDENTIALS: &str = "ngi_consent_client_credentials_requests_total";
pub const LEDGER_WRITE_FAILURES: &str = "ngi_consent_ledger_write_failures_total";
pub const ID_TOKENS: &str = "ngi_consent_id_tokens_total";
/// The outcomes of NGI's ID token after a code exchange: none came, it passed, it was refused.
pub const ID_TOKEN_OUTCOMES: &[&str] = &["absent", "verified", "refused"];

pub const FEED_EVENTS: &str = "ngi_consent_feed_events_total";
pub const FEED_CURSOR: &str = "ngi_consent_feed_cursor";
pub const FEED_LAG: &str = "ngi_consent_feed_lag";
pub const FEED_LOST_WINDOWS: &str = "ngi_consent_feed_lost_windows_total";
pub const FEED_POLL_FAILURES: &str = "ngi_consent_feed_poll_failures_total";
pub const FEED_LEADER: &str = "ngi_consent_feed_leader";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once; `None` when another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(NGI_REQUEST_SECONDS.to_owned()), &buckets)
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| tracing::error!(error = %e, "metrics are not recorded"))
                .ok()
        })
        .as_ref()
}

/// Puts every counter and histogram on `/metrics` at 0 with each label value it can take, so a
/// fresh instance already has the series that `rate()` and absence alerts look for (Prometheus'
/// own advice). The callers name the label values; each is owned by the code that emits it.
pub fn register_all(
    callback_outcomes: impl IntoIterator<Item = &'static str>,
    ngi_endpoints: &[&'static str],
    ngi_error_kinds: &[&'static str],
) {
    metrics::counter!(FLOWS_STARTED).increment(0);
    metrics::counter!(LEDGER_WRITE_FAILURES, "operation" => "record_granted").increment(0);
    for &outcome in ID_TOKEN_OUTCOMES {
        metrics::counter!(ID_TOKENS, "outcome" => outcome).increment(0);
    }
    for outcome in callback_outcomes {
        metrics::counter!(CALLBACKS, "outcome" => outcome).increment(0);
    }
    for &endpoint in ngi_endpoints {
        // Registering the histogram is enough for the exporter to show its zero buckets.
        let _ = metrics::histogram!(NGI_REQUEST_SECONDS, "endpoint" => endpoint);
        for &kind in ngi_error_kinds {
            metrics::counter!(NGI_ERRORS, "endpoint" => endpoint, "kind" => kind).increment(0);
        }
    }
}

/// Puts the client-credentials token requests on `/metrics` at 0 for every audience and outcome.
pub fn register_client_credentials(audiences: &[&'static str], outcomes: &[&'static str]) {
    for &audience in audiences {
        for &outcome in outcomes {
            metrics::counter!(CLIENT_CREDENTIALS, "audience" => audience, "outcome" => outcome)
                .increment(0);
        }
    }
}

/// One client-credentials token request to NGI (a cache hit is not one).
pub fn client_credentials(audience: &'static str, outcome: &'static str) {
    metrics::counter!(CLIENT_CREDENTIALS, "audience" => audience, "outcome" => outcome)
        .increment(1);
}

/// A write to the consent ledger failed (`operation`: the ledger's method).
pub fn ledger_write_failed(operation: &'static str) {
    metrics::counter!(LEDGER_WRITE_FAILURES, "operation" => operation).increment(1);
}

/// What became of the ID token of one code exchange (`absent`, `verified`, `refused`).
pub fn id_token(outcome: &'static str) {
    metrics::counter!(ID_TOKENS, "outcome" => outcome).increment(1);
}

pub fn flow_started() {
    metrics::counter!(FLOWS_STARTED).increment(1);
}

/// `outcome`: `success`, `replayed`, or the error kind the callback ended with.
pub fn callback(outcome: &'static str) {
    metrics::counter!(CALLBACKS, "outcome" => outcome).increment(1);
}

/// `endpoint`: `token` or `debt`.
pub fn ngi_request(endpoint: &'static str, elapsed: Duration) {
    metrics::histogram!(NGI_REQUEST_SECONDS, "endpoint" => endpoint).record(elapsed.as_secs_f64());
}

pub fn ngi_error(endpoint: &'static str, kind: &'static str) {
    metrics::counter!(NGI_ERRORS, "endpoint" => endpoint, "kind" => kind).increment(1);
}

/// Puts the feed follower's counters on `/metrics` at 0 for every event type and outcome.
pub fn register_feed(types: &[&'static str], outcomes: &[&'static str]) {
    for &kind in types.iter().chain(&["malformed"]) {
        for &outcome in outcomes {
            metrics::counter!(FEED_EVENTS, "type" => kind, "outcome" => outcome).increment(0);
        }
    }
    metrics::counter!(FEED_LOST_WINDOWS).increment(0);
    metrics::counter!(FEED_POLL_FAILURES).increment(0);
    metrics::gauge!(FEED_LEADER).set(0.0);
}

/// 1 while this instance follows the feed, 0 while another does (or none could be asked).
pub fn feed_leader(leader: bool) {
    metrics::gauge!(FEED_LEADER).set(if leader { 1.0 } else { 0.0 });
}

/// One event of NGI's consent feed handled (`type`: its kind's label; `outcome`: what it did).
pub fn feed_event(kind: &'static str, outcome: &'static str) {
    metrics::counter!(FEED_EVENTS, "type" => kind, "outcome" => outcome).increment(1);
}

/// The follower's cursor and its lag behind NGI's `lastSequenceNr`.
#[allow(clippy::cast_precision_loss)]
pub fn feed_position(cursor: i64, last: Option<i64>) {
    metrics::gauge!(FEED_CURSOR).set(cursor as f64);
    let lag = last.map_or(0, |last| last.saturating_sub(cursor).max(0));
    metrics::gauge!(FEED_LAG).set(lag as f64);
}

/// The cursor was older than NGI's `firstSequenceNr`: events were lost.
pub fn feed_lost_window() {
    metrics::counter!(FEED_LOST_WINDOWS).increment(1);
}

/// A poll of the feed failed (NGI or the ledger).
pub fn feed_poll_failed() {
    metrics::counter!(FEED_POLL_FAILURES).increment(1);
}
