//! `/.well-known/openid-configuration` and the JWKS it points to, shaped like NGI's.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Endpoint;
use super::fault::{self, FaultOutcome};
use super::state::{Shared, lock};

pub(crate) async fn openid_configuration(State(shared): State<Arc<Shared>>) -> Json<Value> {
    tracing::debug!(
        route = "/.well-known/openid-configuration",
        "simulator request"
    );
    let mut metadata = json!({
        "issuer": shared.issuer,
        "authorization_endpoint": shared.endpoint("/oauth2/auth"),
        "token_endpoint": shared.endpoint("/oauth2/token"),
        "jwks_uri": shared.endpoint("/.well-known/jwks.json"),
        "revocation_endpoint": shared.endpoint("/oauth2/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "debt.unsecured.presentation", "debt.unsecured.processing"],
    });
    // RFC 9207 §3: advertise `iss` in authorization responses only when this simulator sends it.
    if shared.send_iss
        && let Some(map) = metadata.as_object_mut()
    {
        map.insert(
            "authorization_response_iss_parameter_supported".into(),
            Value::Bool(true),
        );
    }
    Json(metadata)
}

/// The public half of the ID-token keys: one, or two once a test rotated them.
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    tracing::debug!(route = "/.well-known/jwks.json", "simulator request");
    shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    if let FaultOutcome::Answer(response) = fault::apply(shared.fault(Endpoint::Jwks)).await {
        return response;
    }
    let rotated = lock(&shared.id_tokens).rotated;
    Json(shared.signer.jwks(rotated)).into_response()
}
