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

mod background;
mod router;

pub use background::housekeeping_once;
use background::{
    DISCOVERY_RETRY_FIRST, DISCOVERY_RETRY_MAX, discover_at_start_up, housekeeping,
    keep_discovering,
};
use router::router;

/// The largest request body accepted (the only form is the landing form).
const BODY_LIMIT: usize = 16 * 1024;

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
