//! NGI's calls on a consent that lasts, against the simulator over real sockets: the debt again
//! by consent id, the status, revoke, and what NGI answers once a consent has ended.

use std::sync::Arc;
use std::time::Duration;

use ngi_consent::ngi::client::{NgiClient, NgiError};
use ngi_consent::ngi::consents::{ConsentId, ConsentStatus, Consents};
use ngi_consent::ngi::credentials::{Audience, AuthorizedError, ClientCredentials};
use ngi_consent::simulator::{self, Endpoint, Fault, SimulatorHandle};
use oauth2::{AuthorizationCode, CsrfToken};
use reqwest::StatusCode;

use crate::helpers::{
    CLIENT_ID, CLIENT_SECRET, PERSON_1, assert_redirect, browser, machine_client, query,
};

const TRACE: &str = "7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const WITH_DAYS: &str = "debt.unsecured.presentation.30";
const SINGLE_USE: &str = "debt.unsecured.presentation";

struct Setup {
    sim: SimulatorHandle,
    ngi: Arc<NgiClient>,
    creds: Arc<ClientCredentials>,
    consents: Consents,
}

async fn setup(scope: &str) -> Setup {
    let (sim, ngi, creds) = machine_client(scope).await;
    let consents = Consents::new(Arc::clone(&ngi), Arc::clone(&creds));
    Setup {
        sim,
        ngi,
        creds,
        consents,
    }
}

impl Setup {
    /// The redirect flow as `PERSON_1`, accepted, and the first debt fetch: the consent's id.
    async fn consent(&self) -> ConsentId {
        let authorization = self.ngi.authorize(CsrfToken::new_random);
        let http = browser();
        let login = assert_redirect(&http.get(authorization.url).send().await.unwrap());
        let tx = query(&login)["tx"].clone();
        let login_url = login.join("/testid/login").unwrap();
        let response = http
            .post(login_url)
            .form(&[("tx", tx.as_str()), ("nin", PERSON_1), ("action", "login")])
            .send()
            .await
            .unwrap();
        assert_redirect(&response);
        let response = http
            .post(self.sim.base_url().join("/testid/consent").unwrap())
            .form(&[("tx", tx.as_str()), ("decision", "accept")])
            .send()
            .await
            .unwrap();
        let callback = assert_redirect(&response);
        let code = AuthorizationCode::new(query(&callback)["code"].clone());
        let grant = self
            .ngi
            .exchange_code(code, authorization.pkce_verifier, TRACE)
            .await
            .unwrap();
        let debt = self
            .ngi
            .fetch_debt(&grant.access_token, TRACE)
            .await
            .unwrap();
        debt.consent.unwrap().id.parse().unwrap()
    }
}

/// The typed "no valid consent" outcome, with NGI's `error`.
fn not_valid<T: std::fmt::Debug>(result: Result<T, AuthorizedError<NgiError>>) -> String {
    match result {
        Err(AuthorizedError::Call(NgiError::ConsentNotValid { error, trace_id })) => {
            assert_eq!(trace_id.as_deref(), Some(TRACE));
            error
        }
        other => panic!("expected ConsentNotValid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_consent_with_days_gives_debt_by_id_until_it_is_revoked() {
    let s = setup(WITH_DAYS).await;
    let id = s.consent().await;

    for _ in 0..2 {
        let debt = s.consents.debt_by_consent(&id, TRACE).await.unwrap();
        assert_eq!(debt.ssn.expose_secret(), PERSON_1);
        assert_eq!(debt.consent.unwrap().id, id.as_str());
    }
    let status = s.consents.consent_status(&id, TRACE).await.unwrap();
    assert!(status.is_active(), "{status:?}");
    assert!(status.expires_at().is_some());

    s.consents.revoke(&id, TRACE).await.unwrap();

    let status = s.consents.consent_status(&id, TRACE).await.unwrap();
    assert!(!status.is_active(), "{status:?}");
    assert_eq!(
        not_valid(s.consents.debt_by_consent(&id, TRACE).await),
        "invalid consent"
    );
    // Revoking again: NGI's 403 for a consent that has already ended.
    assert_eq!(
        not_valid(s.consents.revoke(&id, TRACE).await),
        "invalid consent"
    );
    // One token served every call.
    assert_eq!(
        s.sim.client_credentials_requests(simulator::Audience::Debt),
        1
    );
}

#[tokio::test]
async fn a_single_use_consent_is_not_fetched_again_by_id() {
    let s = setup(SINGLE_USE).await;
    let id = s.consent().await;
    assert_eq!(
        not_valid(s.consents.debt_by_consent(&id, TRACE).await),
        "invalid consent"
    );
    let status = s.consents.consent_status(&id, TRACE).await.unwrap();
    assert!(!status.is_active(), "{status:?}");
}

#[tokio::test]
async fn an_expired_consent_is_refused_and_reported_inactive() {
    let s = setup("debt.unsecured.presentation.1").await;
    let id = s.consent().await;
    s.sim.advance_clock(Duration::from_secs(24 * 3600));
    let error = not_valid(s.consents.debt_by_consent(&id, TRACE).await);
    assert_eq!(error, "invalid consent");
    let status = s.consents.consent_status(&id, TRACE).await.unwrap();
    assert!(!status.is_active(), "{status:?}");
}

#[tokio::test]
async fn an_unknown_id_is_inactive_at_status_and_refused_for_debt_and_revoke() {
    let s = setup(WITH_DAYS).await;
    let id: ConsentId = "9c2a58dd-c0ea-4243-9b0f-baef670e7043".parse().unwrap();
    assert_eq!(
        s.consents.consent_status(&id, TRACE).await.unwrap(),
        ConsentStatus::Inactive { expires_at: None }
    );
    assert_eq!(
        not_valid(s.consents.debt_by_consent(&id, TRACE).await),
        "invalid consent"
    );
    assert_eq!(
        not_valid(s.consents.revoke(&id, TRACE).await),
        "invalid consent"
    );
}

#[tokio::test]
async fn a_token_refused_once_is_dropped_and_the_call_retried_with_a_fresh_one() {
    let s = setup(WITH_DAYS).await;
    let id = s.consent().await;
    let token = s.creds.token(Audience::Debt, TRACE).await.unwrap();
    let response = reqwest::Client::new()
        .post(s.sim.base_url().join("/oauth2/revoke").unwrap())
        .basic_auth(
            CLIENT_ID,
            Some(
                url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect::<String>(),
            ),
        )
        .form(&[("token", token.secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(s.sim.client_token(token.secret()).is_none());

    let status = s.consents.consent_status(&id, TRACE).await.unwrap();
    assert!(status.is_active(), "{status:?}");
    assert_eq!(
        s.sim.client_credentials_requests(simulator::Audience::Debt),
        2
    );
    let fresh = s.creds.token(Audience::Debt, TRACE).await.unwrap();
    assert_ne!(fresh.secret(), token.secret());
}

#[tokio::test]
async fn a_token_of_another_audience_is_refused_by_the_consent_api() {
    let s = setup(WITH_DAYS).await;
    let id = s.consent().await;
    let token = s.creds.token(Audience::Feed, TRACE).await.unwrap();
    let url = s
        .sim
        .base_url()
        .join(&format!("/v1/debt/{id}/status"))
        .unwrap();
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("invalid access token")
    );
}

#[tokio::test]
async fn an_id_with_a_slash_or_dots_never_reaches_ngi() {
    let s = setup(WITH_DAYS).await;
    for bad in ["../../oauth2/revoke", "a/status", "..", "%2e%2e", "a%2Fb"] {
        assert!(bad.parse::<ConsentId>().is_err(), "{bad}");
    }
    assert_eq!(s.sim.consent_requests(), 0);
}

#[tokio::test]
async fn an_ngi_failure_is_the_client_s_status_error_and_a_slow_ngi_a_timeout() {
    let s = setup(WITH_DAYS).await;
    let id = s.consent().await;
    s.sim.set_fault(Endpoint::Consent, Some(Fault::status(500)));
    match s.consents.revoke(&id, TRACE).await {
        Err(AuthorizedError::Call(NgiError::Status { status: 500, .. })) => {}
        other => panic!("expected a 500 status error, got {other:?}"),
    }
    s.sim.set_fault(
        Endpoint::Consent,
        Some(Fault::Delay(Duration::from_secs(3))),
    );
    match s.consents.consent_status(&id, TRACE).await {
        Err(AuthorizedError::Call(NgiError::Timeout { .. })) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    s.sim.set_fault(Endpoint::Consent, None);
    // The failed revoke changed nothing: the consent is still active.
    assert!(
        s.consents
            .consent_status(&id, TRACE)
            .await
            .unwrap()
            .is_active()
    );
}

/// A raw client-credentials token for `audience` (a path on the simulator) and `scope`.
async fn raw_token(sim: &SimulatorHandle, audience: &str, scope: &str) -> String {
    let secret: String = url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect();
    let response = reqwest::Client::new()
        .post(sim.base_url().join("/oauth2/token").unwrap())
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("audience", sim.base_url().join(audience).unwrap().as_str()),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_simulator_takes_only_a_debt_audience_token_with_a_debt_scope() {
    let s = setup(WITH_DAYS).await;
    let id = s.consent().await;
    let status_url = s
        .sim
        .base_url()
        .join(&format!("/v1/debt/{id}/status"))
        .unwrap();
    let status_with = |token: String| {
        let url = status_url.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let feed_audience = raw_token(&s.sim, "/feed/v1/consent", "debt.unsecured.presentation").await;
    assert_eq!(status_with(feed_audience).await, StatusCode::FORBIDDEN);
    let feed_scope = raw_token(&s.sim, "/v1/debt", "client.access.consent.events").await;
    assert_eq!(status_with(feed_scope).await, StatusCode::FORBIDDEN);
    let right = raw_token(&s.sim, "/v1/debt", "debt.unsecured.presentation").await;
    assert_eq!(status_with(right).await, StatusCode::OK);
}

#[tokio::test]
async fn an_escaped_path_at_the_simulator_is_one_unknown_consent_id() {
    let s = setup(WITH_DAYS).await;
    let token = s.creds.token(Audience::Debt, TRACE).await.unwrap();
    let url = format!("{}v1/debt/..%2F..%2Foauth2%2Frevoke", s.sim.base_url());
    let response = reqwest::Client::new()
        .delete(url)
        .bearer_auth(token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid consent");
    assert_eq!(s.sim.consent_requests(), 1);
}
