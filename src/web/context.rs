//! What every page needs to know about its request: the language and the request id. One
//! middleware works them out before the handler, and after it turns an `AppError` into its page
//! and writes the one log line an error gets.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::RequestId;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::cookie::{Cookie, SameSite};

use crate::error::{AppError, ErrorKind};
use crate::i18n::Lang;
use crate::paths;
use crate::web::AppState;
use crate::web::pages::{Chrome, ErrorPage, render};

/// The language and request id of the request being served.
#[derive(Debug, Clone)]
pub struct PageContext {
    pub lang: Lang,
    pub request_id: String,
    pub simulated: bool,
    /// The request's span (taken here, outside the session layer's own span), so handlers can
    /// add the flow id to the request's log lines.
    pub span: tracing::Span,
}

impl PageContext {
    /// Names the flow this request belongs to on every log line of the request.
    pub fn record_flow(&self, flow_id: &str) {
        self.span.record("flow_id", flow_id);
    }

    /// Names how the request's flow ended, on the request's own log line (a line of its own
    /// per outcome would cost as much as the request line).
    pub fn record_outcome(&self, outcome: &'static str) {
        self.span.record("flow.outcome", outcome);
    }

    pub fn chrome(&self, switch_path: &'static str) -> Chrome {
        Chrome::new(self.lang, self.simulated, switch_path, &self.request_id)
    }
}

/// Handlers take `PageContext` as an extractor; it never fails (defaults if the middleware is
/// missing, which only a wiring mistake could cause).
impl<S: Send + Sync> FromRequestParts<S> for PageContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<PageContext>()
            .cloned()
            .unwrap_or_else(|| PageContext {
                lang: Lang::default(),
                request_id: request_id(parts),
                simulated: false,
                span: tracing::Span::none(),
            }))
    }
}

fn request_id(parts: &Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

/// The page-context middleware, the one layer around the person-facing pages (directly outside
/// the session layer, so it needs no session and still speaks the person's language when the
/// session store is down). Before the handler: the language — `?lang=` (remembered in a cookie),
/// else that cookie, else `Accept-Language` — and the refusal of forms posted from other sites.
/// After: the page of an error, in that language.
pub async fn page_context(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let asked = asked_language(&parts);
    let lang = asked
        .or_else(|| remembered_language(&parts, app.secure_cookies))
        .unwrap_or_else(|| {
            parts
                .headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(Lang::negotiate)
                .unwrap_or_default()
        });
    let ctx = PageContext {
        lang,
        request_id: request_id(&parts),
        simulated: app.simulated,
        span: tracing::Span::current(),
    };
    let response = if parts.method == axum::http::Method::POST
        && !from_our_pages(&parts.headers, &app.public_origin)
    {
        // Refused before the session is touched: with SameSite=Lax such a POST arrives without
        // the cookie, and a fresh session would replace the person's own.
        AppError::with_cause(ErrorKind::CrossSite, "a form posted from another site")
            .into_response()
    } else {
        parts.extensions.insert(ctx.clone());
        let response = next.run(Request::from_parts(parts, body)).await;
        session_store_failure(response)
    };
    let mut response = render_errors(&ctx, response);
    if let Some(lang) = asked {
        let cookie = language_cookie(lang, app.secure_cookies);
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// Forms are only taken from our own pages: `Sec-Fetch-Site` must say so, or, from browsers
/// without it, `Origin` (when sent) must be ours.
fn from_our_pages(headers: &axum::http::HeaderMap, public_origin: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match header("sec-fetch-site") {
        Some(site) => matches!(site, "same-origin" | "none"),
        None => header("origin").is_none_or(|origin| origin == public_origin),
    }
}

/// The session layer answers a bare 500 when it cannot save the session (the store went away
/// during the request); handlers never do (their errors are `AppError`s, a panic included).
/// That answer becomes the "temporarily unavailable" page.
fn session_store_failure(response: Response) -> Response {
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR
        && response.extensions().get::<AppError>().is_none()
    {
        return AppError::with_cause(
            ErrorKind::Unavailable,
            "session store: the session could not be saved",
        )
        .into_response();
    }
    response
}

fn language_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-ngi_lang"
    } else {
        "ngi_lang"
    }
}

fn language_cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    Cookie::build((language_cookie_name(secure), lang.code()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(365))
        .build()
}

fn asked_language(parts: &Parts) -> Option<Lang> {
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::from_code(&v))
}

fn remembered_language(parts: &Parts, secure: bool) -> Option<Lang> {
    let name = language_cookie_name(secure);
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| Lang::from_code(c.value()))
}

/// Fills in the page of a response that carries an `AppError`, and logs it once: server-side
/// failures at error level with their cause, the person's own outcomes at info.
fn render_errors(ctx: &PageContext, response: Response) -> Response {
    let Some(error) = response.extensions().get::<AppError>().cloned() else {
        return response;
    };
    let status = error.kind.status();
    let cause = error.cause_chain();
    if error.kind.alerts() {
        tracing::error!(
            error.kind = error.kind.as_str(),
            error.cause = %cause,
            status = status.as_u16(),
            "request failed"
        );
    } else {
        tracing::info!(
            error.kind = error.kind.as_str(),
            error.cause = %cause,
            status = status.as_u16(),
            "request refused"
        );
    }
    let page = ErrorPage::new(ctx.chrome(paths::LANDING), error.kind);
    let mut rendered = match render(&page) {
        Ok(html) => (status, html).into_response(),
        Err(e) => {
            tracing::error!(error.cause = %e.cause_chain(), "the error page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                ErrorKind::Internal.text(ctx.lang.texts()).title,
            )
                .into_response()
        }
    };
    // Keep headers the handler set (Cache-Control, Retry-After, cookies …) except the body's
    // own; appended, as some (Set-Cookie) may come more than once.
    for (name, value) in response.headers() {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            rendered.headers_mut().append(name.clone(), value.clone());
        }
    }
    rendered
}
