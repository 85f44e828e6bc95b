//! /oauth2/token with `grant_type=client_credentials`: per-client audiences, NGI's refusals, and tokens
//! that carry no person.

use ngi_consent::simulator::Audience;

use super::*;

const DEBT_SCOPE: &str = "debt.unsecured.presentation debt.unsecured.processing";

impl Sim {
    fn audience(&self, audience: Audience) -> String {
        self.url(audience.path()).to_string()
    }

    async fn client_credentials(&self, audience: &str, scope: &str) -> reqwest::Response {
        self.token_request(
            Some(&basic(CLIENT_ID, CLIENT_SECRET)),
            &[
                ("grant_type", "client_credentials"),
                ("audience", audience),
                ("scope", scope),
            ],
        )
        .await
    }

    async fn client_token(&self, audience: Audience) -> String {
        let response = self
            .client_credentials(&self.audience(audience), &audience.scopes().join(" "))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        json_of(response).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn a_granted_token_answers_as_ngi_does_and_is_counted_per_audience() {
    let sim = start().await;
    let response = sim
        .client_credentials(&sim.audience(Audience::Debt), DEBT_SCOPE)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(response.headers(), "cache-control"), "no-store");
    let json = json_of(response).await;
    assert_eq!(json["token_type"], "bearer");
    assert_eq!(json["expires_in"], 3599);
    assert_eq!(json["scope"], DEBT_SCOPE);
    let token = json["access_token"].as_str().unwrap();
    let grant = sim.handle.client_token(token).unwrap();
    assert_eq!(grant.client_id, CLIENT_ID);
    assert_eq!(grant.audiences, [Audience::Debt]);
    assert_eq!(
        grant.scope,
        ["debt.unsecured.presentation", "debt.unsecured.processing"]
    );
    assert_eq!(sim.handle.client_credentials_requests(Audience::Debt), 1);
    assert_eq!(sim.handle.client_credentials_requests(Audience::Feed), 0);
}

#[tokio::test]
async fn the_demo_client_may_use_all_three_audiences() {
    let sim = start().await;
    for audience in Audience::ALL {
        sim.client_token(audience).await;
        assert_eq!(sim.handle.client_credentials_requests(audience), 1);
    }
}

#[tokio::test]
async fn what_the_client_is_not_granted_is_refused_with_hydras_codes() {
    let sim = start().await;
    sim.handle
        .set_client_audiences(CLIENT_ID, &[Audience::Debt]);
    let debt = sim.audience(Audience::Debt);
    let agreement = sim.audience(Audience::Agreement);
    let cases = [
        // A scope the client may not ask for is checked first.
        (agreement.as_str(), "consent.create", "invalid_scope"),
        (debt.as_str(), "consent.create", "invalid_scope"),
        // An audience it is not granted, with a scope it may ask for.
        (agreement.as_str(), DEBT_SCOPE, "invalid_request"),
        (
            "https://api.norskgjeld.no/v1/debt",
            DEBT_SCOPE,
            "invalid_request",
        ),
        ("", DEBT_SCOPE, "invalid_request"),
    ];
    for (audience, scope, code) in cases {
        let response = sim.client_credentials(audience, scope).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{audience} {scope}"
        );
        assert_eq!(json_of(response).await["error"], code, "{audience} {scope}");
    }
    assert!(sim.handle.issued_access_tokens().is_empty());
}

#[tokio::test]
async fn a_client_that_does_not_authenticate_is_refused_with_invalid_client() {
    let sim = start().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("audience", &sim.audience(Audience::Debt)),
        ("scope", DEBT_SCOPE),
    ];
    for authorization in [Some(basic(CLIENT_ID, "wrong")), None] {
        let response = sim.token_request(authorization.as_deref(), &form).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json_of(response).await["error"], "invalid_client");
    }
}

#[tokio::test]
async fn a_fault_on_the_token_endpoint_applies_to_the_grant() {
    let sim = start().await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::status(500)));
    let response = sim
        .client_credentials(
            &sim.audience(Audience::Feed),
            "client.access.consent.events",
        )
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(sim.handle.client_credentials_requests(Audience::Feed), 1);
}

#[tokio::test]
async fn a_client_credentials_token_is_refused_by_the_person_facing_debt_api() {
    let sim = start().await;
    let token = sim.client_token(Audience::Debt).await;
    let response = sim.debt(&token).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let json = json_of(response).await;
    assert_eq!(json["error"], "invalid access token");
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("client-credentials"),
        "{json}"
    );
}

#[tokio::test]
async fn a_client_token_expires_by_the_simulators_clock_and_can_be_revoked() {
    let sim = start().await;
    let token = sim.client_token(Audience::Agreement).await;
    sim.handle
        .advance_clock(std::time::Duration::from_secs(3598));
    assert!(sim.handle.client_token(&token).is_some());
    sim.handle.advance_clock(std::time::Duration::from_secs(1));
    assert!(sim.handle.client_token(&token).is_none());

    let token = sim.client_token(Audience::Agreement).await;
    let response = sim
        .http
        .post(sim.url("/oauth2/revoke"))
        .header(header::AUTHORIZATION, basic(CLIENT_ID, CLIENT_SECRET))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(sim.handle.client_token(&token).is_none());
}
