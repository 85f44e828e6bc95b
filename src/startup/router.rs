//! The router and its layers, in the order they wrap each other: request id, trace span, security
//! headers, limits, and on the person's pages the page context around the session.

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::Level;

use crate::error::{AppError, ErrorKind};
use crate::paths;
use crate::session::SessionBackend;
use crate::web::context::page_context;
use crate::web::partner::auth::Door;
use crate::web::ratelimit::RateLimit;
use crate::web::security::SecurityHeaders;
use crate::web::session_life::session_life;
use crate::web::{self, AppState};

use super::BODY_LIMIT;

/// The router and its layers. Order matters, outermost last:
/// request id is set first so every later layer and log line carries it; the trace span names
/// the matched route (never the URI, whose query may hold the code); security headers wrap every
/// response including errors; on the person-facing pages, the page context (language, error
/// pages) wraps the session layer, so that a failing session store still gets a page.
pub(super) fn router(
    state: AppState,
    security: &SecurityHeaders,
    https: bool,
    idle: CookieDuration,
    rate_limit: Option<&RateLimit>,
    partner: Option<Arc<Door>>,
) -> Router {
    let sessions = SessionManagerLayer::new(state.sessions.clone())
        .with_name(if https {
            "__Host-ngi_session"
        } else {
            "ngi_session"
        })
        // Lax, not the default Strict: NGI's redirect back is a cross-site top-level GET and
        // must carry the cookie, or no callback could ever find its flow.
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_secure(https)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle));

    let pages = person_facing(web::pages(rate_limit), &state, sessions);

    let statics = Router::new()
        // No redirect from a directory to its index: ServeDir builds that Location from the
        // path after the prefix, so `/static///readme` would send the browser to `//readme/`,
        // another host. There is no index page under static/ to redirect to.
        .nest_service(
            paths::STATIC,
            ServeDir::new("static").append_index_html_on_directories(false),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ));

    let site = Router::new()
        .merge(pages)
        .merge(web::health::router())
        .merge(statics)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT));
    // The partner API has its own body limit, inside its problem layer, so a body too large is
    // refused as a problem; it gets the request id, the trace span and the security headers.
    let router = match partner {
        Some(door) => site
            .merge(web::partner::console::router(
                &state,
                Arc::clone(&door),
                https,
                idle,
            ))
            .merge(web::partner::router(door)),
        None => site,
    };
    security
        .apply(router)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let id = request
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("-");
                    // flow_id is filled in by the consent handlers (a digest, never the state);
                    // a completed flow's outcome and its consent's status too, so they ride on
                    // the request's one line instead of lines of their own.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        route,
                        request_id = id,
                        flow_id = tracing::field::Empty,
                        flow.outcome = tracing::field::Empty,
                        flow.with_reference = tracing::field::Empty,
                        consent.status = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // The id is always ours: one sent by the client would become the reference on error
        // pages, a log field and NGI's trace id, chosen by whoever sent it.
        .layer(middleware::map_request(|mut request: Request| async move {
            request.headers_mut().remove("x-request-id");
            request
        }))
        .with_state(state)
}

/// The person-facing pages with their layers, innermost first: unknown paths get the not-found
/// page, a panic (none is known to be reachable) becomes the generic error page, then the
/// session, then the page context, which renders the pages of both.
pub(super) fn person_facing(
    pages: Router<AppState>,
    state: &AppState,
    sessions: SessionManagerLayer<SessionBackend>,
) -> Router<AppState> {
    pages
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(
            panic_page as fn(Box<dyn std::any::Any + Send>) -> Response,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), session_life))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(state.clone(), page_context))
}

/// What a panic becomes: the generic error page (the panic's message may hold anything, so it
/// is not logged).
fn panic_page(_: Box<dyn std::any::Any + Send>) -> Response {
    AppError::with_cause(ErrorKind::Internal, "a handler panicked").into_response()
}

async fn not_found() -> AppError {
    AppError::new(ErrorKind::NotFound)
}
