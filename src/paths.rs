//! Every route path of the site, used by the router, redirects and templates alike.

/// The loan-application step that explains what will be fetched and starts the flow.
pub const LANDING: &str = "/";
/// Starts a consent flow: GET from a link, POST from the landing form (with an optional national id).
pub const CONSENT_START: &str = "/consent/start";
/// NGI redirects the browser back here with `code` or `error`, and `state`.
pub const CALLBACK: &str = "/v1/callback";
/// The person's debt, shown for a short time after a completed flow.
pub const DEBT: &str = "/debt";
/// "Withdraw consent": revokes, at NGI, the extended consent behind the debt shown (POST; the
/// consent comes from the session).
pub const CONSENT_WITHDRAW: &str = "/consent/withdraw";
/// "Delete the information now": ends the session (POST).
pub const SESSION_END: &str = "/session/end";
/// Liveness: the process answers.
pub const HEALTHZ: &str = "/healthz";
/// Readiness: configuration and session store usable.
pub const READYZ: &str = "/readyz";
/// Prometheus metrics (keep it off the public internet at the load balancer).
pub const METRICS: &str = "/metrics";
/// Stylesheet and images, served from `static/`.
pub const STATIC: &str = "/static";
/// The partner API's root: JSON for a partner's own systems, behind a bearer token.
pub const PARTNER_API: &str = "/partner/api";
/// The partner API's root with its trailing slash (an unknown path like any other).
pub const PARTNER_API_ROOT: &str = "/partner/api/";
/// Every other path under the partner API: a 404 problem.
pub const PARTNER_API_ANY: &str = "/partner/api/{*rest}";
/// `POST`: a signed start link for one of the partner's applications.
pub const PARTNER_LINKS: &str = "/partner/api/links";
/// The consents the site holds: GET lists them, POST registers an integrated one.
pub const PARTNER_CONSENTS: &str = "/partner/api/consents";
/// One consent: GET reads it, DELETE revokes it.
pub const PARTNER_CONSENT: &str = "/partner/api/consents/{id}";
/// POST: ask NGI for the consent's status now.
pub const PARTNER_CONSENT_STATUS: &str = "/partner/api/consents/{id}/status";
/// GET: the debt again, for an active consent with days.
pub const PARTNER_CONSENT_DEBT: &str = "/partner/api/consents/{id}/debt";
/// GET: the consent feed's state (this instance's follower) and its last events.
pub const PARTNER_FEED: &str = "/partner/api/feed";
/// `GET`: the partner API's OpenAPI 3.1 description.
pub const PARTNER_OPENAPI: &str = "/partner/api/openapi.json";
/// The partner console: web pages for the partner's staff over the partner API's functions,
/// mounted with the partner API. Its root leads to the ledger.
pub const CONSOLE: &str = "/partner";
/// GET: the console's login form; POST: log in with the partner token.
pub const CONSOLE_LOGIN: &str = "/partner/login";
/// POST: log out of the console.
pub const CONSOLE_LOGOUT: &str = "/partner/logout";
/// The ledger: consents with filters and paging.
pub const CONSOLE_CONSENTS: &str = "/partner/consents";
/// One consent with its history and actions.
pub const CONSOLE_CONSENT: &str = "/partner/consents/{id}";
/// POST: the debt again, shown and not kept.
pub const CONSOLE_CONSENT_DEBT: &str = "/partner/consents/{id}/debt";
/// POST: ask NGI for the consent's status.
pub const CONSOLE_CONSENT_STATUS: &str = "/partner/consents/{id}/status";
/// POST: revoke the consent at NGI.
pub const CONSOLE_CONSENT_REVOKE: &str = "/partner/consents/{id}/revoke";
/// GET: the form; POST: register an integrated consent.
pub const CONSOLE_REGISTER: &str = "/partner/register";
/// GET: the form; POST: a signed start link for an application.
pub const CONSOLE_LINKS: &str = "/partner/links";
/// The consent feed's state and its last events, as `PARTNER_FEED` gives them.
pub const CONSOLE_FEED: &str = "/partner/feed";

/// A console path with the consent id in place of `{id}`.
pub fn console_consent(template: &str, id: &str) -> String {
    template.replace("{id}", id)
}
