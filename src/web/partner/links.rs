//! `POST /partner/api/links`: a signed start link for one of the partner's applications.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::problem::{ApiJson, Problem, ProblemBody};
use crate::domain::reference::{LinkReference, Reference};
use crate::flow::link::LINK_LIFETIME;
use crate::paths;
use crate::web::{AppState, Shared};

/// The application a start link is for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The partner's reference for the application: 1 to 64 characters of `[A-Za-z0-9._:-]`.
    #[schema(value_type = String, min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._:-]{1,64}$", example = "APP-1")]
    pub reference: LinkReference,
}

/// A signed start link: send the person to `url` before `expires_at`.
#[derive(Serialize, ToSchema)]
pub struct LinkResponse {
    /// `{PUBLIC_URL}/consent/start?ref=…&exp=…&sig=…`
    pub url: String,
    /// When the link stops working (RFC 3339), an hour after it was made.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// Make a signed start link for an application.
#[utoipa::path(
    post,
    path = paths::PARTNER_LINKS,
    tag = "links",
    request_body(content = LinkRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The link", body = LinkResponse),
        (status = 400, description = "The body is not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The reference is missing or not valid", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_link(
    State(app): State<AppState>,
    ApiJson(request): ApiJson<LinkRequest>,
) -> Result<Response, Problem> {
    let link = start_link(&app, &request.reference.0).ok_or_else(Problem::internal)?;
    let body = LinkResponse {
        url: link.url.to_string(),
        expires_at: link.expires_at,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A signed start link, made now.
pub struct StartLink {
    pub url: url::Url,
    pub expires_at: Timestamp,
}

/// The start link for `reference`, signed with the link key; `None` without a key (not
/// reachable: the partner API and console are only mounted with a token, which gives the key).
pub fn start_link(app: &Shared, reference: &Reference) -> Option<StartLink> {
    let key = app.link_key.as_ref()?;
    // Whole seconds: the link's `exp` carries seconds, and `expires_at` says the same instant.
    let expires_at = Timestamp::from_second((app.now() + LINK_LIFETIME).as_second()).ok()?;
    let signature = key.sign(reference, expires_at);
    let mut url = app.public_url.join(paths::CONSENT_START).ok()?;
    url.query_pairs_mut()
        .append_pair("ref", reference.as_str())
        .append_pair("exp", &expires_at.as_second().to_string())
        .append_pair("sig", &signature);
    Some(StartLink { url, expires_at })
}
