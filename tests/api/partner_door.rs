//! The partner API's door over real sockets: mounted only with a token, the token checked,
//! failures limited, every error a problem with the request id, bodies refused by size, type and
//! shape, and the OpenAPI document listing every route.

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use ngi_consent::config::ServeArgs;

/// The token the partner API is started with in these tests.
pub const PARTNER_TOKEN: &str = "partner-token-for-tests-0123456789abcdef";

pub async fn partner_app() -> TestApp {
    spawn_app_with(Options {
        args: ServeArgs {
            partner_token: Some(PARTNER_TOKEN.into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await
}

/// `POST /partner/api/links` with `body` as JSON and `token` as the bearer token.
pub async fn post_link(app: &TestApp, token: Option<&str>, body: &Value) -> Response {
    let mut request = app.client.post(app.url("/partner/api/links")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// A problem answer: its status, content type and request id checked; its body returned.
async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:ngi-consent:problem:")
    );
    assert!(body["title"].is_string(), "{body}");
    assert_eq!(body["request_id"], request_id.as_str(), "{body}");
    body
}

#[tokio::test]
async fn without_a_partner_token_outside_simulator_mode_there_is_no_partner_api() {
    let app = spawn_app().await;
    let response = post_link(&app, Some(PARTNER_TOKEN), &json!({"reference": "APP-1"})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let openapi = app.get("/partner/api/openapi.json").await;
    assert_eq!(openapi.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_api_opens_to_the_right_token_only() {
    let app = partner_app().await;
    let link = json!({"reference": "APP-1"});

    let none = post_link(&app, None, &link).await;
    let challenge = none.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(challenge, "Bearer realm=\"ngi-consent partner API\"");
    problem(none, StatusCode::UNAUTHORIZED).await;

    let same_length = "x".repeat(PARTNER_TOKEN.len());
    let wrong = post_link(&app, Some(&same_length), &link).await;
    let challenge = wrong.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("realm=\"ngi-consent partner API\""));
    assert!(challenge.contains("error=\"invalid_token\""));
    let body = problem(wrong, StatusCode::UNAUTHORIZED).await;
    assert!(!body.to_string().contains(&same_length));

    let basic = app
        .client
        .post(app.url("/partner/api/links"))
        .basic_auth("partner", Some(PARTNER_TOKEN))
        .json(&link)
        .send()
        .await
        .unwrap();
    problem(basic, StatusCode::UNAUTHORIZED).await;

    let right = post_link(&app, Some(PARTNER_TOKEN), &link).await;
    assert_eq!(right.status(), StatusCode::CREATED);
    assert_eq!(right.headers()["cache-control"], "no-store");
    assert_eq!(right.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn repeated_failures_are_refused_for_a_while_but_never_the_right_token() {
    let app = partner_app().await;
    let link = json!({"reference": "APP-1"});
    for _ in 0..10 {
        let response = post_link(&app, Some("wrong-token-wrong-token-wrong-token"), &link).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = post_link(&app, Some("wrong-token-wrong-token-wrong-token"), &link).await;
    let retry_after: u64 = limited.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    problem(limited, StatusCode::TOO_MANY_REQUESTS).await;

    // Anyone sharing the address (a proxy not in TRUSTED_PROXIES) cannot lock the partner out:
    // the right token passes while wrong ones wait.
    let right = post_link(&app, Some(PARTNER_TOKEN), &link).await;
    assert_eq!(right.status(), StatusCode::CREATED);
    let missing = post_link(&app, None, &link).await;
    assert_eq!(missing.status(), StatusCode::TOO_MANY_REQUESTS);

    app.clock.advance(jiff::SignedDuration::from_secs(61));
    let wrong = post_link(&app, Some("wrong-token-wrong-token-wrong-token"), &link).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_link_is_made_for_an_hour_on_the_public_url() {
    let app = partner_app().await;
    let response = post_link(&app, Some(PARTNER_TOKEN), &json!({"reference": "APP-1"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let body: Value = response.json().await.unwrap();
    let url = url::Url::parse(body["url"].as_str().unwrap()).unwrap();
    assert_eq!(url.origin(), app.address.origin());
    assert_eq!(url.path(), "/consent/start");
    let params = query(&url);
    assert_eq!(params["ref"], "APP-1");
    let expected = app.clock.now() + jiff::SignedDuration::from_hours(1);
    assert_eq!(params["exp"], expected.as_second().to_string());
    assert!(!params["sig"].is_empty());
    let expires_at: jiff::Timestamp = body["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_at.as_second(), expected.as_second());
    assert_eq!(
        expires_at.subsec_nanosecond(),
        0,
        "the same instant as `exp`"
    );
}

#[tokio::test]
async fn an_oversized_body_is_a_413_problem() {
    let app = partner_app().await;
    let huge = json!({"reference": "A".repeat(17 * 1024)});
    problem(
        post_link(&app, Some(PARTNER_TOKEN), &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_json_by_its_content_type_is_a_415_problem() {
    let app = partner_app().await;
    let response = app
        .client
        .post(app.url("/partner/api/links"))
        .bearer_auth(PARTNER_TOKEN)
        .header(CONTENT_TYPE, "text/plain")
        .body(r#"{"reference": "APP-1"}"#)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = partner_app().await;
    let response = app
        .client
        .post(app.url("/partner/api/links"))
        .bearer_auth(PARTNER_TOKEN)
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"reference": "APP-1""#)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_missing_or_bad_reference_is_a_422_problem_naming_it() {
    let app = partner_app().await;
    for body in [
        json!({}),
        json!({"reference": ""}),
        json!({"reference": "A".repeat(65)}),
        json!({"reference": "APP 1"}),
        json!({"reference": 42}),
    ] {
        let response = post_link(&app, Some(PARTNER_TOKEN), &body).await;
        let answer = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(answer["field"], "reference", "{body}: {answer}");
        assert!(
            answer["detail"].as_str().unwrap().contains("reference"),
            "{answer}"
        );
    }
    let unknown = post_link(
        &app,
        Some(PARTNER_TOKEN),
        &json!({"reference": "APP-1", "nin": "x"}),
    )
    .await;
    let answer = problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(answer["field"], "nin");
}

#[tokio::test]
async fn unknown_paths_and_methods_under_the_api_are_problems() {
    let app = partner_app().await;
    for path in [
        "/partner/api/nothing",
        "/partner/api/",
        "/partner/api/links/x",
    ] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(PARTNER_TOKEN)
            .send()
            .await
            .unwrap();
        problem(response, StatusCode::NOT_FOUND).await;
    }
    let wrong_method = app
        .client
        .get(app.url("/partner/api/links"))
        .bearer_auth(PARTNER_TOKEN)
        .send()
        .await
        .unwrap();
    problem(wrong_method, StatusCode::METHOD_NOT_ALLOWED).await;
    // Without the token nothing about the API shows, not even which paths exist.
    let unknown = app.get("/partner/api/nothing").await;
    problem(unknown, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_it_serves() {
    let app = partner_app().await;
    let response = app
        .client
        .get(app.url("/partner/api/openapi.json"))
        .bearer_auth(PARTNER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(document["components"]["schemas"]["Problem"].is_object());

    let paths = document["paths"].as_object().unwrap();
    assert!(paths.contains_key("/partner/api/links"), "{paths:?}");
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app
                .client
                .request(method.clone(), app.url(path))
                .bearer_auth(PARTNER_TOKEN)
                .header(CONTENT_TYPE, "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert!(
                !matches!(
                    response.status(),
                    StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                ),
                "{method} {path} is documented but not served"
            );
        }
    }
}

#[tokio::test]
async fn simulator_mode_without_a_token_makes_one_prints_it_once_and_opens_with_it() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
        .env_clear()
        .env("APP_BIND", "127.0.0.1:0")
        .env("SIMULATOR_BIND", "127.0.0.1:0")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = vec![];
    let (mut site, mut token) = (None, None);
    while site.is_none() || token.is_none() {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap_or_else(|| panic!("the site ended; it printed {printed:?}"));
        if let Some(rest) = line.strip_prefix("ngi-consent is running: open ") {
            site = Some(url::Url::parse(rest.split_whitespace().next().unwrap()).unwrap());
        }
        if let Some((_, value)) = line.split_once("export PARTNER_TOKEN=") {
            token = Some(value.trim().to_owned());
        }
        printed.push(line);
    }
    let (site, token) = (site.unwrap(), token.unwrap());
    assert_eq!(token.len(), 43, "32 random bytes in base64url");

    let client = browser();
    let made = client
        .post(site.join("/partner/api/links").unwrap())
        .bearer_auth(&token)
        .json(&json!({"reference": "APP-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let refused = client
        .post(site.join("/partner/api/links").unwrap())
        .json(&json!({"reference": "APP-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    child.start_kill().unwrap();
    let rest = child.wait_with_output().await.unwrap();
    let mut stdout = printed.join("\n");
    while let Ok(Some(line)) = lines.next_line().await {
        stdout.push_str(&line);
    }
    assert_eq!(
        stdout.matches(&token).count(),
        1,
        "the token is printed once: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&rest.stderr);
    assert!(!stderr.contains(&token), "{stderr}");
}
