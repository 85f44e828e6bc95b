//! Pages, languages, cookies and headers, in process through axum-test where no socket is needed.

use axum_test::TestServer;
use ngi_consent::config::{ServeArgs, Settings};
use ngi_consent::startup::Application;
use reqwest::StatusCode;

use crate::helpers::*;

/// The site in process, pointed at a (never called) NGI, with the given public URL.
async fn in_process(public_url: &str) -> TestServer {
    let settings = Settings::from_args(ServeArgs {
        public_url: Some(public_url.into()),
        ngi_env: Some("preprod".into()),
        ngi_client_id: Some("client".into()),
        ngi_client_secret: Some("secret".into()),
        data_dir: Some(crate::helpers::temp_data_dir()),
        ..ServeArgs::default()
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = Application::build_with(listener, settings, ngi_consent::web::system_clock())
        .await
        .unwrap();
    let mut server = TestServer::new(app.into_router()).unwrap();
    server.save_cookies();
    server
}

const PAGE_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// The headers every response carries; `no-store` included, as none of these is a static file.
fn assert_security_headers(response: &axum_test::TestResponse) {
    for (name, value) in PAGE_HEADERS {
        assert_eq!(response.header(name), value, "{name}");
    }
    let csp = response.header("content-security-policy");
    let csp = csp.to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self' https://access-preprod.norskgjeld.no",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert!(response.maybe_header("x-request-id").is_some());
}

#[tokio::test]
async fn the_landing_page_explains_what_from_whom_why_and_how_long() {
    let server = in_process("https://lan.example.no").await;
    let page = server.get("/").await;
    page.assert_status_ok();
    let html = page.text();
    assert!(html.contains("<html lang=\"nb\">"));
    for text in [
        "Hva vi henter",
        "Norsk Gjeldsinformasjon AS",
        "Opplysningene vises for deg",
        "Samtykket gjelder én gang",
        "Gå videre til Norsk Gjeldsinformasjon",
        "action=\"/consent/start\"",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
    assert!(
        !html.contains("simulator"),
        "no demo banner outside simulator mode"
    );
}

#[tokio::test]
async fn every_page_and_error_carries_the_security_headers() {
    let server = in_process("https://lan.example.no").await;
    for path in [
        "/",
        "/?lang=en",
        "/consent/start",
        "/debt",
        "/v1/callback?state=x&code=y",
        "/v1/callback?error=consent_denied",
        "/no/such/page",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        let response = server.get(path).await;
        assert_security_headers(&response);
    }
    let form = server.post("/consent/start").form(&[("nin", "123")]).await;
    assert_security_headers(&form);
    let css = server.get("/static/app.css").await;
    assert!(
        css.header("content-security-policy")
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(css.header("x-content-type-options"), "nosniff");
    let hsts = server.get("/").await.header("strict-transport-security");
    assert_eq!(hsts, "max-age=31536000; includeSubDomains");
}

#[tokio::test]
async fn no_hsts_on_a_plain_http_local_run() {
    let server = in_process("http://127.0.0.1:3000").await;
    assert!(
        server
            .get("/")
            .await
            .maybe_header("strict-transport-security")
            .is_none()
    );
}

#[tokio::test]
async fn the_session_cookie_is_host_only_secure_httponly_and_lax_on_https() {
    let server = in_process("https://lan.example.no").await;
    let response = server.get("/consent/start").await;
    response.assert_status(StatusCode::SEE_OTHER);
    let cookie = response.header("set-cookie");
    let cookie = cookie.to_str().unwrap();
    assert!(cookie.starts_with("__Host-ngi_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing from {cookie}"
        );
    }
    assert!(!cookie.contains("Domain"));
    assert!(
        response
            .header("location")
            .to_str()
            .unwrap()
            .starts_with("https://access-preprod.norskgjeld.no/oauth2/auth?")
    );
}

#[tokio::test]
async fn the_session_cookie_on_local_http_is_lax_and_httponly_without_secure() {
    let server = in_process("http://127.0.0.1:3000").await;
    let cookie = server.get("/consent/start").await.header("set-cookie");
    let cookie = cookie.to_str().unwrap();
    assert!(cookie.starts_with("ngi_session="));
    assert!(cookie.contains("SameSite=Lax") && cookie.contains("HttpOnly"));
    assert!(!cookie.contains("Secure"));
}

#[tokio::test]
async fn english_is_chosen_from_accept_language() {
    let server = in_process("https://lan.example.no").await;
    let page = server
        .get("/")
        .add_header("accept-language", "en-GB,en;q=0.9")
        .await;
    let html = page.text();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("Fetch your debt information"));
    assert!(html.contains("href=\"/?lang=nb\""));
}

#[tokio::test]
async fn the_language_switch_is_remembered_for_the_session() {
    let server = in_process("https://lan.example.no").await;
    assert!(
        server
            .get("/?lang=en")
            .await
            .text()
            .contains("Fetch your debt information")
    );
    let later = server.get("/debt").await;
    later.assert_status(StatusCode::NOT_FOUND);
    assert!(later.text().contains("No debt information to show"));
    assert!(
        server
            .get("/?lang=nb")
            .await
            .text()
            .contains("Hent gjeldsopplysningene dine")
    );
}

#[tokio::test]
async fn an_unknown_page_gets_a_404_page() {
    let server = in_process("https://lan.example.no").await;
    let page = server.get("/admin").await;
    page.assert_status(StatusCode::NOT_FOUND);
    assert!(page.text().contains("Siden finnes ikke"));
}

#[tokio::test]
async fn a_malformed_landing_form_gets_a_page() {
    let server = in_process("https://lan.example.no").await;
    let page = server
        .post("/consent/start")
        .content_type("application/json")
        .bytes("{}".into())
        .await;
    page.assert_status(StatusCode::BAD_REQUEST);
    assert!(page.text().contains("Forespørselen var ugyldig"));
}

#[tokio::test]
async fn health_answers_without_a_session() {
    let server = in_process("https://lan.example.no").await;
    let health = server.get("/healthz").await;
    health.assert_status_ok();
    assert!(health.maybe_header("set-cookie").is_none());
    server.get("/readyz").await.assert_status_ok();
}

#[tokio::test]
async fn static_files_are_served_and_may_be_cached() {
    let server = in_process("https://lan.example.no").await;
    let css = server.get("/static/app.css").await;
    css.assert_status_ok();
    assert_eq!(css.header("cache-control"), "public, max-age=3600");
    assert_eq!(css.header("x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn the_simulator_demo_shows_its_banner() {
    let app = spawn_app().await;
    // Tests run against a remote-configured simulator; the banner belongs to simulator mode only.
    assert!(
        !body(app.get("/").await)
            .await
            .contains("Ingen ekte opplysninger")
    );
}

#[tokio::test]
async fn the_request_id_is_always_ours_not_the_clients() {
    let server = in_process("https://lan.example.no").await;
    let response = server
        .get("/no/such/page")
        .add_header("x-request-id", "ATTACKER-CHOSEN-ID flow.outcome=success")
        .await;
    let id = response.header("x-request-id");
    let id = id.to_str().unwrap();
    assert_ne!(id, "ATTACKER-CHOSEN-ID flow.outcome=success");
    assert_eq!(id.len(), 36, "not a UUID: {id}");
    assert!(!response.text().contains("ATTACKER"));
    assert!(
        response.text().contains(id),
        "the error page shows another reference"
    );
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused_before_it_touches_the_session() {
    let server = in_process("https://lan.example.no").await;
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example"),
    ] {
        let response = server
            .post("/consent/start")
            .add_header(header, value)
            .form(&[("nin", "")])
            .await;
        response.assert_status(StatusCode::FORBIDDEN);
        assert!(
            response
                .text()
                .contains("Skjemaet kom fra et annet nettsted")
        );
        assert!(
            response.maybe_header("set-cookie").is_none(),
            "{header}: {value}"
        );
        let end = server.post("/session/end").add_header(header, value).await;
        end.assert_status(StatusCode::FORBIDDEN);
    }
    let ours = server
        .post("/consent/start")
        .add_header("origin", "https://lan.example.no")
        .add_header("sec-fetch-site", "same-origin")
        .form(&[("nin", "")])
        .await;
    ours.assert_status(StatusCode::SEE_OTHER);
}
