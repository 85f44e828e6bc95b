//! NGI's consent feed read by our client against the simulator over real sockets: the first and
//! last numbers, a page, a refused token replaced once, a failure reported, and a malformed event
//! skipped without spoiling its page.

use std::sync::Arc;

use ngi_consent::ngi::client::NgiError;
use ngi_consent::ngi::credentials::{Audience, AuthorizedError, ClientCredentials};
use ngi_consent::ngi::feed::{EventKind, Feed};
use ngi_consent::simulator::{self, Endpoint, Fault, SimulatorHandle};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, PERSON_1, machine_client};

const TRACE: &str = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c";

struct Setup {
    sim: SimulatorHandle,
    creds: Arc<ClientCredentials>,
    feed: Feed,
}

async fn setup() -> Setup {
    let (sim, ngi, creds) = machine_client("debt.unsecured.presentation").await;
    let feed = Feed::new(Arc::clone(&ngi), Arc::clone(&creds));
    Setup { sim, creds, feed }
}

impl Setup {
    /// Registers an integrated consent at the simulator: its id.
    async fn register(&self, reference: &str) -> String {
        let token = self.creds.token(Audience::Agreement, TRACE).await.unwrap();
        let response = reqwest::Client::new()
            .put(self.sim.base_url().join("/v1/consent/agreement").unwrap())
            .bearer_auth(token.secret())
            .json(&json!({
                "nin": PERSON_1,
                "scope_of_consent": "debt.unsecured.presentation",
                "consent_duration_days": 30,
                "client_consent_id": reference,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.unwrap();
        body["consent"]["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn first_last_and_a_page_read_what_ngi_holds() {
    let s = setup().await;
    assert_eq!(s.feed.last_sequence_nr(TRACE).await.unwrap(), Some(0));
    let first = s.register("APP-1").await;
    s.sim.hidden_client_acts(1);
    let second = s.register("APP-2").await;

    assert_eq!(s.feed.first_sequence_nr(TRACE).await.unwrap(), Some(1));
    assert_eq!(s.feed.last_sequence_nr(TRACE).await.unwrap(), Some(3));
    let page = s.feed.page(1, 100, TRACE).await.unwrap();
    assert_eq!(
        (page.start_sequence_nr, page.end_sequence_nr),
        (Some(1), Some(3))
    );
    assert!(page.generated_at.is_some());
    assert!(page.malformed.is_empty());
    let seen: Vec<_> = page
        .events
        .iter()
        .map(|e| (e.sequence_nr, e.consent_id.to_string()))
        .collect();
    assert_eq!(seen, [(1, first), (3, second)]);
    match &page.events[0].kind {
        EventKind::Created {
            client_id,
            external_consent_id,
            scope,
            ..
        } => {
            assert_eq!(client_id, CLIENT_ID);
            assert_eq!(external_consent_id.as_deref(), Some("APP-1"));
            assert_eq!(scope, "debt.unsecured.presentation");
        }
        other => panic!("a creation expected, got {other:?}"),
    }
    let rest = s.feed.page(2, 1, TRACE).await.unwrap();
    assert_eq!(rest.highest_sequence_nr(), Some(3));
    let empty = s.feed.page(4, 1000, TRACE).await.unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.end_sequence_nr, None);
    // One token of the feed audience served every call.
    assert_eq!(
        s.sim.client_credentials_requests(simulator::Audience::Feed),
        1
    );
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let s = setup().await;
    s.register("APP-1").await;
    let token = s.creds.token(Audience::Feed, TRACE).await.unwrap();
    let secret: String = url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect();
    let response = reqwest::Client::new()
        .post(s.sim.base_url().join("/oauth2/revoke").unwrap())
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[("token", token.secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(s.sim.client_token(token.secret()).is_none());

    let page = s.feed.page(1, 10, TRACE).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(
        s.sim.client_credentials_requests(simulator::Audience::Feed),
        2
    );
}

#[tokio::test]
async fn a_token_refused_twice_is_reported_as_such() {
    let s = setup().await;
    s.sim.set_fault(
        Endpoint::Feed,
        Some(Fault::Respond {
            status: 401,
            content_type: "application/json".into(),
            body: r#"{"error":"unauthorized"}"#.into(),
        }),
    );
    match s.feed.last_sequence_nr(TRACE).await {
        Err(AuthorizedError::TokenRefused { audience }) => assert_eq!(audience, Audience::Feed),
        other => panic!("expected a refused token, got {other:?}"),
    }
    assert_eq!(s.sim.feed_requests(), 2);
}

#[tokio::test]
async fn a_failure_at_ngi_is_reported_with_its_status() {
    let s = setup().await;
    s.sim.set_fault(Endpoint::Feed, Some(Fault::status(500)));
    match s.feed.page(1, 10, TRACE).await {
        Err(AuthorizedError::Call(NgiError::Status { status: 500, .. })) => {}
        other => panic!("expected a 500, got {other:?}"),
    }
    s.sim
        .set_fault(Endpoint::Feed, Some(Fault::wrong_content_type()));
    match s.feed.page(1, 10, TRACE).await {
        Err(AuthorizedError::Call(NgiError::BadAnswer { .. })) => {}
        other => panic!("expected a bad answer, got {other:?}"),
    }
    s.sim.set_fault(Endpoint::Feed, None);
    assert!(s.feed.page(1, 10, TRACE).await.is_ok());
}

#[tokio::test]
async fn the_numbers_are_read_whatever_their_content_type() {
    let s = setup().await;
    s.sim.set_fault(
        Endpoint::Feed,
        Some(Fault::Respond {
            status: 200,
            content_type: "*/*".into(),
            body: r#"{"lastSequenceNr": 42}"#.into(),
        }),
    );
    assert_eq!(s.feed.last_sequence_nr(TRACE).await.unwrap(), Some(42));
}

#[tokio::test]
async fn a_malformed_event_is_skipped_and_the_page_still_read() {
    let s = setup().await;
    let good = |n: i64| {
        json!({
            "sequenceNr": n,
            "eventId": format!("event-{n}"),
            "consentId": "c8ff2ad5-4140-481d-a7cd-6c7deee7203c",
            "timestamp": "2026-01-01T10:00:00Z",
            "eventType": "SAMTYKKE_ARKIVERT",
            "samtykkeArkivertEvent": { "clientId": CLIENT_ID, "consentId": "APP-1" },
        })
    };
    let mut bad = good(8);
    bad["timestamp"] = json!(12);
    let body = json!({
        "startSequenceNr": 7,
        "endSequenceNr": 9,
        "generatedAt": "2026-01-01T10:00:01Z",
        "result": [good(7), bad, good(9)],
    });
    s.sim.set_fault(
        Endpoint::Feed,
        Some(Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: body.to_string(),
        }),
    );
    let page = s.feed.page(7, 10, TRACE).await.unwrap();
    let read: Vec<_> = page.events.iter().map(|e| e.sequence_nr).collect();
    assert_eq!(read, [7, 9]);
    assert_eq!(page.malformed.len(), 1);
    assert_eq!(page.malformed[0].sequence_nr, Some(8));
    assert_eq!(page.malformed[0].event_id.as_deref(), Some("event-8"));
    assert_eq!(page.highest_sequence_nr(), Some(9));
}
