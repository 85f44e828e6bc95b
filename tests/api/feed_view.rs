//! The consent feed's state as the partner sees it, over real sockets against the simulator:
//! `GET /partner/api/feed` behind the partner token, and the console's `/partner/feed` behind
//! its login, after a withdrawal at Min gjeld and after a poll that failed.

use reqwest::StatusCode;
use serde_json::Value;

use crate::feed_follower::{granted, withdraw_at_min_gjeld};
use crate::helpers::{TestApp, assert_redirect, body, browser};
use crate::partner_console::{console_app, log_in};
use crate::partner_door::PARTNER_TOKEN;
use ngi_consent::i18n::Lang;
use ngi_consent::simulator::{Endpoint, Fault};

async fn feed_json(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/partner/api/feed"))
        .bearer_auth(PARTNER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The console's feed page, as the logged-in client sees it (in bokmål, the default).
async fn feed_page(app: &TestApp) -> String {
    let response = app.get("/partner/feed").await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await
}

#[tokio::test]
async fn the_feed_api_answers_only_with_the_partner_token() {
    let app = console_app().await;
    for token in [None, Some("not-the-token")] {
        let mut request = app.client.get(app.url("/partner/api/feed"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 401);
        assert!(problem.get("events").is_none(), "{problem}");
    }
    // With it, before any poll: nothing read yet, and not (yet) the leader.
    let state = feed_json(&app).await;
    assert_eq!(state["leader"], false);
    for field in [
        "cursor",
        "last_sequence_nr",
        "lag",
        "last_poll_at",
        "last_error",
    ] {
        assert!(state[field].is_null(), "{field}: {state}");
    }
    assert_eq!(state["events"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn a_withdrawal_at_min_gjeld_shows_in_the_feed_api_and_console_after_one_poll() {
    let app = console_app().await;
    let id = granted(&app).await;
    withdraw_at_min_gjeld(&app, &id).await;
    app.follower().poll_once(app.clock.now()).await.unwrap();

    let state = feed_json(&app).await;
    let last = app.sim.feed_last_sequence_nr();
    assert_eq!(state["leader"], true, "{state}");
    assert_eq!(state["cursor"], last);
    assert_eq!(state["last_sequence_nr"], last);
    assert_eq!(state["lag"], 0);
    assert!(state["last_error"].is_null(), "{state}");
    assert_eq!(
        state["last_poll_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap(),
        app.clock.now()
    );
    let events = state["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{state}");
    // Newest first: the withdrawal, then the consent's creation.
    let archived = &events[0];
    assert_eq!(archived["type"], "SAMTYKKE_ARKIVERT");
    assert_eq!(archived["outcome"], "applied");
    assert_eq!(archived["consent_id"], id.as_str());
    assert_eq!(archived["sequence_nr"], last);
    assert!(archived["event_id"].as_str().is_some_and(|e| !e.is_empty()));
    for time in ["timestamp", "received_at"] {
        let at = archived[time].as_str().unwrap();
        assert!(at.parse::<jiff::Timestamp>().is_ok(), "{time}: {at}");
    }
    assert_eq!(events[1]["type"], "SAMTYKKE_OPPRETTET");
    assert_eq!(events[1]["outcome"], "confirmed");
    assert!(events[1]["sequence_nr"].as_i64() < archived["sequence_nr"].as_i64());

    // The console's page: a 303 to the login form without a session, the same data with one.
    let stranger = browser();
    let response = stranger.get(app.url("/partner/feed")).send().await.unwrap();
    assert_eq!(assert_redirect(&response).path(), "/partner/login");
    assert!(!body(response).await.contains(id.as_str()));
    log_in(&app).await;
    let page = feed_page(&app).await;
    let c = Lang::Nb.console();
    for shown in [
        id.as_str(),
        "SAMTYKKE_ARKIVERT",
        "SAMTYKKE_OPPRETTET",
        c.outcome_applied,
        c.outcome_confirmed,
        c.feed_leader_yes,
        c.feed_events_caption,
    ] {
        assert!(page.contains(shown), "{shown} on the page:\n{page}");
    }
    assert!(!page.contains(c.feed_poll_failed), "{page}");
    // The withdrawn consent links to its page, which says it ended at NGI.
    let consent_path = format!("/partner/consents/{}", id.as_str());
    assert!(page.contains(&format!("href=\"{consent_path}\"")), "{page}");
    let consent = body(app.get(&consent_path).await).await;
    assert!(consent.contains(c.status_ended_at_ngi), "{consent}");
}

#[tokio::test]
async fn a_failed_poll_shows_its_error_in_the_feed_api_and_on_the_console_page() {
    let app = console_app().await;
    app.sim.set_fault(Endpoint::Feed, Some(Fault::status(503)));
    assert!(app.follower().poll_once(app.clock.now()).await.is_err());

    let state = feed_json(&app).await;
    let error = state["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("503"), "{state}");
    assert!(state["last_poll_at"].is_string(), "{state}");
    assert!(state["cursor"].is_null(), "{state}");

    log_in(&app).await;
    let page = feed_page(&app).await;
    let c = Lang::Nb.console();
    assert!(page.contains(c.feed_poll_failed), "{page}");
    assert!(page.contains("HTTP 503"), "{page}");

    // NGI answers again: the next poll clears the error in both.
    app.sim.set_fault(Endpoint::Feed, None);
    app.follower().poll_once(app.clock.now()).await.unwrap();
    assert!(feed_json(&app).await["last_error"].is_null());
    let page = feed_page(&app).await;
    assert!(!page.contains(c.feed_poll_failed), "{page}");
    assert!(!page.contains("HTTP 503"), "{page}");
}
