//! /v1/debt.

use super::*;

#[tokio::test]
async fn an_extended_scope_allows_repeated_fetches_until_the_consent_expires() {
    let sim = start().await;
    let callback = sim
        .consent(
            sim.standard_request("debt.unsecured.presentation.30", true),
            PERSON_WITH_DEBT,
        )
        .await;
    assert_eq!(query(&callback, "scope").as_deref(), Some(PRESENTATION));
    let code = query(&callback, "code").unwrap();
    let token = json_of(sim.exchange(&code, Some(VERIFIER)).await).await;
    assert_eq!(token["scope"], "debt.unsecured.presentation.30");
    let token = token["access_token"].as_str().unwrap().to_owned();

    let first = json_of(sim.debt(&token).await).await;
    let second = sim.debt(&token).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second = json_of(second).await;
    assert_eq!(first["consent"], second["consent"]);
    let exp = first["consent"]["exp"].as_i64().unwrap();
    let in_30_days = jiff::Timestamp::now().as_second() + 30 * 24 * 3600;
    assert!((in_30_days - 5..=in_30_days + 5).contains(&exp));
    assert_eq!(sim.debt(&token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_second_test_person_has_a_creditor_that_did_not_answer() {
    let sim = start().await;
    let callback = sim
        .consent(
            sim.standard_request(PRESENTATION, false),
            PERSON_WITH_MISSING_CREDITOR,
        )
        .await;
    let code = query(&callback, "code").unwrap();
    let token = json_of(sim.exchange(&code, None).await).await;
    let debt = json_of(sim.debt(token["access_token"].as_str().unwrap()).await).await;
    assert_eq!(debt["ssn"], PERSON_WITH_MISSING_CREDITOR);
    assert_eq!(debt["numberOfcreditorsMissing"], 1);
    let loans = debt["loans"].as_array().unwrap();
    assert_eq!(loans.iter().filter(|l| l["loan"].is_null()).count(), 1);
    assert_eq!(debt["numberOfCreditorsAnswered"], 3);
}

#[tokio::test]
async fn other_test_persons_have_an_empty_list() {
    let sim = start().await;
    // 01010112345 is not valid; 01017000027 is (check digits 2 and 7).
    let nin = "01017000027";
    let callback = sim
        .consent(sim.standard_request(PRESENTATION, false), nin)
        .await;
    let code = query(&callback, "code").unwrap();
    let token = json_of(sim.exchange(&code, None).await).await;
    let debt = json_of(sim.debt(token["access_token"].as_str().unwrap()).await).await;
    assert_eq!(debt["ssn"], nin);
    assert_eq!(debt["loans"], serde_json::json!([]));
    assert_eq!(debt["numberOfCreditorsAnswered"], 0);
    assert_eq!(debt["numberOfcreditorsMissing"], 0);
    assert_eq!(debt["consent"]["scope"], PRESENTATION);
}

#[tokio::test]
async fn debt_without_a_token_is_400_and_with_an_unknown_token_403() {
    let sim = start().await;
    let response = sim
        .http
        .get(sim.url("/v1/debt"))
        .header("X-Trace-ID", "trace-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_of(response).await;
    assert_eq!(body["trace_id"], "trace-abc");
    assert!(body["timestamp"].is_string());

    let response = sim.debt("unknown.token").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = json_of(response).await;
    assert_eq!(body["error"], "invalid access token");
    assert_eq!(body["trace_id"].as_str().unwrap().len(), 36, "a random id");
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let sim = start().await;
    let token = sim.access_token("debt.unsecured.presentation.30").await;
    sim.handle.advance_clock(Duration::from_secs(3600));
    let response = sim.debt(&token).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(response).await["error"], "invalid access token");
}

#[tokio::test]
async fn a_revoked_access_token_is_refused() {
    let sim = start().await;
    let token = sim.access_token("debt.unsecured.presentation.30").await;
    let response = sim
        .http
        .post(sim.url("/oauth2/revoke"))
        .header(header::AUTHORIZATION, basic(CLIENT_ID, CLIENT_SECRET))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(sim.debt(&token).await.status(), StatusCode::FORBIDDEN);
}
