//! The partner console: web pages under `/partner` for the partner's staff, over the same
//! functions the partner API's handlers call (the ledger, `Lifecycle`, `Registrations`, the link
//! key). Mounted only with the partner API.
//!
//! Its own session (a cookie of its own name, `SameSite=Strict`), entered with the partner token
//! through a same-origin form, counted against the API's door so guessing is limited the same
//! way. Every page but the login form needs that session: without it the answer is a 303 to the
//! login form, before anything is read. The page context (language, error pages, the refusal of
//! forms posted from other sites) wraps it all, as on the person's pages.

pub mod ledger;
pub mod pages;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router, middleware};
use serde::Deserialize;
use tower_http::limit::RequestBodyLimitLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::error::{AppError, ErrorKind};
use crate::i18n::ConsoleTexts;
use crate::paths;
use crate::session::SessionBackend;
use crate::web::AppState;
use crate::web::context::{PageContext, page_context};
use crate::web::pages::{Chrome, render};
use crate::web::partner::auth::{Attempt, Door};
use pages::{FeedPage, LoginPage};

/// The session key that marks a logged-in console session: when it logged in (Unix seconds).
const LOGGED_IN_AT: &str = "console.logged_in_at";

/// The console's session cookie: apart from the person's, so neither can stand in for the other.
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-ngi_console"
    } else {
        "ngi_console"
    }
}

/// The console's router with its layers, innermost first: the body limit, the console's own
/// session, then the page context.
pub fn router(
    state: &AppState,
    door: Arc<Door>,
    https: bool,
    idle: CookieDuration,
) -> Router<AppState> {
    let sessions: SessionManagerLayer<SessionBackend> =
        SessionManagerLayer::new(state.sessions.clone())
            .with_name(cookie_name(https))
            // Strict: the console is never reached by a link from another site with its session.
            .with_same_site(SameSite::Strict)
            .with_http_only(true)
            .with_secure(https)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle));
    Router::new()
        .route(paths::CONSOLE, get(root))
        .route(paths::CONSOLE_LOGIN, get(login_form).post(log_in))
        .route(paths::CONSOLE_LOGOUT, post(log_out))
        .route(paths::CONSOLE_FEED, get(feed))
        .merge(ledger::router())
        .layer(Extension(door))
        .layer(RequestBodyLimitLayer::new(crate::web::partner::BODY_LIMIT))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(state.clone(), page_context))
}

/// A member of the partner's staff: a console session that logged in with the partner token,
/// no older than the site's longest session. Without one, the request is answered with a 303 to
/// the login form.
pub struct Staff;

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let since = session
            .get::<i64>(LOGGED_IN_AT)
            .await
            .map_err(|e| AppError::session(e).into_response())?;
        let oldest = app
            .now()
            .checked_sub(app.session_limits.max_age)
            .map_or(i64::MIN, |t| t.as_second());
        match since {
            Some(since) if since >= oldest => Ok(Staff),
            Some(_) => {
                session
                    .flush()
                    .await
                    .map_err(|e| AppError::session(e).into_response())?;
                Err(Redirect::to(paths::CONSOLE_LOGIN).into_response())
            }
            None => Err(Redirect::to(paths::CONSOLE_LOGIN).into_response()),
        }
    }
}

/// The page's chrome, its language switch leading back to `path`.
pub fn chrome(ctx: &PageContext, path: &str) -> Chrome {
    let mut chrome = ctx.chrome(paths::CONSOLE);
    chrome.switch_href = format!("{path}?lang={}", chrome.switch_lang);
    chrome
}

pub fn texts(ctx: &PageContext) -> &'static ConsoleTexts {
    ctx.lang.console()
}

/// A page with its status.
pub fn page(status: StatusCode, html: Html<String>) -> Response {
    (status, html).into_response()
}

async fn root(_: Staff) -> Redirect {
    Redirect::to(paths::CONSOLE_CONSENTS)
}

async fn login_form(ctx: PageContext) -> Result<Html<String>, AppError> {
    render(&login_page(&ctx, None))
}

fn login_page(ctx: &PageContext, error: Option<&'static str>) -> LoginPage {
    LoginPage {
        chrome: chrome(ctx, paths::CONSOLE_LOGIN),
        c: texts(ctx),
        action: paths::CONSOLE_LOGIN,
        error,
    }
}

/// The login form's one field. No `Debug`: it holds the token.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

async fn log_in(
    State(app): State<AppState>,
    Extension(door): Extension<Arc<Door>>,
    ctx: PageContext,
    session: Session,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, AppError> {
    let presented = form.ok().map(|Form(form)| form.token);
    let client = door.client(peer.map(|Extension(ConnectInfo(addr))| addr.ip()), &headers);
    let c = texts(&ctx);
    match door.attempt(presented.as_deref().map(str::trim), client) {
        Attempt::Admitted => {
            // A new id at login: an id planted before it (session fixation) is worth nothing.
            session.cycle_id().await.map_err(AppError::session)?;
            session
                .insert(LOGGED_IN_AT, app.now().as_second())
                .await
                .map_err(AppError::session)?;
            tracing::info!(partner.console = "logged_in", "partner console: logged in");
            Ok(Redirect::to(paths::CONSOLE_CONSENTS).into_response())
        }
        Attempt::Refused => {
            tracing::info!(partner.console = "refused", "partner console: wrong token");
            let html = render(&login_page(&ctx, Some(c.token_wrong)))?;
            Ok(page(StatusCode::FORBIDDEN, html))
        }
        Attempt::Blocked { retry_after } => {
            tracing::warn!(
                partner.console = "rate_limited",
                "partner console: too many failed attempts"
            );
            let html = render(&login_page(&ctx, Some(c.token_blocked)))?;
            let mut response = page(StatusCode::TOO_MANY_REQUESTS, html);
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Ok(response)
        }
    }
}

async fn log_out(session: Session) -> Result<Redirect, AppError> {
    session.flush().await.map_err(AppError::session)?;
    Ok(Redirect::to(paths::CONSOLE_LOGIN))
}

/// The consent feed's state on this instance and its last events, as `GET /partner/api/feed`
/// gives them.
async fn feed(
    _: Staff,
    State(app): State<AppState>,
    ctx: PageContext,
) -> Result<Html<String>, AppError> {
    let snapshot = crate::web::partner::feed::snapshot(&app)
        .await
        .map_err(|e| AppError::caused_by(ErrorKind::Unavailable, "consent ledger", e))?;
    render(&FeedPage::new(
        chrome(&ctx, paths::CONSOLE_FEED),
        texts(&ctx),
        &snapshot,
    ))
}

/// The error page for a form body that cannot be read.
pub fn unreadable_form(_: FormRejection) -> AppError {
    AppError::with_cause(ErrorKind::BadRequest, "a console form that cannot be read")
}
