//! /oauth2/token.

use super::*;

#[tokio::test]
async fn reused_code_is_refused_with_invalid_grant() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let first = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let token = json_of(first).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(second).await["error"], "invalid_grant");
    // RFC 6749 §4.1.2: the token bought with a replayed code is revoked.
    assert_eq!(sim.debt(&token).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn wrong_verifier_is_refused_with_invalid_grant() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let wrong = "W".repeat(43);
    let response = sim.exchange(&code, Some(&wrong)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_missing_verifier_after_a_challenge_is_refused_with_invalid_grant() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let response = sim.exchange(&code, None).await;
    assert_eq!(json_of(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_flow_without_pkce_still_works() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, false).await;
    assert_eq!(sim.exchange(&code, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_secret_is_refused_with_401_invalid_client() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    for authorization in [
        Some(basic(CLIENT_ID, "wrong")),
        Some(basic("unknown-client", CLIENT_SECRET)),
        // Not form-urlencoded: '+' decodes to a space, '%an' is no escape.
        Some(format!(
            "Basic {}",
            STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        )),
        Some("Bearer abc".to_owned()),
        None,
    ] {
        let response = sim.token_request(authorization.as_deref(), &form).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{authorization:?}"
        );
        assert!(header_of(response.headers(), "www-authenticate").starts_with("Basic"));
        assert_eq!(json_of(response).await["error"], "invalid_client");
    }
    // Failed client authentication does not spend the code.
    assert_eq!(
        sim.exchange(&code, Some(VERIFIER)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn token_request_errors_follow_rfc_6749() {
    let sim = start().await;
    let auth = basic(CLIENT_ID, CLIENT_SECRET);
    let code = sim.code(PRESENTATION, false).await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("grant_type", "password")], "unsupported_grant_type"),
        (
            &[("code", &code), ("redirect_uri", REDIRECT_URI)],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT_URI),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", "someone-else"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("code", "not-a-code"),
                ("redirect_uri", REDIRECT_URI),
            ],
            "invalid_grant",
        ),
    ];
    for (form, error) in cases {
        let response = sim.token_request(Some(&auth), form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(json_of(response).await["error"], error, "{form:?}");
    }
}

#[tokio::test]
async fn a_different_redirect_uri_at_the_token_endpoint_is_invalid_grant() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, false).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://demo.example/cb?x=1"),
    ];
    let response = sim
        .token_request(Some(&basic(CLIENT_ID, CLIENT_SECRET)), &form)
        .await;
    assert_eq!(json_of(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_code_expires_sixty_seconds_after_issue() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    sim.handle.advance_clock(Duration::from_secs(61));
    let response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn the_token_answer_echoes_the_requested_scope_without_openid() {
    let sim = start().await;
    let code = sim
        .code("debt.unsecured.presentation.500 openid", true)
        .await;
    let token = json_of(sim.exchange(&code, Some(VERIFIER)).await).await;
    assert_eq!(token["scope"], "debt.unsecured.presentation.500");
    // `openid` brings an RS256 ID token, as NGI's scope reference describes.
    let id_token = token["id_token"].as_str().unwrap();
    assert_eq!(id_token.split('.').count(), 3);
}

#[tokio::test]
async fn id_tokens_switched_off_leave_the_token_answer_without_one() {
    let sim = start().await;
    sim.handle.set_id_tokens(false);
    let code = sim.code("debt.unsecured.presentation openid", true).await;
    let token = json_of(sim.exchange(&code, Some(VERIFIER)).await).await;
    assert!(token["access_token"].is_string());
    assert!(token.get("id_token").is_none());
}

#[tokio::test]
async fn without_openid_no_id_token_is_issued() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let token = json_of(sim.exchange(&code, Some(VERIFIER)).await).await;
    assert!(token["access_token"].is_string());
    assert!(token.get("id_token").is_none());
}
