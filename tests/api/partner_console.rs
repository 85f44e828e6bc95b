//! The partner console's door over real sockets against the simulator: the login refused and
//! accepted (its cookie's attributes, the id cycled, the door's failure count shared with the
//! API), a 303 to the login form and no data without a session, forms from other sites refused,
//! logging out, https, and a session past its longest age. What is behind the door is in
//! `partner_console_actions`.

use reqwest::header::{ORIGIN, RETRY_AFTER, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use crate::partner_door::PARTNER_TOKEN;
use ngi_consent::config::ServeArgs;
use ngi_consent::web::partner::auth::MAX_FAILURES;

const WITH_DAYS: &str = "debt.unsecured.presentation.30";

/// A site with the partner API and console and consents that last; its feed runner is off.
pub async fn console_app() -> TestApp {
    spawn_app_with(Options {
        args: ServeArgs {
            partner_token: Some(PARTNER_TOKEN.into()),
            ngi_scope: Some(WITH_DAYS.into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await
}

/// The console's `Set-Cookie`, if the response sets it.
fn console_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ngi_console="))
        .map(str::to_owned)
}

async fn log_in_with(app: &TestApp, client: &reqwest::Client, token: &str) -> Response {
    client
        .post(app.url("/partner/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

/// Logs the test's client in: the console's cookie, set by the 303 to the ledger.
pub async fn log_in(app: &TestApp) -> String {
    let response = log_in_with(app, &app.client, PARTNER_TOKEN).await;
    assert_eq!(assert_redirect(&response).path(), "/partner/consents");
    console_cookie(&response).expect("a console cookie at login")
}

pub async fn page(app: &TestApp, path: &str, status: StatusCode) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), status, "GET {path}");
    body(response).await
}

pub async fn post(app: &TestApp, path: &str, form: &[(&str, &str)], status: StatusCode) -> String {
    let response = app
        .client
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), status, "POST {path}");
    body(response).await
}
/// The consents the partner API lists, newest first.
pub async fn listed(app: &TestApp) -> Vec<Value> {
    let list: Value = app
        .client
        .get(app.url("/partner/api/consents"))
        .bearer_auth(PARTNER_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["consents"].as_array().unwrap().clone()
}

#[tokio::test]
async fn without_a_session_every_console_page_is_a_303_to_the_login_form_with_no_data() {
    let app = console_app().await;
    log_in(&app).await;
    // A consent in the ledger, so there would be something to show.
    let registered = post(
        &app,
        "/partner/register",
        &[
            ("nin", PERSON_1),
            ("purpose", "presentation"),
            ("duration_days", "30"),
            ("reference", "SECRET-REF-1"),
        ],
        StatusCode::OK,
    )
    .await;
    assert!(registered.contains("SECRET-REF-1"));
    let id = listed(&app).await[0]["id"].as_str().unwrap().to_owned();

    let stranger = browser();
    let consent = format!("/partner/consents/{id}");
    for path in [
        "/partner",
        "/partner/consents",
        "/partner/consents?status=active",
        consent.as_str(),
        "/partner/register",
        "/partner/links",
        "/partner/feed",
    ] {
        let response = stranger.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            assert_redirect(&response).path(),
            "/partner/login",
            "{path}"
        );
        let shown = body(response).await;
        assert!(
            !shown.contains("SECRET-REF-1") && !shown.contains(&id),
            "{path}: {shown}"
        );
    }
    for path in ["debt", "status", "revoke"] {
        let response = stranger
            .post(app.url(&format!("{consent}/{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_redirect(&response).path(),
            "/partner/login",
            "{path}"
        );
    }
    for (path, form) in [
        (
            "/partner/register",
            vec![
                ("nin", PERSON_2),
                ("purpose", "presentation"),
                ("duration_days", "30"),
            ],
        ),
        ("/partner/links", vec![("reference", "APP-9")]),
    ] {
        let response = stranger
            .post(app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_redirect(&response).path(),
            "/partner/login",
            "{path}"
        );
    }
    assert_eq!(listed(&app).await.len(), 1, "nothing was registered");
    assert_eq!(
        listed(&app).await[0]["status"],
        "active",
        "nothing was revoked"
    );
    // The login form itself is open.
    let form = stranger
        .get(app.url("/partner/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert!(body(form).await.contains("name=\"token\""));
}

#[tokio::test]
async fn logging_in_sets_a_strict_http_only_cookie_and_a_new_id_each_time() {
    let app = console_app().await;
    let first = log_in(&app).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(first.contains(attribute), "{attribute} missing: {first}");
    }
    assert!(!first.contains("Secure"), "http: no Secure: {first}");
    assert!(
        page(&app, "/partner/consents", StatusCode::OK)
            .await
            .contains("<h1>")
    );

    let second = log_in(&app).await;
    assert_ne!(
        cookie_value(&first),
        cookie_value(&second),
        "the id is cycled at login"
    );
    // The id before the login opens nothing any more.
    let old = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = old
        .get(app.url("/partner/consents"))
        .header("cookie", format!("ngi_console={}", cookie_value(&first)))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_redirect(&response).path(), "/partner/login");
    // The person's session cookie is another one: it never opens the console.
    let response = old
        .get(app.url("/partner/consents"))
        .header("cookie", format!("ngi_session={}", cookie_value(&second)))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_redirect(&response).path(), "/partner/login");
}

#[tokio::test]
async fn logging_out_ends_the_console_session() {
    let app = console_app().await;
    log_in(&app).await;
    page(&app, "/partner/feed", StatusCode::OK).await;
    let response = app
        .client
        .post(app.url("/partner/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_redirect(&response).path(), "/partner/login");
    let response = app.get("/partner/feed").await;
    assert_eq!(assert_redirect(&response).path(), "/partner/login");
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_counted_with_the_apis_failures() {
    let app = console_app().await;
    let refused = log_in_with(&app, &app.client, "not-the-token").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        console_cookie(&refused).is_none(),
        "no session for a refusal"
    );
    let shown = body(refused).await;
    assert!(shown.contains("aria-invalid=\"true\"") && shown.contains("id=\"token-error\""));
    assert!(!shown.contains("not-the-token"), "the token is not echoed");
    assert_eq!(
        assert_redirect(&app.get("/partner/consents").await).path(),
        "/partner/login"
    );
    // The API's failures count against the same client.
    for _ in 1..MAX_FAILURES {
        let api = app
            .client
            .get(app.url("/partner/api/consents"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = log_in_with(&app, &app.client, "another-guess").await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().get(RETRY_AFTER).is_some());
    // The right token always passes, as at the API's door.
    log_in(&app).await;
    page(&app, "/partner/consents", StatusCode::OK).await;
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused() {
    let app = console_app().await;
    let response = app
        .client
        .post(app.url("/partner/login"))
        .header(ORIGIN, "https://attacker.example")
        .form(&[("token", PARTNER_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(console_cookie(&response).is_none());
    assert_eq!(
        assert_redirect(&app.get("/partner/consents").await).path(),
        "/partner/login",
        "not logged in"
    );

    log_in(&app).await;
    post(
        &app,
        "/partner/register",
        &[
            ("nin", PERSON_1),
            ("purpose", "presentation"),
            ("duration_days", "30"),
        ],
        StatusCode::OK,
    )
    .await;
    let id = listed(&app).await[0]["id"].as_str().unwrap().to_owned();
    let response = app
        .client
        .post(app.url(&format!("/partner/consents/{id}/revoke")))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(listed(&app).await[0]["status"], "active", "not revoked");
}

#[tokio::test]
async fn on_https_the_console_cookie_is_host_only_and_secure() {
    let app = spawn_app_with(Options {
        args: ServeArgs {
            partner_token: Some(PARTNER_TOKEN.into()),
            public_url: Some("https://console.example.no".into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    let response = log_in_with(&app, &app.client, PARTNER_TOKEN).await;
    assert_eq!(assert_redirect(&response).path(), "/partner/consents");
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-ngi_console="))
        .expect("the console cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain"));
}

#[tokio::test]
async fn without_a_partner_token_there_is_no_console() {
    let app = spawn_app().await;
    for path in ["/partner", "/partner/login", "/partner/consents"] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let response = log_in_with(&app, &app.client, PARTNER_TOKEN).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_console_session_past_the_longest_session_age_must_log_in_again() {
    let app = console_app().await;
    log_in(&app).await;
    page(&app, "/partner/consents", StatusCode::OK).await;
    app.clock.advance(
        ngi_consent::session::data::DEFAULT_SESSION_MAX_AGE + jiff::SignedDuration::from_secs(1),
    );
    let response = app.get("/partner/consents").await;
    assert_eq!(assert_redirect(&response).path(), "/partner/login");
}
