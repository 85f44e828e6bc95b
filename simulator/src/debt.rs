//! `GET /v1/debt`: the debt of the person behind an access token, from the fixtures.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::fault::{self, FaultOutcome};
use super::random;
use super::state::{Shared, lock};
use super::store::{Consent, DebtRefusal};
use super::{DebtRequestSeen, Endpoint};

const PERSON_14842249091: &str = include_str!("fixtures/14842249091.json");
const PERSON_29868099311: &str = include_str!("fixtures/29868099311.json");

/// The fixture for a person; other test persons have no debt.
fn fixture(nin: &str) -> Result<Map<String, Value>, serde_json::Error> {
    let text = match nin {
        "14842249091" => PERSON_14842249091,
        "29868099311" => PERSON_29868099311,
        _ => r#"{"loans":[],"numberOfCreditorsAnswered":0,"numberOfcreditorsMissing":0}"#,
    };
    serde_json::from_str(text)
}

/// NGI's `debt_information`: the fixture with `ssn` and `consent` filled in.
pub(crate) fn debt_information(consent: &Consent) -> Result<Value, serde_json::Error> {
    let mut debt = fixture(consent.nin.as_str())?;
    debt.insert("ssn".into(), Value::String(consent.nin.as_str().to_owned()));
    debt.insert(
        "consent".into(),
        json!({
            "exp": consent.expires_at.as_second(),
            "id": consent.id,
            "scope": consent.purpose.base_scope(),
        }),
    );
    Ok(Value::Object(debt))
}

/// The answer with a consent's debt: 200 with `debt_information`, or NGI's 500 should a fixture
/// not be JSON.
pub(crate) fn debt_answer(consent: &Consent, trace_id: &str) -> Response {
    match debt_information(consent) {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(error) => {
            tracing::error!(%error, "simulator fixture is not valid JSON");
            ngi_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server error",
                "An unexpected server error occurred",
                trace_id,
            )
        }
    }
}

/// NGI's error body `{error, error_description, timestamp, trace_id}`.
pub(crate) fn ngi_error(
    status: StatusCode,
    error: &str,
    description: &str,
    trace_id: &str,
) -> Response {
    let body = json!({
        "error": error,
        "error_description": description,
        "timestamp": jiff::Timestamp::now().to_string(),
        "trace_id": trace_id,
    });
    (status, Json(body)).into_response()
}

pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub(crate) async fn debt(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    tracing::debug!(route = "/v1/debt", "simulator request");
    shared.debt_requests.fetch_add(1, Ordering::SeqCst);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let bearer = authorization.and_then(bearer_token);
    let trace_header = headers
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    *lock(&shared.last_debt) = Some(DebtRequestSeen {
        bearer: bearer.map(str::to_owned),
        trace_id: trace_header.clone(),
    });
    if let FaultOutcome::Answer(response) = fault::apply(shared.fault(Endpoint::Debt)).await {
        return response;
    }

    let trace_id = trace_header.unwrap_or_else(random::uuid);
    let bad_request = |description| {
        ngi_error(
            StatusCode::BAD_REQUEST,
            "bad request",
            description,
            &trace_id,
        )
    };
    let Some(authorization) = authorization else {
        return bad_request("Missing Authorization header");
    };
    let Some(token) = bearer_token(authorization) else {
        return bad_request("The Authorization header must be: Bearer <access token>");
    };
    let now = shared.now();
    let forbidden =
        |error, description: &str| ngi_error(StatusCode::FORBIDDEN, error, description, &trace_id);
    // The spec: this API takes a token from the authorization-code flow, which is what names the person.
    if lock(&shared.client_tokens).get(token, now).is_some() {
        return forbidden(
            "invalid access token",
            "A client-credentials token names no person; this API needs one from the authorization-code flow",
        );
    }
    let used = lock(&shared.store).use_token(token, now);
    match used {
        Ok(grant) => debt_answer(&grant.consent, &trace_id),
        Err(DebtRefusal::UnknownToken) => {
            forbidden("invalid access token", "Access token is unknown")
        }
        Err(DebtRefusal::ExpiredToken) => {
            forbidden("invalid access token", "Access token is expired")
        }
        Err(DebtRefusal::NoValidConsent) => forbidden(
            "no valid consent",
            "The consent has been used or is no longer valid",
        ),
        Err(DebtRefusal::ConsentExpired(at)) => {
            forbidden("invalid consent", &format!("Consent expired at {at}"))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn loans(nin: &str) -> Vec<Value> {
        fixture(nin).unwrap()["loans"].as_array().unwrap().clone()
    }

    fn int(v: &Value, field: &str) -> i64 {
        v.get(field).and_then(Value::as_i64).unwrap_or(0)
    }

    /// Balance a person owes on a loan, NOK × 100.
    fn owed(loan: &Value) -> i64 {
        match loan.get("type").and_then(Value::as_str) {
            Some("repaymentLoan") => int(loan, "balance"),
            _ => int(loan, "interestBearingBalance") + int(loan, "nonInterestBearingBalance"),
        }
    }

    fn total(nin: &str) -> i64 {
        loans(nin)
            .iter()
            .filter_map(|l| l.get("loan").filter(|l| !l.is_null()))
            .map(owed)
            .sum()
    }

    #[test]
    fn fixtures_are_valid_and_carry_no_ssn_or_consent() {
        for nin in ["14842249091", "29868099311", "01010112345"] {
            let f = fixture(nin).unwrap();
            assert!(f.contains_key("loans"), "{nin}");
            assert!(f.contains_key("numberOfcreditorsMissing"), "{nin}");
            assert!(
                !f.contains_key("ssn") && !f.contains_key("consent"),
                "{nin}"
            );
        }
    }

    #[test]
    fn fixture_totals_are_the_documented_ones() {
        assert_eq!(total("14842249091"), 22_571_500);
        assert_eq!(total("29868099311"), 11_687_700);
        assert_eq!(total("01010112345"), 0);
    }

    #[test]
    fn fixtures_cover_every_loan_type_co_borrower_value_and_a_missing_creditor() {
        let all: Vec<Value> = [loans("14842249091"), loans("29868099311")].concat();
        let loans: Vec<&Value> = all.iter().filter_map(|l| l.get("loan")).collect();
        for kind in ["creditFacility", "repaymentLoan", "chargeCard"] {
            assert!(
                loans
                    .iter()
                    .any(|l| l.get("type").and_then(Value::as_str) == Some(kind))
            );
        }
        for co in 0..=2 {
            assert!(
                loans
                    .iter()
                    .any(|l| l.get("coBorrower").and_then(Value::as_i64) == Some(co))
            );
        }
        for period in ["MONTHLY", "QUARTERLY", "HALF-YEARLY", "YEARLY"] {
            assert!(loans.iter().any(|l| {
                l.get("installmentChargePeriod").and_then(Value::as_str) == Some(period)
            }));
        }
        assert_eq!(loans.iter().filter(|l| l.is_null()).count(), 1);
        let missing = fixture("29868099311")
            .ok()
            .and_then(|f| f.get("numberOfcreditorsMissing").and_then(Value::as_i64));
        assert_eq!(missing, Some(1));
    }

    #[test]
    fn only_bearer_authorization_carries_a_token() {
        assert_eq!(bearer_token("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
