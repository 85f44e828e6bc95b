//! The one layer that owns the security headers. Handlers may set their own `Cache-Control`;
//! everything else is set here, on every response.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;
use url::Url;

/// The headers, built once at start-up.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
    hsts: bool,
}

impl SecurityHeaders {
    /// `ngi_access` is the only other origin a form may lead to: the landing form's POST answers
    /// 303 to NGI, and browsers apply `form-action` to the redirect as well.
    pub fn new(ngi_access: &Url, https: bool) -> Result<Self, String> {
        let ngi_origin = ngi_access.origin().ascii_serialization();
        let csp = format!(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' {ngi_origin}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        Ok(Self {
            csp: HeaderValue::from_str(&csp)
                .map_err(|e| format!("content security policy: {e}"))?,
            hsts: https,
        })
    }

    pub fn apply<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        let always =
            |name: HeaderName, value: HeaderValue| SetResponseHeaderLayer::overriding(name, value);
        let mut router = router
            .layer(always(header::CONTENT_SECURITY_POLICY, self.csp.clone()))
            .layer(always(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(always(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(always(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            .layer(always(
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ))
            .layer(always(
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
            ))
            // Pages hold personal data or flow state: nothing is cached unless a route says so.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ));
        if self.hsts {
            router = router.layer(always(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            ));
        }
        router
    }
}
