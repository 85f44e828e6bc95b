//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve a flow).

use axum::Router;
use axum::routing::get;

use crate::paths;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::HEALTHZ, get(|| async { "ok" }))
        .route(paths::READYZ, get(|| async { "ready" }))
}
