//! The session's lifetime around every page, inside the session layer: a session older than its
//! maximum age is ended before the handler sees it (the person starts afresh), and after the
//! handler a changed session gets its expiry (`SessionLife::settle`), judged by the app's clock.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::error::AppError;
use crate::session::data::SessionLife;
use crate::web::AppState;

pub async fn session_life(
    State(app): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let life = SessionLife(&session);
    let limits = app.session_limits;
    // A store that does not answer here is left to the handler: a page that needs the session
    // fails with its own error, and one that does not (the landing page) still renders.
    if let Ok(true) = life.is_over(app.now(), limits.max_age).await {
        if let Err(e) = life.end().await {
            return AppError::session(e).into_response();
        }
        tracing::info!("session ended: older than its maximum age");
    }
    let response = next.run(request).await;
    match life.settle(app.now(), limits).await {
        Ok(()) => response,
        Err(e) => AppError::session(e).into_response(),
    }
}
