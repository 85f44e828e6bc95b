//! The partner API's consents: list and read them, register an integrated one, ask NGI for a
//! status, fetch the debt again, revoke. Thin handlers: each parses its input into checked types
//! (a refusal names the field, before any call), calls `consents`, and answers with a view or a
//! problem.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use tower_http::request_id::RequestId;
use utoipa::{IntoParams, ToSchema};

use super::input::{self, ListInput, encode_cursor};
use super::problem::{ApiJson, Problem, ProblemBody};
use super::views::{ConsentListView, ConsentView, DebtView};
use crate::consents::UseError;
use crate::consents::register::{IntegratedConsent, RegisterError, Registered};
use crate::domain::consent::{ConsentId, Status};
use crate::ledger::{LedgerError, ListQuery};
use crate::paths;
use crate::web::AppState;

pub use super::input::{DEFAULT_LIMIT, MAX_LIMIT};

/// How long a partner should wait before sending a registration NGI did not confirm again.
const RETRY_AFTER_SECS: u64 = 30;

/// The history reason of a revocation the partner asked for.
pub const REVOKED_BY_PARTNER: &str = "revoked by the partner";

/// `?status=&reference=&limit=&after=`, each checked before the ledger is asked.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only consents with this status (as read now: `expired` includes active consents past
    /// their expiry).
    status: Option<String>,
    /// Only consents with this reference.
    reference: Option<String>,
    /// 1 to 1000; 100 if left out.
    limit: Option<String>,
    /// The `next` of the page before.
    after: Option<String>,
}

/// An integrated consent to register at NGI.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The person's national identity number (11 digits; both check-digit series).
    #[schema(example = "14842249091")]
    nin: String,
    /// `presentation` or `processing`.
    #[schema(example = "presentation")]
    purpose: String,
    /// 1–365 (presentation) or 1–28 (processing).
    #[schema(example = 30)]
    duration_days: i64,
    /// The partner's id for the consent (NGI's `client_consent_id`): 1–100 characters of
    /// `[A-Za-z0-9._:-]`; a UUID is made if left out. The same request again (same reference,
    /// same data) answers with the same consent.
    #[schema(example = "APP-1-consent")]
    reference: Option<String>,
}

/// By hand: the identity number as sent is not yet checked, so it is not shown at all.
impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("nin", &"[redacted]")
            .field("purpose", &self.purpose)
            .field("duration_days", &self.duration_days)
            .field("reference", &self.reference)
            .finish()
    }
}

/// List the consents, newest first.
#[utoipa::path(
    get,
    path = paths::PARTNER_CONSENTS,
    tag = "consents",
    params(ListParams),
    responses(
        (status = 200, description = "One page of consents, newest first", body = ConsentListView),
        (status = 400, description = "The query string cannot be read", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is not valid (named in `field`)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The consent ledger could not be read", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_consents(
    State(app): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ConsentListView>, Problem> {
    let Query(params) = params.map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-query",
            "The query string cannot be read",
        )
    })?;
    let now = app.now();
    let query = list_query(params, now)?;
    let page = app.ledger.list(query).await.map_err(ledger_problem)?;
    let next = page.next.map(encode_cursor);
    Ok(Json(ConsentListView::new(&page, next, now)))
}

/// Read one consent, with its history.
#[utoipa::path(
    get,
    path = paths::PARTNER_CONSENT,
    tag = "consents",
    params(("id" = String, Path, description = "NGI's consent id")),
    responses(
        (status = 200, description = "The consent", body = ConsentView),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No consent with this id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The id is not NGI's shape", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The consent ledger could not be read", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_consent(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ConsentView>, Problem> {
    let id = consent_id(id)?;
    match app.ledger.get(&id).await.map_err(ledger_problem)? {
        Some(consent) => Ok(Json(ConsentView::new(&consent, app.now()))),
        None => Err(unknown_consent()),
    }
}

/// Register an integrated consent (one the partner collected) at NGI.
#[utoipa::path(
    post,
    path = paths::PARTNER_CONSENTS,
    tag = "consents",
    request_body(content = RegisterRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered at NGI", body = ConsentView),
        (status = 200, description = "The same request as before: the consent as it stands", body = ConsentView),
        (status = 400, description = "The body is not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The reference is registered (here or at NGI) with other data, or this registration was refused before", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A field is not valid (named in `field`), or NGI refused the consent", body = ProblemBody, content_type = "application/problem+json"),
        (status = 502, description = "NGI refused this site's client", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "NGI did not confirm the registration: send the same request again", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn register_consent(
    State(app): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<Response, Problem> {
    let consent = integrated_consent(&request)?;
    let Some(registrations) = &app.registrations else {
        // Not reachable: the partner API is only mounted with a token, which gives this.
        return Err(Problem::internal());
    };
    let trace_id = trace_id(request_id.as_ref().map(|e| &e.0));
    let now = app.now();
    match registrations.register(&consent, now, &trace_id).await {
        Ok(Registered::Created(row)) => {
            let mut response =
                (StatusCode::CREATED, Json(ConsentView::new(&row, app.now()))).into_response();
            if let Some(location) = row
                .id
                .as_ref()
                .and_then(|id| HeaderValue::from_str(&consent_path(id)).ok())
            {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        // The same request as one NGI refused: refused again, not a success to misread.
        Ok(Registered::Same(row)) if row.status == Status::Refused => Err(Problem::new(
            StatusCode::CONFLICT,
            "registration-refused",
            "This registration was refused before",
        )
        .with_detail(
            row.history
                .last()
                .map_or_else(|| "refused".to_owned(), |c| c.reason.clone()),
        )),
        Ok(Registered::Same(row)) => Ok(Json(ConsentView::new(&row, app.now())).into_response()),
        Err(e) => Err(registration_problem(e)),
    }
}

/// Ask NGI for the consent's status now, and record what it says.
#[utoipa::path(
    post,
    path = paths::PARTNER_CONSENT_STATUS,
    tag = "consents",
    params(("id" = String, Path, description = "NGI's consent id")),
    responses(
        (status = 200, description = "The consent, updated with NGI's word", body = ConsentView),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No consent with this id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The id is not NGI's shape", body = ProblemBody, content_type = "application/problem+json"),
        (status = 502, description = "NGI could not answer", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The consent ledger could not be used", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn refresh_status(
    State(app): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ConsentView>, Problem> {
    let id = consent_id(id)?;
    let trace_id = trace_id(request_id.as_ref().map(|e| &e.0));
    let consent = app
        .lifecycle
        .refresh_status(&id, app.now(), &trace_id)
        .await
        .map_err(use_problem)?;
    Ok(Json(ConsentView::new(&consent, app.now())))
}

/// The debt again, for an active consent with days (never for a single-use one).
#[utoipa::path(
    get,
    path = paths::PARTNER_CONSENT_DEBT,
    tag = "consents",
    params(("id" = String, Path, description = "NGI's consent id")),
    responses(
        (status = 200, description = "The debt, fetched from NGI now and not kept", body = DebtView),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No consent with this id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The consent is single-use, or no longer active", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The id is not NGI's shape", body = ProblemBody, content_type = "application/problem+json"),
        (status = 502, description = "NGI could not answer", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The consent ledger could not be used", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn debt_again(
    State(app): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DebtView>, Problem> {
    let id = consent_id(id)?;
    let trace_id = trace_id(request_id.as_ref().map(|e| &e.0));
    let summary = app
        .lifecycle
        .debt_again(&id, app.now(), &trace_id)
        .await
        .map_err(use_problem)?;
    Ok(Json(DebtView::new(&id, &summary)))
}

/// Revoke the consent at NGI (the person withdrew on the partner's side).
#[utoipa::path(
    delete,
    path = paths::PARTNER_CONSENT,
    tag = "consents",
    params(("id" = String, Path, description = "NGI's consent id")),
    responses(
        (status = 200, description = "Revoked, or it had already ended (see `status` and `history`)", body = ConsentView),
        (status = 202, description = "NGI did not confirm yet: the consent stays `revoking` and is tried again", body = ConsentView),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No consent with this id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "A single-use consent whose one use is done", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The id is not NGI's shape", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The consent ledger could not be used", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_consent(
    State(app): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let id = consent_id(id)?;
    let trace_id = trace_id(request_id.as_ref().map(|e| &e.0));
    let revocation = app
        .lifecycle
        .revoke(&id, REVOKED_BY_PARTNER, app.now(), &trace_id)
        .await
        .map_err(use_problem)?;
    let status = match revocation {
        crate::consents::Revocation::Pending(_) => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((
        status,
        Json(ConsentView::new(revocation.consent(), app.now())),
    )
        .into_response())
}

fn list_query(params: ListParams, now: Timestamp) -> Result<ListQuery, Problem> {
    let input = ListInput {
        status: params.status.as_deref(),
        reference: params.reference.as_deref(),
        limit: params.limit.as_deref(),
        after: params.after.as_deref(),
    };
    Ok(input::list_query(input, now)?)
}

fn integrated_consent(request: &RegisterRequest) -> Result<IntegratedConsent, Problem> {
    Ok(input::integrated_consent(
        &request.nin,
        &request.purpose,
        request.duration_days,
        request.reference.as_deref(),
    )?)
}

fn consent_id(id: Result<Path<String>, PathRejection>) -> Result<ConsentId, Problem> {
    let Path(raw) = id.map_err(|_| Problem::invalid_field("id", "the path cannot be read"))?;
    Ok(input::consent_id(&raw)?)
}

fn consent_path(id: &ConsentId) -> String {
    paths::PARTNER_CONSENT.replace("{id}", id.as_str())
}

fn trace_id(request_id: Option<&RequestId>) -> String {
    request_id
        .and_then(|id| id.header_value().to_str().ok())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn unknown_consent() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "unknown-consent", "No such consent")
        .with_detail("no consent with this id in the ledger")
}

pub(super) fn ledger_problem(e: LedgerError) -> Problem {
    tracing::error!(error = %crate::error::chain(&e), "the consent ledger failed");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ledger-unavailable",
        "The consent ledger could not be used",
    )
}

fn use_problem(e: UseError) -> Problem {
    match e {
        UseError::Unknown => unknown_consent(),
        UseError::SingleUse { status } => Problem::new(
            StatusCode::CONFLICT,
            "single-use",
            "The consent is single-use",
        )
        .with_detail(format!(
            "a single-use consent gives the debt once, in the redirect flow; it is {status}"
        )),
        UseError::NotActive { status } => Problem::new(
            StatusCode::CONFLICT,
            "not-active",
            "The consent is no longer active",
        )
        .with_detail(format!("the consent is {status}")),
        UseError::Ngi(e) => {
            tracing::warn!(error = %crate::error::chain(&e), "NGI could not answer for a consent");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "ngi-unavailable",
                "NGI could not answer",
            )
            .with_detail("nothing was recorded as done; try again later")
        }
        UseError::Ledger(e) => ledger_problem(e),
    }
}

fn registration_problem(e: RegisterError) -> Problem {
    match e {
        RegisterError::ReferenceTaken(_) => Problem::new(
            StatusCode::CONFLICT,
            "reference-taken",
            "The reference is registered with other data",
        )
        .with_field("reference")
        .with_detail("another integrated consent has this reference; NGI was not asked"),
        RegisterError::ConflictAtNgi {
            message,
            request_id,
            ..
        } => Problem::new(
            StatusCode::CONFLICT,
            "conflict-at-ngi",
            "This reference is registered at NGI with other data",
        )
        .with_field("reference")
        .with_detail(ngi_words("409", &message, request_id.as_deref())),
        RegisterError::RefusedByNgi {
            status: 400,
            error,
            message,
            request_id,
            ..
        } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused-by-ngi",
            "NGI refused the consent",
        )
        .with_detail(ngi_words(&error, &message, request_id.as_deref())),
        RegisterError::RefusedByNgi {
            error,
            message,
            request_id,
            ..
        } => {
            tracing::error!(%error, "NGI refused this client an integrated consent");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "client-refused-by-ngi",
                "NGI refused this site's client",
            )
            .with_detail(ngi_words(&error, &message, request_id.as_deref()))
        }
        RegisterError::Pending { source, .. } => {
            tracing::warn!(error = %crate::error::chain(&source), "NGI did not confirm a registration");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "registration-pending",
                "NGI did not confirm the registration",
            )
            .with_detail("the consent stays registering; send the same request again")
            .with_retry_after(RETRY_AFTER_SECS)
        }
        RegisterError::Failed { source, .. } => {
            tracing::error!(error = %crate::error::chain(&source), "an integrated consent could not be registered");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "client-refused-by-ngi",
                "NGI refused this site's client",
            )
            .with_detail("the consent stays registering; the site's NGI settings need a look")
        }
        RegisterError::Ledger(e) => ledger_problem(e),
    }
}

/// NGI's own words, already cut and cleaned by the NGI client.
fn ngi_words(error: &str, message: &str, request_id: Option<&str>) -> String {
    match request_id {
        Some(id) => format!("NGI ({error}): {message} (requestId {id})"),
        None => format!("NGI ({error}): {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        serde_urlencoded::from_str(&query).unwrap_or(ListParams {
            status: None,
            reference: None,
            limit: None,
            after: None,
        })
    }

    fn field_of(result: Result<ListQuery, Problem>) -> Option<String> {
        result.err().map(|p| format!("{p:?}"))
    }

    #[test]
    fn each_bad_listing_parameter_is_refused_naming_it() {
        let now = Timestamp::UNIX_EPOCH;
        for (pairs, field) in [
            (vec![("status", "withdrawn")], "status"),
            (vec![("reference", "a b")], "reference"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "1001")], "limit"),
            (vec![("limit", "ten")], "limit"),
            (vec![("after", "nonsense")], "after"),
        ] {
            let shown = field_of(list_query(params(&pairs), now));
            assert!(
                shown
                    .as_deref()
                    .is_some_and(|s| s.contains(&format!("\"{field}\""))),
                "{pairs:?}: {shown:?}"
            );
        }
        let query = list_query(params(&[("status", "active"), ("limit", "5")]), now);
        assert!(matches!(
            query,
            Ok(ListQuery {
                status: Some(Status::Active),
                limit: 5,
                ..
            })
        ));
        assert!(matches!(
            list_query(params(&[]), now),
            Ok(ListQuery {
                limit: DEFAULT_LIMIT,
                ..
            })
        ));
    }
}
