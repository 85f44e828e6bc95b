//! NGI's discovery document at start-up: an answer that cannot be used stops start-up naming
//! NGI_ISSUER; a host that cannot be reached yet leaves the site up but not ready, callbacks
//! call nobody, and the site becomes ready once the host answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_test::TestServer;
use ngi_consent::config::{ServeArgs, Settings};
use ngi_consent::error::chain as error_chain;
use ngi_consent::startup::Application;
use tokio::net::TcpListener;
use url::Url;

use crate::helpers::*;

/// What the stand-in's discovery endpoint answers.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Answer {
    /// 503: the host is there but failing.
    Failing,
    NotFound,
    /// 200 with a page that is not discovery.
    NotDiscovery,
    /// A discovery document naming another issuer than the host asked.
    OtherIssuer,
    /// A discovery document naming itself.
    Discovery,
}

struct StandIn {
    base: Url,
    answer: AtomicU8,
    asked: AtomicUsize,
}

impl StandIn {
    fn set(&self, answer: Answer) {
        self.answer.store(answer as u8, Ordering::SeqCst);
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

async fn discovery(State(stand_in): State<Arc<StandIn>>) -> Response {
    stand_in.asked.fetch_add(1, Ordering::SeqCst);
    let answer = stand_in.answer.load(Ordering::SeqCst);
    let document = |issuer: &str| {
        axum::Json(serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": stand_in.base.join("oauth2/auth").unwrap(),
            "token_endpoint": stand_in.base.join("oauth2/token").unwrap(),
        }))
        .into_response()
    };
    match answer {
        a if a == Answer::Failing as u8 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        a if a == Answer::NotFound as u8 => StatusCode::NOT_FOUND.into_response(),
        a if a == Answer::NotDiscovery as u8 => "<html>welcome</html>".into_response(),
        a if a == Answer::OtherIssuer as u8 => document("https://other-issuer.example/"),
        _ => document(stand_in.base.as_str()),
    }
}

/// A stand-in for NGI's access host on a free port, answering its discovery URL with `answer`.
async fn stand_in(answer: Answer) -> Arc<StandIn> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let stand_in = Arc::new(StandIn {
        base,
        answer: AtomicU8::new(answer as u8),
        asked: AtomicUsize::new(0),
    });
    let router = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .with_state(Arc::clone(&stand_in));
    tokio::spawn(async move { axum::serve(listener, router).await });
    stand_in
}

/// Settings for a site whose NGI is `ngi`, with no NGI_ISSUER: the issuer must be discovered.
fn settings_for(ngi: &StandIn, site: &Url) -> Settings {
    Settings::from_args(ServeArgs {
        public_url: Some(site.to_string()),
        ngi_access_url: Some(ngi.base.to_string()),
        ngi_api_url: Some(ngi.base.to_string()),
        ngi_client_id: Some(CLIENT_ID.into()),
        ngi_client_secret: Some(CLIENT_SECRET.into()),
        ngi_timeout_ms: Some("2000".into()),
        ngi_connect_timeout_ms: Some("1000".into()),
        data_dir: Some(crate::helpers::temp_data_dir()),
        ..ServeArgs::default()
    })
    .unwrap()
}

async fn build(ngi: &StandIn) -> Result<(Application, Url), String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    Application::build_with(
        listener,
        settings_for(ngi, &site),
        ngi_consent::web::system_clock(),
    )
    .await
    .map(|app| (app, site))
    .map_err(|e| error_chain(&e))
}

#[tokio::test]
async fn a_host_without_a_discovery_document_stops_start_up_naming_ngi_issuer() {
    let ngi = stand_in(Answer::NotFound).await;

    let error = build(&ngi).await.err().unwrap();

    assert!(error.contains("NGI_ISSUER"), "{error}");
    assert!(error.contains("404"), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
    assert_eq!(ngi.asked(), 1);
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_stops_start_up_naming_ngi_issuer() {
    let ngi = stand_in(Answer::OtherIssuer).await;

    let error = build(&ngi).await.err().unwrap();

    assert!(error.contains("NGI_ISSUER"), "{error}");
    assert!(error.contains("another issuer"), "{error}");
}

#[tokio::test]
async fn a_page_that_is_not_a_discovery_document_stops_start_up_naming_ngi_issuer() {
    let ngi = stand_in(Answer::NotDiscovery).await;

    let error = build(&ngi).await.err().unwrap();

    assert!(error.contains("NGI_ISSUER"), "{error}");
    assert!(error.contains("not a discovery document"), "{error}");
}

#[tokio::test]
async fn a_binary_facing_a_404_discovery_exits_with_one_line_naming_ngi_issuer() {
    let ngi = stand_in(Answer::NotFound).await;
    let out = crate::startup::refused_with(&[
        ("APP_BIND", "127.0.0.1:0"),
        ("PUBLIC_URL", "http://127.0.0.1:3000"),
        ("NGI_ACCESS_URL", ngi.base.as_str()),
        ("NGI_API_URL", ngi.base.as_str()),
        ("NGI_CLIENT_ID", CLIENT_ID),
        ("NGI_CLIENT_SECRET", CLIENT_SECRET),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid setting NGI_ISSUER"), "{stderr}");
}

#[tokio::test]
async fn while_discovery_fails_the_site_is_not_ready_and_callbacks_call_nobody() {
    let ngi = stand_in(Answer::Failing).await;
    // In process: no background retry runs, so every request to NGI here would be a callback's.
    let (app, _) = build(&ngi).await.unwrap();
    let mut server = TestServer::new(app.into_router()).unwrap();
    server.save_cookies();
    assert_eq!(ngi.asked(), 1, "start-up asks once");

    let ready = server.get("/readyz").await;
    assert_eq!(ready.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.text().contains("discovery"), "{}", ready.text());

    // No one is sent to NGI while its callbacks could not be checked.
    let start = server.get("/consent/start").await;
    assert_eq!(start.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(start.maybe_header("location").is_none());
    assert!(
        start.text().contains("Vi får ikke kontakt"),
        "{}",
        start.text()
    );
    for _ in 0..5 {
        let callback = server
            .get("/v1/callback")
            .add_query_params([("code", "a-code"), ("state", "a-state")])
            .await;
        assert_eq!(callback.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(ngi.asked(), 1, "a callback asked NGI's discovery document");
}

#[tokio::test]
async fn the_site_becomes_ready_once_the_discovery_host_answers() {
    let ngi = stand_in(Answer::Failing).await;
    let (app, site) = build(&ngi).await.unwrap();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::new();
    let ready = client
        .get(site.join("/readyz").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);

    ngi.set(Answer::Discovery);

    // The background retry asks again on its own; no request to the site triggers it.
    let mut status = ready.status();
    for _ in 0..300 {
        status = client
            .get(site.join("/readyz").unwrap())
            .send()
            .await
            .unwrap()
            .status();
        if status == reqwest::StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(ngi.asked() >= 2);
}
