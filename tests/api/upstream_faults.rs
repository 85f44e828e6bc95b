//! NGI failing at the token or debt endpoint: each failure has a page, fast, never a bare 500.

use std::time::{Duration, Instant};

use ngi_consent::simulator::{Endpoint, Fault};
use reqwest::StatusCode;

use crate::helpers::*;

async fn callback_under_fault(endpoint: Endpoint, fault: Fault) -> (TestApp, reqwest::Response) {
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    app.sim.set_fault(endpoint, Some(fault));
    let response = app.get_url(callback).await;
    (app, response)
}

async fn expect_page(response: reqwest::Response, status: StatusCode, title: &str) {
    assert_eq!(response.status(), status);
    let html = body(response).await;
    assert!(html.contains(title), "expected «{title}» in {html}");
}

#[tokio::test]
async fn a_refused_exchange_says_the_request_was_not_accepted() {
    let refusal = Fault::Respond {
        status: 400,
        content_type: "application/json".into(),
        body: r#"{"error":"invalid_grant","error_description":"code used"}"#.into(),
    };
    let (app, response) = callback_under_fault(Endpoint::Token, refusal).await;
    expect_page(
        response,
        StatusCode::BAD_REQUEST,
        "godtok ikke forespørselen",
    )
    .await;
    assert_eq!(app.sim.debt_requests(), 0);
    assert_eq!(app.get("/debt").await.status(), StatusCode::NOT_FOUND);
}

/// A wrong client secret is our configuration, not the person's doing: a 502 that says so.
#[tokio::test]
async fn a_wrong_client_secret_is_a_refused_exchange() {
    let app = spawn_app_with(Options {
        secret_registered_at_ngi: Some("another-secret".into()),
        ..Default::default()
    })
    .await;
    let callback = app.consent_as(PERSON_1).await;
    expect_page(
        app.get_url(callback).await,
        StatusCode::BAD_GATEWAY,
        "avviste forespørselen vår",
    )
    .await;
}

#[tokio::test]
async fn debt_api_saying_no_valid_consent_is_explained() {
    let (_app, response) = callback_under_fault(Endpoint::Debt, Fault::status(403)).await;
    expect_page(
        response,
        StatusCode::BAD_GATEWAY,
        "Samtykket er ikke lenger gyldig",
    )
    .await;
}

#[tokio::test]
async fn ngi_answering_500_or_503_is_unavailable() {
    for endpoint in [Endpoint::Token, Endpoint::Debt] {
        for status in [500, 503] {
            let (_app, response) = callback_under_fault(endpoint, Fault::status(status)).await;
            expect_page(
                response,
                StatusCode::SERVICE_UNAVAILABLE,
                "Vi får ikke kontakt",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn garbage_or_the_wrong_content_type_is_an_answer_we_cannot_read() {
    for endpoint in [Endpoint::Token, Endpoint::Debt] {
        for fault in [Fault::garbage(), Fault::wrong_content_type()] {
            let (_app, response) = callback_under_fault(endpoint, fault).await;
            expect_page(response, StatusCode::BAD_GATEWAY, "Vi forsto ikke svaret").await;
        }
    }
}

#[tokio::test]
async fn a_connection_closed_mid_answer_is_unavailable() {
    for endpoint in [Endpoint::Token, Endpoint::Debt] {
        let (_app, response) = callback_under_fault(endpoint, Fault::EarlyClose).await;
        expect_page(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "Vi får ikke kontakt",
        )
        .await;
    }
}

#[tokio::test]
async fn a_slow_ngi_gets_a_timeout_page_within_the_configured_time() {
    for endpoint in [Endpoint::Token, Endpoint::Debt] {
        let app = spawn_app_with(Options {
            args: ngi_consent::config::ServeArgs {
                ngi_timeout_ms: Some("300".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
        let callback = app.consent_as(PERSON_1).await;
        app.sim
            .set_fault(endpoint, Some(Fault::Delay(Duration::from_secs(5))));

        let started = Instant::now();
        let response = app.get_url(callback).await;

        assert!(
            started.elapsed() < Duration::from_secs(3),
            "waited {:?}",
            started.elapsed()
        );
        expect_page(response, StatusCode::GATEWAY_TIMEOUT, "svarte ikke i tide").await;
        // The site stays healthy after the fault.
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn ngi_unreachable_is_unavailable() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            ngi_api_url: Some(dead),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let callback = app.consent_as(PERSON_1).await;
    expect_page(
        app.get_url(callback).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Vi får ikke kontakt",
    )
    .await;
}

#[tokio::test]
async fn a_single_use_consent_is_not_fetched_twice_when_the_first_answer_is_lost() {
    let (app, response) = callback_under_fault(Endpoint::Debt, Fault::EarlyClose).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.sim.debt_requests(), 1, "the debt fetch was retried");
    assert_eq!(app.sim.token_requests(), 1);
}

/// The purpose asked for is the purpose granted: a token answer whose scope is another purpose
/// is not used to fetch anything, and the page says why.
#[tokio::test]
async fn a_token_granted_for_another_purpose_is_not_used() {
    let other_purpose = Fault::Respond {
        status: 200,
        content_type: "application/json".into(),
        body: r#"{"access_token":"t0ken","token_type":"bearer","expires_in":300,"scope":"debt.unsecured.processing.28"}"#.into(),
    };
    let (app, response) = callback_under_fault(Endpoint::Token, other_purpose).await;
    expect_page(
        response,
        StatusCode::BAD_GATEWAY,
        "Samtykket gjaldt et annet formål",
    )
    .await;
    assert_eq!(app.sim.debt_requests(), 0);
    assert_eq!(app.get("/debt").await.status(), StatusCode::NOT_FOUND);
}

/// A debt answer for `PERSON_1` whose consent block names `scope`.
fn debt_answer_under(scope: &str) -> Fault {
    let mut debt: serde_json::Value = serde_json::from_str(include_str!(
        "../../simulator/src/fixtures/14842249091.json"
    ))
    .unwrap();
    debt["ssn"] = PERSON_1.into();
    debt["consent"] =
        serde_json::json!({ "id": "c0nsent", "exp": 4_102_444_800_i64, "scope": scope });
    Fault::Respond {
        status: 200,
        content_type: "application/json".into(),
        body: debt.to_string(),
    }
}

/// The debt answer's own `consent.scope` is checked too: data fetched under another purpose is
/// not shown, and not kept.
#[tokio::test]
async fn debt_fetched_under_another_purpose_is_not_shown() {
    let other = debt_answer_under("debt.unsecured.processing");
    let (app, response) = callback_under_fault(Endpoint::Debt, other).await;
    expect_page(
        response,
        StatusCode::BAD_GATEWAY,
        "Samtykket gjaldt et annet formål",
    )
    .await;
    assert_eq!(app.get("/debt").await.status(), StatusCode::NOT_FOUND);
}

/// The same answer under the purpose asked for is shown: the check above refuses only the
/// mismatch.
#[tokio::test]
async fn debt_fetched_under_the_purpose_asked_for_is_shown() {
    let same = debt_answer_under("debt.unsecured.presentation.30");
    let (app, response) = callback_under_fault(Endpoint::Debt, same).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/debt").await.status(), StatusCode::OK);
}
