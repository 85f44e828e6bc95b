//! `PUT /v1/consent/agreement`: integrated consent, a consent the client collected itself and
//! registers here. Only with a client-credentials token of the caller's client for the agreement
//! audience and scope `consent.create`; anything else is a 401 without a body, as the spec
//! documents it.
//!
//! The body is checked as NGI's `CreateConsentRequestDTO`: a national identity number with
//! valid check digits (both series), a base debt scope, days within the scope's maximum, a
//! `client_consent_id`. Errors are Spring Boot's `{status, timestamp, path, error, message,
//! requestId}`, unlike the debt API's. The same client, `client_consent_id` and data again is
//! the same consent (200); other data is a 409. The consent made is an ordinary one of the
//! store: the debt by id, its status and revoke work on it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Endpoint;
use super::client_credentials::Audience;
use super::debt::bearer_token;
use super::fault::{self, FaultOutcome, spring_error};
use super::nin::Nin;
use super::random;
use super::scope::Purpose;
use super::state::{Shared, lock};
use super::store::{Agreement, AgreementConflict};

const PATH: &str = "/v1/consent/agreement";
/// The scope a token must carry, besides the agreement audience.
const SCOPE: &str = "consent.create";
/// The spec's words for a 409.
const CONFLICT: &str =
    "This consent (represented by 'client_consent_id') is already registered with some other data.";

/// A Spring Boot error answer.
fn spring(status: StatusCode, message: &str, request_id: &str) -> Response {
    let error = status.canonical_reason().unwrap_or("Error");
    let body = spring_error(status.as_u16(), error, message, PATH, request_id);
    (status, Json(body)).into_response()
}

/// The spec's 401: no body. The header says what kind of token is missing (RFC 6750 §3).
fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
    )
        .into_response()
}

/// The client a valid agreement token was granted to: the agreement audience and
/// `consent.create`, not expired, not revoked.
fn token_client(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)?;
    let now = shared.now();
    lock(&shared.client_tokens)
        .get(token, now)
        .filter(|t| t.audiences.contains(&Audience::Agreement))
        .filter(|t| t.scope.iter().any(|s| s == SCOPE))
        .map(|t| t.client_id.clone())
}

/// A checked `CreateConsentRequestDTO`.
#[derive(Debug)]
struct Checked {
    agreement: Agreement,
    client_consent_id: String,
}

/// Checks the body field by field; the message names the first field that fails.
fn check(body: &[u8]) -> Result<Checked, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| "JSON parse error: the request body is not valid JSON".to_owned())?;
    let Value::Object(fields) = value else {
        return Err("JSON parse error: the request body is not a JSON object".into());
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str);

    let nin = match fields.get("nin") {
        None | Some(Value::Null) => return Err("nin: must not be null".into()),
        Some(Value::String(nin)) => nin,
        Some(_) => return Err("nin: must be a string".into()),
    };
    // NGI takes the 11 digits as they are: no spaces, unlike a person typing at the login.
    let nin = nin
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| Nin::parse(nin))
        .flatten()
        .ok_or("nin: invalid national identity number")?;

    let purpose = match text("scope_of_consent") {
        Some("debt.unsecured.presentation") => Purpose::Presentation,
        Some("debt.unsecured.processing") => Purpose::Processing,
        None if fields.get("scope_of_consent").is_none_or(Value::is_null) => {
            return Err("scope_of_consent: must not be null".into());
        }
        _ => {
            return Err(
                "scope_of_consent: must be one of debt.unsecured.presentation, debt.unsecured.processing"
                    .into(),
            );
        }
    };

    let days = match fields.get("consent_duration_days") {
        None | Some(Value::Null) => return Err("consent_duration_days: must not be null".into()),
        Some(days) => days
            .as_i64()
            .ok_or("consent_duration_days: must be an integer")?,
    };
    let max = purpose.max_days();
    let days = u32::try_from(days)
        .ok()
        .filter(|d| (1..=max).contains(d))
        .ok_or_else(|| {
            format!(
                "consent_duration_days: must be between 1 and {max} for {}",
                purpose.base_scope()
            )
        })?;

    let client_consent_id = match fields.get("client_consent_id") {
        None | Some(Value::Null) => return Err("client_consent_id: must not be null".into()),
        Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
        Some(Value::String(_)) => return Err("client_consent_id: must not be blank".into()),
        Some(_) => return Err("client_consent_id: must be a string".into()),
    };

    Ok(Checked {
        agreement: Agreement { nin, purpose, days },
        client_consent_id,
    })
}

/// ISO 8601 to the second, as NGI's example (`2018-01-10T06:14:00Z`).
fn iso_seconds(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) async fn register(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tracing::debug!(route = PATH, "simulator request");
    shared.agreement_requests.fetch_add(1, Ordering::SeqCst);
    if let FaultOutcome::Answer(response) = fault::apply(shared.fault(Endpoint::Agreement)).await {
        return response;
    }
    let Some(client_id) = token_client(&shared, &headers) else {
        return unauthorized();
    };
    let request_id = headers
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map_or_else(random::uuid, str::to_owned);
    if !is_json(&headers) {
        return spring(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content type must be application/json",
            &request_id,
        );
    }
    let checked = match check(&body) {
        Ok(checked) => checked,
        Err(message) => return spring(StatusCode::BAD_REQUEST, &message, &request_id),
    };
    let now = shared.now();
    let registered = lock(&shared.store).register_agreement(
        &client_id,
        &checked.client_consent_id,
        checked.agreement,
        now,
    );
    match registered {
        Ok(consent) => {
            let body = json!({
                "client_consent_id": checked.client_consent_id,
                "consent": {
                    "id": consent.id,
                    "expires_at": iso_seconds(consent.expires_at),
                    "scope_of_consent": consent.purpose.base_scope(),
                },
            });
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(AgreementConflict) => spring(StatusCode::CONFLICT, CONFLICT, &request_id),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn body(nin: Value, scope: Value, days: Value, id: Value) -> Vec<u8> {
        let mut fields = serde_json::Map::new();
        for (name, value) in [
            ("nin", nin),
            ("scope_of_consent", scope),
            ("consent_duration_days", days),
            ("client_consent_id", id),
        ] {
            if value != Value::Bool(false) {
                fields.insert(name.into(), value);
            }
        }
        Value::Object(fields).to_string().into_bytes()
    }

    fn good() -> [Value; 4] {
        [
            json!("14842249091"),
            json!("debt.unsecured.processing"),
            json!(28),
            json!("APP-1"),
        ]
    }

    fn with(index: usize, value: Value) -> Result<Checked, String> {
        let mut fields = good();
        fields[index] = value;
        let [a, b, c, d] = fields;
        check(&body(a, b, c, d))
    }

    #[test]
    fn a_complete_body_is_an_agreement() {
        let checked = with(0, json!("14842249091")).unwrap();
        assert_eq!(checked.client_consent_id, "APP-1");
        assert_eq!(checked.agreement.purpose, Purpose::Processing);
        assert_eq!(checked.agreement.days, 28);
        assert_eq!(checked.agreement.nin.as_str(), "14842249091");
    }

    #[test]
    fn a_number_from_the_2032_series_is_accepted() {
        assert!(with(0, json!("30108299939")).is_ok());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (0, json!("14842249092"), "nin:"),
            (0, json!("148422 49091"), "nin:"),
            (0, json!(14842249091_u64), "nin:"),
            (0, Value::Bool(false), "nin:"),
            (
                1,
                json!("debt.unsecured.presentation.30"),
                "scope_of_consent:",
            ),
            (1, json!("openid"), "scope_of_consent:"),
            (1, Value::Null, "scope_of_consent:"),
            (2, json!(0), "consent_duration_days:"),
            (2, json!(29), "consent_duration_days:"),
            (2, json!(-1), "consent_duration_days:"),
            (2, json!("28"), "consent_duration_days:"),
            (2, json!(2.5), "consent_duration_days:"),
            (2, Value::Bool(false), "consent_duration_days:"),
            (3, json!(""), "client_consent_id:"),
            (3, json!("  "), "client_consent_id:"),
            (3, json!(7), "client_consent_id:"),
            (3, Value::Bool(false), "client_consent_id:"),
        ];
        for (index, value, field) in cases {
            let message = with(index, value.clone()).unwrap_err();
            assert!(message.starts_with(field), "{value}: {message}");
        }
    }

    #[test]
    fn presentation_allows_a_year_and_processing_four_weeks() {
        let presentation = |days: i64| {
            check(&body(
                json!("14842249091"),
                json!("debt.unsecured.presentation"),
                json!(days),
                json!("APP-1"),
            ))
        };
        assert!(presentation(365).is_ok());
        assert!(presentation(1).is_ok());
        assert!(presentation(366).is_err());
        assert!(with(2, json!(1)).is_ok());
        assert!(with(2, json!(28)).is_ok());
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_a_parse_error() {
        for body in [&b"not json"[..], b"[]", b"\"x\"", b""] {
            assert!(check(body).unwrap_err().starts_with("JSON parse error"));
        }
    }

    #[test]
    fn the_expiry_is_written_to_the_second() {
        let t: Timestamp = "2026-02-01T06:14:00.123456Z".parse().unwrap();
        assert_eq!(iso_seconds(t), "2026-02-01T06:14:00Z");
    }
}
