//! Integrated consent through the NGI client against the simulator over real sockets: a consent
//! registered and used, the same request again, NGI's 409 and 400 in its own words, a refused
//! token replaced once, and what may be retried.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ngi_consent::domain::{Nin, Purpose};
use ngi_consent::ngi::agreement::{AgreementError, AgreementRequest, Agreements, Registered};
use ngi_consent::ngi::client::NgiError;
use ngi_consent::ngi::consents::Consents;
use ngi_consent::ngi::credentials::{Audience, ClientCredentials, TokenError};
use ngi_consent::simulator::{self, Endpoint, Fault, SimulatorHandle};
use reqwest::StatusCode;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, PERSON_1, PERSON_2, machine_client};

const TRACE: &str = "2f6c1d3e-5a4b-4c7d-9e8f-1a2b3c4d5e6f";

struct Setup {
    sim: SimulatorHandle,
    creds: Arc<ClientCredentials>,
    agreements: Agreements,
    consents: Consents,
}

async fn setup() -> Setup {
    let (sim, ngi, creds) = machine_client("debt.unsecured.presentation").await;
    Setup {
        agreements: Agreements::new(Arc::clone(&ngi), Arc::clone(&creds)),
        consents: Consents::new(Arc::clone(&ngi), Arc::clone(&creds)),
        creds,
        sim,
    }
}

fn request(days: u16, reference: &str) -> AgreementRequest {
    AgreementRequest {
        nin: Nin::parse(PERSON_1).unwrap(),
        purpose: Purpose::Processing,
        duration_days: days,
        client_consent_id: reference.into(),
    }
}

impl Setup {
    async fn register(&self, request: &AgreementRequest) -> Result<Registered, AgreementError> {
        self.agreements.register(request, TRACE).await
    }

    fn agreement_tokens(&self) -> usize {
        self.sim
            .client_credentials_requests(simulator::Audience::Agreement)
    }
}

#[tokio::test]
async fn an_integrated_consent_is_registered_and_its_debt_fetched_by_id() {
    let s = setup().await;
    let before = Timestamp::now();
    let registered = s.register(&request(28, "APP-1")).await.unwrap();
    assert_eq!(registered.purpose, Purpose::Processing);
    let expires_at = registered.expires_at.unwrap();
    let days = SignedDuration::from_hours(28 * 24);
    assert!(expires_at >= before.checked_add(days).unwrap() - SignedDuration::from_secs(1));
    assert!(expires_at <= Timestamp::now().checked_add(days).unwrap());

    let debt = s
        .consents
        .debt_by_consent(&registered.consent_id, TRACE)
        .await
        .unwrap();
    assert_eq!(debt.ssn.expose_secret(), PERSON_1);
    assert_eq!(debt.consent.unwrap().id, registered.consent_id.as_str());
    assert!(
        s.consents
            .consent_status(&registered.consent_id, TRACE)
            .await
            .unwrap()
            .is_active()
    );
    assert_eq!(s.agreement_tokens(), 1);
}

#[tokio::test]
async fn the_same_request_again_is_the_same_consent_with_the_same_token() {
    let s = setup().await;
    let first = s.register(&request(28, "APP-1")).await.unwrap();
    let again = s.register(&request(28, "APP-1")).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(s.sim.agreement_requests(), 2);
    assert_eq!(s.agreement_tokens(), 1);
}

#[tokio::test]
async fn other_data_for_a_reference_is_a_conflict_in_ngis_words() {
    let s = setup().await;
    s.register(&request(28, "APP-1")).await.unwrap();
    let mut other = request(28, "APP-1");
    other.nin = Nin::parse(PERSON_2).unwrap();
    let e = s.register(&other).await.unwrap_err();
    assert!(e.is_refusal() && !e.is_retryable());
    assert_eq!(e.kind(), "conflict");
    match e {
        AgreementError::Conflict {
            message,
            request_id,
        } => {
            assert_eq!(
                message,
                "This consent (represented by 'client_consent_id') is already registered with some other data."
            );
            assert_eq!(request_id.as_deref(), Some(TRACE));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_field_ngi_refuses_is_a_refusal_with_its_message_and_request_id() {
    let s = setup().await;
    let e = s.register(&request(29, "APP-1")).await.unwrap_err();
    assert!(e.is_refusal() && !e.is_retryable());
    assert_eq!(e.kind(), "refused");
    match e {
        AgreementError::Refused {
            status,
            error,
            message,
            request_id,
        } => {
            assert_eq!(status, 400);
            assert_eq!(error, "Bad Request");
            assert!(message.starts_with("consent_duration_days:"), "{message}");
            assert_eq!(request_id.as_deref(), Some(TRACE));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_refused_once_is_replaced_and_the_consent_registered() {
    let s = setup().await;
    let token = s.creds.token(Audience::Agreement, TRACE).await.unwrap();
    let secret: String = url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect();
    let response = reqwest::Client::new()
        .post(s.sim.base_url().join("/oauth2/revoke").unwrap())
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[("token", token.secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    s.register(&request(28, "APP-1")).await.unwrap();
    assert_eq!(s.agreement_tokens(), 2);
    assert_eq!(s.sim.agreement_requests(), 2);
}

#[tokio::test]
async fn a_token_refused_twice_is_reported_and_not_retried_further() {
    let s = setup().await;
    s.sim.set_fault(
        Endpoint::Agreement,
        Some(Fault::Respond {
            status: 401,
            content_type: "text/plain".into(),
            body: String::new(),
        }),
    );
    let e = s.register(&request(28, "APP-1")).await.unwrap_err();
    assert!(matches!(e, AgreementError::TokenRefused), "{e:?}");
    assert!(!e.is_retryable() && !e.is_refusal());
    assert_eq!(s.agreement_tokens(), 2);
    assert_eq!(s.sim.agreement_requests(), 2);
}

#[tokio::test]
async fn a_500_is_retryable_and_the_same_request_later_registers() {
    let s = setup().await;
    s.sim
        .set_fault(Endpoint::Agreement, Some(Fault::spring_status(500)));
    let e = s.register(&request(28, "APP-1")).await.unwrap_err();
    assert!(e.is_retryable() && !e.is_refusal(), "{e:?}");
    assert!(
        matches!(
            e,
            AgreementError::Unavailable(NgiError::Status { status: 500, .. })
        ),
        "{e:?}"
    );
    s.sim.set_fault(Endpoint::Agreement, None);
    s.register(&request(28, "APP-1")).await.unwrap();
}

#[tokio::test]
async fn a_slow_ngi_is_a_retryable_timeout_and_the_same_request_later_registers() {
    let s = setup().await;
    s.sim.set_fault(
        Endpoint::Agreement,
        Some(Fault::Delay(Duration::from_secs(3))),
    );
    let e = s.register(&request(28, "APP-1")).await.unwrap_err();
    assert!(
        matches!(e, AgreementError::Unavailable(NgiError::Timeout { .. })),
        "{e:?}"
    );
    assert!(e.is_retryable() && !e.is_refusal());
    s.sim.set_fault(Endpoint::Agreement, None);
    let registered = s.register(&request(28, "APP-1")).await.unwrap();
    assert!(
        s.consents
            .consent_status(&registered.consent_id, TRACE)
            .await
            .unwrap()
            .is_active()
    );
}

#[tokio::test]
async fn an_unreadable_answer_is_retryable() {
    let s = setup().await;
    for fault in [
        Fault::garbage(),
        Fault::wrong_content_type(),
        Fault::EarlyClose,
    ] {
        s.sim.set_fault(Endpoint::Agreement, Some(fault.clone()));
        let e = s.register(&request(28, "APP-1")).await.unwrap_err();
        assert!(e.is_retryable(), "{fault:?}: {e:?}");
        assert!(
            matches!(
                e,
                AgreementError::BadAnswer(_) | AgreementError::Unavailable(_)
            ),
            "{fault:?}: {e:?}"
        );
    }
}

#[tokio::test]
async fn an_agreement_audience_ngi_does_not_grant_is_not_retryable() {
    let s = setup().await;
    s.sim
        .set_client_audiences(CLIENT_ID, &[simulator::Audience::Debt]);
    let e = s.register(&request(28, "APP-1")).await.unwrap_err();
    match &e {
        AgreementError::Token(token) => {
            assert!(
                matches!(token.as_ref(), TokenError::Refused { .. }),
                "{token:?}"
            );
        }
        other => panic!("expected a token error, got {other:?}"),
    }
    assert!(!e.is_retryable() && !e.is_refusal());
    assert_eq!(s.sim.agreement_requests(), 0);
}

#[tokio::test]
async fn the_token_endpoint_down_is_retryable() {
    let s = setup().await;
    s.sim.set_fault(Endpoint::Token, Some(Fault::status(503)));
    let e = s.register(&request(28, "APP-1")).await.unwrap_err();
    assert!(matches!(e, AgreementError::Token(_)), "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(s.sim.agreement_requests(), 0);
}
