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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use axum::routing::get;
    use jiff::SignedDuration;
    use oauth2::{ClientId, ClientSecret};
    use tower::ServiceExt;
    use url::Url;

    use super::*;
    use crate::consents::Lifecycle;
    use crate::feed::Follower;
    use crate::i18n::Lang;
    use crate::ngi::client::{NgiClient, NgiConfig};
    use crate::ngi::consents::Consents;
    use crate::ngi::credentials::ClientCredentials;
    use crate::ngi::feed::Feed;
    use crate::paths;
    use crate::session::data::SessionLimits;
    use crate::web;

    async fn state() -> AppState {
        let dir = std::env::temp_dir().join(format!("ngi-startup-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let ledger: crate::ledger::Ledger = Arc::new(
            crate::ledger::sqlite::SqliteLedger::open(&dir)
                .await
                .unwrap(),
        );
        let local = Url::parse("http://127.0.0.1:9/").unwrap();
        let ngi = NgiClient::new(NgiConfig {
            access: local.clone(),
            api: local.clone(),
            client_id: ClientId::new("client".into()),
            client_secret: ClientSecret::new("secret".into()),
            redirect_uri: local.join(paths::CALLBACK).unwrap(),
            scope: "debt.unsecured.presentation".parse().unwrap(),
            pkce: true,
            issuer: Some(local.to_string()),
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
        })
        .unwrap();
        let ngi = Arc::new(ngi);
        let credentials =
            Arc::new(ClientCredentials::new(Arc::clone(&ngi), web::system_clock()).unwrap());
        let lifecycle = Arc::new(Lifecycle::new(
            Arc::clone(&ledger),
            Arc::new(Consents::new(Arc::clone(&ngi), Arc::clone(&credentials))),
        ));
        AppState::new(web::Shared {
            ngi: Arc::clone(&ngi),
            scope: "debt.unsecured.presentation".parse().unwrap(),
            simulated: false,
            secure_cookies: false,
            sessions: SessionBackend::memory(web::system_clock()),
            session_limits: SessionLimits {
                idle: SignedDuration::from_mins(30),
                max_age: crate::session::data::DEFAULT_SESSION_MAX_AGE,
            },
            public_origin: "http://127.0.0.1:9".into(),
            public_url: local.clone(),
            link_key: None,
            clock: web::system_clock(),
            follower: Arc::new(Follower::new(
                Feed::new(Arc::clone(&ngi), Arc::clone(&credentials)),
                Arc::clone(&ledger),
                Arc::clone(&lifecycle),
                100,
            )),
            lifecycle,
            ledger,
            registrations: None,
        })
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_with_the_error_page_in_the_persons_language() {
        let state = state().await;
        async fn panics() -> &'static str {
            panic!("a handler gave up")
        }
        let pages = Router::new().route("/panics", get(panics));
        let sessions = SessionManagerLayer::new(state.sessions.clone());
        let app = person_facing(pages, &state, sessions).with_state(state);

        let response = app
            .oneshot(
                HttpRequest::get("/panics?lang=en")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("<html lang=\"en\""), "{html}");
        assert!(
            html.contains(ErrorKind::Internal.text(Lang::En.texts()).title),
            "{html}"
        );
        assert!(!html.contains("a handler gave up"));
    }
}
