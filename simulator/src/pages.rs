//! The simulator's HTML: askama templates under this crate's `templates/simulator/`, its own
//! stylesheet, and the headers every answer gets.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

pub(crate) const STYLESHEET_PATH: &str = "/testid/static/sim.css";
const STYLESHEET: &str = include_str!("assets/sim.css");

/// No script at all; styles only from the simulator. No `form-action`: the consent form's 303 goes to the
/// client's origin and Chrome applies `form-action` across redirects.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                   frame-ancestors 'none'";

#[derive(Template)]
#[template(path = "simulator/login.html")]
pub(crate) struct LoginPage<'a> {
    pub(crate) tx: &'a str,
    pub(crate) client_name: &'a str,
    pub(crate) error: Option<&'a str>,
    pub(crate) typed_nin: &'a str,
}

#[derive(Template)]
#[template(path = "simulator/consent.html")]
pub(crate) struct ConsentPage<'a> {
    pub(crate) tx: &'a str,
    pub(crate) client_name: &'a str,
    pub(crate) masked_nin: String,
    pub(crate) purpose: &'a str,
    pub(crate) duration: String,
}

/// One consent as Min gjeld lists it.
pub(crate) struct ConsentRow {
    pub(crate) id: String,
    pub(crate) client_name: String,
    pub(crate) purpose: &'static str,
    pub(crate) expires: String,
    pub(crate) status: &'static str,
    /// Still in force: it can be withdrawn.
    pub(crate) active: bool,
}

#[derive(Template)]
#[template(path = "simulator/min_gjeld_login.html")]
pub(crate) struct MinGjeldLoginPage<'a> {
    pub(crate) error: Option<&'a str>,
    pub(crate) typed_nin: &'a str,
}

#[derive(Template)]
#[template(path = "simulator/min_gjeld.html")]
pub(crate) struct MinGjeldPage<'a> {
    pub(crate) masked_nin: String,
    pub(crate) form_key: &'a str,
    pub(crate) consents: Vec<ConsentRow>,
    pub(crate) notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "simulator/error.html")]
pub(crate) struct ErrorPage<'a> {
    pub(crate) heading: &'a str,
    pub(crate) message: &'a str,
}

/// Renders a page; a template failure (not expected: the templates are checked at compile time) is a
/// plain 500 rather than a panic.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "simulator template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

pub(crate) fn error_page(status: StatusCode, heading: &str, message: &str) -> Response {
    render(status, &ErrorPage { heading, message })
}

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

pub(crate) async fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Siden finnes ikke",
        "NGI-simulatoren har ingen side på denne adressen.",
    )
}

/// Security headers on every answer; HTML gets a strict CSP. Nothing is cached unless the handler says so.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
