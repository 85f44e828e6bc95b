//! Hostile input at the edge: every `Location` the site sends is one of its own paths or NGI's
//! authorization endpoint, whatever the path, query, form or method. Requests go out over a raw
//! socket so that paths reach the site exactly as written (a URL parser would fold `%2e%2e`,
//! `\` and `//`).

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use crate::helpers::*;

/// The status and `Location` of one HTTP/1.1 request sent byte for byte as given.
async fn raw(app: &TestApp, method: &str, target: &str, headers: &str, body: &str) -> Answer {
    let host = app.address.host_str().unwrap();
    let port = app.address.port().unwrap();
    let mut stream = TcpStream::connect((host, port)).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n{headers}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let locations = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("location"))
        .map(|(_, value)| value.trim().to_owned())
        .collect();
    Answer {
        request: format!("{method} {target}"),
        status,
        locations,
    }
}

struct Answer {
    request: String,
    status: u16,
    locations: Vec<String>,
}

/// `/…` but not `//…` or `/\…` (both of which a browser reads as another host).
fn is_own_path(location: &str) -> bool {
    location.starts_with('/') && !location.starts_with("//") && !location.starts_with("/\\")
}

/// NGI's (here the simulator's) authorization endpoint, on its own origin.
fn is_ngi_authorize(app: &TestApp, location: &str) -> bool {
    Url::parse(location).is_ok_and(|url| {
        url.origin() == app.sim.base_url().origin()
            && url.path() == "/oauth2/auth"
            && location.starts_with(app.sim.base_url().as_str())
    })
}

fn assert_locations_are_ours(app: &TestApp, answers: &[Answer]) {
    let mut redirects = 0;
    for answer in answers {
        assert!(
            answer.status != 0 && answer.status < 500,
            "{}: answered {}",
            answer.request,
            answer.status
        );
        assert!(answer.locations.len() <= 1, "{}", answer.request);
        for location in &answer.locations {
            redirects += 1;
            assert!(
                !location.contains(['\r', '\n']),
                "{}: {location:?}",
                answer.request
            );
            assert!(
                is_own_path(location) || is_ngi_authorize(app, location),
                "{} redirects to {location:?}, which is neither our own path nor NGI's \
                 authorization endpoint",
                answer.request
            );
        }
    }
    assert!(
        redirects > 0,
        "no request was redirected: the test proves nothing"
    );
}

const EVIL: [&str; 6] = [
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "%2f%2fevil.example",
    "%5c%5cevil.example",
    "%0d%0aLocation:%20https://evil.example",
];

#[test]
fn only_a_single_leading_slash_counts_as_our_own_path() {
    assert!(is_own_path("/debt"));
    assert!(is_own_path("/"));
    assert!(!is_own_path("//evil.example/"));
    assert!(!is_own_path("/\\evil.example"));
    assert!(!is_own_path("https://evil.example/"));
}

#[tokio::test]
async fn odd_paths_never_redirect_off_the_site() {
    let app = spawn_app().await;
    let mut answers = vec![];
    for path in [
        "//evil.example/%2e%2e",
        "//evil.example",
        "///evil.example/",
        "/\\evil.example",
        "/%2f%2fevil.example",
        "/%5cevil.example",
        "/static//evil.example",
        "/static/readme",
        "/static//readme",
        "/static///readme",
        "/static////readme?next=//evil.example",
        "/static/./readme",
        "/static/readme/%2e",
        "/static/%2e%2e/Cargo.toml",
        "/consent/start/",
        "/debt/",
        "/v1/callback/",
        "/.//evil.example",
    ] {
        answers.push(raw(&app, "GET", path, "", "").await);
    }
    // The start, so that at least one redirect is checked alongside.
    answers.push(raw(&app, "GET", "/consent/start", "", "").await);
    assert_locations_are_ours(&app, &answers);
}

#[tokio::test]
async fn hostile_queries_never_redirect_off_the_site() {
    let app = spawn_app().await;
    let mut answers = vec![];
    for evil in EVIL {
        for target in [
            format!("/?lang={evil}"),
            format!("/?lang=en&next={evil}"),
            format!("/debt?lang={evil}&return_to={evil}"),
            format!("/consent/start?next={evil}&redirect_uri={evil}&lang={evil}"),
            format!("/consent/start?lang=en&redirect={evil}&state={evil}"),
            format!("/v1/callback?code=c&state=s&next={evil}"),
            format!("/v1/callback?error=access_denied&state=s&error_uri={evil}"),
            format!("/v1/callback?state={evil}&code={evil}&iss={evil}"),
            format!("/v1/callback?redirect_uri={evil}"),
            format!("/session/end?next={evil}"),
        ] {
            answers.push(raw(&app, "GET", &target, "", "").await);
        }
    }
    assert_locations_are_ours(&app, &answers);
}

#[tokio::test]
async fn the_start_endpoints_with_odd_forms_never_redirect_off_the_site() {
    let app = spawn_app().await;
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let mut answers = vec![];
    for evil in EVIL {
        for body in [
            format!("nin={PERSON_1}&next={evil}"),
            format!("nin=&redirect_uri={evil}&next={evil}"),
            format!("next={evil}"),
            format!("nin={PERSON_1}&nin={evil}"),
            format!("nin={evil}"),
            "nin=%ZZ&&==&".to_owned(),
        ] {
            answers.push(raw(&app, "POST", "/consent/start", form, &body).await);
            answers.push(raw(&app, "POST", "/session/end", form, &body).await);
        }
        let query = format!("/consent/start?next={evil}");
        answers.push(raw(&app, "POST", &query, form, &format!("nin={PERSON_1}")).await);
    }
    for (headers, body) in [
        ("Content-Type: text/plain\r\n", "nin=//evil.example"),
        (
            "Content-Type: application/json\r\n",
            r#"{"next":"//evil.example"}"#,
        ),
        ("Content-Type: multipart/form-data; boundary=x\r\n", "--x--"),
        ("", ""),
        (form, ""),
        (
            "Origin: null\r\nContent-Type: application/x-www-form-urlencoded\r\n",
            "nin=",
        ),
        ("Sec-Fetch-Site: cross-site\r\n", "next=//evil.example"),
    ] {
        answers.push(raw(&app, "POST", "/consent/start", headers, body).await);
    }
    for method in ["HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        answers.push(raw(&app, method, "/consent/start?next=//evil.example", "", "").await);
    }
    assert_locations_are_ours(&app, &answers);
}

#[tokio::test]
async fn a_real_callback_with_extra_parameters_still_leads_to_the_debt_page() {
    let app = spawn_app().await;
    let mut callback = app.consent_as(PERSON_1).await;
    callback
        .query_pairs_mut()
        .append_pair("next", "//evil.example")
        .append_pair("redirect_uri", "https://evil.example/")
        .append_pair("lang", "//evil.example");

    let response = app.get_url(callback).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/debt");
}
