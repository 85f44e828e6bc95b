//! The consent feed and the Min gjeld page at the simulator alone, over sockets: which tokens the
//! feed takes, `limit`'s bounds, one sequence across clients, late events, the 7-day window, and
//! a withdrawal at Min gjeld reaching the feed and the debt API.

use std::time::Duration;

use ngi_consent::simulator::{Audience, FeedEnd, LateEvent};
use serde_json::json;

use super::*;

const FEED: &str = "/feed/v1/consent";

impl Sim {
    /// A client-credentials token for `audience` with its documented scope.
    async fn feed_test_token(&self, audience: Audience) -> String {
        let response = self
            .token_request(
                Some(&basic(CLIENT_ID, CLIENT_SECRET)),
                &[
                    ("grant_type", "client_credentials"),
                    ("audience", self.url(audience.path()).as_str()),
                    ("scope", &audience.scopes().join(" ")),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn feed_get(&self, token: Option<&str>, path: &str) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A page's JSON, with a fresh feed token.
    async fn feed_page(&self, from: i64, limit: u32) -> Value {
        let token = self.feed_test_token(Audience::Feed).await;
        let response = self
            .feed_get(
                Some(&token),
                &format!("{FEED}?fromSequenceNr={from}&limit={limit}"),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await
    }

    async fn feed_number(&self, which: &str) -> i64 {
        let token = self.feed_test_token(Audience::Feed).await;
        let response = self
            .feed_get(Some(&token), &format!("{FEED}/{which}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await[which].as_i64().unwrap()
    }

    /// Registers an integrated consent for the person with debt: its id.
    async fn feed_register(&self, reference: &str, days: u16) -> String {
        let token = self.feed_test_token(Audience::Agreement).await;
        let response = self
            .http
            .put(self.url("/v1/consent/agreement"))
            .bearer_auth(token)
            .json(&json!({
                "nin": PERSON_WITH_DEBT,
                "scope_of_consent": "debt.unsecured.processing",
                "consent_duration_days": days,
                "client_consent_id": reference,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await["consent"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `GET /v1/debt/{id}/status` and `GET /v1/debt/{id}` with a debt token.
    async fn feed_consent_state(&self, id: &str) -> (bool, StatusCode) {
        let token = self.feed_test_token(Audience::Debt).await;
        let status = self
            .feed_get(Some(&token), &format!("/v1/debt/{id}/status"))
            .await;
        let active = json_of(status).await["active"].as_bool().unwrap();
        let debt = self.feed_get(Some(&token), &format!("/v1/debt/{id}")).await;
        (active, debt.status())
    }
}

fn numbers(page: &Value) -> Vec<i64> {
    page["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequenceNr"].as_i64().unwrap())
        .collect()
}

fn types(page: &Value) -> Vec<(String, String)> {
    page["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["consentId"].as_str().unwrap().to_owned(),
                e["eventType"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn timestamp(event: &Value) -> jiff::Timestamp {
    event["timestamp"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_feed_takes_only_a_feed_token_of_the_callers_client() {
    let sim = start().await;
    let paths = [
        format!("{FEED}?fromSequenceNr=1&limit=10"),
        format!("{FEED}/firstSequenceNr"),
        format!("{FEED}/lastSequenceNr"),
    ];
    let debt = sim.feed_test_token(Audience::Debt).await;
    let agreement = sim.feed_test_token(Audience::Agreement).await;
    let feed = sim.feed_test_token(Audience::Feed).await;
    for path in &paths {
        assert_eq!(
            sim.feed_get(None, path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        for refused in [&debt, &agreement, &"not-a-token".to_owned()] {
            let response = sim.feed_get(Some(refused), path).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
            let error = json_of(response).await["error"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(
                error.eq_ignore_ascii_case("invalid access token"),
                "{error}"
            );
        }
        assert_eq!(
            sim.feed_get(Some(&feed), path).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    assert_eq!(sim.handle.feed_requests(), 15);
}

#[tokio::test]
async fn limit_is_required_and_between_1_and_1000() {
    let sim = start().await;
    let token = sim.feed_test_token(Audience::Feed).await;
    for query in [
        "fromSequenceNr=1&limit=0",
        "fromSequenceNr=1&limit=1001",
        "fromSequenceNr=1&limit=-1",
        "fromSequenceNr=1",
        "limit=10",
        "fromSequenceNr=one&limit=10",
        "",
    ] {
        let response = sim.feed_get(Some(&token), &format!("{FEED}?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(json_of(response).await["error"], "bad request", "{query}");
    }
    for query in ["fromSequenceNr=1&limit=1", "fromSequenceNr=1&limit=1000"] {
        let response = sim.feed_get(Some(&token), &format!("{FEED}?{query}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
    }
}

#[tokio::test]
async fn consents_given_and_ended_are_events_with_gaps_where_the_hidden_client_acted() {
    let sim = start().await;
    assert_eq!(sim.feed_number("lastSequenceNr").await, 0);
    let first = sim.feed_register("APP-1", 28).await;
    assert_eq!(sim.handle.hidden_client_acts(2), [2, 3]);
    let second = sim.feed_register("APP-2", 28).await;
    let token = sim.feed_test_token(Audience::Debt).await;
    let revoked = sim
        .http
        .delete(sim.url(&format!("/v1/debt/{first}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);

    let page = sim.feed_page(1, 100).await;
    assert_eq!(numbers(&page), [1, 4, 5]);
    assert_eq!(
        types(&page),
        [
            (first.clone(), "SAMTYKKE_OPPRETTET".to_owned()),
            (second, "SAMTYKKE_OPPRETTET".to_owned()),
            (first, "SAMTYKKE_ARKIVERT".to_owned()),
        ]
    );
    assert_eq!(
        (
            page["startSequenceNr"].as_i64(),
            page["endSequenceNr"].as_i64()
        ),
        (Some(1), Some(5))
    );
    let created = &page["result"][0];
    assert_eq!(created["samtykkeOpprettetEvent"]["clientId"], CLIENT_ID);
    assert_eq!(
        created["samtykkeOpprettetEvent"]["externalConsentId"],
        "APP-1"
    );
    assert!(created["samtykkeArkivertEvent"].is_null());
    // As NGI's example: the archiving's block names the client's reference.
    assert_eq!(
        page["result"][2]["samtykkeArkivertEvent"]["consentId"],
        "APP-1"
    );

    let cut = sim.feed_page(2, 1).await;
    assert_eq!(numbers(&cut), [4]);
    assert_eq!(
        (
            cut["startSequenceNr"].as_i64(),
            cut["endSequenceNr"].as_i64()
        ),
        (Some(4), Some(4))
    );
    let empty = sim.feed_page(6, 10).await;
    assert!(numbers(&empty).is_empty());
    assert!(empty["startSequenceNr"].is_null() && empty["endSequenceNr"].is_null());
    assert_eq!(sim.feed_number("firstSequenceNr").await, 1);
    assert_eq!(sim.feed_number("lastSequenceNr").await, 5);

    sim.handle.set_feed_end(FeedEnd::OfFeed);
    assert_eq!(sim.feed_page(1, 1).await["endSequenceNr"], 5);
    assert_eq!(sim.feed_page(6, 10).await["endSequenceNr"], 5);
}

#[tokio::test]
async fn a_consent_granted_by_the_handle_is_an_event_of_its_client_only() {
    let sim = start().await;
    let id = sim.handle.grant_consent(CLIENT_ID, 30).unwrap();
    let page = sim.feed_page(1, 100).await;
    assert_eq!(numbers(&page), [1]);
    assert_eq!(types(&page), [(id, "SAMTYKKE_OPPRETTET".to_owned())]);
    // Only a registered client, for 1 to 365 days.
    assert_eq!(sim.handle.grant_consent("not-registered", 30), None);
    assert_eq!(sim.handle.grant_consent(CLIENT_ID, 0), None);
    assert_eq!(sim.handle.grant_consent(CLIENT_ID, 366), None);
    assert_eq!(sim.handle.feed_last_sequence_nr(), 1);
}

#[tokio::test]
async fn a_late_event_has_an_earlier_timestamp_and_a_repeat_keeps_its_id() {
    let sim = start().await;
    let id = sim.feed_register("APP-1", 28).await;
    let late = sim
        .handle
        .publish_late(&id, LateEvent::Archived, Duration::from_secs(3600))
        .unwrap();
    assert_eq!(late, 2);
    assert_eq!(sim.handle.repeat_event(1), Some(3));
    assert_eq!(
        sim.handle
            .publish_late("unknown", LateEvent::Created, Duration::ZERO),
        None
    );
    let page = sim.feed_page(1, 10).await;
    let events = page["result"].as_array().unwrap();
    assert_eq!(events[1]["eventType"], "SAMTYKKE_ARKIVERT");
    assert!(timestamp(&events[1]) < timestamp(&events[0]));
    assert_eq!(events[2]["eventId"], events[0]["eventId"]);
    assert_eq!(events[2]["sequenceNr"], 3);
}

#[tokio::test]
async fn the_window_moves_past_events_older_than_seven_days() {
    let sim = start().await;
    sim.feed_register("APP-1", 28).await;
    sim.handle.advance_clock(Duration::from_secs(6 * 86_400));
    sim.feed_register("APP-2", 28).await;
    assert_eq!(numbers(&sim.feed_page(0, 10).await), [1, 2]);
    sim.handle.advance_clock(Duration::from_secs(86_400));
    assert_eq!(sim.feed_number("firstSequenceNr").await, 2);
    assert_eq!(numbers(&sim.feed_page(0, 10).await), [2]);
    sim.handle.advance_clock(Duration::from_secs(6 * 86_400));
    assert_eq!(sim.feed_number("firstSequenceNr").await, 3);
    assert_eq!(sim.feed_number("lastSequenceNr").await, 2);
    assert!(numbers(&sim.feed_page(0, 10).await).is_empty());
}

#[tokio::test]
async fn an_expiry_is_archived_when_noticed_stamped_when_it_expired() {
    let sim = start().await;
    let id = sim.feed_register("APP-1", 1).await;
    sim.handle.advance_clock(Duration::from_secs(2 * 86_400));
    let page = sim.feed_page(1, 10).await;
    assert_eq!(
        types(&page),
        [
            (id.clone(), "SAMTYKKE_OPPRETTET".to_owned()),
            (id, "SAMTYKKE_ARKIVERT".to_owned()),
        ]
    );
    let generated: jiff::Timestamp = page["generatedAt"].as_str().unwrap().parse().unwrap();
    let archived = timestamp(&page["result"][1]);
    assert!(archived < generated - jiff::SignedDuration::from_hours(23));
}

#[tokio::test]
async fn a_fault_on_the_feed_answers_instead() {
    let sim = start().await;
    let token = sim.feed_test_token(Audience::Feed).await;
    sim.handle
        .set_fault(Endpoint::Feed, Some(Fault::status(503)));
    let response = sim
        .feed_get(Some(&token), &format!("{FEED}/lastSequenceNr"))
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    sim.handle.set_fault(Endpoint::Feed, None);
    let response = sim
        .feed_get(Some(&token), &format!("{FEED}/lastSequenceNr"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(sim.handle.feed_requests(), 2);
}

/// The value of the first hidden field `name` on a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("the field") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_withdrawal_at_min_gjeld_ends_the_consent_and_reaches_the_feed() {
    let sim = start().await;
    let id = sim.feed_register("APP-1", 28).await;
    assert_eq!(sim.feed_consent_state(&id).await, (true, StatusCode::OK));

    let login = sim.get(sim.url("/min-gjeld")).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert!(header_of(login.headers(), "content-security-policy").contains("default-src 'none'"));
    assert!(
        login
            .text()
            .await
            .unwrap()
            .contains("action=\"/min-gjeld/login\"")
    );
    let response = sim
        .post_form("/min-gjeld/login", &[("nin", PERSON_WITH_DEBT)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = header_of(response.headers(), "set-cookie").to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let page = sim.get(sim.url("/min-gjeld")).await.text().await.unwrap();
    assert!(page.contains(CLIENT_NAME), "{page}");
    assert!(page.contains("Aktivt"));
    assert!(
        !page.contains(PERSON_WITH_DEBT),
        "only the masked number is shown"
    );
    assert_eq!(hidden(&page, "consent_id"), id);
    let form_key = hidden(&page, "form_key");

    let forged = sim
        .post_form(
            "/min-gjeld/revoke",
            &[("form_key", "forged"), ("consent_id", &id)],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(sim.feed_consent_state(&id).await, (true, StatusCode::OK));

    let revoked = sim
        .post_form(
            "/min-gjeld/revoke",
            &[("form_key", &form_key), ("consent_id", &id)],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        sim.feed_consent_state(&id).await,
        (false, StatusCode::FORBIDDEN)
    );
    let page = sim.feed_page(1, 10).await;
    assert_eq!(
        types(&page),
        [
            (id.clone(), "SAMTYKKE_OPPRETTET".to_owned()),
            (id.clone(), "SAMTYKKE_ARKIVERT".to_owned()),
        ]
    );
    let shown = sim
        .get(sim.url("/min-gjeld?trukket=1"))
        .await
        .text()
        .await
        .unwrap();
    assert!(shown.contains("Trukket tilbake") && shown.contains("Samtykket er trukket tilbake."));
    assert!(
        !shown.contains("name=\"consent_id\""),
        "nothing left to withdraw"
    );

    let again = sim
        .post_form(
            "/min-gjeld/revoke",
            &[("form_key", &form_key), ("consent_id", &id)],
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(sim.handle.feed_last_sequence_nr(), 2, "one archiving only");
}

#[tokio::test]
async fn min_gjeld_shows_nothing_and_changes_nothing_without_a_login() {
    let sim = start().await;
    let id = sim.feed_register("APP-1", 28).await;
    let response = sim
        .post_form(
            "/min-gjeld/revoke",
            &[("form_key", ""), ("consent_id", &id)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = sim.get(sim.url("/min-gjeld")).await.text().await.unwrap();
    assert!(!page.contains(&id));
    let bad = sim
        .post_form("/min-gjeld/login", &[("nin", "12345678901")])
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(sim.feed_consent_state(&id).await, (true, StatusCode::OK));
}

#[tokio::test]
async fn another_person_cannot_withdraw_a_consent_that_is_not_theirs() {
    let sim = start().await;
    let id = sim.feed_register("APP-1", 28).await;
    sim.post_form("/min-gjeld/login", &[("nin", PERSON_WITH_MISSING_CREDITOR)])
        .await;
    let page = sim.get(sim.url("/min-gjeld")).await.text().await.unwrap();
    assert!(!page.contains(&id));
    let form_key = hidden(&page, "form_key");
    let response = sim
        .post_form(
            "/min-gjeld/revoke",
            &[("form_key", &form_key), ("consent_id", &id)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(sim.feed_consent_state(&id).await, (true, StatusCode::OK));
}
