//! An NGI look-alike that runs on its own port: OpenID discovery, `/oauth2/auth` with a TestID-like login and
//! a consent page, `/oauth2/token` (authorization code with `client_secret_basic` and PKCE S256, and client
//! credentials per audience), `/v1/debt` with fixtures for the two synthetic test persons, and debt by
//! consent id, status and revoke for the consents it issued, integrated consent (`PUT
//! /v1/consent/agreement`), the consent feed (`/feed/v1/consent`) and a "Min gjeld" page where a
//! test person sees and withdraws their consents. With `openid` the token answer carries an RS256
//! ID token (`pid`, `consent_id`, the `nonce`) whose key the JWKS publishes. Tests can inject
//! faults (bad ID tokens too), observe what the client sent, and shape the feed (late events,
//! another client's activity, the window).
//!
//! A crate of its own, beside the site's: it imports nothing of the site's, and the site nothing of
//! it but this API. The client and the simulator each read NGI's wire format on their own, so they
//! cannot share a misunderstanding of it.

mod agreement;
mod authorize;
mod client_auth;
mod client_credentials;
mod consents;
mod debt;
mod discovery;
mod fault;
mod feed;
mod id_token;
mod min_gjeld;
mod nin;
mod pages;
mod params;
mod pkce;
mod random;
mod scope;
mod state;
mod store;
mod token;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

pub use client_credentials::Audience;
pub use id_token::IdTokenFault;
use state::{Shared, lock};

/// A client registered at the simulated NGI.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: String,
    /// Shown on the consent page ("… ber om å hente gjeldsopplysningene dine").
    pub name: String,
    /// Compared by exact string equality, as NGI's whitelist does.
    pub redirect_uris: Vec<String>,
}

impl std::fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRegistration")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatorConfig {
    pub clients: Vec<ClientRegistration>,
    /// Add RFC 9207 `iss` to authorization responses (NGI does not; off simulates NGI as it is).
    pub send_iss: bool,
}

/// An endpoint that can be given a [`Fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Token,
    Debt,
    /// `/v1/debt/{id}` (GET and DELETE) and `/v1/debt/{id}/status`.
    Consent,
    /// `PUT /v1/consent/agreement`.
    Agreement,
    /// The consent feed: `/feed/v1/consent`, `…/firstSequenceNr` and `…/lastSequenceNr`.
    Feed,
    /// `GET /.well-known/jwks.json`.
    Jwks,
}

/// What a feed page's `endSequenceNr` says: the spec's "last (included) sequence number for this
/// response", or the feed's last number (one reading of NGI's how-to, "keep polling until you have
/// received `endSequenceNr`"). A follower must be right under both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FeedEnd {
    /// The last event's number in the page; `null` on an empty page.
    #[default]
    OfPage,
    /// The feed's `lastSequenceNr`, whatever the page holds.
    OfFeed,
}

/// An event the handle publishes for an existing consent, stamped earlier than now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LateEvent {
    /// `SAMTYKKE_OPPRETTET` again (NGI's own example creates one consent twice).
    Created,
    /// `SAMTYKKE_ARKIVERT` (only the feed changes; the consent itself does not).
    Archived,
}

/// What a faulted endpoint does instead of (or before) its normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Wait, then answer normally.
    Delay(std::time::Duration),
    /// Answer this instead.
    Respond {
        status: u16,
        content_type: String,
        body: String,
    },
    /// Start a 200 answer, then drop the connection mid-body.
    EarlyClose,
}

/// What the last `POST /oauth2/token` carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRequestSeen {
    pub grant_type: Option<String>,
    pub client_id_from_basic: Option<String>,
    pub code_verifier: Option<String>,
    pub redirect_uri: Option<String>,
    pub audience: Option<String>,
    pub scope: Option<String>,
}

/// What a valid client-credentials token was granted for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTokenGrant {
    pub client_id: String,
    pub audiences: Vec<Audience>,
    pub scope: Vec<String>,
}

/// What the last `GET /v1/debt` carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DebtRequestSeen {
    /// The token after `Bearer `.
    pub bearer: Option<String>,
    /// The `X-Trace-ID` header.
    pub trace_id: Option<String>,
}

/// A running simulator: its address, fault switches and what it has seen.
#[derive(Clone)]
pub struct SimulatorHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SimulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorHandle")
            .field("base_url", &self.shared.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl SimulatorHandle {
    /// `http://127.0.0.1:40123/` (the origin; `Url` always prints a `/` path).
    pub fn base_url(&self) -> &url::Url {
        &self.shared.base_url
    }

    /// Base URL with a trailing slash, as NGI's `https://access-preprod.norskgjeld.no/`.
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// Persistent until cleared with `None`.
    pub fn set_fault(&self, endpoint: Endpoint, fault: Option<Fault>) {
        let mut faults = lock(&self.shared.faults);
        match fault {
            Some(f) => faults.insert(endpoint, f),
            None => faults.remove(&endpoint),
        };
    }

    /// `POST /oauth2/token` calls received, whatever their outcome (faulted ones included).
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// `GET /v1/debt` calls received, whatever their outcome.
    pub fn debt_requests(&self) -> usize {
        self.shared.debt_requests.load(Ordering::SeqCst)
    }

    /// Requests to `/v1/debt/{id}` and `/v1/debt/{id}/status`, any method and outcome.
    pub fn consent_requests(&self) -> usize {
        self.shared.consent_requests.load(Ordering::SeqCst)
    }

    /// `PUT /v1/consent/agreement` calls received, whatever their outcome.
    pub fn agreement_requests(&self) -> usize {
        self.shared.agreement_requests.load(Ordering::SeqCst)
    }

    /// Which audiences `client_id` may ask client-credentials tokens for, from now on (every
    /// registered client starts with all of them).
    pub fn set_client_audiences(&self, client_id: &str, audiences: &[Audience]) {
        lock(&self.shared.client_audiences).insert(client_id.to_owned(), audiences.to_vec());
    }

    /// Client-credentials token requests naming `audience`, whatever their outcome (faulted ones included).
    pub fn client_credentials_requests(&self, audience: Audience) -> usize {
        lock(&self.shared.client_credentials_requests)
            .get(&audience)
            .copied()
            .unwrap_or(0)
    }

    /// What a client-credentials token was granted for, while it is valid.
    pub fn client_token(&self, access_token: &str) -> Option<ClientTokenGrant> {
        let now = self.shared.now();
        lock(&self.shared.client_tokens)
            .get(access_token, now)
            .map(|t| ClientTokenGrant {
                client_id: t.client_id.clone(),
                audiences: t.audiences.clone(),
                scope: t.scope.clone(),
            })
    }

    pub fn last_token_request(&self) -> Option<TokenRequestSeen> {
        lock(&self.shared.last_token).clone()
    }

    pub fn last_debt_request(&self) -> Option<DebtRequestSeen> {
        lock(&self.shared.last_debt).clone()
    }

    /// Authorization codes issued, oldest first (the most recent 1000).
    pub fn issued_codes(&self) -> Vec<String> {
        lock(&self.shared.issued).codes.iter().cloned().collect()
    }

    /// Access tokens issued, oldest first (the most recent 1000).
    pub fn issued_access_tokens(&self) -> Vec<String> {
        lock(&self.shared.issued).tokens.iter().cloned().collect()
    }

    /// Requests to the three feed calls, whatever their outcome (faulted ones included).
    pub fn feed_requests(&self) -> usize {
        self.shared.feed_requests.load(Ordering::SeqCst)
    }

    /// The feed's last sequence number across every client (0 before the first event).
    pub fn feed_last_sequence_nr(&self) -> i64 {
        lock(&self.shared.store).feed.last()
    }

    /// What feed pages say in `endSequenceNr` from now on.
    pub fn set_feed_end(&self, end: FeedEnd) {
        *lock(&self.shared.feed_end) = end;
    }

    /// The hidden second client is given `consents` consents, each one `SAMTYKKE_OPPRETTET` under
    /// the next sequence number, which no registered client sees. Returns the numbers used.
    pub fn hidden_client_acts(&self, consents: usize) -> Vec<i64> {
        let now = self.shared.now();
        let mut store = lock(&self.shared.store);
        (0..consents)
            .filter_map(|_| {
                store.hidden_client_acts(now)?;
                Some(store.feed.last())
            })
            .collect()
    }

    /// The registered client `client_id` is given a consent lasting `days` days by a test person
    /// with fixture debt, as if the person had accepted in the browser: its `SAMTYKKE_OPPRETTET`
    /// is published under the next number. Returns the consent's id; `None` for a client not
    /// registered here or `days` outside 1–365.
    pub fn grant_consent(&self, client_id: &str, days: u16) -> Option<String> {
        if !self.shared.clients.contains_key(client_id) || !(1..=365).contains(&days) {
            return None;
        }
        let now = self.shared.now();
        lock(&self.shared.store).grant(client_id, days, now)
    }

    /// Publishes `event` for consent `consent_id` now, stamped `earlier_by` before now, as NGI
    /// publishing late. Returns its sequence number; `None` for a consent the simulator does not
    /// hold.
    pub fn publish_late(
        &self,
        consent_id: &str,
        event: LateEvent,
        earlier_by: std::time::Duration,
    ) -> Option<i64> {
        let now = self.shared.now();
        let by = jiff::SignedDuration::try_from(earlier_by).unwrap_or(jiff::SignedDuration::MAX);
        let happened_at = now.checked_sub(by).unwrap_or(jiff::Timestamp::MIN);
        lock(&self.shared.store).publish_late(
            consent_id,
            event == LateEvent::Archived,
            happened_at,
            now,
        )
    }

    /// Publishes the event `sequence_nr` again, the same event id, under the next number (a
    /// duplicate delivery). `None` when no such event is in the feed.
    pub fn repeat_event(&self, sequence_nr: i64) -> Option<i64> {
        let now = self.shared.now();
        lock(&self.shared.store).feed.repeat(sequence_nr, now)
    }

    /// Whether a code granted with `openid` brings an ID token (on from the start).
    pub fn set_id_tokens(&self, on: bool) {
        lock(&self.shared.id_tokens).on = on;
    }

    /// Makes every ID token from now on bad in this way, until cleared with `None`.
    pub fn set_id_token_fault(&self, fault: Option<IdTokenFault>) {
        lock(&self.shared.id_tokens).fault = fault;
    }

    /// Publishes a second ID-token key beside the first and signs with it from now on.
    pub fn rotate_id_token_key(&self) {
        lock(&self.shared.id_tokens).rotated = true;
    }

    /// `GET /.well-known/jwks.json` calls received.
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// Moves the simulator's clock forward (codes, transactions, tokens and consents expire by it).
    pub fn advance_clock(&self, by: std::time::Duration) {
        let by = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        let mut offset = lock(&self.shared.clock_offset);
        *offset = offset.saturating_add(by);
    }
}

/// Serves on an already-bound listener in a background tokio task; returns at once.
/// The base URL is taken from the listener's address (an unspecified address becomes loopback).
pub async fn spawn(
    listener: tokio::net::TcpListener,
    config: SimulatorConfig,
) -> std::io::Result<SimulatorHandle> {
    let base_url = base_url_for(listener.local_addr()?)?;
    spawn_at(listener, config, base_url).await
}

/// As [`spawn`], with the public base URL given (for a simulator behind a published port or proxy).
pub async fn spawn_at(
    listener: tokio::net::TcpListener,
    config: SimulatorConfig,
    base_url: url::Url,
) -> std::io::Result<SimulatorHandle> {
    let shared = Arc::new(Shared::new(config, base_url)?);
    let app = router(Arc::clone(&shared));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "NGI simulator stopped");
        }
    });
    Ok(SimulatorHandle { shared })
}

/// Serves until `shutdown` resolves (the `ngi-consent simulator` command).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: SimulatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let base_url = base_url_for(listener.local_addr()?)?;
    serve_at(listener, config, base_url, shutdown).await
}

/// As [`serve`], with the public base URL given.
pub async fn serve_at(
    listener: tokio::net::TcpListener,
    config: SimulatorConfig,
    base_url: url::Url,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_boxed(listener, config, base_url, Box::pin(shutdown)).await
}

/// The simulator's server future is one type, compiled here once (see `Application::run_until`).
async fn serve_boxed(
    listener: tokio::net::TcpListener,
    config: SimulatorConfig,
    base_url: url::Url,
    shutdown: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared::new(config, base_url)?);
    tracing::info!(base_url = %shared.base_url, "NGI simulator listening");
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await
}

fn base_url_for(addr: SocketAddr) -> std::io::Result<url::Url> {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    url::Url::parse(&format!("http://{}", SocketAddr::new(ip, addr.port())))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/oauth2/auth", get(authorize::authorize))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/revoke", post(token::revoke))
        .route(
            "/testid/login",
            get(authorize::login_page).post(authorize::login_submit),
        )
        .route(
            "/testid/consent",
            get(authorize::consent_page).post(authorize::consent_submit),
        )
        .route(pages::STYLESHEET_PATH, get(pages::stylesheet))
        .route("/v1/debt", get(debt::debt))
        .route(
            "/v1/debt/{id}",
            get(consents::debt_by_id).delete(consents::revoke),
        )
        .route("/v1/debt/{id}/status", get(consents::status))
        .route("/v1/consent/agreement", put(agreement::register))
        .route("/feed/v1/consent", get(feed::page))
        .route(
            "/feed/v1/consent/firstSequenceNr",
            get(feed::first_sequence_nr),
        )
        .route(
            "/feed/v1/consent/lastSequenceNr",
            get(feed::last_sequence_nr),
        )
        .route(min_gjeld::PATH, get(min_gjeld::page))
        .route(min_gjeld::LOGIN_PATH, post(min_gjeld::log_in))
        .route(min_gjeld::REVOKE_PATH, post(min_gjeld::revoke))
        .route(min_gjeld::LOGOUT_PATH, post(min_gjeld::log_out))
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::from_fn(pages::security_headers))
        .with_state(shared)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_gets_a_loopback_base_url() {
        let url = base_url_for(SocketAddr::from(([0, 0, 0, 0], 9090))).ok();
        assert_eq!(
            url.as_ref().map(url::Url::as_str),
            Some("http://127.0.0.1:9090/")
        );
        let url = base_url_for(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 9090))).ok();
        assert_eq!(
            url.as_ref().map(url::Url::as_str),
            Some("http://[::1]:9090/")
        );
    }
}
