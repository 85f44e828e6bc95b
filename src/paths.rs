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
