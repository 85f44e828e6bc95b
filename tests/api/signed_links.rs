//! Signed start links over real sockets: a link from the partner API starts a flow that carries
//! the application reference; a link that is bare, altered, expired or malformed gets the
//! "link cannot be used" page and starts nothing.

use std::str::FromStr;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tower_sessions::SessionStore;
use tower_sessions::session::Id;
use url::Url;

use crate::helpers::*;
use crate::partner_door::{PARTNER_TOKEN, partner_app, post_link};

const BAD_LINK_NB: &str = "Lenken kan ikke brukes";

/// A start link from the partner API for `reference`.
async fn link_for(app: &TestApp, reference: &str) -> Url {
    let response = post_link(app, Some(PARTNER_TOKEN), &json!({"reference": reference})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    Url::parse(body["url"].as_str().unwrap()).unwrap()
}

/// The same link with one parameter replaced (or removed, with `None`).
fn with_param(link: &Url, name: &str, value: Option<&str>) -> Url {
    let mut changed = link.clone();
    let kept: Vec<(String, String)> = link
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    {
        let mut pairs = changed.query_pairs_mut();
        pairs.clear().extend_pairs(&kept);
        if let Some(value) = value {
            pairs.append_pair(name, value);
        }
    }
    changed
}

/// The pending flows the session behind `set_cookie` holds, as stored.
async fn pending_flows(app: &TestApp, set_cookie: &str) -> Value {
    let id = Id::from_str(&cookie_value(set_cookie)).unwrap();
    let record = app.sessions().load(&id).await.unwrap().unwrap();
    let packed = record.data["ngi.flow.pending"].as_str().unwrap();
    serde_json::from_str(packed).unwrap()
}

/// Opens `link` in a fresh browser and checks it was refused with the link page and started
/// nothing: no redirect to NGI, no session.
async fn refused(app: &TestApp, link: Url) {
    let response = browser().get(link.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{link}");
    assert!(response.headers().get("location").is_none(), "{link}");
    assert!(app.session_cookie(&response).is_none(), "{link}");
    let html = body(response).await;
    assert!(html.contains(BAD_LINK_NB), "{link}: {html}");
}

#[tokio::test]
async fn a_link_from_the_api_starts_a_flow_whose_pending_flow_holds_the_reference() {
    let app = partner_app().await;
    let link = link_for(&app, "APP-1:2026.x_y").await;

    let response = app.get_url(link).await;
    let authorize = assert_redirect(&response);
    assert_eq!(authorize.origin(), app.sim.base_url().origin());
    let cookie = app.session_cookie(&response).unwrap();
    let pending = pending_flows(&app, &cookie).await;
    assert_eq!(
        pending["flows"][0]["reference"], "APP-1:2026.x_y",
        "{pending}"
    );

    // The flow goes on to the debt as any other.
    let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    let to_debt = assert_redirect(&app.get_url(callback).await);
    assert_eq!(to_debt.path(), "/debt");
}

#[tokio::test]
async fn a_start_without_a_reference_works_as_before() {
    let app = partner_app().await;
    let response = app.get("/consent/start").await;
    assert_redirect(&response);
    let cookie = app.session_cookie(&response).unwrap();
    let pending = pending_flows(&app, &cookie).await;
    assert!(pending["flows"][0]["reference"].is_null(), "{pending}");
}

#[tokio::test]
async fn a_bare_reference_starts_nothing() {
    let app = partner_app().await;
    refused(&app, app.url("/consent/start?ref=APP-1")).await;
    let link = link_for(&app, "APP-1").await;
    refused(&app, with_param(&link, "sig", None)).await;
    refused(&app, with_param(&link, "exp", None)).await;
    refused(&app, with_param(&link, "ref", None)).await;
}

#[tokio::test]
async fn an_altered_reference_starts_nothing() {
    let app = partner_app().await;
    let link = link_for(&app, "APP-1").await;
    refused(&app, with_param(&link, "ref", Some("APP-2"))).await;
}

#[tokio::test]
async fn an_altered_expiry_starts_nothing() {
    let app = partner_app().await;
    let link = link_for(&app, "APP-1").await;
    let exp: i64 = query(&link)["exp"].parse().unwrap();
    refused(
        &app,
        with_param(&link, "exp", Some(&(exp - 60).to_string())),
    )
    .await;
    refused(
        &app,
        with_param(&link, "exp", Some(&(exp + 3600).to_string())),
    )
    .await;
}

#[tokio::test]
async fn a_wrong_signature_starts_nothing() {
    let app = partner_app().await;
    let link = link_for(&app, "APP-1").await;
    let other = link_for(&app, "APP-2").await;
    refused(
        &app,
        with_param(&link, "sig", query(&other).get("sig").map(String::as_str)),
    )
    .await;
    refused(&app, with_param(&link, "sig", Some("AAAA"))).await;
    refused(&app, with_param(&link, "sig", Some("%%%"))).await;
}

#[tokio::test]
async fn an_expired_link_starts_nothing() {
    let app = partner_app().await;
    let link = link_for(&app, "APP-1").await;
    app.clock.advance(jiff::SignedDuration::from_mins(59));
    assert_redirect(&browser().get(link.clone()).send().await.unwrap());
    app.clock.advance(jiff::SignedDuration::from_mins(1));
    refused(&app, link).await;
}

#[tokio::test]
async fn a_reference_too_long_or_of_bad_characters_starts_nothing() {
    let app = partner_app().await;
    let link = link_for(&app, "APP-1").await;
    for bad in [
        "A".repeat(65),
        "APP 1".into(),
        "APP/1".into(),
        "<b>".into(),
        String::new(),
    ] {
        refused(&app, with_param(&link, "ref", Some(&bad))).await;
    }
}

#[tokio::test]
async fn without_a_partner_token_a_link_with_a_reference_starts_nothing() {
    let signer = partner_app().await;
    let link = link_for(&signer, "APP-1").await;
    let app = spawn_app().await;
    let mut elsewhere = app.url("/consent/start");
    elsewhere.set_query(link.query());
    refused(&app, elsewhere).await;
}

#[tokio::test]
async fn the_link_page_is_in_the_persons_language() {
    let app = partner_app().await;
    let response = browser()
        .get(app.url("/consent/start?ref=APP-1"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body(response).await.contains("This link cannot be used"));
}
