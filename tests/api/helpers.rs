//! `spawn_app`: a fresh simulator and a fresh site on 127.0.0.1:0, and a client that walks the
//! flow the way a browser does (cookies kept, redirects not followed, every hop visible).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};
use ngi_consent::config::{ServeArgs, Settings};
use ngi_consent::consents::Lifecycle;
use ngi_consent::feed::Follower;
use ngi_consent::ledger::Ledger;
use ngi_consent::session::SessionBackend;
use ngi_consent::simulator::{self, ClientRegistration, SimulatorConfig, SimulatorHandle};
use ngi_consent::startup::Application;
use reqwest::header::LOCATION;
use reqwest::{Response, StatusCode};
use tokio::net::TcpListener;
use url::Url;

/// The synthetic test persons with mocked debt.
pub const PERSON_1: &str = "14842249091";
pub const PERSON_2: &str = "29868099311";
/// A valid national identity number with no debt data.
pub const PERSON_WITHOUT_DEBT: &str = "15058000032";

pub const CLIENT_ID: &str = "test-client";
/// A secret with the characters RFC 6749 §2.3.1 says must be form-encoded in the Basic header.
pub const CLIENT_SECRET: &str = "s3cret:with+special%chars/=";

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(Timestamp::now().as_second())))
    }
    pub fn now(&self) -> Timestamp {
        Timestamp::from_second(self.0.load(Ordering::SeqCst)).unwrap()
    }
    pub fn advance(&self, by: SignedDuration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
    /// This clock as the site takes it.
    pub fn as_clock(&self) -> ngi_consent::web::Clock {
        let clock = self.clone();
        Arc::new(move || clock.now())
    }
}

pub struct TestApp {
    pub address: Url,
    pub sim: SimulatorHandle,
    pub client: reqwest::Client,
    pub clock: TestClock,
    /// The site's session store, when the test's helper built the site.
    pub sessions: Option<SessionBackend>,
    /// The site's consent ledger, when the test's helper built the site.
    pub ledger: Option<Ledger>,
    /// The site's use of its consents (ledger and NGI), when the test's helper built the site.
    pub lifecycle: Option<Arc<Lifecycle>>,
    /// The site's consent-feed follower, when the test's helper built the site.
    pub follower: Option<Arc<Follower>>,
}

/// What a test may change before the app starts.
#[derive(Default)]
pub struct Options {
    pub args: ServeArgs,
    pub send_iss: bool,
    pub secret_registered_at_ngi: Option<String>,
    /// Configure `NGI_ISSUER` as the simulator's issuer, so discovery is not read at start-up.
    pub pin_issuer: bool,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// A simulator on a free port whose one client (ours) may come back to `site`'s callback.
pub async fn spawn_simulator(site: &Url, secret: &str, send_iss: bool) -> SimulatorHandle {
    simulator::spawn(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        SimulatorConfig {
            clients: vec![ClientRegistration {
                client_id: CLIENT_ID.into(),
                client_secret: secret.into(),
                name: "Testbanken".into(),
                redirect_uris: vec![site.join("/v1/callback").unwrap().to_string()],
            }],
            send_iss,
        },
    )
    .await
    .unwrap()
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    init_test_logs();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let secret = options
        .secret_registered_at_ngi
        .unwrap_or_else(|| CLIENT_SECRET.into());
    let sim = spawn_simulator(&address, &secret, options.send_iss).await;

    let mut args = options.args;
    args.public_url.get_or_insert_with(|| address.to_string());
    args.ngi_access_url
        .get_or_insert_with(|| sim.base_url().to_string());
    args.ngi_api_url
        .get_or_insert_with(|| sim.base_url().to_string());
    if options.pin_issuer {
        args.ngi_issuer.get_or_insert_with(|| sim.issuer());
    }
    args.ngi_client_id.get_or_insert_with(|| CLIENT_ID.into());
    args.ngi_client_secret
        .get_or_insert_with(|| CLIENT_SECRET.into());
    args.ngi_timeout_ms.get_or_insert_with(|| "2000".into());
    args.ngi_connect_timeout_ms
        .get_or_insert_with(|| "1000".into());
    // Every app its own ledger: a fresh SQLite directory unless the test gave a database.
    if args.database_url.is_none() {
        args.data_dir.get_or_insert_with(temp_data_dir);
    }
    // The feed's runner stays off: tests call the follower's step themselves.
    args.feed_poll_secs.get_or_insert_with(|| "0".into());
    let settings = Settings::from_args(args).unwrap();

    let clock = TestClock::new();
    let app = Application::build_with(listener, settings, clock.as_clock())
        .await
        .unwrap();
    let sessions = app.sessions().clone();
    let ledger = app.ledger().clone();
    let lifecycle = Arc::clone(app.lifecycle());
    let follower = Arc::clone(app.follower());
    tokio::spawn(app.run_until(std::future::pending()));

    TestApp {
        address,
        sim,
        client: browser(),
        clock,
        sessions: Some(sessions),
        ledger: Some(ledger),
        lifecycle: Some(lifecycle),
        follower: Some(follower),
    }
}

/// A fresh directory for one site's SQLite consent ledger (never `./data`).
pub fn temp_data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ngi-consent-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A client like a browser: it keeps cookies, and shows each redirect instead of following it.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn init_test_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        ngi_consent::telemetry::init(ngi_consent::config::LogFormat::Pretty);
    }
}

pub fn location(response: &Response) -> Url {
    let raw = response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location on a {} answer", response.status()))
        .to_str()
        .unwrap();
    Url::parse(raw)
        .or_else(|_| response.url().join(raw))
        .unwrap()
}

pub fn assert_redirect(response: &Response) -> Url {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "not a 303 redirect"
    );
    location(response)
}

pub fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

impl TestApp {
    /// A fresh browser (cookies of its own) on a site at `address` that the test started
    /// itself, so without the handles a helper-built site gives.
    pub fn browsing(address: Url, sim: SimulatorHandle) -> Self {
        TestApp {
            address,
            sim,
            client: browser(),
            clock: TestClock::new(),
            sessions: None,
            ledger: None,
            lifecycle: None,
            follower: None,
        }
    }

    pub fn url(&self, path: &str) -> Url {
        self.address.join(path).unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_url(self.url(path)).await
    }

    pub async fn get_url(&self, url: Url) -> Response {
        self.client.get(url).send().await.unwrap()
    }

    /// `GET /consent/start`: the authorization URL at NGI.
    pub async fn start(&self) -> Url {
        let response = self.get("/consent/start").await;
        let authorize = assert_redirect(&response);
        assert_eq!(authorize.origin(), self.sim.base_url().origin());
        authorize
    }

    /// The landing form: `POST /consent/start` with a national identity number.
    pub async fn start_with_nin(&self, nin: &str) -> Response {
        self.client
            .post(self.url("/consent/start"))
            .form(&[("nin", nin)])
            .send()
            .await
            .unwrap()
    }

    /// At NGI: open the authorization URL and log in; returns the login transaction.
    pub async fn log_in_at_ngi(&self, authorize: Url, nin: &str) -> String {
        let login = assert_redirect(&self.get_url(authorize).await);
        let tx = query(&login)["tx"].clone();
        let login_page = self.get_url(login.clone()).await;
        assert_eq!(login_page.status(), StatusCode::OK);
        let response = self
            .client
            .post(login.join("/testid/login").unwrap())
            .form(&[("tx", tx.as_str()), ("nin", nin), ("action", "login")])
            .send()
            .await
            .unwrap();
        let consent = assert_redirect(&response);
        assert_eq!(consent.path(), "/testid/consent");
        tx
    }

    /// At NGI: answer the consent page; returns where NGI sends the browser back to.
    pub async fn decide_at_ngi(&self, tx: &str, decision: &str) -> Url {
        let consent = self.sim.base_url().join("/testid/consent").unwrap();
        let page = self
            .client
            .get(consent.clone())
            .query(&[("tx", tx)])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let response = self
            .client
            .post(consent)
            .form(&[("tx", tx), ("decision", decision)])
            .send()
            .await
            .unwrap();
        let callback = assert_redirect(&response);
        assert_eq!(callback.origin(), self.address.origin());
        assert_eq!(callback.path(), "/v1/callback");
        callback
    }

    /// Start, log in as `nin`, accept: the callback URL NGI sends the browser to.
    pub async fn consent_as(&self, nin: &str) -> Url {
        let authorize = self.start().await;
        let tx = self.log_in_at_ngi(authorize, nin).await;
        self.decide_at_ngi(&tx, "accept").await
    }

    /// The whole flow as `nin`, following the callback's redirect: the debt page.
    pub async fn follow_login(&self, nin: &str) -> Response {
        let callback = self.consent_as(nin).await;
        let to_debt = assert_redirect(&self.get_url(callback).await);
        assert_eq!(to_debt.path(), "/debt");
        self.get_url(to_debt).await
    }

    /// The site's session store (built by `spawn_app_with`).
    pub fn sessions(&self) -> &SessionBackend {
        self.sessions.as_ref().unwrap()
    }

    /// The site's consent ledger (built by `spawn_app_with`).
    pub fn ledger(&self) -> &Ledger {
        self.ledger.as_ref().unwrap()
    }

    /// The site's consent-feed follower (built by `spawn_app_with`).
    pub fn follower(&self) -> &Follower {
        self.follower.as_deref().expect("the helper built the site")
    }

    /// The site's use of its consents (built by `spawn_app_with`).
    pub fn lifecycle(&self) -> &Lifecycle {
        self.lifecycle.as_ref().unwrap()
    }

    /// The `Set-Cookie` header of the session cookie in this response, if any.
    pub fn session_cookie(&self, response: &Response) -> Option<String> {
        response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("ngi_session=") || v.starts_with("__Host-ngi_session="))
            .map(str::to_owned)
    }
}

/// A callback URL for a flow this session started, with its parameters replaced (forged or
/// error callbacks built by the test instead of NGI).
pub fn callback_with(app: &TestApp, params: &[(&str, &str)]) -> Url {
    let mut url = app.url("/v1/callback");
    url.query_pairs_mut().extend_pairs(params);
    url
}

pub async fn body(response: Response) -> String {
    response.text().await.unwrap()
}

/// The value of a session cookie's `Set-Cookie` header: the session id.
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// A fresh simulator, and our NGI client with its client-credentials token cache on a test clock,
/// as another program of the same client uses them (asking for `scope`).
pub async fn machine_client(
    scope: &str,
) -> (
    SimulatorHandle,
    std::sync::Arc<ngi_consent::ngi::client::NgiClient>,
    std::sync::Arc<ngi_consent::ngi::credentials::ClientCredentials>,
) {
    use ngi_consent::ngi::client::{NgiClient, NgiConfig};
    use ngi_consent::ngi::credentials::ClientCredentials;
    let site = Url::parse("http://127.0.0.1:9/").unwrap();
    let sim = spawn_simulator(&site, CLIENT_SECRET, false).await;
    let ngi = Arc::new(
        NgiClient::new(NgiConfig {
            access: sim.base_url().clone(),
            api: sim.base_url().clone(),
            client_id: oauth2::ClientId::new(CLIENT_ID.into()),
            client_secret: oauth2::ClientSecret::new(CLIENT_SECRET.into()),
            redirect_uri: site.join("/v1/callback").unwrap(),
            scope: scope.parse().unwrap(),
            pkce: true,
            issuer: Some(sim.issuer()),
            timeout: std::time::Duration::from_secs(2),
            connect_timeout: std::time::Duration::from_secs(1),
        })
        .unwrap(),
    );
    let creds =
        Arc::new(ClientCredentials::new(Arc::clone(&ngi), TestClock::new().as_clock()).unwrap());
    (sim, ngi, creds)
}
