//! Integrated consent: registering at NGI a consent the partner collected itself
//! (`PUT {api}/v1/consent/agreement`, a client-credentials token of the agreement audience with
//! scope `consent.create`).
//!
//! NGI treats the same body as the same consent: a request whose answer was lost (a timeout, a
//! 5xx) is sent again unchanged, and NGI answers with the consent it already made. The same
//! `client_consent_id` with other data is a 409. Errors here come in Spring's shape
//! (`{status, timestamp, path, error, message, requestId}`), not the debt API's; a 401 has no
//! body at all.

use std::sync::Arc;

use jiff::Timestamp;
use oauth2::AccessToken;
use reqwest::header;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::consent::ConsentId;
use crate::domain::nin::Nin;
use crate::domain::scope::Purpose;
use crate::ngi::answer::loggable_message;
use crate::ngi::client::{
    Endpoint, NgiClient, NgiError, TRACE_HEADER, is_json, json_error, loggable, read_body,
};
use crate::ngi::credentials::{
    Audience, AuthorizedError, CallError, ClientCredentials, TokenError, refuses_token,
};

const ENDPOINT: Endpoint = Endpoint::Agreement;

/// A consent the partner collected, to be registered at NGI.
#[derive(Clone, PartialEq, Eq)]
pub struct AgreementRequest {
    pub nin: Nin,
    pub purpose: Purpose,
    /// 1–365 days for presentation, 1–28 for processing (NGI checks; so does the caller).
    pub duration_days: u16,
    /// The partner's own id for the consent; NGI's key for "the same consent".
    pub client_consent_id: String,
}

impl std::fmt::Debug for AgreementRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgreementRequest")
            .field("nin", &self.nin.masked())
            .field("purpose", &self.purpose)
            .field("duration_days", &self.duration_days)
            .field("client_consent_id", &self.client_consent_id)
            .finish()
    }
}

/// NGI's `CreateConsentRequestDTO`. Built only to be serialized into the request body.
#[derive(Serialize)]
struct WireRequest<'a> {
    nin: &'a str,
    /// The base scope: the agreement API's enum has no `.N` suffix.
    scope_of_consent: &'static str,
    consent_duration_days: u16,
    client_consent_id: &'a str,
}

impl<'a> From<&'a AgreementRequest> for WireRequest<'a> {
    fn from(request: &'a AgreementRequest) -> Self {
        WireRequest {
            nin: request.nin.expose_secret(),
            scope_of_consent: request.purpose.base_scope(),
            consent_duration_days: request.duration_days,
            client_consent_id: &request.client_consent_id,
        }
    }
}

/// The consent NGI registered (or already held for the same body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// NGI's id: the one to use with the debt, status and revoke calls.
    pub consent_id: ConsentId,
    /// `None` when NGI left it out or sent something that is not an ISO 8601 instant.
    pub expires_at: Option<Timestamp>,
    pub purpose: Purpose,
}

/// Why a consent was not registered.
#[derive(Debug, thiserror::Error)]
pub enum AgreementError {
    /// 409: NGI holds this `client_consent_id` with other data.
    #[error("NGI holds this reference with other data: {message} (request id {request_id:?})")]
    Conflict {
        message: String,
        request_id: Option<String>,
    },
    /// 400 or 403: NGI refused the consent (a bad field, or a consent this client may not
    /// register), in its own words.
    #[error(
        "NGI refused the consent (HTTP {status}, {error}): {message} (request id {request_id:?})"
    )]
    Refused {
        status: u16,
        error: String,
        message: String,
        request_id: Option<String>,
    },
    /// No token: NGI refused the grant, or the token endpoint failed.
    #[error(transparent)]
    Token(Arc<TokenError>),
    /// NGI refused a freshly granted token as well.
    #[error("NGI refused a fresh client-credentials token for the agreement audience as well")]
    TokenRefused,
    /// NGI could not be asked or did not answer: unreachable, too slow, or a 5xx or 429. NGI
    /// may or may not have registered the consent; sending the same body again tells.
    #[error("NGI could not register the consent now")]
    Unavailable(#[source] NgiError),
    /// A 200 we cannot read: the consent may be registered, and the same body again gives the
    /// same answer to read.
    #[error("NGI's answer to the registration cannot be read")]
    BadAnswer(#[source] NgiError),
    /// A status the spec does not list (a 404, a redirect…): most likely a wrong API URL.
    #[error("NGI answered the registration with an unexpected status")]
    Unexpected(#[source] NgiError),
}

impl AgreementError {
    /// Every label `kind` can give, for the metrics and problem types.
    pub const KINDS: &'static [&'static str] = &[
        "conflict",
        "refused",
        "token",
        "token_refused",
        "unavailable",
        "bad_answer",
        "unexpected",
    ];

    /// A short, fixed label for logs, metrics and problem types.
    pub fn kind(&self) -> &'static str {
        match self {
            AgreementError::Conflict { .. } => "conflict",
            AgreementError::Refused { .. } => "refused",
            AgreementError::Token(_) => "token",
            AgreementError::TokenRefused => "token_refused",
            AgreementError::Unavailable(_) => "unavailable",
            AgreementError::BadAnswer(_) => "bad_answer",
            AgreementError::Unexpected(_) => "unexpected",
        }
    }

    /// Whether sending the same body again later may register the consent: NGI was not
    /// reached, failed, answered what we cannot read, or the token endpoint was unavailable.
    /// The caller keeps the consent `registering` then.
    pub fn is_retryable(&self) -> bool {
        match self {
            AgreementError::Unavailable(_) | AgreementError::BadAnswer(_) => true,
            AgreementError::Token(e) => matches!(e.as_ref(), TokenError::Ngi(e) if retryable(e)),
            AgreementError::Conflict { .. }
            | AgreementError::Refused { .. }
            | AgreementError::TokenRefused
            | AgreementError::Unexpected(_) => false,
        }
    }

    /// Whether NGI answered about this consent itself (409, 400, 403): it is not registered, and
    /// the same body will be refused again. Token and transport troubles are not refusals.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            AgreementError::Conflict { .. } | AgreementError::Refused { .. }
        )
    }
}

/// A transport failure or a status that may pass: worth the same request later.
fn retryable(e: &NgiError) -> bool {
    match e {
        NgiError::Timeout { .. } | NgiError::Unreachable { .. } => true,
        NgiError::Status { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

/// Spring Boot's error body, as the agreement API sends it. Every field is read as optional:
/// an error answer that lacks one still says what it can.
#[derive(Debug, Default, Deserialize)]
struct SpringError {
    error: Option<String>,
    message: Option<String>,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
}

/// What an answer other than 200 means. `None` for a refused token (a 401, or a 403
/// `invalid access token`): the caller retries with a fresh one.
fn error_answer(status: u16, body: &[u8]) -> Option<AgreementError> {
    let spring: SpringError = serde_json::from_slice(body).unwrap_or_default();
    if refuses_token(status, spring.error.as_deref()) {
        return None;
    }
    let request_id = spring.request_id.as_deref().map(loggable);
    let message = spring
        .message
        .as_deref()
        .map(loggable_message)
        .unwrap_or_default();
    Some(match status {
        409 => AgreementError::Conflict {
            message,
            request_id,
        },
        400 | 403 => AgreementError::Refused {
            status,
            error: spring
                .error
                .as_deref()
                .map(loggable)
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| {
                    if status == 400 {
                        "Bad Request"
                    } else {
                        "Forbidden"
                    }
                    .into()
                }),
            message,
            request_id,
        },
        _ => {
            let e = NgiError::Status {
                endpoint: ENDPOINT,
                status,
                trace_id: request_id,
            };
            if retryable(&e) {
                AgreementError::Unavailable(e)
            } else {
                AgreementError::Unexpected(e)
            }
        }
    })
}

/// NGI's `CreateConsentResponseDTO`.
#[derive(Deserialize)]
struct WireAnswer {
    client_consent_id: Option<String>,
    consent: Option<WireConsent>,
}

#[derive(Deserialize)]
struct WireConsent {
    id: Option<String>,
    /// ISO 8601, unlike the epoch seconds of the debt and status answers.
    expires_at: Option<String>,
    scope_of_consent: Option<String>,
}

fn bad_answer(detail: impl Into<String>) -> AgreementError {
    AgreementError::BadAnswer(NgiError::BadAnswer {
        endpoint: ENDPOINT,
        detail: detail.into(),
    })
}

/// Reads a 200: NGI's consent id (required, and of NGI's shape), its purpose (the one asked for
/// when left out; another one is refused, as it is not what the person agreed to) and expiry
/// (`None` when missing or not an instant). An answer about another `client_consent_id` is
/// refused.
fn read_registered(body: &[u8], request: &AgreementRequest) -> Result<Registered, AgreementError> {
    let answer: WireAnswer = serde_json::from_slice(body)
        .map_err(|e| bad_answer(format!("not a registered consent: {}", json_error(&e))))?;
    if answer
        .client_consent_id
        .as_deref()
        .is_some_and(|id| id != request.client_consent_id)
    {
        return Err(bad_answer("the answer is about another client_consent_id"));
    }
    let consent = answer
        .consent
        .ok_or_else(|| bad_answer("the answer has no consent"))?;
    let consent_id = consent
        .id
        .ok_or_else(|| bad_answer("the consent has no id"))?
        .parse::<ConsentId>()
        .map_err(|e| bad_answer(format!("the consent id is not NGI's shape: {e}")))?;
    let purpose = match consent.scope_of_consent.as_deref() {
        None => request.purpose,
        Some(scope) => match Purpose::from_granted_scope(scope) {
            Some(purpose) if purpose == request.purpose => purpose,
            Some(_) => return Err(bad_answer("the consent has another purpose than asked")),
            None => return Err(bad_answer("the consent's scope is not a debt scope")),
        },
    };
    let expires_at = consent
        .expires_at
        .as_deref()
        .and_then(|s| s.trim().parse::<Timestamp>().ok());
    Ok(Registered {
        consent_id,
        expires_at,
        purpose,
    })
}

/// NGI's agreement API, with client-credentials tokens from the shared cache.
#[derive(Debug)]
pub struct Agreements {
    ngi: Arc<NgiClient>,
    credentials: Arc<ClientCredentials>,
}

impl Agreements {
    pub fn new(ngi: Arc<NgiClient>, credentials: Arc<ClientCredentials>) -> Self {
        Self { ngi, credentials }
    }

    /// `PUT /v1/consent/agreement`. A refused token is replaced once. Not retried otherwise: the
    /// caller keeps the consent `registering` on a retryable error and sends the same request
    /// again later (NGI answers the same body with the same consent).
    pub async fn register(
        &self,
        request: &AgreementRequest,
        trace_id: &str,
    ) -> Result<Registered, AgreementError> {
        let url = self
            .ngi
            .api()
            .join(Audience::Agreement.path())
            .map_err(|_| setup_error("the API URL cannot take the agreement path"))?;
        let body = serde_json::to_vec(&WireRequest::from(request))
            .map_err(|_| setup_error("the request body cannot be written"))?;
        let result = self
            .credentials
            .with_token(Audience::Agreement, trace_id, |token| {
                let (url, body) = (url.clone(), body.clone());
                async move { self.send(url, body, &token, request, trace_id).await }
            })
            .await;
        match result {
            Ok(registered) => Ok(registered),
            Err(AuthorizedError::Call(e)) => Err(e),
            Err(AuthorizedError::Token(e)) => Err(AgreementError::Token(e)),
            Err(AuthorizedError::TokenRefused { .. }) => Err(AgreementError::TokenRefused),
        }
    }

    async fn send(
        &self,
        url: Url,
        body: Vec<u8>,
        token: &AccessToken,
        request: &AgreementRequest,
        trace_id: &str,
    ) -> Result<Registered, CallError<AgreementError>> {
        let started = std::time::Instant::now();
        let sent = self
            .ngi
            .http()
            .put(url)
            .bearer_auth(token.secret())
            .header(TRACE_HEADER, trace_id)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        // Timed up to the answer's head, failed or not, as every NGI call is.
        crate::metrics::ngi_request(ENDPOINT.as_str(), started.elapsed());
        let result = match sent {
            Ok(response) => read_answer(response, request).await,
            Err(e) => Err(Some(AgreementError::Unavailable(NgiError::from_reqwest(
                ENDPOINT, e,
            )))),
        };
        match result {
            Ok(registered) => Ok(registered),
            Err(None) => {
                crate::metrics::ngi_error(ENDPOINT.as_str(), "token_refused");
                Err(CallError::TokenRefused)
            }
            Err(Some(e)) => {
                crate::metrics::ngi_error(ENDPOINT.as_str(), metrics_kind(&e));
                Err(CallError::Failed(e))
            }
        }
    }
}

/// The answer read: the consent, an error, or `None` for a refused token.
async fn read_answer(
    response: reqwest::Response,
    request: &AgreementRequest,
) -> Result<Registered, Option<AgreementError>> {
    let status = response.status();
    let json = is_json(response.headers().get(header::CONTENT_TYPE));
    let body = read_body(ENDPOINT, response).await.map_err(|e| {
        Some(match e {
            NgiError::BadAnswer { .. } => AgreementError::BadAnswer(e),
            e => AgreementError::Unavailable(e),
        })
    })?;
    if status == reqwest::StatusCode::OK {
        if !json {
            return Err(Some(bad_answer("the answer is not JSON")));
        }
        return read_registered(&body, request).map_err(Some);
    }
    Err(error_answer(status.as_u16(), &body))
}

/// The NGI error kind a failed registration is counted as (the labels every endpoint shares).
fn metrics_kind(e: &AgreementError) -> &'static str {
    match e {
        AgreementError::Conflict { .. } | AgreementError::Refused { .. } => "status",
        AgreementError::TokenRefused => "token_refused",
        AgreementError::Token(e) => match e.as_ref() {
            TokenError::Refused { .. } => "token_refused",
            TokenError::Ngi(e) => e.kind(),
        },
        AgreementError::Unavailable(e)
        | AgreementError::BadAnswer(e)
        | AgreementError::Unexpected(e) => e.kind(),
    }
}

/// A request that could not even be built: nothing was sent, and sending cannot help.
fn setup_error(detail: &str) -> AgreementError {
    AgreementError::Unexpected(NgiError::BadAnswer {
        endpoint: ENDPOINT,
        detail: detail.into(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
