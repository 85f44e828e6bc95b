//! NGI's consent feed: `GET {api}/feed/v1/consent?fromSequenceNr=&limit=` and its
//! `firstSequenceNr` / `lastSequenceNr`, with a client-credentials token of the feed audience
//! (scope `client.access.consent.events`). A refused token is replaced once.
//!
//! The wire is camelCase, and only an event's first five fields are required. Reading is
//! per event: an event whose block is missing becomes [`EventKind::MissingBlock`], one of a type
//! we do not know [`EventKind::Unknown`], and one we cannot read at all is kept in
//! [`FeedPage::malformed`] (with its sequence number when that could be read) while the page's
//! other events still arrive. Nothing here dedups or orders by time: duplicates (NGI's own
//! example creates one consent twice) and timestamps that do not follow the sequence are the
//! follower's to handle; events are handed over in sequence order.

use std::sync::Arc;

use jiff::Timestamp;
use oauth2::AccessToken;
use reqwest::header;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::domain::consent::ConsentId;
use crate::ngi::client::{
    Endpoint, NgiClient, NgiError, TRACE_HEADER, is_json, json_error, loggable, read_body,
};
use crate::ngi::credentials::{
    Audience, AuthorizedError, CallError, ClientCredentials, refuses_token,
};
use crate::ngi::wire;

const ENDPOINT: Endpoint = Endpoint::Feed;

/// What a feed call reports: no token, a token refused twice, or the call's [`NgiError`].
pub type FeedError = AuthorizedError<NgiError>;

/// The most characters kept of a string inside an event block (ids, scope, references).
const MAX_TEXT_CHARS: usize = 256;
/// The most characters of an event id; more (or a space, a control character) is malformed.
const MAX_EVENT_ID_CHARS: usize = 128;

/// One answer of `GET /feed/v1/consent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// The spec's "start sequence number (included) for this response"; `None` when NGI sent
    /// none (or not a number).
    pub start_sequence_nr: Option<i64>,
    /// The spec's "last (included) sequence number for this response" — which NGI's how-to may
    /// mean as the feed's end: do not take it as the highest number received.
    pub end_sequence_nr: Option<i64>,
    pub generated_at: Option<Timestamp>,
    /// The events read, in sequence order.
    pub events: Vec<FeedEvent>,
    /// The events that could not be read, in the order sent.
    pub malformed: Vec<MalformedEvent>,
}

impl FeedPage {
    /// The highest sequence number this answer carried, read events and malformed ones alike
    /// (a malformed event is received too: it is recorded, not waited for).
    pub fn highest_sequence_nr(&self) -> Option<i64> {
        self.events
            .iter()
            .map(|e| e.sequence_nr)
            .chain(self.malformed.iter().filter_map(|m| m.sequence_nr))
            .max()
    }

    /// Whether the answer carried no event at all, readable or not.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.malformed.is_empty()
    }
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub sequence_nr: i64,
    /// NGI's id of the event: the same event delivered twice has the same id.
    pub event_id: String,
    /// The consent the event is about: the top-level `consentId`, the one to act on (the
    /// blocks' inner ids need not be it).
    pub consent_id: ConsentId,
    /// When it happened at NGI; does not follow the sequence.
    pub timestamp: Timestamp,
    pub kind: EventKind,
}

/// What an event says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `SAMTYKKE_OPPRETTET`, with its block. `consent_id` is the block's own (the spec's example
    /// has the top-level id there).
    Created {
        client_id: String,
        consent_id: String,
        scope: String,
        external_consent_id: Option<String>,
    },
    /// `SAMTYKKE_ARKIVERT`, with its block. `consent_id` is the block's own (the spec's example
    /// has the creating event's `externalConsentId` there, not the top-level id).
    Archived {
        client_id: String,
        consent_id: String,
    },
    /// A known type whose block is missing, `null` or unreadable: to be recorded and skipped.
    MissingBlock { event_type: KnownType },
    /// A type NGI did not document when this was written (made safe for a log line).
    Unknown { event_type: String },
}

/// The event types NGI documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownType {
    /// `SAMTYKKE_OPPRETTET`: a consent was given.
    Created,
    /// `SAMTYKKE_ARKIVERT`: a consent ended (used, expired, revoked by the partner or the person).
    Archived,
}

impl KnownType {
    /// NGI's name for it.
    pub fn wire_name(self) -> &'static str {
        match self {
            KnownType::Created => "SAMTYKKE_OPPRETTET",
            KnownType::Archived => "SAMTYKKE_ARKIVERT",
        }
    }
}

impl EventKind {
    /// Every label `label` can give, for the metrics.
    pub const LABELS: &'static [&'static str] =
        &["created", "archived", "missing_block", "unknown"];

    /// A short, fixed label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::Archived { .. } => "archived",
            EventKind::MissingBlock { .. } => "missing_block",
            EventKind::Unknown { .. } => "unknown",
        }
    }
}

/// An event that could not be read, with what of it could.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedEvent {
    pub sequence_nr: Option<i64>,
    pub event_id: Option<String>,
    /// What is wrong, without the offending value.
    pub reason: &'static str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedBlock {
    client_id: String,
    consent_id: String,
    scope: String,
    external_consent_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchivedBlock {
    client_id: String,
    consent_id: String,
}

/// A string from a block, kept: control characters dropped, at most [`MAX_TEXT_CHARS`].
fn kept(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT_CHARS)
        .collect()
}

fn event_id_of(value: &str) -> Option<String> {
    let fits = !value.is_empty()
        && value.len() <= MAX_EVENT_ID_CHARS
        && value.bytes().all(|b| b.is_ascii_graphic());
    fits.then(|| value.to_owned())
}

/// Reads one event; what cannot be read is a [`MalformedEvent`].
pub fn parse_event(value: &Value) -> Result<FeedEvent, MalformedEvent> {
    let fields = value.as_object();
    let sequence_nr = fields
        .and_then(|f| f.get("sequenceNr"))
        .and_then(Value::as_i64);
    let event_id = fields
        .and_then(|f| f.get("eventId"))
        .and_then(Value::as_str)
        .and_then(event_id_of);
    let malformed = |reason| MalformedEvent {
        sequence_nr,
        event_id: event_id.clone(),
        reason,
    };
    let Some(fields) = fields else {
        return Err(malformed("the event is not a JSON object"));
    };
    let sequence_nr = match sequence_nr {
        Some(n) if n >= 1 => n,
        Some(_) => return Err(malformed("sequenceNr is below 1")),
        None => return Err(malformed("sequenceNr is missing or not an integer")),
    };
    let Some(event_id) = event_id.clone() else {
        return Err(malformed(
            "eventId is missing or not a short printable string",
        ));
    };
    let consent_id = fields
        .get("consentId")
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<ConsentId>().ok())
        .ok_or_else(|| malformed("consentId is missing or not a consent id"))?;
    let timestamp = fields
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok())
        .ok_or_else(|| malformed("timestamp is missing or not an ISO 8601 instant"))?;
    let event_type = fields
        .get("eventType")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("eventType is missing or not a string"))?;
    let block = |name: &str| fields.get(name).filter(|v| !v.is_null()).cloned();
    let kind = match event_type {
        "SAMTYKKE_OPPRETTET" => block("samtykkeOpprettetEvent")
            .and_then(|b| serde_json::from_value::<CreatedBlock>(b).ok())
            .map_or(
                EventKind::MissingBlock {
                    event_type: KnownType::Created,
                },
                |b| EventKind::Created {
                    client_id: kept(&b.client_id),
                    consent_id: kept(&b.consent_id),
                    scope: kept(&b.scope),
                    external_consent_id: b.external_consent_id.as_deref().map(kept),
                },
            ),
        "SAMTYKKE_ARKIVERT" => block("samtykkeArkivertEvent")
            .and_then(|b| serde_json::from_value::<ArchivedBlock>(b).ok())
            .map_or(
                EventKind::MissingBlock {
                    event_type: KnownType::Archived,
                },
                |b| EventKind::Archived {
                    client_id: kept(&b.client_id),
                    consent_id: kept(&b.consent_id),
                },
            ),
        other => EventKind::Unknown {
            event_type: loggable(other),
        },
    };
    Ok(FeedEvent {
        sequence_nr,
        event_id,
        consent_id,
        timestamp,
        kind,
    })
}

/// Reads a feed answer. Only a body that is not a JSON object with a `result` array is an
/// error: a bad event spoils itself, not the page.
pub fn parse_page(body: &[u8]) -> Result<FeedPage, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("not a feed answer: {}", json_error(&e)))?;
    let fields = value
        .as_object()
        .ok_or("not a feed answer: not a JSON object")?;
    let result = fields
        .get("result")
        .and_then(Value::as_array)
        .ok_or("not a feed answer: no result array")?;
    let mut events = Vec::with_capacity(result.len());
    let mut malformed = Vec::new();
    for item in result {
        match parse_event(item) {
            Ok(event) => events.push(event),
            Err(bad) => malformed.push(bad),
        }
    }
    events.sort_by_key(|e| e.sequence_nr);
    Ok(FeedPage {
        start_sequence_nr: fields.get("startSequenceNr").and_then(Value::as_i64),
        end_sequence_nr: fields.get("endSequenceNr").and_then(Value::as_i64),
        generated_at: fields
            .get("generatedAt")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok()),
        events,
        malformed,
    })
}

/// Reads `{firstSequenceNr}` or `{lastSequenceNr}` (named by `field`). `null` or no field is
/// `None` (a feed with nothing in it); a bare number is taken as well, since the spec gives the
/// content type as `*/*`.
pub fn parse_sequence_nr(body: &[u8], field: &str) -> Result<Option<i64>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {}", json_error(&e)))?;
    let number = match &value {
        Value::Object(fields) => fields.get(field).cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    match number {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{field} is not an integer")),
        _ => Err(format!("{field} is not a number")),
    }
}

/// NGI's consent feed, with client-credentials tokens from the shared cache.
#[derive(Debug)]
pub struct Feed {
    ngi: Arc<NgiClient>,
    credentials: Arc<ClientCredentials>,
}

impl Feed {
    pub fn new(ngi: Arc<NgiClient>, credentials: Arc<ClientCredentials>) -> Self {
        Self { ngi, credentials }
    }

    /// `GET /feed/v1/consent/firstSequenceNr`: the oldest number NGI still holds (`None` when
    /// it says `null`).
    pub async fn first_sequence_nr(&self, trace_id: &str) -> Result<Option<i64>, FeedError> {
        let url = self.url(Some("firstSequenceNr"))?;
        self.call(url, false, trace_id, |body| {
            parse_sequence_nr(body, "firstSequenceNr")
        })
        .await
    }

    /// `GET /feed/v1/consent/lastSequenceNr`: the newest number (`None` when it says `null`).
    pub async fn last_sequence_nr(&self, trace_id: &str) -> Result<Option<i64>, FeedError> {
        let url = self.url(Some("lastSequenceNr"))?;
        self.call(url, false, trace_id, |body| {
            parse_sequence_nr(body, "lastSequenceNr")
        })
        .await
    }

    /// `GET /feed/v1/consent?fromSequenceNr=&limit=`: up to `limit` events from
    /// `from_sequence_nr` (included). NGI documents no maximum `limit`; none is assumed.
    pub async fn page(
        &self,
        from_sequence_nr: i64,
        limit: u32,
        trace_id: &str,
    ) -> Result<FeedPage, FeedError> {
        let mut url = self.url(None)?;
        url.query_pairs_mut()
            .append_pair("fromSequenceNr", &from_sequence_nr.to_string())
            .append_pair("limit", &limit.to_string());
        self.call(url, true, trace_id, parse_page).await
    }

    /// `{api}/feed/v1/consent`, or one of its two sub-paths.
    fn url(&self, last_segment: Option<&str>) -> Result<Url, FeedError> {
        let mut url = self.ngi.api().clone();
        let built = url.path_segments_mut().map(|mut segments| {
            segments.pop_if_empty().extend(["feed", "v1", "consent"]);
            if let Some(last) = last_segment {
                segments.push(last);
            }
        });
        built.map(|()| url).map_err(|()| {
            AuthorizedError::Call(NgiError::BadAnswer {
                endpoint: ENDPOINT,
                detail: "the API URL cannot take a path".into(),
            })
        })
    }

    /// One GET with a feed token; `read` turns a 200's body into the answer. `json_only`: the
    /// answer's content type must be JSON (the page's is; the numbers' is `*/*` in the spec).
    async fn call<T>(
        &self,
        url: Url,
        json_only: bool,
        trace_id: &str,
        read: fn(&[u8]) -> Result<T, String>,
    ) -> Result<T, FeedError> {
        self.credentials
            .with_token(Audience::Feed, trace_id, |token| {
                let url = url.clone();
                async move {
                    let response = self.send(url, &token, trace_id, json_only).await?;
                    let status = response.status();
                    let json = is_json(response.headers().get(header::CONTENT_TYPE));
                    let body = read_body(ENDPOINT, response).await.map_err(failed)?;
                    if status != reqwest::StatusCode::OK {
                        return Err(error_answer(status.as_u16(), &body));
                    }
                    if json_only && !json {
                        return Err(failed(NgiError::BadAnswer {
                            endpoint: ENDPOINT,
                            detail: "the answer is not JSON".into(),
                        }));
                    }
                    read(&body).map_err(|detail| {
                        failed(NgiError::BadAnswer {
                            endpoint: ENDPOINT,
                            detail,
                        })
                    })
                }
            })
            .await
    }

    /// Sends one GET with the bearer token (in the header only) and our trace id.
    async fn send(
        &self,
        url: Url,
        token: &AccessToken,
        trace_id: &str,
        json_only: bool,
    ) -> Result<reqwest::Response, CallError<NgiError>> {
        let accept = if json_only { "application/json" } else { "*/*" };
        let started = std::time::Instant::now();
        let result = self
            .ngi
            .http()
            .get(url)
            .bearer_auth(token.secret())
            .header(TRACE_HEADER, trace_id)
            .header(header::ACCEPT, accept)
            .send()
            .await;
        // Timed up to the answer's head, failed or not, as every NGI call is.
        crate::metrics::ngi_request(ENDPOINT.as_str(), started.elapsed());
        result.map_err(|e| failed(NgiError::from_reqwest(ENDPOINT, e)))
    }
}

/// Counts a failed call by kind, as the other NGI calls are counted.
fn failed(e: NgiError) -> CallError<NgiError> {
    crate::metrics::ngi_error(ENDPOINT.as_str(), e.kind());
    CallError::Failed(e)
}

/// An answer other than 200: a refused token (a 401, or a 403 `invalid access token`) is
/// retried with a fresh one; anything else is reported with NGI's trace id.
fn error_answer(status: u16, body: &[u8]) -> CallError<NgiError> {
    let error: Option<wire::ErrorBody> = serde_json::from_slice(body).ok();
    if refuses_token(status, error.as_ref().and_then(|e| e.error.as_deref())) {
        crate::metrics::ngi_error(ENDPOINT.as_str(), "token_refused");
        return CallError::TokenRefused;
    }
    failed(NgiError::Status {
        endpoint: ENDPOINT,
        status,
        trace_id: error
            .as_ref()
            .and_then(|e| e.trace_id.as_deref())
            .map(loggable),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
