//! NGI's calls on a consent that lasts, made with a client-credentials token for the debt
//! audience: the debt again by consent id (`GET /v1/debt/{id}`), the consent's status
//! (`GET /v1/debt/{id}/status`) and its revocation (`DELETE /v1/debt/{id}`).
//!
//! Per the spec, NGI answers 403 `invalid consent` for a consent that is unknown, expired, used
//! or already revoked (there is no 404), and `/status` answers 200 `active: false` for an unknown
//! id: both are typed outcomes here, not generic errors.

use std::sync::Arc;

use jiff::Timestamp;
use oauth2::AccessToken;
use reqwest::header;
use serde::Deserialize;
use url::Url;

pub use crate::domain::consent::{ConsentId, InvalidConsentId};
use crate::domain::debt::DebtSummary;
use crate::ngi::client::{
    Endpoint, NgiClient, NgiError, TRACE_HEADER, error_answer, is_json, json_error, read_body,
    read_debt_answer,
};
use crate::ngi::credentials::{
    Audience, AuthorizedError, CallError, ClientCredentials, refuses_token,
};

/// What NGI's status answer says of a consent. Every field of the answer is optional in the
/// spec: a missing `active` is read as not active (the spec's "if no consent was found this will
/// be false"), a missing or unrepresentable `expires_at` as unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentStatus {
    Active {
        expires_at: Option<Timestamp>,
    },
    /// Ended (expired, used, revoked here or by the person at NGI) or unknown to NGI: the answer
    /// does not tell which.
    Inactive {
        expires_at: Option<Timestamp>,
    },
}

impl ConsentStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, ConsentStatus::Active { .. })
    }

    pub fn expires_at(&self) -> Option<Timestamp> {
        match self {
            ConsentStatus::Active { expires_at } | ConsentStatus::Inactive { expires_at } => {
                *expires_at
            }
        }
    }

    /// Reads NGI's `{active, expires_at}` (epoch seconds).
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        // The spec's `consent_status` has a boolean `active`; its `consent_info` (the same
        // answer described elsewhere) a string: both are read.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Active {
            Bool(bool),
            Text(String),
        }
        #[derive(Deserialize)]
        struct Wire {
            active: Option<Active>,
            expires_at: Option<i64>,
        }
        let wire: Wire = serde_json::from_slice(body)?;
        let active = match wire.active {
            Some(Active::Bool(active)) => active,
            Some(Active::Text(text)) => text.trim().eq_ignore_ascii_case("true"),
            None => false,
        };
        let expires_at = wire.expires_at.and_then(|s| Timestamp::from_second(s).ok());
        Ok(if active {
            ConsentStatus::Active { expires_at }
        } else {
            ConsentStatus::Inactive { expires_at }
        })
    }
}

/// What a call on a consent reports. NGI's "no valid consent" (403 `invalid consent`: unknown,
/// expired, used, or already revoked) is [`NgiError::ConsentNotValid`] inside `Call`.
pub type ConsentError = AuthorizedError<NgiError>;

/// NGI's calls on a consent, with client-credentials tokens from the shared cache.
#[derive(Debug)]
pub struct Consents {
    ngi: Arc<NgiClient>,
    credentials: Arc<ClientCredentials>,
}

impl Consents {
    pub fn new(ngi: Arc<NgiClient>, credentials: Arc<ClientCredentials>) -> Self {
        Self { ngi, credentials }
    }

    /// `GET /v1/debt/{id}`: the debt again, read as the redirect flow's debt answer is.
    pub async fn debt_by_consent(
        &self,
        consent_id: &ConsentId,
        trace_id: &str,
    ) -> Result<DebtSummary, ConsentError> {
        let endpoint = Endpoint::DebtByConsent;
        self.call(
            reqwest::Method::GET,
            consent_id,
            false,
            endpoint,
            trace_id,
            |response| async move { measure(endpoint, read_debt_answer(endpoint, response).await) },
        )
        .await
    }

    /// `GET /v1/debt/{id}/status`.
    pub async fn consent_status(
        &self,
        consent_id: &ConsentId,
        trace_id: &str,
    ) -> Result<ConsentStatus, ConsentError> {
        let endpoint = Endpoint::ConsentStatus;
        self.call(
            reqwest::Method::GET,
            consent_id,
            true,
            endpoint,
            trace_id,
            |response| async move {
                let status = response.status();
                let json = is_json(response.headers().get(header::CONTENT_TYPE));
                let body = read_body(endpoint, response)
                    .await
                    .map_err(|e| measured_error(endpoint, e))?;
                let result = if status != reqwest::StatusCode::OK {
                    Err(error_answer(endpoint, status.as_u16(), &body))
                } else if !json {
                    Err(NgiError::BadAnswer {
                        endpoint,
                        detail: "the answer is not JSON".into(),
                    })
                } else {
                    ConsentStatus::parse(&body).map_err(|e| NgiError::BadAnswer {
                        endpoint,
                        detail: format!("not a consent status: {}", json_error(&e)),
                    })
                };
                measure(endpoint, result)
            },
        )
        .await
    }

    /// `DELETE /v1/debt/{id}`: 204 is done. A consent NGI no longer holds as valid (already
    /// revoked, expired, used, unknown) is [`NgiError::ConsentNotValid`]. Not retried on a
    /// timeout here: the caller decides, and asking the status tells whether it took effect.
    pub async fn revoke(&self, consent_id: &ConsentId, trace_id: &str) -> Result<(), ConsentError> {
        let endpoint = Endpoint::Revoke;
        self.call(
            reqwest::Method::DELETE,
            consent_id,
            false,
            endpoint,
            trace_id,
            |response| async move {
                let status = response.status();
                let body = read_body(endpoint, response)
                    .await
                    .map_err(|e| measured_error(endpoint, e))?;
                // Only NGI's 204 confirms it: another 2xx (a proxy, an accepted-for-later)
                // leaves the consent `revoking`, never a false "revoked".
                let result = if status == reqwest::StatusCode::NO_CONTENT {
                    Ok(())
                } else {
                    Err(error_answer(endpoint, status.as_u16(), &body))
                };
                measure(endpoint, result)
            },
        )
        .await
    }

    /// One call on a consent with a token of the debt audience: the request, then `read` on
    /// NGI's answer; a refused token is dropped and the call made once more with a fresh one.
    async fn call<T, R, Fut>(
        &self,
        method: reqwest::Method,
        consent_id: &ConsentId,
        status: bool,
        endpoint: Endpoint,
        trace_id: &str,
        read: R,
    ) -> Result<T, ConsentError>
    where
        R: Fn(reqwest::Response) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError<NgiError>>>,
    {
        let url = self.url(consent_id, status, endpoint)?;
        let read = &read;
        self.credentials
            .with_token(Audience::Debt, trace_id, |token| {
                let (url, method) = (url.clone(), method.clone());
                async move {
                    let response = self.send(method, url, &token, trace_id, endpoint).await?;
                    read(response).await
                }
            })
            .await
    }

    fn url(
        &self,
        consent_id: &ConsentId,
        status: bool,
        endpoint: Endpoint,
    ) -> Result<Url, ConsentError> {
        consent_url(self.ngi.api(), consent_id.as_str(), status).ok_or_else(|| {
            AuthorizedError::Call(NgiError::BadAnswer {
                endpoint,
                detail: "the API URL cannot take a path".into(),
            })
        })
    }

    /// Sends one request with the bearer token (in the header only) and our trace id. A token
    /// NGI refuses is reported as such, for one retry with a fresh one.
    async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        token: &AccessToken,
        trace_id: &str,
        endpoint: Endpoint,
    ) -> Result<reqwest::Response, CallError<NgiError>> {
        let started = std::time::Instant::now();
        let result = self
            .ngi
            .http()
            .request(method, url)
            .bearer_auth(token.secret())
            .header(TRACE_HEADER, trace_id)
            .header(header::ACCEPT, "application/json")
            .send()
            .await;
        // Timed up to the answer's head, failed or not, as every NGI call is.
        crate::metrics::ngi_request(endpoint.as_str(), started.elapsed());
        let response =
            result.map_err(|e| measured_error(endpoint, NgiError::from_reqwest(endpoint, e)))?;
        Ok(response)
    }
}

/// `{api}/v1/debt/{id}` or `…/status`, the id added as one escaped path segment (so even an id
/// that got past [`ConsentId`]'s rule could not name another path); `None` for an API URL that
/// cannot have a path.
fn consent_url(api: &Url, consent_id: &str, status: bool) -> Option<Url> {
    let mut url = api.clone();
    {
        let mut segments = url.path_segments_mut().ok()?;
        segments.pop_if_empty().extend(["v1", "debt", consent_id]);
        if status {
            segments.push("status");
        }
    }
    Some(url)
}

/// Counts a failed call by kind, as the other NGI calls are counted.
fn measured_error(endpoint: Endpoint, e: NgiError) -> CallError<NgiError> {
    crate::metrics::ngi_error(endpoint.as_str(), e.kind());
    CallError::Failed(e)
}

/// Turns a call's result into what the token retry needs: a refused token (a 401, or a 403
/// `invalid access token`) is retried once; the rest is counted and reported.
fn measure<T>(endpoint: Endpoint, result: Result<T, NgiError>) -> Result<T, CallError<NgiError>> {
    match result {
        Ok(value) => Ok(value),
        Err(e) if token_refused(&e) => {
            crate::metrics::ngi_error(endpoint.as_str(), "token_refused");
            Err(CallError::TokenRefused)
        }
        Err(e) => Err(measured_error(endpoint, e)),
    }
}

fn token_refused(e: &NgiError) -> bool {
    match e {
        NgiError::ConsentNotValid { error, .. } => refuses_token(403, Some(error)),
        NgiError::Status { status, .. } => refuses_token(*status, None),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
