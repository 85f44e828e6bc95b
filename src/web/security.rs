//! The one layer that owns the security headers. They are built once at start-up and set on
//! every response in one pass; handlers may set their own `Cache-Control`, nothing else here.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use tower::util::MapResponseLayer;
use url::Url;

/// The content security policy could not be made a header value (NGI's origin in it cannot be).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the content security policy header")]
pub struct SecurityHeadersError(#[from] axum::http::header::InvalidHeaderValue);

/// The headers, built once at start-up.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    /// Set on every response, replacing any value.
    always: Arc<HeaderMap>,
}

impl SecurityHeaders {
    /// `ngi_access` is the only other origin a form may lead to: the landing form's POST answers
    /// 303 to NGI, and browsers apply `form-action` to the redirect as well.
    pub fn new(ngi_access: &Url, https: bool) -> Result<Self, SecurityHeadersError> {
        let ngi_origin = ngi_access.origin().ascii_serialization();
        let csp = format!(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {ngi_origin}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        let mut always = HeaderMap::new();
        always.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp)?,
        );
        always.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        always.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        always.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        always.insert(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        always.insert(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        );
        if https {
            always.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            );
        }
        Ok(Self {
            always: Arc::new(always),
        })
    }

    pub fn apply<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        let always = self.always.clone();
        router.layer(MapResponseLayer::new(move |mut response: Response| {
            let headers = response.headers_mut();
            for (name, value) in always.iter() {
                headers.insert(name, value.clone());
            }
            // Pages hold personal data or flow state: nothing is cached unless a route says so.
            headers
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-store"));
            response
        }))
    }
}
