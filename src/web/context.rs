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
use crate::web::AppState;
use crate::web::pages::{Chrome, ErrorPage, render};

/// The language and request id of the request being served.
#[derive(Debug, Clone)]
pub struct PageContext {
    pub lang: Lang,
    pub request_id: String,
    pub simulated: bool,
}

impl PageContext {
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

/// The page-context middleware: language from `?lang=` (remembered in a cookie), else that
/// cookie, else `Accept-Language`; after the handler, error pages rendered in that language.
/// It sits outside the session layer, so it needs no session and still speaks the person's
/// language when the session store is down.
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
    };
    parts.extensions.insert(ctx.clone());
    let response = next.run(Request::from_parts(parts, body)).await;
    let mut response = render_errors(&ctx, response);
    if let Some(lang) = asked {
        let cookie = language_cookie(lang, app.secure_cookies);
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(SET_COOKIE, value);
        }
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

/// The session layer answers a bare 500 when it cannot save the session (the store went away
/// during the request). Directly outside it, this turns that answer into the "temporarily
/// unavailable" page. Handlers never answer a bare 500 themselves: their errors are `AppError`s.
pub async fn session_store_failures(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
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

/// Fills in the page of a response that carries an `AppError`, and logs it once: server-side
/// failures at error level with their cause, the person's own outcomes at info.
fn render_errors(ctx: &PageContext, response: Response) -> Response {
    let Some(error) = response.extensions().get::<AppError>().cloned() else {
        return response;
    };
    let status = error.kind.status();
    let cause = error.cause.as_deref().unwrap_or("");
    if status.is_server_error() {
        tracing::error!(
            error.kind = error.kind.as_str(),
            error.cause = cause,
            status = status.as_u16(),
            "request failed"
        );
    } else {
        tracing::info!(
            error.kind = error.kind.as_str(),
            error.cause = cause,
            status = status.as_u16(),
            "request refused"
        );
    }
    let page = ErrorPage::new(ctx, error.kind);
    let mut rendered = match render(&page) {
        Ok(html) => (status, html).into_response(),
        Err(e) => {
            tracing::error!(error.cause = ?e.cause, "the error page did not render");
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
    // Keep headers the handler set (Cache-Control, Retry-After …) except the body's own.
    for (name, value) in response.headers() {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rendered
}
