//! The whole flow.

use super::*;

#[tokio::test]
async fn the_whole_flow_gives_debt_once_for_a_single_use_consent() {
    let sim = start().await;

    let tx = sim.begin(sim.standard_request(PRESENTATION, true)).await;
    let login_page = sim.get(sim.url(&format!("/testid/login?tx={tx}"))).await;
    assert_eq!(login_page.status(), StatusCode::OK);
    let html = login_page.text().await.unwrap();
    assert!(html.contains("<html lang=\"nb\">"));
    assert!(html.contains("Simulator — ikke ekte NGI"));
    assert!(html.contains(CLIENT_NAME));

    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    let consent_page = sim.get(sim.url(&format!("/testid/consent?tx={tx}"))).await;
    assert_eq!(consent_page.status(), StatusCode::OK);
    let html = consent_page.text().await.unwrap();
    assert!(html.contains(CLIENT_NAME));
    assert!(html.contains("Engangssamtykke"));
    assert!(html.contains("vises til deg"));
    assert!(html.contains("148422 *****") && !html.contains(PERSON_WITH_DEBT));

    let callback = sim.decide(&tx, "accept").await;
    assert_eq!(
        format!(
            "{}://{}{}",
            callback.scheme(),
            callback.authority(),
            callback.path()
        ),
        REDIRECT_URI
    );
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));
    assert_eq!(query(&callback, "scope").as_deref(), Some(PRESENTATION));
    assert_eq!(query(&callback, "iss"), None);
    let code = query(&callback, "code").unwrap();
    assert_eq!(sim.handle.issued_codes(), vec![code.clone()]);

    let token_response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(token_response.status(), StatusCode::OK);
    assert_eq!(
        header_of(token_response.headers(), "cache-control"),
        "no-store"
    );
    let token = json_of(token_response).await;
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], 3599);
    assert_eq!(token["scope"], PRESENTATION);
    let access_token = token["access_token"].as_str().unwrap();
    let parts: Vec<&str> = access_token.split('.').collect();
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| URL_SAFE_NO_PAD.decode(p).is_ok()));
    assert_eq!(
        sim.handle.issued_access_tokens(),
        vec![access_token.to_owned()]
    );

    let first = sim.debt(access_token).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(header_of(first.headers(), "content-type").starts_with("application/json"));
    let debt = json_of(first).await;
    assert_eq!(debt["ssn"], PERSON_WITH_DEBT);
    assert_eq!(debt["loans"].as_array().unwrap().len(), 4);
    assert_eq!(debt["numberOfCreditorsAnswered"], 4);
    assert_eq!(debt["numberOfcreditorsMissing"], 0);
    assert_eq!(debt["consent"]["scope"], PRESENTATION);
    assert_eq!(debt["consent"]["id"].as_str().unwrap().len(), 36);
    let exp = debt["consent"]["exp"].as_i64().unwrap();
    let now = jiff::Timestamp::now().as_second();
    assert!(
        (now..=now + 601).contains(&exp),
        "single use: about 10 minutes"
    );

    let second = sim.debt(access_token).await;
    assert_eq!(second.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(second).await["error"], "no valid consent");
    assert_eq!(sim.handle.token_requests(), 1);
    assert_eq!(sim.handle.debt_requests(), 2);
}

#[tokio::test]
async fn discovery_names_the_endpoints_like_ngi() {
    let sim = start().await;
    let response = sim.get(sim.url("/.well-known/openid-configuration")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let meta = json_of(response).await;
    let base = sim
        .handle
        .base_url()
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(meta["issuer"], sim.handle.issuer());
    assert_eq!(sim.handle.issuer(), format!("{base}/"));
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{base}/oauth2/auth")
    );
    assert_eq!(meta["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(meta["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(meta["revocation_endpoint"], format!("{base}/oauth2/revoke"));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic"])
    );
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("authorization_code"))
    );
    assert!(
        meta.get("authorization_response_iss_parameter_supported")
            .is_none()
    );
    let jwks = json_of(sim.get(sim.url("/.well-known/jwks.json")).await).await;
    assert!(jwks["keys"].is_array());
}
