//! NGI's consent feed: `GET /feed/v1/consent?fromSequenceNr=&limit=`, `…/firstSequenceNr` and
//! `…/lastSequenceNr`, only with a client-credentials token of the caller's client for the feed
//! audience and scope `client.access.consent.events`.
//!
//! One sequence runs across every client, and a client sees only its own events, so the numbers
//! it sees have gaps where another client's consents moved. `SAMTYKKE_OPPRETTET` is published
//! when a consent is made (redirect flow or agreement), `SAMTYKKE_ARKIVERT` when it ends (revoked
//! by the client, revoked by the person at Min gjeld, used, or expired once the simulator notices).
//! An expiry is noticed late, so its event carries the earlier moment the consent expired: event
//! timestamps do not follow the sequence. The feed keeps 7 days on the simulator's clock; older
//! events are gone and `firstSequenceNr` moves past them.
//!
//! `startSequenceNr` / `endSequenceNr` are the first and last sequence number of the answer's
//! events (the spec's words), `null` on an empty page; the handle can switch `endSequenceNr` to
//! the feed's last number instead (the other reading of NGI's how-to), so a follower can be tested
//! under both.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::client_credentials::Audience;
use super::debt::{bearer_token, ngi_error};
use super::fault::{self, FaultOutcome};
use super::params::Params;
use super::random;
use super::state::{Shared, lock};
use super::store::later;
use super::{Endpoint, FeedEnd};

/// How long NGI keeps an event in the feed.
pub(crate) const WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);
/// The most events kept, whatever their age; the oldest go first (as if the window had passed).
const MAX_EVENTS: usize = 100_000;
/// The largest `limit` the simulator takes (NGI documents none; a bound keeps answers small).
pub(crate) const MAX_LIMIT: i64 = 1000;
/// The scope a feed token must carry, besides the feed audience.
const SCOPE: &str = "client.access.consent.events";

/// What happened to a consent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// `SAMTYKKE_OPPRETTET`, with the base scope and the client's own reference when it has one.
    Created {
        scope: String,
        external_consent_id: Option<String>,
    },
    /// `SAMTYKKE_ARKIVERT`. `block_consent_id` is what the block's inner `consentId` says: as in
    /// NGI's own example, the creating event's `externalConsentId`, not the top-level id.
    Archived { block_consent_id: String },
}

/// One event as the feed holds it.
#[derive(Clone, Debug)]
pub(crate) struct FeedEvent {
    pub(crate) sequence_nr: i64,
    pub(crate) event_id: String,
    pub(crate) consent_id: String,
    pub(crate) client_id: String,
    /// When it happened, which may be well before it was published.
    pub(crate) timestamp: Timestamp,
    /// When it entered the feed: the window counts from here.
    published_at: Timestamp,
    pub(crate) kind: EventKind,
}

impl FeedEvent {
    /// NGI's `SamtykkeFeedEventDTO`, the other type's block `null`.
    fn to_wire(&self) -> Value {
        let (event_type, created, archived) = match &self.kind {
            EventKind::Created {
                scope,
                external_consent_id,
            } => {
                let mut block = json!({
                    "clientId": self.client_id,
                    "consentId": self.consent_id,
                    "scope": scope,
                });
                if let (Some(external), Some(fields)) = (external_consent_id, block.as_object_mut())
                {
                    fields.insert("externalConsentId".into(), json!(external));
                }
                ("SAMTYKKE_OPPRETTET", block, Value::Null)
            }
            EventKind::Archived { block_consent_id } => (
                "SAMTYKKE_ARKIVERT",
                Value::Null,
                json!({ "clientId": self.client_id, "consentId": block_consent_id }),
            ),
        };
        json!({
            "sequenceNr": self.sequence_nr,
            "eventId": self.event_id,
            "consentId": self.consent_id,
            "timestamp": self.timestamp.to_string(),
            "eventType": event_type,
            "samtykkeOpprettetEvent": created,
            "samtykkeArkivertEvent": archived,
        })
    }
}

/// The feed: events in sequence order, and the last number given.
#[derive(Debug, Default)]
pub(crate) struct FeedLog {
    events: VecDeque<FeedEvent>,
    last: i64,
}

impl FeedLog {
    /// Appends an event under the next sequence number and returns that number.
    pub(crate) fn publish(
        &mut self,
        client_id: &str,
        consent_id: &str,
        kind: EventKind,
        timestamp: Timestamp,
        now: Timestamp,
    ) -> i64 {
        self.publish_with_id(client_id, consent_id, kind, timestamp, now, random::uuid())
    }

    fn publish_with_id(
        &mut self,
        client_id: &str,
        consent_id: &str,
        kind: EventKind,
        timestamp: Timestamp,
        now: Timestamp,
        event_id: String,
    ) -> i64 {
        self.prune(now);
        while self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.last = self.last.saturating_add(1);
        self.events.push_back(FeedEvent {
            sequence_nr: self.last,
            event_id,
            consent_id: consent_id.to_owned(),
            client_id: client_id.to_owned(),
            timestamp,
            published_at: now,
            kind,
        });
        self.last
    }

    /// Publishes the event `sequence_nr` once more, the same event id, under a new number.
    pub(crate) fn repeat(&mut self, sequence_nr: i64, now: Timestamp) -> Option<i64> {
        self.prune(now);
        let event = self
            .events
            .iter()
            .find(|e| e.sequence_nr == sequence_nr)
            .cloned()?;
        Some(self.publish_with_id(
            &event.client_id,
            &event.consent_id,
            event.kind,
            event.timestamp,
            now,
            event.event_id,
        ))
    }

    /// Drops what has left the window.
    fn prune(&mut self, now: Timestamp) {
        while self
            .events
            .front()
            .is_some_and(|e| now >= later(e.published_at, WINDOW))
        {
            self.events.pop_front();
        }
    }

    /// The oldest number still in the feed; on an empty feed, the number the next event gets.
    pub(crate) fn first(&mut self, now: Timestamp) -> i64 {
        self.prune(now);
        self.events
            .front()
            .map_or(self.last.saturating_add(1), |e| e.sequence_nr)
    }

    /// The newest number given (0 before the first event).
    pub(crate) fn last(&self) -> i64 {
        self.last
    }

    /// Up to `limit` of `client_id`'s events from `from` (included), in sequence order.
    pub(crate) fn page(
        &mut self,
        client_id: &str,
        from: i64,
        limit: usize,
        now: Timestamp,
    ) -> Vec<FeedEvent> {
        self.prune(now);
        self.events
            .iter()
            .filter(|e| e.sequence_nr >= from && e.client_id == client_id)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The event with `sequence_nr`, while it is in the window.
    #[cfg(test)]
    pub(crate) fn get(&self, sequence_nr: i64) -> Option<&FeedEvent> {
        self.events.iter().find(|e| e.sequence_nr == sequence_nr)
    }
}

/// What every feed call checks first: the fault switch, then the token. `Ok` carries the
/// token's client.
async fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<String, Response> {
    shared.feed_requests.fetch_add(1, Ordering::SeqCst);
    if let FaultOutcome::Answer(response) = fault::apply(shared.fault(Endpoint::Feed)).await {
        return Err(response);
    }
    let trace_id = trace_id(headers);
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
    else {
        let mut response = ngi_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A bearer token is required",
            &trace_id,
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return Err(response);
    };
    let now = shared.now();
    let client_id = lock(&shared.client_tokens)
        .get(token, now)
        .filter(|t| t.audiences.contains(&Audience::Feed))
        .filter(|t| t.scope.iter().any(|s| s == SCOPE))
        .map(|t| t.client_id.clone());
    client_id.ok_or_else(|| {
        ngi_error(
            StatusCode::FORBIDDEN,
            "Invalid access token",
            "A client-credentials token for the feed audience is required",
            &trace_id,
        )
    })
}

fn trace_id(headers: &HeaderMap) -> String {
    headers
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map_or_else(random::uuid, str::to_owned)
}

/// The two query parameters, both required: `fromSequenceNr` any integer, `limit` 1–1000.
fn page_request(query: Option<&str>) -> Result<(i64, usize), &'static str> {
    let params = Params::from_query(query);
    if params.repeated(&["fromSequenceNr", "limit"]).is_some() {
        return Err("A parameter is included more than once");
    }
    let from = params
        .get("fromSequenceNr")
        .ok_or("fromSequenceNr is required")?
        .parse::<i64>()
        .map_err(|_| "fromSequenceNr must be an integer")?;
    let limit = params
        .get("limit")
        .ok_or("limit is required")?
        .parse::<i64>()
        .map_err(|_| "limit must be an integer")?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err("limit must be between 1 and 1000");
    }
    let limit = usize::try_from(limit).map_err(|_| "limit must be between 1 and 1000")?;
    Ok((from, limit))
}

pub(crate) async fn page(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    tracing::debug!(route = "/feed/v1/consent", "simulator request");
    let client_id = match authorize(&shared, &headers).await {
        Ok(client_id) => client_id,
        Err(response) => return response,
    };
    let (from, limit) = match page_request(query.as_deref()) {
        Ok(request) => request,
        Err(description) => {
            return ngi_error(
                StatusCode::BAD_REQUEST,
                "bad request",
                description,
                &trace_id(&headers),
            );
        }
    };
    let now = shared.now();
    let end_reading = *lock(&shared.feed_end);
    let (events, feed_last) = {
        let mut store = lock(&shared.store);
        store.notice_expired(now);
        let events = store.feed.page(&client_id, from, limit, now);
        (events, store.feed.last())
    };
    let start = events.first().map(|e| e.sequence_nr);
    let end = match end_reading {
        FeedEnd::OfPage => events.last().map(|e| e.sequence_nr),
        FeedEnd::OfFeed => Some(feed_last),
    };
    let body = json!({
        "startSequenceNr": start,
        "endSequenceNr": end,
        "generatedAt": now.to_string(),
        "result": events.iter().map(FeedEvent::to_wire).collect::<Vec<_>>(),
    });
    (StatusCode::OK, Json(body)).into_response()
}

pub(crate) async fn first_sequence_nr(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    tracing::debug!(
        route = "/feed/v1/consent/firstSequenceNr",
        "simulator request"
    );
    if let Err(response) = authorize(&shared, &headers).await {
        return response;
    }
    let now = shared.now();
    let first = {
        let mut store = lock(&shared.store);
        store.notice_expired(now);
        store.feed.first(now)
    };
    (StatusCode::OK, Json(json!({ "firstSequenceNr": first }))).into_response()
}

pub(crate) async fn last_sequence_nr(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    tracing::debug!(
        route = "/feed/v1/consent/lastSequenceNr",
        "simulator request"
    );
    if let Err(response) = authorize(&shared, &headers).await {
        return response;
    }
    let now = shared.now();
    let last = {
        let mut store = lock(&shared.store);
        store.notice_expired(now);
        store.feed.last()
    };
    (StatusCode::OK, Json(json!({ "lastSequenceNr": last }))).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn created() -> EventKind {
        EventKind::Created {
            scope: "debt.unsecured.presentation".into(),
            external_consent_id: None,
        }
    }

    #[test]
    fn one_sequence_runs_across_clients_and_each_sees_only_its_own() {
        let mut feed = FeedLog::default();
        let t = Timestamp::UNIX_EPOCH;
        feed.publish("a", "c1", created(), t, t);
        feed.publish("b", "c2", created(), t, t);
        feed.publish("a", "c3", created(), t, t);
        let seen: Vec<i64> = feed
            .page("a", 1, 10, t)
            .iter()
            .map(|e| e.sequence_nr)
            .collect();
        assert_eq!(seen, [1, 3]);
        assert_eq!(feed.page("a", 2, 10, t)[0].sequence_nr, 3);
        assert_eq!(feed.page("a", 1, 1, t).len(), 1);
        assert_eq!((feed.first(t), feed.last()), (1, 3));
    }

    #[test]
    fn events_older_than_seven_days_leave_the_feed() {
        let mut feed = FeedLog::default();
        let t0 = Timestamp::UNIX_EPOCH;
        feed.publish("a", "c1", created(), t0, t0);
        let t1 = later(t0, SignedDuration::from_hours(24));
        feed.publish("a", "c2", created(), t1, t1);
        assert_eq!(
            feed.first(later(t0, WINDOW - SignedDuration::from_secs(1))),
            1
        );
        assert_eq!(feed.first(later(t0, WINDOW)), 2);
        assert_eq!(feed.first(later(t1, WINDOW)), 3, "empty: the next number");
        assert_eq!(feed.last(), 2);
        assert!(feed.page("a", 0, 10, later(t1, WINDOW)).is_empty());
    }

    #[test]
    fn a_repeated_event_keeps_its_id_under_a_new_number() {
        let mut feed = FeedLog::default();
        let t = Timestamp::UNIX_EPOCH;
        feed.publish("a", "c1", created(), t, t);
        assert_eq!(feed.repeat(1, t), Some(2));
        let page = feed.page("a", 1, 10, t);
        assert_eq!(page[0].event_id, page[1].event_id);
        assert_eq!(feed.repeat(9, t), None);
    }

    #[test]
    fn an_event_on_the_wire_has_one_block_and_the_other_null() {
        let mut feed = FeedLog::default();
        let t = Timestamp::UNIX_EPOCH;
        feed.publish(
            "a",
            "c1",
            EventKind::Archived {
                block_consent_id: "ext-1".into(),
            },
            t,
            t,
        );
        let wire = feed.get(1).unwrap().to_wire();
        assert_eq!(wire["eventType"], "SAMTYKKE_ARKIVERT");
        assert_eq!(wire["consentId"], "c1");
        assert_eq!(wire["samtykkeArkivertEvent"]["consentId"], "ext-1");
        assert!(wire["samtykkeOpprettetEvent"].is_null());
    }

    #[test]
    fn limit_and_from_are_both_required_and_limit_is_bounded() {
        assert_eq!(
            page_request(Some("fromSequenceNr=5&limit=1000")),
            Ok((5, 1000))
        );
        assert_eq!(page_request(Some("fromSequenceNr=0&limit=1")), Ok((0, 1)));
        for bad in [
            "fromSequenceNr=1",
            "limit=10",
            "fromSequenceNr=1&limit=0",
            "fromSequenceNr=1&limit=1001",
            "fromSequenceNr=1&limit=-3",
            "fromSequenceNr=x&limit=10",
            "fromSequenceNr=1&limit=ten",
            "fromSequenceNr=1&limit=10&limit=20",
        ] {
            assert!(page_request(Some(bad)).is_err(), "{bad}");
        }
        assert!(page_request(None).is_err());
    }
}
