//! Errors of the partner API as `application/problem+json` (RFC 9457): a type, a title, the
//! status, a detail about the client's own request, and the request id. Never internal detail
//! (no SQL, no upstream body, no cause chain): that goes to the log only.
//!
//! A handler or layer answers with a [`Problem`]; [`render`], the partner API's outermost layer,
//! writes its body with the request id, and turns any other error answer (a 405 from the router,
//! a 413 from the body limit) into a problem too, so every error has the same shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Json, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::request_id::RequestId;
use utoipa::ToSchema;

/// The media type of every error the partner API returns.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of an error (RFC 9457), as the partner's systems read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemBody {
    /// A URI naming the kind of problem: `urn:ngi-consent:problem:<kind>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:ngi-consent:problem:invalid-field")]
    pub kind: String,
    /// A short summary of the kind of problem, the same for every occurrence.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request field the problem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// This request's id (also in the `x-request-id` header), to quote when asking about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An error answer of the partner API. Its body is written by [`render`], which knows the
/// request id.
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: Option<String>,
    field: Option<String>,
    retry_after: Option<u64>,
    www_authenticate: Option<&'static str>,
}

impl Problem {
    /// A problem of its own kind: `slug` names it in the type URI
    /// (`urn:ngi-consent:problem:<slug>`), `title` is the same for every occurrence.
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Self {
            status,
            slug,
            title,
            detail: None,
            field: None,
            retry_after: None,
            www_authenticate: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds `Retry-After`: when to send the request again.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// 401: no token, or not the right one. `challenge` is the `WWW-Authenticate` value.
    pub fn unauthorized(challenge: &'static str) -> Self {
        let mut problem = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
            .with_detail("send Authorization: Bearer <partner token>");
        problem.www_authenticate = Some(challenge);
        problem
    }

    /// 429: too many failed attempts from this client; try again after `retry_after` seconds.
    pub fn too_many_failures(retry_after: u64) -> Self {
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-failures",
            "Too many failed attempts",
        )
        .with_detail("too many requests with a missing or wrong token from this client");
        problem.retry_after = Some(retry_after.max(1));
        problem
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
            .with_detail("no such resource in the partner API")
    }

    pub fn invalid_field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "A field is missing or not valid",
        )
        .with_field(field)
        .with_detail(detail)
    }

    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "The body is not valid JSON",
        )
        .with_detail(detail)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
        )
        .with_detail("send the body as Content-Type: application/json")
    }

    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "The body is too large",
        )
        .with_detail(format!(
            "request bodies are limited to {} bytes",
            super::BODY_LIMIT
        ))
    }

    /// Our own failure: nothing about it is told but the request id.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        )
    }

    /// The problem for an error answer that came without one (from the router or a layer).
    fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::PAYLOAD_TOO_LARGE => Self::too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::unsupported_media_type(),
            StatusCode::METHOD_NOT_ALLOWED => {
                Self::new(status, "method-not-allowed", "Method not allowed")
                    .with_detail("this resource does not answer that method")
            }
            s if s.is_server_error() => Self {
                status,
                ..Self::internal()
            },
            _ => Self::new(status, "bad-request", "Bad request"),
        }
    }

    fn body(&self, request_id: Option<String>) -> ProblemBody {
        ProblemBody {
            kind: format!("urn:ngi-consent:problem:{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            field: self.field.clone(),
            request_id,
        }
    }

    fn response(&self, request_id: Option<String>) -> Response {
        let body = serde_json::to_vec(&self.body(request_id)).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(challenge) = self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Written without the request id; [`render`] writes it again with it.
impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = self.response(None);
        response.extensions_mut().insert(self);
        response
    }
}

/// The partner API's outermost layer: every error answer leaves as a problem with the request id.
pub async fn render(request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    if let Some(problem) = response.extensions().get::<Problem>() {
        return problem.response(request_id);
    }
    // An error answer that is not JSON came from the router or a layer (a 405, a 413), never
    // from a handler of ours: it is given the problem for its status.
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with(PROBLEM_JSON));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        return Problem::for_status(status).response(request_id);
    }
    response
}

/// A JSON request body, refused as a problem: no `application/json` content type (415), not JSON
/// (400), a missing or wrong field (422, naming it), too large (413).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection_problem(&rejection)),
        }
    }
}

fn rejection_problem(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::unsupported_media_type(),
        JsonRejection::JsonSyntaxError(e) => Problem::malformed_json(inner_text(e)),
        JsonRejection::JsonDataError(e) => {
            let text = inner_text(e);
            let field = field_of(&text);
            Problem::invalid_field(field, text)
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Problem::too_large(),
        _ => Problem::malformed_json("the body could not be read"),
    }
}

/// serde's words about the client's own body ("reference: the reference is empty at line 1
/// column 16"), without axum's preamble.
fn inner_text(error: &dyn std::error::Error) -> String {
    let text = error
        .source()
        .map_or_else(|| error.to_string(), ToString::to_string);
    // serde quotes the offending value: an identity number sent as a JSON number would come
    // back (and into the partner's logs) in full.
    crate::domain::nin::mask_long_numbers(&text)
}

/// The field serde's message is about: its path ("reference: …"), or the one it names as
/// missing or unknown ("missing field `reference`").
fn field_of(text: &str) -> String {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(start) = text.find(marker) {
            let rest = &text[start + marker.len()..];
            if let Some(end) = rest.find('`') {
                return rest[..end].to_owned();
            }
        }
    }
    match text.split_once(": ") {
        Some((path, _)) if !path.contains(' ') && path != "." => path.to_owned(),
        _ => "(body)".to_owned(),
    }
}

impl From<super::input::FieldError> for Problem {
    fn from(e: super::input::FieldError) -> Self {
        Problem::invalid_field(e.field, e.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_is_taken_from_serdes_words() {
        assert_eq!(field_of("missing field `reference` at line 1"), "reference");
        assert_eq!(field_of("unknown field `nin`, expected `reference`"), "nin");
        assert_eq!(
            field_of("reference: the reference is empty at line 1 column 16"),
            "reference"
        );
        assert_eq!(field_of("invalid type: map, expected a string"), "(body)");
    }

    #[test]
    fn a_problem_body_names_type_title_status_and_request_id() {
        let problem = Problem::invalid_field("reference", "the reference is empty");
        let body = serde_json::to_value(problem.body(Some("req-1".into()))).unwrap();
        assert_eq!(body["type"], "urn:ngi-consent:problem:invalid-field");
        assert_eq!(body["status"], 422);
        assert_eq!(body["field"], "reference");
        assert_eq!(body["request_id"], "req-1");
        assert!(body["title"].is_string());
    }
}
