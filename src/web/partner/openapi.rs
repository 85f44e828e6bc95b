//! The partner API's OpenAPI 3.1 description, generated from the handlers' own annotations:
//! `utoipa_axum::routes!` registers each route and its documentation together, so they cannot
//! drift. Served at `GET /partner/api/openapi.json`.

use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::problem::ProblemBody;
use crate::paths;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ngi-consent partner API",
        description = "For a partner's own systems: signed start links that tie a consent to an \
                       application, and the consents ngi-consent holds. Every request carries \
                       `Authorization: Bearer <partner token>`; every error is \
                       `application/problem+json` (RFC 9457)."
    ),
    components(schemas(ProblemBody)),
    modifiers(&BearerToken),
    security(("bearer" = []))
)]
pub struct PartnerApiDoc;

/// The security scheme: the partner token as a bearer token.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The partner token (PARTNER_TOKEN)"))
                    .build(),
            ),
        );
    }
}

/// The document, serialized once when the router is built.
#[derive(Clone)]
pub struct Document(pub Arc<String>);

/// This API's OpenAPI 3.1 description.
#[utoipa::path(
    get,
    path = paths::PARTNER_OPENAPI,
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json"),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn openapi_json(Extension(document): Extension<Document>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.0.as_str().to_owned(),
    )
}
