//! `PUT /v1/consent/agreement` at the simulator alone: which tokens it takes, NGI's field checks
//! and Spring errors, the same body as the same consent, and the registered consent used through
//! the debt API.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;

const AGREEMENT: &str = "/v1/consent/agreement";
const TRACE: &str = "4b8e2f0c-1a2b-4c3d-8e9f-0a1b2c3d4e5f";
const DEBT_SCOPE: &str = "debt.unsecured.presentation debt.unsecured.processing";

fn body(days: u16, reference: &str) -> Value {
    json!({
        "nin": PERSON_WITH_DEBT,
        "scope_of_consent": "debt.unsecured.processing",
        "consent_duration_days": days,
        "client_consent_id": reference,
    })
}

impl Sim {
    /// A client-credentials token for `audience` (a path here) and `scope`.
    async fn cc_token(&self, audience: &str, scope: &str) -> String {
        let response = self
            .token_request(
                Some(&basic(CLIENT_ID, CLIENT_SECRET)),
                &[
                    ("grant_type", "client_credentials"),
                    ("audience", self.url(audience).as_str()),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn agreement_token(&self) -> String {
        self.cc_token(AGREEMENT, "consent.create").await
    }

    async fn register(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self
            .http
            .put(self.url(AGREEMENT))
            .header("x-trace-id", TRACE)
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// Registers `body` and returns NGI's consent id.
    async fn registered(&self, token: &str, body: &Value) -> String {
        let response = self.register(Some(token), body).await;
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await["consent"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn on_consent(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn status_of(&self, id: &str, token: &str) -> Value {
        let path = format!("/v1/debt/{id}/status");
        let response = self.on_consent(reqwest::Method::GET, &path, token).await;
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await
    }
}

/// A Spring error answer: its status, and its `message` after the checks every one must pass.
async fn spring_error(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    assert!(
        header_of(response.headers(), "content-type").starts_with("application/json"),
        "{:?}",
        response.headers()
    );
    let json = json_of(response).await;
    assert_eq!(json["status"], status.as_u16(), "{json}");
    assert_eq!(json["error"], status.canonical_reason().unwrap(), "{json}");
    assert_eq!(json["path"], AGREEMENT, "{json}");
    assert_eq!(json["requestId"], TRACE, "{json}");
    assert!(
        json["timestamp"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .is_ok(),
        "{json}"
    );
    json["message"].as_str().unwrap().to_owned()
}

async fn assert_unauthorized(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(response.headers(), "www-authenticate"), "Bearer");
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_registered_consent_answers_as_ngi_does_and_lasts_its_days() {
    let sim = start().await;
    let token = sim.agreement_token().await;
    let before = Timestamp::now();
    let response = sim.register(Some(&token), &body(28, "APP-1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json_of(response).await;
    assert_eq!(json["client_consent_id"], "APP-1");
    assert_eq!(
        json["consent"]["scope_of_consent"],
        "debt.unsecured.processing"
    );
    let id = json["consent"]["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");
    let expires_at: Timestamp = json["consent"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let days = SignedDuration::from_hours(28 * 24);
    assert!(expires_at >= before.checked_add(days).unwrap() - SignedDuration::from_secs(1));
    assert!(expires_at <= Timestamp::now().checked_add(days).unwrap());
    assert_eq!(sim.handle.agreement_requests(), 1);
}

#[tokio::test]
async fn the_registered_consent_gives_debt_by_id_status_and_revoke() {
    let sim = start().await;
    let id = sim
        .registered(&sim.agreement_token().await, &body(28, "APP-1"))
        .await;
    let debt = sim.cc_token("/v1/debt", DEBT_SCOPE).await;

    for _ in 0..2 {
        let response = sim
            .on_consent(reqwest::Method::GET, &format!("/v1/debt/{id}"), &debt)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let json = json_of(response).await;
        assert_eq!(json["ssn"], PERSON_WITH_DEBT);
        assert_eq!(json["consent"]["id"], id.as_str());
        assert_eq!(json["consent"]["scope"], "debt.unsecured.processing");
        assert!(!json["loans"].as_array().unwrap().is_empty());
    }
    assert_eq!(sim.status_of(&id, &debt).await["active"], true);

    let revoked = sim
        .on_consent(reqwest::Method::DELETE, &format!("/v1/debt/{id}"), &debt)
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.status_of(&id, &debt).await["active"], false);
    let again = sim
        .on_consent(reqwest::Method::DELETE, &format!("/v1/debt/{id}"), &debt)
        .await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(again).await["error"], "invalid consent");
}

#[tokio::test]
async fn a_consent_of_one_day_has_ended_a_day_later() {
    let sim = start().await;
    let id = sim
        .registered(&sim.agreement_token().await, &body(1, "APP-1"))
        .await;
    sim.handle.advance_clock(Duration::from_secs(24 * 3600));
    let debt = sim.cc_token("/v1/debt", DEBT_SCOPE).await;
    assert_eq!(sim.status_of(&id, &debt).await["active"], false);
}

#[tokio::test]
async fn the_same_body_again_is_the_same_consent_and_other_data_a_409() {
    let sim = start().await;
    let token = sim.agreement_token().await;
    let first = sim.registered(&token, &body(28, "APP-1")).await;
    assert_eq!(sim.registered(&token, &body(28, "APP-1")).await, first);

    let message = spring_error(
        sim.register(Some(&token), &body(27, "APP-1")).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("client_consent_id"), "{message}");
    let mut other_person = body(28, "APP-1");
    other_person["nin"] = json!(PERSON_WITH_MISSING_CREDITOR);
    spring_error(
        sim.register(Some(&token), &other_person).await,
        StatusCode::CONFLICT,
    )
    .await;
    // The conflict changed nothing, and another reference is another consent.
    assert_eq!(sim.registered(&token, &body(28, "APP-1")).await, first);
    assert_ne!(sim.registered(&token, &body(28, "APP-2")).await, first);
}

#[tokio::test]
async fn only_a_consent_create_token_for_the_agreement_audience_is_taken() {
    let sim = start().await;
    let good = body(28, "APP-1");
    assert_unauthorized(sim.register(None, &good).await).await;
    assert_unauthorized(sim.register(Some("not-a-token"), &good).await).await;
    let debt = sim.cc_token("/v1/debt", DEBT_SCOPE).await;
    assert_unauthorized(sim.register(Some(&debt), &good).await).await;
    let feed = sim
        .cc_token("/feed/v1/consent", "client.access.consent.events")
        .await;
    assert_unauthorized(sim.register(Some(&feed), &good).await).await;
    // The right audience is not enough: the scope must be consent.create.
    let wrong_scope = sim.cc_token(AGREEMENT, "debt.unsecured.processing").await;
    assert_unauthorized(sim.register(Some(&wrong_scope), &good).await).await;
    // Nor is a person's token from the redirect flow.
    let person = sim.access_token("debt.unsecured.processing.28").await;
    assert_unauthorized(sim.register(Some(&person), &good).await).await;

    let token = sim.agreement_token().await;
    let id = sim.registered(&token, &good).await;
    // The agreement token does not open the debt API.
    let response = sim
        .on_consent(
            reqwest::Method::GET,
            &format!("/v1/debt/{id}/status"),
            &token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    sim.handle.advance_clock(Duration::from_secs(3599));
    assert_unauthorized(sim.register(Some(&token), &good).await).await;
}

#[tokio::test]
async fn an_agreement_audience_the_client_is_not_granted_gets_no_token() {
    let sim = start().await;
    sim.handle
        .set_client_audiences(CLIENT_ID, &[ngi_consent::simulator::Audience::Debt]);
    let response = sim
        .token_request(
            Some(&basic(CLIENT_ID, CLIENT_SECRET)),
            &[
                ("grant_type", "client_credentials"),
                ("audience", sim.url(AGREEMENT).as_str()),
                ("scope", "consent.create"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(response).await["error"], "invalid_scope");
}

#[tokio::test]
async fn each_bad_field_is_a_spring_400_that_names_it() {
    let sim = start().await;
    let token = sim.agreement_token().await;
    let with = |field: &str, value: Value| {
        let mut body = body(28, "APP-1");
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value;
        }
        body
    };
    let cases = [
        (with("nin", json!("14842249092")), "nin:"),
        (with("nin", json!("1484224909")), "nin:"),
        (with("nin", json!("148422 49091")), "nin:"),
        (with("nin", Value::Null), "nin:"),
        (
            with("scope_of_consent", json!("debt.unsecured.processing.28")),
            "scope_of_consent:",
        ),
        (
            with("scope_of_consent", json!("consent.create")),
            "scope_of_consent:",
        ),
        (
            with("consent_duration_days", json!(29)),
            "consent_duration_days:",
        ),
        (
            with("consent_duration_days", json!(0)),
            "consent_duration_days:",
        ),
        (
            with("consent_duration_days", json!("28")),
            "consent_duration_days:",
        ),
        (
            with("consent_duration_days", Value::Null),
            "consent_duration_days:",
        ),
        (with("client_consent_id", json!("")), "client_consent_id:"),
        (with("client_consent_id", Value::Null), "client_consent_id:"),
    ];
    for (body, field) in cases {
        let message = spring_error(
            sim.register(Some(&token), &body).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(message.starts_with(field), "{body}: {message}");
    }
    // Presentation allows a year; a number of the 2032 series is a number.
    let mut year = body(365, "APP-2");
    year["scope_of_consent"] = json!("debt.unsecured.presentation");
    year["nin"] = json!("30108299939");
    sim.registered(&token, &year).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400_and_another_content_type_a_415() {
    let sim = start().await;
    let token = sim.agreement_token().await;
    let send = |content_type: &'static str, body: &'static str| {
        sim.http
            .put(sim.url(AGREEMENT))
            .bearer_auth(&token)
            .header("x-trace-id", TRACE)
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let message = spring_error(
        send("application/json", "{\"nin\": ").await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.starts_with("JSON parse error"), "{message}");
    spring_error(
        send("text/plain", "{}").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
}

#[tokio::test]
async fn faults_on_the_agreement_endpoint_answer_instead_and_register_nothing() {
    let sim = start().await;
    let token = sim.agreement_token().await;
    sim.handle
        .set_fault(Endpoint::Agreement, Some(Fault::spring_status(500)));
    let response = sim.register(Some(&token), &body(28, "APP-1")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json_of(response).await["error"], "Internal Server Error");

    sim.handle
        .set_fault(Endpoint::Agreement, Some(Fault::garbage()));
    let response = sim.register(Some(&token), &body(28, "APP-1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err());

    sim.handle.set_fault(
        Endpoint::Agreement,
        Some(Fault::Delay(Duration::from_millis(300))),
    );
    let started = std::time::Instant::now();
    let first = sim.registered(&token, &body(28, "APP-1")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));

    sim.handle.set_fault(Endpoint::Agreement, None);
    // Only the delayed request registered anything: a 27-day body for APP-2 is no conflict.
    assert_eq!(sim.registered(&token, &body(28, "APP-1")).await, first);
    sim.registered(&token, &body(27, "APP-2")).await;
    assert_eq!(sim.handle.agreement_requests(), 5);
}
