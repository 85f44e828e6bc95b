//! `POST /oauth2/token` (authorization code, `client_secret_basic`, PKCE S256; client credentials in
//! [`client_credentials`](super::client_credentials)) and `POST /oauth2/revoke`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth::{BasicCredentials, constant_time_eq, parse_basic};
use super::client_credentials;
use super::fault::{self, FaultOutcome};
use super::id_token::{Issue, KeyError};
use super::params::Params;
use super::state::{Shared, lock};
use super::store::{self, GrantError, Identity, IssuedToken, TokenExchange};
use super::{Endpoint, TokenRequestSeen};

/// RFC 6749 §5.2 errors.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("{0}")]
    InvalidClient(&'static str),
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("{0}")]
    InvalidScope(&'static str),
    #[error(transparent)]
    InvalidGrant(#[from] GrantError),
    #[error("Only the authorization_code and client_credentials grants are simulated")]
    UnsupportedGrantType,
}

impl TokenError {
    fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidClient(_) => "invalid_client",
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidScope(_) => "invalid_scope",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = match self {
            TokenError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = json!({ "error": self.code(), "error_description": self.to_string() });
        let mut response = (status, no_store(), Json(body)).into_response();
        if matches!(self, TokenError::InvalidClient(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ngi-simulator\""),
            );
        }
        response
    }
}

/// RFC 6749 §5.1: token answers must not be cached.
fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<BasicCredentials> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic)
}

/// Checks `client_secret_basic`; the only method NGI offers.
pub(crate) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    basic: Option<&BasicCredentials>,
) -> Result<String, TokenError> {
    let Some(basic) = basic else {
        return Err(if headers.contains_key(header::AUTHORIZATION) {
            TokenError::InvalidClient("Malformed HTTP Basic client credentials")
        } else {
            TokenError::InvalidClient("Client authentication with client_secret_basic is required")
        });
    };
    let known = shared.clients.get(&basic.client_id).is_some_and(|c| {
        constant_time_eq(c.client_secret.as_bytes(), basic.client_secret.as_bytes())
    });
    if !known {
        return Err(TokenError::InvalidClient("Client authentication failed"));
    }
    Ok(basic.client_id.clone())
}

pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// What every grant checks first: the client (Basic), a form body, and one way of authenticating.
pub(crate) fn authenticated_form(
    shared: &Shared,
    headers: &HeaderMap,
    basic: Option<&BasicCredentials>,
    form: &Params,
) -> Result<String, TokenError> {
    let client_id = authenticate(shared, headers, basic)?;
    if !is_form(headers) {
        return Err(TokenError::InvalidRequest(
            "The body must be application/x-www-form-urlencoded",
        ));
    }
    if form.get("client_secret").is_some() {
        return Err(TokenError::InvalidRequest(
            "Use one client authentication method: client_secret_basic",
        ));
    }
    Ok(client_id)
}

fn exchange(
    shared: &Shared,
    headers: &HeaderMap,
    basic: Option<&BasicCredentials>,
    form: &Params,
) -> Result<IssuedToken, TokenError> {
    let client_id = authenticated_form(shared, headers, basic, form)?;
    if form
        .repeated(&[
            "grant_type",
            "code",
            "redirect_uri",
            "client_id",
            "code_verifier",
        ])
        .is_some()
    {
        return Err(TokenError::InvalidRequest(
            "A parameter is included more than once",
        ));
    }
    match form.get("grant_type") {
        None => return Err(TokenError::InvalidRequest("grant_type is required")),
        Some("authorization_code") => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    }
    if form.get("client_id").is_some_and(|id| id != client_id) {
        return Err(TokenError::InvalidRequest(
            "client_id does not match the authenticated client",
        ));
    }
    let code = form
        .get("code")
        .ok_or(TokenError::InvalidRequest("code is required"))?;
    let redirect_uri = form
        .get("redirect_uri")
        .ok_or(TokenError::InvalidRequest("redirect_uri is required"))?;
    let exchange = TokenExchange {
        client_id: &client_id,
        code,
        redirect_uri,
        code_verifier: form.get("code_verifier"),
    };
    let now = shared.now();
    let issued = lock(&shared.store).redeem(&exchange, now)?;
    Ok(issued)
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tracing::debug!(route = "/oauth2/token", "simulator request");
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let form = Params::parse(&body);
    let client_credentials = form.get("grant_type") == Some("client_credentials");
    if client_credentials {
        shared.count_client_credentials(&client_credentials::requested_audiences(&shared, &form));
    }
    let basic = basic_credentials(&headers);
    *lock(&shared.last_token) = Some(TokenRequestSeen {
        grant_type: form.get("grant_type").map(str::to_owned),
        client_id_from_basic: basic.as_ref().map(|b| b.client_id.clone()),
        code_verifier: form.get("code_verifier").map(str::to_owned),
        redirect_uri: form.get("redirect_uri").map(str::to_owned),
        audience: form.get("audience").map(str::to_owned),
        scope: form.get("scope").map(str::to_owned),
    });
    if let FaultOutcome::Answer(response) = fault::apply(shared.fault(Endpoint::Token)).await {
        tracing::info!(outcome = "fault", "simulator token request");
        return response;
    }
    let result = if client_credentials {
        client_credentials::grant(&shared, &headers, basic.as_ref(), &form)
    } else {
        exchange(&shared, &headers, basic.as_ref(), &form)
    };
    match result {
        Ok(issued) => {
            lock(&shared.issued).token(issued.access_token.clone());
            tracing::info!(outcome = "issued", "simulator token request");
            let mut body = json!({
                "access_token": issued.access_token,
                "expires_in": store::ACCESS_TOKEN_TTL.as_secs(),
                "scope": issued.scope,
                "token_type": "bearer",
            });
            match id_token(&shared, issued.identity.as_ref()) {
                Ok(Some(id_token)) => {
                    if let Some(map) = body.as_object_mut() {
                        map.insert("id_token".into(), id_token.into());
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(%error, "simulator ID token");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
            (StatusCode::OK, no_store(), Json(body)).into_response()
        }
        Err(error) => {
            tracing::info!(outcome = error.code(), "simulator token request refused");
            error.into_response()
        }
    }
}

/// The ID token for a code granted with `openid`, unless ID tokens are switched off.
fn id_token(shared: &Shared, identity: Option<&Identity>) -> Result<Option<String>, KeyError> {
    let settings = *lock(&shared.id_tokens);
    let Some(identity) = identity.filter(|_| settings.on) else {
        return Ok(None);
    };
    let client_secret = shared
        .clients
        .get(&identity.client_id)
        .map(|c| c.client_secret.as_str())
        .unwrap_or_default();
    shared
        .signer
        .issue(&Issue {
            issuer: &shared.issuer,
            identity,
            client_secret,
            now: shared.now(),
            rotated: settings.rotated,
            fault: settings.fault,
        })
        .map(Some)
}

/// RFC 7009: always 200 for a well-authenticated client, whether or not the token was known.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tracing::debug!(route = "/oauth2/revoke", "simulator request");
    let basic = basic_credentials(&headers);
    let client_id = match authenticate(&shared, &headers, basic.as_ref()) {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    let form = Params::parse(&body);
    let Some(token) = form.get("token") else {
        return TokenError::InvalidRequest("token is required").into_response();
    };
    lock(&shared.store).revoke(token, &client_id);
    lock(&shared.client_tokens).revoke(token, &client_id);
    (StatusCode::OK, no_store()).into_response()
}
