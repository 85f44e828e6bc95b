//! Every way a callback can go wrong gets its own page, and none of them reaches the token
//! endpoint unless the state was this session's.

use reqwest::StatusCode;

use crate::helpers::*;

/// Starts a flow and returns its state, as NGI would mirror it back.
async fn pending_state(app: &TestApp) -> String {
    query(&app.start().await)["state"].clone()
}

async fn refused(app: &TestApp, url: url::Url, status: StatusCode, title: &str) -> String {
    let page = app.get_url(url).await;
    assert_eq!(page.status(), status);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = body(page).await;
    assert!(html.contains(title), "expected «{title}» in {html}");
    assert!(html.contains("Referanse"), "no reference on the error page");
    html
}

/// The same callback URL without one of its parameters.
fn without(url: &url::Url, name: &str) -> url::Url {
    let kept: Vec<(String, String)> = query(url).into_iter().filter(|(k, _)| k != name).collect();
    let mut stripped = url.clone();
    stripped.set_query(None);
    stripped.query_pairs_mut().extend_pairs(kept);
    stripped
}

/// The "we could not find your request" page: a callback this session cannot vouch for.
async fn unknown_flow(app: &TestApp, url: url::Url) -> String {
    refused(
        app,
        url,
        StatusCode::BAD_REQUEST,
        "Vi fant ikke forespørselen din",
    )
    .await
}

#[tokio::test]
async fn declining_at_ngi_shows_that_nothing_was_shared() {
    let app = spawn_app().await;
    let tx = app.log_in_at_ngi(app.start().await, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "decline").await;
    assert_eq!(query(&callback)["error"], "consent_denied");

    let html = refused(&app, callback, StatusCode::FORBIDDEN, "Du takket nei").await;
    assert!(html.contains("Ingen opplysninger er delt"));
    assert_eq!(app.sim.token_requests(), 0);
}

#[tokio::test]
async fn cancelling_at_ngi_shows_the_login_was_cancelled() {
    let app = spawn_app().await;
    let tx = app.log_in_at_ngi(app.start().await, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "cancel").await;
    assert_eq!(query(&callback)["error"], "login_cancelled");

    refused(
        &app,
        callback,
        StatusCode::FORBIDDEN,
        "Innloggingen ble avbrutt",
    )
    .await;
    assert_eq!(app.sim.token_requests(), 0);
}

/// NGI's error codes arrive through the browser, and anyone can send them with a state of their
/// own: each gets its page with a 4xx, never a 5xx that would count against this instance.
#[tokio::test]
async fn each_ngi_error_code_has_its_own_page() {
    let cases = [
        (
            "server_error",
            StatusCode::BAD_REQUEST,
            "har en feil akkurat nå",
        ),
        ("invalid_scopes", StatusCode::BAD_REQUEST, "Det er vår feil"),
        (
            "access_denied",
            StatusCode::BAD_REQUEST,
            "Samtykket ble ikke fullført",
        ),
        ("consent_denied", StatusCode::FORBIDDEN, "Du takket nei"),
        (
            "login_cancelled",
            StatusCode::FORBIDDEN,
            "Innloggingen ble avbrutt",
        ),
    ];
    for (code, status, title) in cases {
        let app = spawn_app().await;
        let state = pending_state(&app).await;
        let url = callback_with(&app, &[("error", code), ("state", &state)]);
        refused(&app, url, status, title).await;
        assert_eq!(app.sim.token_requests(), 0, "{code} led to a token request");
    }
}

#[tokio::test]
async fn error_description_is_never_shown() {
    let app = spawn_app().await;
    let state = pending_state(&app).await;
    let url = callback_with(
        &app,
        &[
            ("error", "consent_denied"),
            (
                "error_description",
                "<script>alert('x')</script> Ring 999 99 999",
            ),
            ("state", &state),
        ],
    );
    let html = refused(&app, url, StatusCode::FORBIDDEN, "Du takket nei").await;
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("Ring 999"));
}

#[tokio::test]
async fn a_callback_without_state_is_refused_without_a_token_request() {
    let app = spawn_app().await;
    let _ = pending_state(&app).await;
    let url = callback_with(&app, &[("code", "c0de")]);
    unknown_flow(&app, url).await;
    assert_eq!(app.sim.token_requests(), 0);
}

#[tokio::test]
async fn a_callback_with_an_unknown_state_is_refused_without_a_token_request() {
    let app = spawn_app().await;
    let _ = pending_state(&app).await;
    let url = callback_with(&app, &[("code", "c0de"), ("state", "forged-state")]);
    unknown_flow(&app, url).await;
    assert_eq!(app.sim.token_requests(), 0);
}

#[tokio::test]
async fn an_error_callback_with_an_unknown_state_is_not_trusted() {
    let app = spawn_app().await;
    let url = callback_with(&app, &[("error", "consent_denied"), ("state", "forged")]);
    let html = unknown_flow(&app, url).await;
    assert!(!html.contains("Du takket nei"));
}

#[tokio::test]
async fn a_callback_in_another_browser_is_refused_without_a_token_request() {
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;

    let other_browser = browser();
    let page = other_browser.get(callback).send().await.unwrap();

    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.sim.token_requests(), 0);
}

#[tokio::test]
async fn a_reused_state_is_refused_even_when_the_first_exchange_failed() {
    let app = spawn_app().await;
    app.sim.set_fault(
        ngi_consent::simulator::Endpoint::Token,
        Some(ngi_consent::simulator::Fault::status(500)),
    );
    let callback = app.consent_as(PERSON_1).await;
    assert_eq!(
        app.get_url(callback.clone()).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    app.sim
        .set_fault(ngi_consent::simulator::Endpoint::Token, None);

    let again = app.get_url(callback).await;

    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.sim.token_requests(), 1, "the state was used twice");
}

#[tokio::test]
async fn a_state_older_than_ten_minutes_is_refused_as_expired() {
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    app.clock.advance(jiff::SignedDuration::from_mins(10));

    refused(
        &app,
        callback.clone(),
        StatusCode::BAD_REQUEST,
        "Tiden gikk ut",
    )
    .await;
    assert_eq!(app.sim.token_requests(), 0);
    // Expired is consumed too: a second try is simply unknown.
    unknown_flow(&app, callback).await;
}

#[tokio::test]
async fn a_mismatched_iss_is_refused_before_the_state_is_used() {
    let app = spawn_app().await;
    let mut callback = app.consent_as(PERSON_1).await;
    callback
        .query_pairs_mut()
        .append_pair("iss", "https://evil.example/");

    unknown_flow(&app, callback.clone()).await;
    assert_eq!(app.sim.token_requests(), 0);

    // The real callback, without the forged iss, still completes: the state was not consumed.
    let clean = without(&callback, "iss");
    assert_eq!(location(&app.get_url(clean).await).path(), "/debt");
}

#[tokio::test]
async fn a_configured_issuer_is_used_instead_of_discovery() {
    let app = spawn_app_with(Options {
        send_iss: true,
        args: ngi_consent::config::ServeArgs {
            ngi_issuer: Some("https://access.example/".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let callback = app.consent_as(PERSON_1).await;
    unknown_flow(&app, callback).await;
    assert_eq!(app.sim.token_requests(), 0);
}

#[tokio::test]
async fn a_malformed_callback_query_gets_a_page() {
    let app = spawn_app().await;
    let mut url = app.url("/v1/callback");
    url.set_query(Some("state=a&state=b&code=c"));
    refused(
        &app,
        url,
        StatusCode::BAD_REQUEST,
        "Forespørselen var ugyldig",
    )
    .await;
}

#[tokio::test]
async fn a_callback_with_only_a_state_says_the_request_was_not_found() {
    let app = spawn_app().await;
    let state = pending_state(&app).await;
    let url = callback_with(&app, &[("state", &state)]);
    unknown_flow(&app, url).await;
}

#[tokio::test]
async fn a_callback_without_iss_is_refused_when_ngi_promised_to_send_it() {
    let app = spawn_app_with(Options {
        send_iss: true,
        ..Default::default()
    })
    .await;
    let callback = app.consent_as(PERSON_1).await;
    let stripped = without(&callback, "iss");

    unknown_flow(&app, stripped).await;
    assert_eq!(app.sim.token_requests(), 0);
}

#[tokio::test]
async fn a_promised_iss_is_still_required_after_discovery_was_cached() {
    let app = spawn_app_with(Options {
        send_iss: true,
        ..Default::default()
    })
    .await;
    // The first flow, with iss, completes and leaves NGI's discovery document cached.
    let first = app.consent_as(PERSON_1).await;
    assert_eq!(location(&app.get_url(first).await).path(), "/debt");

    let second = app.consent_as(PERSON_2).await;
    let stripped = without(&second, "iss");

    unknown_flow(&app, stripped).await;
    assert_eq!(app.sim.token_requests(), 1);
}

/// A made-up code with a real state of the person's own: NGI refuses the exchange, and the page
/// is a 4xx, since a browser alone can send it; the state is spent all the same.
#[tokio::test]
async fn a_made_up_code_with_a_real_state_is_a_4xx_not_our_failure() {
    let app = spawn_app().await;
    let state = pending_state(&app).await;
    let url = callback_with(&app, &[("code", "made-up"), ("state", &state)]);
    let html = refused(
        &app,
        url.clone(),
        StatusCode::BAD_REQUEST,
        "godtok ikke forespørselen",
    )
    .await;
    assert!(html.contains("Start på nytt"));
    assert_eq!(app.sim.token_requests(), 1);
    unknown_flow(&app, url).await;
    assert_eq!(app.sim.token_requests(), 1);
}
