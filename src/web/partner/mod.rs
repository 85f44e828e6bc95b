//! The partner API under `/partner/api/`, for a partner's own systems: JSON, a bearer token,
//! errors as `application/problem+json`; and its console (`console`), web pages under
//! `/partner` for the partner's staff over the same functions. Both are mounted only when a
//! partner token is configured (or made in simulator mode); otherwise every `/partner` path is
//! the site's 404.
//!
//! Each route is one `routes!(handler)` line on the `OpenApiRouter`, which registers the route
//! and its OpenAPI description together; handlers are thin, taking the site's `AppState`.
//! Layers, innermost first: the body limit, the token check (over every route, unknown paths
//! included, so nothing about the API shows without the token), then `problem::render`, which
//! gives every error its problem body and request id.

pub mod auth;
pub mod consents;
pub mod console;
pub mod feed;
pub mod input;
pub mod links;
pub mod openapi;
pub mod problem;
pub mod views;

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::routing::any;
use axum::{Extension, Router, middleware};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::paths;
use crate::web::AppState;
use auth::Door;
use openapi::{Document, PartnerApiDoc};
use problem::Problem;

/// The largest request body the partner API reads.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Every documented route with its documentation: the one place a partner route is added.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(PartnerApiDoc::openapi())
        .routes(routes!(links::create_link))
        .routes(routes!(consents::list_consents, consents::register_consent))
        .routes(routes!(consents::get_consent, consents::revoke_consent))
        .routes(routes!(consents::refresh_status))
        .routes(routes!(consents::debt_again))
        .routes(routes!(feed::feed_state))
        .routes(routes!(openapi::openapi_json))
}

/// The partner API's router, behind its door.
pub fn router(door: Arc<Door>) -> Router<AppState> {
    let (routes, document) = api().split_for_parts();
    let document = Document(Arc::new(document.to_json().unwrap_or_default()));
    routes
        .route(paths::PARTNER_API_ANY, any(unknown_path))
        .route(paths::PARTNER_API, any(unknown_path))
        .route(paths::PARTNER_API_ROOT, any(unknown_path))
        .layer(Extension(document))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(door, auth::require_token))
        .layer(middleware::from_fn(problem::render))
        // The site's security headers layer adds no-store only when absent; an API answer is
        // never cached either, and says so itself.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

async fn unknown_path() -> Problem {
    Problem::not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the router serves is in the document: the router is built from `api()`,
    /// whose routes are registered with their documentation, and the document lists each.
    #[test]
    fn every_route_is_in_the_openapi_document() {
        let document = api().into_openapi();
        let json = serde_json::to_value(&document).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let paths = json["paths"].as_object().unwrap();
        for (path, method) in [
            (paths::PARTNER_LINKS, "post"),
            (paths::PARTNER_OPENAPI, "get"),
            (paths::PARTNER_CONSENTS, "get"),
            (paths::PARTNER_CONSENTS, "post"),
            (paths::PARTNER_CONSENT, "get"),
            (paths::PARTNER_CONSENT, "delete"),
            (paths::PARTNER_CONSENT_STATUS, "post"),
            (paths::PARTNER_CONSENT_DEBT, "get"),
            (paths::PARTNER_FEED, "get"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} is missing from {paths:?}"
            );
        }
        assert!(json["components"]["schemas"]["Problem"].is_object());
        assert_eq!(
            json["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
