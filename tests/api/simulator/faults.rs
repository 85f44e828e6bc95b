//! Faults and observations.

use super::*;

#[tokio::test]
async fn a_status_fault_answers_ngi_error_json_and_does_not_spend_the_code() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::status(500)));
    let response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = json_of(response).await;
    assert_eq!(body["error"], "server error");
    assert!(body["trace_id"].is_string() && body["timestamp"].is_string());
    // Persistent until cleared.
    let again = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(again.status(), StatusCode::INTERNAL_SERVER_ERROR);

    sim.handle.set_fault(Endpoint::Token, None);
    assert_eq!(
        sim.exchange(&code, Some(VERIFIER)).await.status(),
        StatusCode::OK
    );
    assert_eq!(sim.handle.token_requests(), 3);
}

#[tokio::test]
async fn a_faulted_debt_request_does_not_use_the_single_use_consent() {
    let sim = start().await;
    let token = sim.access_token(PRESENTATION).await;
    sim.handle
        .set_fault(Endpoint::Debt, Some(Fault::status(503)));
    assert_eq!(
        sim.debt(&token).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    sim.handle.set_fault(Endpoint::Debt, None);
    assert_eq!(sim.debt(&token).await.status(), StatusCode::OK);
    assert_eq!(sim.debt(&token).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_garbage_fault_sends_json_content_type_with_a_body_that_is_not_json() {
    let sim = start().await;
    let token = sim.access_token(PRESENTATION).await;
    sim.handle.set_fault(Endpoint::Debt, Some(Fault::garbage()));
    let response = sim.debt(&token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header_of(response.headers(), "content-type").starts_with("application/json"));
    assert!(response.json::<Value>().await.is_err());
}

#[tokio::test]
async fn a_wrong_content_type_fault_sends_html() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::wrong_content_type()));
    let response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header_of(response.headers(), "content-type").starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn a_delay_fault_outlasts_a_short_client_timeout_then_answers_normally() {
    let sim = start().await;
    let token = sim.access_token("debt.unsecured.presentation.30").await;
    sim.handle.set_fault(
        Endpoint::Debt,
        Some(Fault::Delay(Duration::from_millis(600))),
    );
    let impatient = sim
        .http
        .get(sim.url("/v1/debt"))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(150))
        .send()
        .await;
    assert!(impatient.is_err_and(|e| e.is_timeout()));

    let started = std::time::Instant::now();
    let patient = sim.debt(&token).await;
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(patient.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_early_close_fault_starts_a_200_and_breaks_off_the_body() {
    let sim = start().await;
    let token = sim.access_token(PRESENTATION).await;
    sim.handle
        .set_fault(Endpoint::Debt, Some(Fault::EarlyClose));
    let response = sim.debt(&token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.is_err());

    sim.handle.set_fault(Endpoint::Debt, None);
    assert_eq!(sim.debt(&token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_early_close_on_the_token_endpoint_breaks_the_body_too() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::EarlyClose));
    let response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err());
}

#[tokio::test]
async fn the_handle_records_what_the_client_sent() {
    let sim = start().await;
    assert_eq!(sim.handle.last_token_request(), None);
    assert_eq!(sim.handle.last_debt_request(), None);
    let code = sim.code(PRESENTATION, true).await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::status(502)));
    sim.exchange(&code, Some(VERIFIER)).await;
    let seen = sim.handle.last_token_request().unwrap();
    assert_eq!(seen.grant_type.as_deref(), Some("authorization_code"));
    assert_eq!(seen.client_id_from_basic.as_deref(), Some(CLIENT_ID));
    assert_eq!(seen.code_verifier.as_deref(), Some(VERIFIER));
    assert_eq!(seen.redirect_uri.as_deref(), Some(REDIRECT_URI));
    assert_eq!(sim.handle.token_requests(), 1);

    let response = sim
        .http
        .get(sim.url("/v1/debt"))
        .bearer_auth("some.token")
        .header("X-Trace-ID", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await["trace_id"], "trace-42");
    assert_eq!(
        sim.handle.last_debt_request(),
        Some(DebtRequestSeen {
            bearer: Some("some.token".into()),
            trace_id: Some("trace-42".into()),
        })
    );
    assert_eq!(sim.handle.debt_requests(), 1);
}

#[tokio::test]
async fn malformed_input_gets_an_error_answer_never_a_server_error() {
    let sim = start().await;
    let raw_queries = [
        "/oauth2/auth",
        "/oauth2/auth?%%%",
        "/oauth2/auth?client_id=%FF%FE&redirect_uri=%00",
        "/oauth2/auth?client_id=ngi-consent-demo&client_id=x",
        "/testid/login?tx=%FF",
        "/testid/consent?tx=&tx=",
        "/nothing-here",
    ];
    for path in raw_queries {
        let response = sim
            .get(
                Url::parse(&format!(
                    "{}{}",
                    sim.handle.issuer().trim_end_matches('/'),
                    path
                ))
                .unwrap(),
            )
            .await;
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    for (path, body, content_type) in [
        (
            "/oauth2/token",
            "\u{0}\u{1}%%%=&&",
            "application/x-www-form-urlencoded",
        ),
        (
            "/oauth2/token",
            "{\"grant_type\":\"authorization_code\"}",
            "application/json",
        ),
        ("/testid/login", "%%%", "application/x-www-form-urlencoded"),
        ("/testid/login", "tx=x&action=dance", "text/plain"),
        (
            "/testid/consent",
            "decision=maybe",
            "application/x-www-form-urlencoded",
        ),
        (
            "/oauth2/revoke",
            "token=x",
            "application/x-www-form-urlencoded",
        ),
    ] {
        let response = sim
            .http
            .post(sim.url(path))
            .header(header::CONTENT_TYPE, content_type)
            .header(header::AUTHORIZATION, "Basic %%%")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{path} {body:?}: {}",
            response.status()
        );
    }
    let response = sim
        .http
        .get(sim.url("/v1/debt"))
        .header(header::AUTHORIZATION, "Bearer")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
