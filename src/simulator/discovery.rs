//! `/.well-known/openid-configuration` and the JWKS it points to, shaped like NGI's.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::state::Shared;

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

/// No keys: the simulator issues no ID tokens.
pub(crate) async fn jwks() -> Json<Value> {
    Json(json!({ "keys": [] }))
}
