//! /oauth2/auth and the pages.

use super::*;

#[tokio::test]
async fn unknown_client_gets_an_error_page_not_a_redirect() {
    let sim = start().await;
    let url = sim.authorize_url(&[
        ("client_id", "someone-else"),
        ("response_type", "code"),
        ("scope", PRESENTATION),
        ("state", "s"),
        ("redirect_uri", REDIRECT_URI),
    ]);
    let response = sim.get(url).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
    assert!(header_of(response.headers(), "content-type").starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("<h1>"));
}

#[tokio::test]
async fn a_redirect_uri_not_registered_exactly_gets_an_error_page_not_a_redirect() {
    let sim = start().await;
    for redirect_uri in [
        "http://127.0.0.1:8080/v1/callback/",
        "http://127.0.0.1:8080/v1/callback?x=1",
        "http://evil.example/v1/callback",
        "",
    ] {
        let url = sim.authorize_url(&[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", PRESENTATION),
            ("state", "s"),
            ("redirect_uri", redirect_uri),
        ]);
        let response = sim.get(url).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{redirect_uri}");
        assert!(response.headers().get(header::LOCATION).is_none());
    }
}

#[tokio::test]
async fn a_scope_that_breaks_ngis_rule_is_refused_with_invalid_scopes() {
    let sim = start().await;
    for scope in [
        "debt.unsecured.presentation debt.unsecured.processing",
        "openid debt.unsecured.presentation",
        "debt.unsecured.presentation.0",
        "debt.unsecured.secured",
        "profile",
    ] {
        let response = sim.get(sim.standard_request(scope, false)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{scope}");
        let url = Url::parse(&location(&response)).unwrap();
        assert!(url.as_str().starts_with(REDIRECT_URI), "{url}");
        assert_eq!(
            query(&url, "error").as_deref(),
            Some("invalid_scopes"),
            "{scope}"
        );
        assert!(query(&url, "error_description").is_some());
        assert_eq!(query(&url, "state").as_deref(), Some("state-123"));
    }
}

#[tokio::test]
async fn a_missing_state_a_wrong_response_type_or_plain_pkce_is_invalid_request() {
    let sim = start().await;
    let plain = "a".repeat(43);
    let cases: [&[(&str, &str)]; 3] = [
        &[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", PRESENTATION),
            ("redirect_uri", REDIRECT_URI),
        ],
        &[
            ("client_id", CLIENT_ID),
            ("response_type", "token"),
            ("scope", PRESENTATION),
            ("state", "s"),
            ("redirect_uri", REDIRECT_URI),
        ],
        &[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", PRESENTATION),
            ("state", "s"),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", &plain),
            ("code_challenge_method", "plain"),
        ],
    ];
    for pairs in cases {
        let response = sim.get(sim.authorize_url(pairs)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let url = Url::parse(&location(&response)).unwrap();
        assert_eq!(
            query(&url, "error").as_deref(),
            Some("invalid_request"),
            "{pairs:?}"
        );
    }
}

#[tokio::test]
async fn a_registered_redirect_uri_with_a_query_keeps_it_and_gets_the_answer_appended() {
    let sim = start().await;
    let url = sim.authorize_url(&[
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("scope", PRESENTATION),
        ("state", "a b&c=d"),
        ("redirect_uri", "https://demo.example/cb?x=1"),
    ]);
    let callback = sim.consent(url, PERSON_WITH_DEBT).await;
    assert_eq!(query(&callback, "x").as_deref(), Some("1"));
    assert_eq!(query(&callback, "state").as_deref(), Some("a b&c=d"));
    assert!(query(&callback, "code").is_some());
}

#[tokio::test]
async fn declining_returns_consent_denied() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    let callback = sim.decide(&tx, "decline").await;
    assert_eq!(query(&callback, "error").as_deref(), Some("consent_denied"));
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));
    assert_eq!(query(&callback, "code"), None);
    assert!(sim.handle.issued_codes().is_empty());
}

#[tokio::test]
async fn cancelling_at_login_or_consent_returns_login_cancelled() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    let response = sim
        .post_form("/testid/login", &[("tx", &tx), ("action", "cancel")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = Url::parse(&location(&response)).unwrap();
    assert_eq!(
        query(&callback, "error").as_deref(),
        Some("login_cancelled")
    );
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));

    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    let callback = sim.decide(&tx, "cancel").await;
    assert_eq!(
        query(&callback, "error").as_deref(),
        Some("login_cancelled")
    );
}

#[tokio::test]
async fn an_invalid_national_identity_number_shows_the_login_page_again_with_an_error() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    for nin in ["01017012345", "1484224909", "abc", ""] {
        let response = sim
            .post_form(
                "/testid/login",
                &[("tx", &tx), ("nin", nin), ("action", "login")],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{nin:?}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("aria-invalid=\"true\""));
    }
    // The transaction is still usable.
    sim.log_in(&tx, "29868099311").await;
}

#[tokio::test]
async fn an_unknown_login_transaction_gets_an_error_page() {
    let sim = start().await;
    for response in [
        sim.get(sim.url("/testid/login?tx=nope")).await,
        sim.get(sim.url("/testid/login")).await,
        sim.get(sim.url("/testid/consent?tx=nope")).await,
        sim.post_form(
            "/testid/login",
            &[
                ("tx", "nope"),
                ("nin", PERSON_WITH_DEBT),
                ("action", "login"),
            ],
        )
        .await,
        sim.post_form("/testid/consent", &[("tx", "nope"), ("decision", "accept")])
            .await,
    ] {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(header_of(response.headers(), "content-type").starts_with("text/html"));
    }
}

#[tokio::test]
async fn a_login_transaction_is_single_use() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    sim.decide(&tx, "accept").await;
    let again = sim
        .post_form("/testid/consent", &[("tx", &tx), ("decision", "accept")])
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.handle.issued_codes().len(), 1);
}

#[tokio::test]
async fn a_login_transaction_expires_after_ten_minutes() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    sim.handle.advance_clock(Duration::from_secs(600));
    let response = sim.get(sim.url(&format!("/testid/login?tx={tx}"))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_consent_page_needs_a_login_first() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    let response = sim.get(sim.url(&format!("/testid/consent?tx={tx}"))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/testid/login?tx={tx}"));
}

#[tokio::test]
async fn the_consent_page_describes_purpose_and_clamped_duration() {
    let sim = start().await;
    let tx = sim
        .begin(sim.standard_request("debt.unsecured.processing.90", false))
        .await;
    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    let html = sim
        .get(sim.url(&format!("/testid/consent?tx={tx}")))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("28 dager"),
        "processing is clamped to 28 days"
    );
    assert!(html.contains("søknad om lån eller kreditt"));
}

#[tokio::test]
async fn send_iss_adds_the_issuer_to_every_authorization_response() {
    let sim = start_with(true).await;
    let callback = sim
        .consent(sim.standard_request(PRESENTATION, false), PERSON_WITH_DEBT)
        .await;
    assert_eq!(query(&callback, "iss"), Some(sim.handle.issuer()));
    let refused = sim.get(sim.standard_request("nope", false)).await;
    let url = Url::parse(&location(&refused)).unwrap();
    assert_eq!(query(&url, "iss"), Some(sim.handle.issuer()));
    let meta = json_of(sim.get(sim.url("/.well-known/openid-configuration")).await).await;
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test]
async fn pages_have_a_strict_csp_without_form_action_and_set_no_cookies() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    let response = sim.get(sim.url(&format!("/testid/login?tx={tx}"))).await;
    let csp = header_of(response.headers(), "content-security-policy").to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("form-action"), "{csp}");
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let css = sim.get(sim.url("/testid/static/sim.css")).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(header_of(css.headers(), "content-type").starts_with("text/css"));
}
