//! NGI's calls on a consent that lasts: `GET /v1/debt/{id}` (the debt again), `GET
//! /v1/debt/{id}/status` and `DELETE /v1/debt/{id}` (revoke). Each takes only a
//! client-credentials token granted for the debt audience, and only the consents the token's
//! client was given through the redirect flow; another client's consent is as unknown to it.
//!
//! As the spec answers: a consent that is unknown, used, expired or revoked is 403 `invalid
//! consent` for the debt and for revoke (there is no 404), and `active: false` for the status.
//! The debt by id is for consents with days: a single-use consent is spent by `GET /v1/debt`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::json;

use super::Endpoint;
use super::client_credentials::Audience;
use super::debt::{bearer_token, debt_answer, ngi_error};
use super::fault::{self, FaultOutcome};
use super::random;
use super::state::{Shared, lock};
use super::store::Consent;

/// What every consent call checks first: the fault switch, then a client-credentials token for
/// the debt audience. `Ok` carries the token's client and the trace id to answer with.
async fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(String, String), Response> {
    shared.consent_requests.fetch_add(1, Ordering::SeqCst);
    if let FaultOutcome::Answer(response) = fault::apply(shared.fault(Endpoint::Consent)).await {
        return Err(response);
    }
    let trace_id = headers
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map_or_else(random::uuid, str::to_owned);
    let Some(authorization) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(ngi_error(
            StatusCode::BAD_REQUEST,
            "bad request",
            "Missing Authorization header",
            &trace_id,
        ));
    };
    let Some(token) = bearer_token(authorization) else {
        return Err(ngi_error(
            StatusCode::BAD_REQUEST,
            "bad request",
            "The Authorization header must be: Bearer <access token>",
            &trace_id,
        ));
    };
    let now = shared.now();
    let client_id = lock(&shared.client_tokens)
        .get(token, now)
        .filter(|t| t.audiences.contains(&Audience::Debt))
        .filter(|t| {
            t.scope
                .iter()
                .any(|s| Audience::Debt.scopes().contains(&s.as_str()))
        })
        .map(|t| t.client_id.clone());
    match client_id {
        Some(client_id) => Ok((client_id, trace_id)),
        // The spec's 403 for this API writes it with a capital I.
        None => Err(ngi_error(
            StatusCode::FORBIDDEN,
            "Invalid access token",
            "A client-credentials token for the debt audience is required",
            &trace_id,
        )),
    }
}

/// Why a consent cannot be used or revoked now; `None` when it can.
fn refusal(consent: &Consent, now: Timestamp) -> Option<String> {
    if consent.revoked {
        Some("Consent was revoked".into())
    } else if consent.single_use && consent.used {
        Some("Consent has been used".into())
    } else if now >= consent.expires_at {
        Some(format!("Consent expired at {}", consent.expires_at))
    } else {
        None
    }
}

fn invalid_consent(description: &str, trace_id: &str) -> Response {
    ngi_error(
        StatusCode::FORBIDDEN,
        "invalid consent",
        description,
        trace_id,
    )
}

const UNKNOWN: &str = "No consent with this id";

pub(crate) async fn debt_by_id(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    tracing::debug!(route = "/v1/debt/{id}", "simulator request");
    let (client_id, trace_id) = match authorize(&shared, &headers).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let now = shared.now();
    let consent = {
        let mut store = lock(&shared.store);
        let Some(consent) = store.client_consent(&id, &client_id) else {
            return invalid_consent(UNKNOWN, &trace_id);
        };
        if let Some(why) = refusal(consent, now) {
            return invalid_consent(&why, &trace_id);
        }
        if consent.single_use {
            return invalid_consent(
                "A single-use consent is not fetched by id; it has no days",
                &trace_id,
            );
        }
        consent.clone()
    };
    debt_answer(&consent, &trace_id)
}

pub(crate) async fn status(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    tracing::debug!(route = "/v1/debt/{id}/status", "simulator request");
    let (client_id, _trace_id) = match authorize(&shared, &headers).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let now = shared.now();
    let mut store = lock(&shared.store);
    // An unknown id is 200 `active: false`, as the spec's consent_info describes it.
    let body = match store.client_consent(&id, &client_id) {
        Some(consent) => json!({
            "active": refusal(consent, now).is_none(),
            "expires_at": consent.expires_at.as_second(),
        }),
        None => json!({ "active": false }),
    };
    (StatusCode::OK, Json(body)).into_response()
}

pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    tracing::debug!(route = "DELETE /v1/debt/{id}", "simulator request");
    let (client_id, trace_id) = match authorize(&shared, &headers).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let now = shared.now();
    let mut store = lock(&shared.store);
    let Some(consent) = store.client_consent(&id, &client_id) else {
        return invalid_consent(UNKNOWN, &trace_id);
    };
    if let Some(why) = refusal(consent, now) {
        return invalid_consent(&why, &trace_id);
    }
    store.revoke_consent(&id, now);
    StatusCode::NO_CONTENT.into_response()
}
