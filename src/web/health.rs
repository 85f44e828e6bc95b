//! `GET /healthz` (the process answers), `GET /readyz` (it can serve a flow: NGI's issuer is
//! known, the session store and the consent ledger answer; the configuration was validated at start-up) and `GET /metrics` (Prometheus text).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::paths;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::HEALTHZ, get(|| async { "ok" }))
        .route(paths::READYZ, get(ready))
        .route(paths::METRICS, get(metrics))
}

async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    // Callbacks cannot be checked without it; the discovery loop logs why it is missing.
    if app.ngi.issuer_rule().is_none() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: NGI's discovery document has not been read yet (retrying)".to_owned(),
        );
    }
    if let Err(e) = app.sessions.ping().await {
        let error = crate::error::chain(&e);
        tracing::warn!(error, "not ready: the session store does not answer");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: {} session store unavailable",
                app.sessions.name()
            ),
        );
    }
    // A flow's consent is recorded in the ledger, and the partner API reads it.
    match app.ledger.ready().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(e) => {
            let error = crate::error::chain(&e);
            tracing::warn!(error, "not ready: the consent ledger does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: consent ledger unavailable".to_owned(),
            )
        }
    }
}

async fn metrics() -> impl IntoResponse {
    match crate::metrics::handle() {
        Some(handle) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "metrics are not recorded in this process".to_owned(),
        ),
    }
}
