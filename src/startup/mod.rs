//! `Application`: binds first (port 0 works, so tests run the real thing), starts the embedded
//! simulator in simulator mode, builds the router with its layers, and serves until stopped.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use jiff::SignedDuration;
use tokio::net::TcpListener;
use tower_sessions::cookie::time::Duration as CookieDuration;
use url::Url;

use crate::config::{self, NgiTarget, PartnerToken, SessionStoreKind, Settings};
use crate::consents::Lifecycle;
use crate::consents::register::{DigestKey, Registrations};
use crate::feed::Follower;
use crate::flow::link::LinkKey;
use crate::ledger::{EventOutcome, Ledger};
use crate::ngi::agreement::Agreements;
use crate::ngi::client::{ClientSetupError, DiscoveryError, NgiClient, NgiConfig};
use crate::ngi::consents::Consents;
use crate::ngi::credentials::ClientCredentials;
use crate::ngi::feed::{EventKind, Feed};
use crate::paths;
use crate::session::SessionBackend;
use crate::session::data::SessionLimits;
use crate::simulator::{self, ClientRegistration, SimulatorConfig, SimulatorHandle};
use crate::web::partner::auth::Door;
use crate::web::ratelimit::RateLimit;
use crate::web::security::{SecurityHeaders, SecurityHeadersError};
use crate::web::{self, AppState, Clock};

mod router;

use router::router;

/// The largest request body accepted (the only form is the landing form).
const BODY_LIMIT: usize = 16 * 1024;

/// The first wait before asking NGI's discovery document again, and the longest.
const DISCOVERY_RETRY_FIRST: Duration = Duration::from_secs(1);
const DISCOVERY_RETRY_MAX: Duration = Duration::from_secs(30);

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the bound address")]
    LocalAddress(#[source] io::Error),
    #[error("cannot build the site's URL {url}")]
    SiteUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("cannot start the simulator")]
    Simulator(#[source] io::Error),
    #[error(transparent)]
    NgiClient(#[from] ClientSetupError),
    #[error(transparent)]
    SecurityHeaders(#[from] SecurityHeadersError),
    #[error("cannot set up the session store")]
    SessionStore(#[source] crate::session::RedisSetupError),
    /// The ledger's database cannot be opened or its tables brought up to date.
    #[error("consent ledger at {store}")]
    Ledger {
        /// Where, as it may be shown (no password).
        store: String,
        #[source]
        source: crate::ledger::OpenError,
    },
    /// Discovery answered, but with nothing usable: no retry will change that.
    #[error(
        "invalid setting NGI_ISSUER: not set, and NGI's issuer cannot be discovered; set \
         NGI_ISSUER to the issuer NGI names in its callbacks"
    )]
    Discovery(#[source] Box<DiscoveryError>),
}

/// The site, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    public_url: Url,
    simulator: Option<SimulatorHandle>,
    rate_limit: Option<RateLimit>,
    sessions: SessionBackend,
    clock: Clock,
    ngi: Arc<NgiClient>,
    /// The partner token made for this run (simulator mode without PARTNER_TOKEN).
    generated_partner_token: Option<PartnerToken>,
    ledger: Ledger,
    lifecycle: Arc<Lifecycle>,
    follower: Arc<Follower>,
    /// How often the follower polls; `None`: it is off.
    feed_poll: Option<Duration>,
}

impl Application {
    /// Binds `settings.bind` (and the simulator's address in simulator mode) and builds the site.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = bind(settings.bind).await?;
        Self::build_with(listener, settings, web::system_clock()).await
    }

    /// Builds the site on a listener bound by the caller, with the given clock (tests).
    pub async fn build_with(
        listener: TcpListener,
        settings: Settings,
        clock: Clock,
    ) -> Result<Self, StartupError> {
        let local = listener.local_addr().map_err(StartupError::LocalAddress)?;
        let public_url = match &settings.public_url {
            Some(url) => url.clone(),
            None => local_url(local)?,
        };
        let redirect_uri =
            public_url
                .join(paths::CALLBACK)
                .map_err(|source| StartupError::SiteUrl {
                    url: format!("{public_url}{}", paths::CALLBACK),
                    source,
                })?;

        let (access, api, simulator) = match &settings.ngi {
            NgiTarget::Simulator { bind: sim_addr } => {
                let sim_listener = bind(*sim_addr).await?;
                let handle = simulator::spawn(
                    sim_listener,
                    SimulatorConfig {
                        clients: vec![ClientRegistration {
                            client_id: settings.client_id.as_str().to_owned(),
                            client_secret: settings.client_secret.secret().clone(),
                            name: config::DEMO_CLIENT_NAME.to_owned(),
                            redirect_uris: vec![redirect_uri.to_string()],
                        }],
                        send_iss: false,
                    },
                )
                .await
                .map_err(StartupError::Simulator)?;
                let base = handle.base_url().clone();
                (base.clone(), base, Some(handle))
            }
            NgiTarget::Remote { access, api, .. } => (access.clone(), api.clone(), None),
        };

        let https = public_url.scheme() == "https";
        let security = SecurityHeaders::new(&access, https)?;
        let ngi = Arc::new(NgiClient::new(NgiConfig {
            access,
            api,
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            redirect_uri,
            scope: settings.scope,
            pkce: settings.pkce,
            // In the demo the simulator's issuer is known: no discovery needed.
            issuer: settings
                .issuer
                .clone()
                .or_else(|| simulator.as_ref().map(SimulatorHandle::issuer)),
            timeout: settings.timeout,
            connect_timeout: settings.connect_timeout,
        })?);
        discover_at_start_up(&ngi).await?;

        let sessions = match &settings.session_store {
            SessionStoreKind::Memory => SessionBackend::memory(clock.clone()),
            SessionStoreKind::Redis { url, key, ca } => SessionBackend::redis(
                url,
                ca.as_ref().map(|ca| ca.pem.as_slice()),
                key,
                clock.clone(),
            )
            .await
            .map_err(StartupError::SessionStore)?,
        };
        let ledger = crate::ledger::open(&settings.ledger)
            .await
            .map_err(|source| StartupError::Ledger {
                store: settings.ledger.to_string(),
                source,
            })?;
        if matches!(settings.session_store, SessionStoreKind::Redis { .. })
            && matches!(settings.ledger, config::LedgerStore::Sqlite { .. })
        {
            tracing::warn!(
                ledger = %settings.ledger,
                "sessions are shared in Redis but the consent ledger is SQLite: each instance \
                 keeps its own ledger; set DATABASE_URL to share one"
            );
        }
        let rate_limit = RateLimit::new(&settings.start_limits);
        // Installed before the first request so every counter is recorded, and every series
        // shown at 0 from the start.
        let _ = crate::metrics::handle();
        crate::metrics::register_all(
            web::consent::callback_outcomes(),
            crate::ngi::client::Endpoint::LABELS,
            crate::ngi::client::NgiError::KINDS,
        );
        crate::ngi::credentials::register_metrics();
        crate::metrics::register_feed(EventKind::LABELS, EventOutcome::LABELS);
        // One token cache for every client-credentials call of this site.
        let credentials = Arc::new(ClientCredentials::new(Arc::clone(&ngi), clock.clone())?);
        let lifecycle = Arc::new(Lifecycle::new(
            Arc::clone(&ledger),
            Arc::new(Consents::new(Arc::clone(&ngi), Arc::clone(&credentials))),
        ));
        let follower = Arc::new(Follower::new(
            Feed::new(Arc::clone(&ngi), Arc::clone(&credentials)),
            Arc::clone(&ledger),
            Arc::clone(&lifecycle),
            settings.feed_page_size,
        ));

        // The partner API: with the configured token, or in the demo a token made for this run
        // (shown once by `main`, never logged); otherwise not mounted at all.
        let generated_partner_token = match (&settings.partner_token, &simulator) {
            (None, Some(_)) => Some(PartnerToken::generate()),
            _ => None,
        };
        let partner_token = settings
            .partner_token
            .as_ref()
            .or(generated_partner_token.as_ref());
        let partner_door = partner_token
            .map(|token| Arc::new(Door::new(token, &settings.start_limits, clock.clone())));
        let link_key = partner_token.map(LinkKey::derive);
        // Integrated consents are registered through the partner API only.
        let registrations = partner_token.map(|_| {
            Arc::new(Registrations::new(
                Arc::clone(&ledger),
                Arc::new(Agreements::new(Arc::clone(&ngi), credentials)),
                DigestKey::derive(&settings.client_secret),
            ))
        });

        let state = AppState::new(web::Shared {
            ngi: Arc::clone(&ngi),
            scope: settings.scope,
            simulated: simulator.is_some(),
            secure_cookies: https,
            sessions: sessions.clone(),
            session_limits: SessionLimits {
                idle: SignedDuration::try_from(settings.session_idle)
                    .unwrap_or(SignedDuration::MAX),
                max_age: SignedDuration::try_from(settings.session_max_age)
                    .unwrap_or(SignedDuration::MAX),
            },
            public_origin: public_url.origin().ascii_serialization(),
            public_url: public_url.clone(),
            link_key,
            clock: clock.clone(),
            ledger: Arc::clone(&ledger),
            lifecycle: Arc::clone(&lifecycle),
            follower: Arc::clone(&follower),
            registrations,
        });
        let idle = CookieDuration::seconds(
            i64::try_from(settings.session_idle.as_secs()).unwrap_or(i64::MAX),
        );
        let router = router(
            state,
            &security,
            https,
            idle,
            rate_limit.as_ref(),
            partner_door,
        );
        Ok(Self {
            listener,
            router,
            public_url,
            simulator,
            rate_limit,
            sessions,
            clock,
            ngi,
            generated_partner_token,
            ledger,
            lifecycle,
            follower,
            feed_poll: settings.feed_poll,
        })
    }

    /// The consent-feed follower (tests call its step directly; its runner is started by
    /// [`Application::run_until`] unless FEED_POLL_SECS is 0).
    pub fn follower(&self) -> &Arc<Follower> {
        &self.follower
    }

    /// The partner token made for this run, when the demo made one: for the one line that
    /// shows it to whoever started the site. Never logged.
    pub fn generated_partner_token(&self) -> Option<&PartnerToken> {
        self.generated_partner_token.as_ref()
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// The embedded simulator, in simulator mode.
    pub fn simulator(&self) -> Option<&SimulatorHandle> {
        self.simulator.as_ref()
    }

    /// The session store, as the site uses it (tests read what it holds).
    pub fn sessions(&self) -> &SessionBackend {
        &self.sessions
    }

    /// The site's use of its consents (tests call its steps directly).
    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    /// The consent ledger, as the site uses it (tests read what it holds).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The router alone, for in-process tests (axum-test); the listener is dropped.
    pub fn into_router(self) -> Router {
        self.router
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        self.serve(Box::pin(shutdown)).await
    }

    /// [`Application::run_until`] with the shutdown boxed: the server's whole future is one type,
    /// compiled once here, not again in every caller (the binary's build would otherwise
    /// compile the site a second time).
    async fn serve(self, shutdown: Pin<Box<dyn Future<Output = ()> + Send>>) -> io::Result<()> {
        let housekeeping = tokio::spawn(housekeeping(
            self.rate_limit.clone(),
            self.sessions.clone(),
            Arc::clone(&self.lifecycle),
            self.clock.clone(),
        ));
        let discovery = tokio::spawn(keep_discovering(
            Arc::clone(&self.ngi),
            DISCOVERY_RETRY_FIRST,
            DISCOVERY_RETRY_MAX,
        ));
        // A feed error never stops the site: the runner logs it and tries again.
        let follower = self.feed_poll.map(|every| {
            tokio::spawn(crate::feed::run(
                Arc::clone(&self.follower),
                every,
                self.clock.clone(),
            ))
        });
        // Connect info gives the rate limit the peer address.
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        housekeeping.abort();
        discovery.abort();
        if let Some(follower) = follower {
            follower.abort();
        }
        served
    }
}

/// Without a pinned issuer, NGI's discovery document is read now. An answer that is not a
/// usable document stops start-up (only NGI_ISSUER or another host can fix that); a host that
/// cannot be reached yet leaves the site up but not ready, and `keep_discovering` asks again.
async fn discover_at_start_up(ngi: &NgiClient) -> Result<(), StartupError> {
    if ngi.issuer_rule().is_some() {
        return Ok(());
    }
    match ngi.discover_issuer_once().await {
        Ok(rule) => {
            tracing::info!(issuer = %rule.issuer, "NGI's issuer read from its discovery document");
            Ok(())
        }
        Err(e) if e.is_retryable() => {
            tracing::warn!(
                error = %crate::error::chain(&e),
                "NGI's discovery document cannot be read yet; not ready until it is, retrying"
            );
            Ok(())
        }
        Err(e) => Err(StartupError::Discovery(Box::new(e))),
    }
}

/// Asks NGI's discovery document again, waiting `first`, then twice as long each time up to
/// `max`, until the issuer is known; then it ends. Nothing to do when it is known already.
async fn keep_discovering(ngi: Arc<NgiClient>, first: Duration, max: Duration) {
    let mut wait = first;
    while ngi.issuer_rule().is_none() {
        tokio::time::sleep(wait).await;
        match ngi.discover_issuer_once().await {
            Ok(rule) => {
                tracing::info!(issuer = %rule.issuer, "NGI's issuer read from its discovery document; ready");
            }
            Err(e) => {
                tracing::warn!(
                    error = %crate::error::chain(&e),
                    retryable = e.is_retryable(),
                    "NGI's discovery document still cannot be read; not ready"
                );
            }
        }
        wait = (wait * 2).min(max);
    }
}

/// Periodic upkeep, every 10 s, at the app's clock's time: the round below, then the
/// revocations NGI has not confirmed yet, each tried again once its backoff is over.
async fn housekeeping(
    rate_limit: Option<RateLimit>,
    sessions: SessionBackend,
    lifecycle: Arc<Lifecycle>,
    clock: Clock,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        tick.tick().await;
        housekeeping_once(rate_limit.as_ref(), &sessions, clock()).await;
        retry_revocations(&lifecycle, clock()).await;
    }
}

/// One step over the due revocations; a failing ledger is logged and tried at the next tick.
async fn retry_revocations(lifecycle: &Lifecycle, now: jiff::Timestamp) {
    // NGI's trace id for these calls: no request to take it from.
    let trace_id = uuid::Uuid::new_v4().to_string();
    match lifecycle.retry_revocations(now, &trace_id).await {
        Ok(outcome) if outcome.tried > 0 => tracing::info!(
            tried = outcome.tried,
            revoked = outcome.revoked,
            ended = outcome.ended,
            pending = outcome.pending,
            trace_id,
            "revocations tried again"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(
            error = %crate::error::chain(&e),
            "revocations could not be tried again: the consent ledger failed"
        ),
    }
}

/// One round of upkeep at `now`: evict sessions and claims expired by then from memory, forget
/// rate-limit entries of clients gone quiet, and fold the metrics' histograms (the Prometheus
/// exporter asks for this when it does not serve its own listener).
pub async fn housekeeping_once(
    rate_limit: Option<&RateLimit>,
    sessions: &SessionBackend,
    now: jiff::Timestamp,
) {
    sessions.evict_expired_once(now).await;
    if let Some(limits) = rate_limit {
        limits.retain_recent();
    }
    if let Some(handle) = crate::metrics::handle() {
        handle.run_upkeep();
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })
}

/// `http://<bound address>`, with a wildcard address replaced by loopback.
fn local_url(addr: SocketAddr) -> Result<Url, StartupError> {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let url = if addr.is_ipv6() && !addr.ip().is_unspecified() {
        format!("http://[{host}]:{}", addr.port())
    } else {
        format!("http://{host}:{}", addr.port())
    };
    Url::parse(&url).map_err(|source| StartupError::SiteUrl { url, source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use axum::routing::get;
    use oauth2::{ClientId, ClientSecret};
    use tower::ServiceExt;

    use super::router::person_facing;
    use super::*;
    use crate::error::ErrorKind;
    use crate::i18n::Lang;
    use axum::http::header;
    use jiff::Timestamp;
    use std::collections::HashMap;
    use tower_sessions::SessionManagerLayer;
    use tower_sessions::SessionStore;
    use tower_sessions::cookie::time::OffsetDateTime;
    use tower_sessions::session::{Id, Record};

    async fn state() -> AppState {
        let dir = std::env::temp_dir().join(format!("ngi-startup-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let ledger: crate::ledger::Ledger = Arc::new(
            crate::ledger::sqlite::SqliteLedger::open(&dir)
                .await
                .unwrap(),
        );
        let local = Url::parse("http://127.0.0.1:9/").unwrap();
        let ngi = NgiClient::new(NgiConfig {
            access: local.clone(),
            api: local.clone(),
            client_id: ClientId::new("client".into()),
            client_secret: ClientSecret::new("secret".into()),
            redirect_uri: local.join(paths::CALLBACK).unwrap(),
            scope: "debt.unsecured.presentation".parse().unwrap(),
            pkce: true,
            issuer: Some(local.to_string()),
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
        })
        .unwrap();
        let ngi = Arc::new(ngi);
        let credentials =
            Arc::new(ClientCredentials::new(Arc::clone(&ngi), web::system_clock()).unwrap());
        let lifecycle = Arc::new(Lifecycle::new(
            Arc::clone(&ledger),
            Arc::new(Consents::new(Arc::clone(&ngi), Arc::clone(&credentials))),
        ));
        AppState::new(web::Shared {
            ngi: Arc::clone(&ngi),
            scope: "debt.unsecured.presentation".parse().unwrap(),
            simulated: false,
            secure_cookies: false,
            sessions: SessionBackend::memory(web::system_clock()),
            session_limits: SessionLimits {
                idle: SignedDuration::from_mins(30),
                max_age: crate::session::data::DEFAULT_SESSION_MAX_AGE,
            },
            public_origin: "http://127.0.0.1:9".into(),
            public_url: local.clone(),
            link_key: None,
            clock: web::system_clock(),
            follower: Arc::new(Follower::new(
                Feed::new(Arc::clone(&ngi), Arc::clone(&credentials)),
                Arc::clone(&ledger),
                Arc::clone(&lifecycle),
                100,
            )),
            lifecycle,
            ledger,
            registrations: None,
        })
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_with_the_error_page_in_the_persons_language() {
        let state = state().await;
        async fn panics() -> &'static str {
            panic!("a handler gave up")
        }
        let pages = Router::new().route("/panics", get(panics));
        let sessions = SessionManagerLayer::new(state.sessions.clone());
        let app = person_facing(pages, &state, sessions).with_state(state);

        let response = app
            .oneshot(
                HttpRequest::get("/panics?lang=en")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("<html lang=\"en\""), "{html}");
        assert!(
            html.contains(ErrorKind::Internal.text(Lang::En.texts()).title),
            "{html}"
        );
        assert!(!html.contains("a handler gave up"));
    }

    #[tokio::test]
    async fn a_housekeeping_round_evicts_the_sessions_expired_by_its_time() {
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let sessions = SessionBackend::memory(std::sync::Arc::new(move || start));
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([("k".to_owned(), serde_json::json!("v"))]),
            expiry_date: OffsetDateTime::from_unix_timestamp(start.as_second() + 60).unwrap(),
        };
        sessions.create(&mut record).await.unwrap();
        let SessionBackend::Memory { store, .. } = &sessions else {
            unreachable!()
        };

        housekeeping_once(None, &sessions, start).await;
        assert_eq!(store.len(), 1);
        housekeeping_once(None, &sessions, start + SignedDuration::from_secs(60)).await;
        assert_eq!(store.len(), 0);
    }
}
