//! The HTTP edge: state, routers per feature, page context, security headers and pages.
//! Handlers are thin: extract, call the module that knows, render.

pub mod consent;
pub mod context;
pub mod debt;
pub mod health;
pub mod landing;
pub mod pages;
pub mod partner;
pub mod ratelimit;
pub mod security;
pub mod session_life;
pub mod withdraw;

use std::sync::Arc;

use axum::Router;
use jiff::Timestamp;

use crate::domain::scope::ConsentScope;
use crate::flow::link::LinkKey;
use crate::ngi::client::NgiClient;

pub use crate::domain::time::{Clock, system_clock};

/// What handlers share: one `Arc`, so the clone axum makes for every handler and middleware is
/// a reference count, not a copy.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub ngi: Arc<NgiClient>,
    pub scope: ConsentScope,
    pub simulated: bool,
    /// https: cookies get `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    pub sessions: crate::session::SessionBackend,
    /// How long a session may be idle, and live at all.
    pub session_limits: crate::session::data::SessionLimits,
    /// `PUBLIC_URL`'s origin, as browsers send it in `Origin`.
    pub public_origin: String,
    /// `PUBLIC_URL` (or the bound address in simulator mode), for links the site hands out.
    pub public_url: url::Url,
    /// The key start links are signed with, derived from the partner token; `None` without one
    /// (then a start link with a reference is always refused).
    pub link_key: Option<LinkKey>,
    pub clock: Clock,
    /// The consents this site holds.
    pub ledger: crate::ledger::Ledger,
    /// Using the consents the ledger holds: the debt again, status, revocation.
    pub lifecycle: Arc<crate::consents::Lifecycle>,
    /// The consent-feed follower, read (never driven) by the partner API and console.
    pub follower: Arc<crate::feed::Follower>,
    /// Integrated consents, with the partner API only.
    pub registrations: Option<Arc<crate::consents::register::Registrations>>,
}

impl Shared {
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}

/// The person-facing pages (they need the session and the page context).
pub fn pages(rate_limit: Option<&ratelimit::RateLimit>) -> Router<AppState> {
    Router::new()
        .merge(landing::router())
        .merge(consent::router(rate_limit))
        .merge(debt::router())
        .merge(withdraw::router())
}
