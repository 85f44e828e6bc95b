//! The bare servers: this binary re-executed with a flag, pinned to the site's core, to show what
//! the same HTTP exchanges cost with nothing around them.
//!
//! The bare handler answers `/consent/start` with the same 303 as the site (no session, no
//! middleware, no logging): the HTTP stack's ceiling. The bare handler with a session does the
//! same behind tower-sessions and the site's own memory store, keeping one value as long as a
//! pending flow: what a start's required session costs by itself.
//!
//! The bare flow makes the same HTTP exchanges as a complete flow and nothing else. The 303 to
//! the simulator (a fixed state and PKCE pair), the callback that posts the code to the token
//! endpoint (client_secret_basic, the verifier) and fetches the debt with the access token it
//! reads from the answer, a 303 to /debt, and a fixed page as long as the site's debt page. No
//! session, no state check, no template, no logging, no parsing of the debt: what any
//! implementation on axum and reqwest pays for the three requests in and the two out.
//!
//! The bare flow with the ledger adds one thing: each callback records a consent through the
//! site's own ledger (`record_granted`; SQLite in a fresh data directory, or the site's
//! PostgreSQL when `--site-env DATABASE_URL=…` is given), as the site does before it answers.
//! The difference is what that requirement alone costs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use ngi_consent::config::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, NgiTarget, ServeArgs, Settings};
use ngi_consent::domain::scope::Purpose;
use ngi_consent::ledger::{GrantedConsent, Ledger};
use ngi_consent::paths;
use ngi_consent::session::memory::MemoryStore;
use sha2::Digest as _;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use url::Url;

use crate::simulator;

/// `--bare-server ADDR`: the bare handler.
pub const SERVER_FLAG: &str = "--bare-server";
/// After the bare handler's address: a session for each request.
pub const WITH_SESSION: &str = "with-session";
/// `--bare-flow-server ADDR SIMULATOR_URL PAGE_BYTES`: the bare flow.
pub const FLOW_SERVER_FLAG: &str = "--bare-flow-server";
/// After the bare flow's arguments: record each consent in the site's ledger.
pub const WITH_LEDGER: &str = "with-ledger";

/// PKCE verifier of the bare flow (RFC 7636: 43 to 128 unreserved characters).
const BARE_VERIFIER: &str = "bare-flow-verifier-0123456789-0123456789-abcdefghij";

/// The site's settings when nothing is set, whose addresses, scope and NGI timeouts the bare
/// servers copy.
fn site_defaults() -> Settings {
    Settings::from_args(ServeArgs::default()).unwrap()
}

/// The authorization URL at the simulator `sim` for the demo client, as the site builds it.
fn authorization_url(
    sim: &Url,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    site: &Settings,
) -> Url {
    let mut location = sim.join(simulator::AUTHORIZE).unwrap();
    location
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &site.scope.request_scopes().join(" "));
    location
}

/// Serves until killed, on a multi-thread runtime sized by the CPUs it may use, like the site's
/// `#[tokio::main]`.
/// `app` is built on the runtime (a ledger's writer is a task of it).
fn serve(addr: SocketAddr, app: impl Future<Output = Router>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let app = app.await;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// `with_session`: each request creates a session in the site's memory store holding one
/// value as long as the site's pending flow, and gets its cookie.
pub fn serve_bare(addr: SocketAddr, with_session: bool) {
    // As long as the site's answer with the default settings and its 43-character state and
    // challenge. Built once: each answer then costs what a constant would.
    let site = site_defaults();
    let NgiTarget::Simulator { bind: sim_bind } = site.ngi else {
        panic!("the site's default NGI is the simulator");
    };
    let sim = Url::parse(&format!("http://{sim_bind}")).unwrap();
    let fixed = "A".repeat(43);
    let redirect_uri = format!("http://{}{}", site.bind, paths::CALLBACK);
    let location: &'static str = authorization_url(&sim, &redirect_uri, &fixed, &fixed, &site)
        .to_string()
        .leak();
    let app = Router::new().route(paths::HEALTHZ, get(|| async { "ok" }));
    if !with_session {
        let app = app.route(
            paths::CONSENT_START,
            get(move || async move { Redirect::to(location) }),
        );
        serve(addr, async { app });
        return;
    }
    // A pending flow as the site keeps it: state, verifier, nonce, times, about 300 bytes.
    let pending: &'static str = "P".repeat(300).leak();
    let start = move |session: Session| async move {
        match session.insert("flow.pending", pending).await {
            Ok(()) => Redirect::to(location).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    };
    let clock: ngi_consent::domain::time::Clock = Arc::new(jiff::Timestamp::now);
    let sessions = SessionManagerLayer::new(MemoryStore::new(clock))
        .with_name("ngi_session")
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(15)));
    let app = app.route(paths::CONSENT_START, get(start).layer(sessions));
    serve(addr, async { app });
}

struct BareFlow {
    http: reqwest::Client,
    /// The site's ledger, when the bare flow records each consent.
    ledger: Option<Ledger>,
    /// Makes this run's consent ids unique in a ledger that outlives it.
    run: String,
    recorded: AtomicU64,
    token_url: Url,
    debt_url: Url,
    redirect_uri: String,
    location: String,
    page: String,
}

#[derive(serde::Deserialize)]
struct BareCallback {
    code: String,
}

#[derive(serde::Deserialize)]
struct BareToken {
    access_token: String,
}

/// `masked`: what the debt page must show (both persons, so the load driver's check passes);
/// `with_ledger`: each consent recorded in the ledger `DATA_DIR` or `DATABASE_URL` names.
pub fn serve_bare_flow(
    addr: SocketAddr,
    sim: &str,
    page_bytes: usize,
    masked: &[String],
    with_ledger: bool,
) {
    let site = site_defaults();
    let sim = Url::parse(sim).unwrap();
    let redirect_uri = format!("http://{addr}{}", paths::CALLBACK);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(BARE_VERIFIER.as_bytes()));
    let location = authorization_url(
        &sim,
        &redirect_uri,
        "bare-flow-state-0123456789-0123456789-abcd",
        &challenge,
        &site,
    );
    let mut page = format!(
        "<!doctype html><title>debt</title><p>{}</p>",
        masked.join(" ")
    );
    page.push_str(&" ".repeat(page_bytes.saturating_sub(page.len())));
    let mut flow = BareFlow {
        // Configured like the site's client: no redirects followed, connect and total timeouts.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(site.connect_timeout)
            .timeout(site.timeout)
            .build()
            .unwrap(),
        token_url: sim.join(simulator::TOKEN).unwrap(),
        debt_url: sim.join(simulator::DEBT).unwrap(),
        redirect_uri,
        location: location.into(),
        page,
        ledger: None,
        run: uuid::Uuid::new_v4().simple().to_string(),
        recorded: AtomicU64::new(0),
    };

    async fn start(State(s): State<Arc<BareFlow>>) -> Redirect {
        Redirect::to(&s.location)
    }
    async fn callback(State(s): State<Arc<BareFlow>>, Query(q): Query<BareCallback>) -> Response {
        let exchange = async {
            let token: BareToken = s
                .http
                .post(s.token_url.clone())
                .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &q.code),
                    ("redirect_uri", &s.redirect_uri),
                    ("code_verifier", BARE_VERIFIER),
                ])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            s.http
                .get(s.debt_url.clone())
                .bearer_auth(&token.access_token)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await
        };
        let fetched = exchange.await;
        if let (Ok(_), Some(ledger)) = (&fetched, &s.ledger) {
            // A consent id of the debt answer's kind, not read from it: no parsing here.
            let n = s.recorded.fetch_add(1, Ordering::Relaxed);
            let granted = GrantedConsent {
                id: format!("bare-{}-{n}", s.run).parse().unwrap(),
                reference: None,
                purpose: Purpose::Presentation,
                duration_days: None,
                expires_at: None,
                nin_masked: "148422*****".to_owned(),
            };
            let now = jiff::Timestamp::now();
            if let Err(e) = ledger.record_granted(granted, now).await {
                return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
            }
        }
        match fetched {
            Ok(_) => Redirect::to(paths::DEBT).into_response(),
            Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        }
    }
    async fn debt(State(s): State<Arc<BareFlow>>) -> Html<String> {
        Html(s.page.clone())
    }

    serve(addr, async move {
        if with_ledger {
            let settings = Settings::from_args(ServeArgs {
                data_dir: std::env::var_os("DATA_DIR").map(Into::into),
                database_url: std::env::var("DATABASE_URL").ok(),
                ..ServeArgs::default()
            })
            .unwrap();
            flow.ledger = Some(ngi_consent::ledger::open(&settings.ledger).await.unwrap());
        }
        Router::new()
            .route(paths::CONSENT_START, get(start))
            .route(paths::CALLBACK, get(callback))
            .route(paths::DEBT, get(debt))
            .route(paths::HEALTHZ, get(|| async { "ok" }))
            .with_state(Arc::new(flow))
    });
}
