//! Secrets that never reach a log line: tokens, ID tokens and nonces, the partner token, cookie
//! values and authorization headers, national identity numbers.

use super::*;

#[tokio::test]
async fn whole_flows_leave_no_secret_in_the_logs() {
    captured();
    let mut secrets: Vec<String> = vec![CLIENT_SECRET.into(), PERSON_1.into(), PERSON_2.into()];

    // A completed flow, with the applicant's own number given on the landing form.
    let app = spawn_app().await;
    let start = app.start_with_nin(PERSON_1).await;
    let authorize = assert_redirect(&start);
    secrets.push(query(&authorize)["state"].clone());
    let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    assert_redirect(&app.get_url(callback.clone()).await);
    assert_eq!(app.get("/debt").await.status(), 200);
    // Back onto the completed callback, and a reused code.
    app.get_url(callback).await;
    secrets.push(app.sim.last_token_request().unwrap().code_verifier.unwrap());

    // A second person, declined; an error callback; a refused exchange; a debt 403.
    let tx = app.log_in_at_ngi(app.start().await, PERSON_2).await;
    let declined = app.decide_at_ngi(&tx, "decline").await;
    secrets.push(query(&declined)["state"].clone());
    app.get_url(declined).await;
    for (endpoint, fault) in [
        (Endpoint::Token, Fault::status(400)),
        (Endpoint::Debt, Fault::status(403)),
        (Endpoint::Debt, Fault::garbage()),
    ] {
        let callback = app.consent_as(PERSON_2).await;
        secrets.push(query(&callback)["state"].clone());
        app.sim.set_fault(endpoint, Some(fault));
        assert!(app.get_url(callback).await.status().is_server_error());
        app.sim.set_fault(endpoint, None);
    }
    secrets.extend(app.sim.issued_codes());
    secrets.extend(app.sim.issued_access_tokens());
    assert!(app.sim.issued_codes().len() >= 4);
    assert!(!app.sim.issued_access_tokens().is_empty());

    let logs = text();
    assert!(
        logs.contains("/v1/callback"),
        "the callback route is not logged at all"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret ({}…) is in the logs",
            &secret[..4.min(secret.len())]
        );
    }
    assert!(!logs.contains("code="), "a query string is in the logs");
    assert!(!logs.contains("state="), "a query string is in the logs");
}

#[tokio::test]
async fn id_tokens_and_nonces_never_reach_the_logs() {
    captured();
    let app = spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            ngi_scope: Some("debt.unsecured.presentation openid".into()),
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let mut nonces = Vec::new();
    for fault in [
        None,
        Some(IdTokenFault::WrongNonce),
        Some(IdTokenFault::OtherPid),
        Some(IdTokenFault::AlgNone),
    ] {
        app.sim.set_id_token_fault(fault);
        let authorize = app.start().await;
        nonces.push(query(&authorize)["nonce"].clone());
        let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
        let callback = app.decide_at_ngi(&tx, "accept").await;
        let status = app.get_url(callback).await.status();
        assert_eq!(status.is_server_error(), fault.is_some(), "{fault:?}");
    }
    let logs = text();
    assert!(logs.contains("id_token_refused"), "the refusal is logged");
    for nonce in &nonces {
        assert!(!logs.contains(nonce.as_str()), "a nonce is in the logs");
    }
    // Every JWT begins with the base64 of `{"`: none may be in the logs.
    assert!(!logs.contains("eyJ"), "a JWT is in the logs");
    assert!(!logs.contains(PERSON_1), "a pid is in the logs");
}

#[tokio::test]
async fn client_credentials_tokens_never_reach_the_logs() {
    use ngi_consent::ngi::client::{NgiClient, NgiConfig};
    use ngi_consent::ngi::credentials::{Audience, CallError, ClientCredentials};

    captured();
    let site = url::Url::parse("http://127.0.0.1:9/").unwrap();
    let sim = spawn_simulator(&site, CLIENT_SECRET, false).await;
    let ngi = NgiClient::new(NgiConfig {
        access: sim.base_url().clone(),
        api: sim.base_url().clone(),
        client_id: oauth2::ClientId::new(CLIENT_ID.into()),
        client_secret: oauth2::ClientSecret::new(CLIENT_SECRET.into()),
        redirect_uri: site.join("/v1/callback").unwrap(),
        scope: "debt.unsecured.presentation".parse().unwrap(),
        pkce: true,
        issuer: Some(sim.issuer()),
        timeout: std::time::Duration::from_secs(5),
        connect_timeout: std::time::Duration::from_secs(1),
    })
    .unwrap();
    let creds = ClientCredentials::new(Arc::new(ngi), TestClock::new().as_clock()).unwrap();
    // Granted, refused by the API twice (so dropped and renewed), and refused by NGI.
    let refused: Result<(), _> = creds
        .with_token(Audience::Debt, "trace", |_token| async {
            Err(CallError::<std::fmt::Error>::TokenRefused)
        })
        .await;
    assert!(refused.is_err());
    sim.set_client_audiences(CLIENT_ID, &[]);
    assert!(creds.token(Audience::Feed, "trace").await.is_err());

    let tokens = sim.issued_access_tokens();
    assert_eq!(tokens.len(), 2);
    let logs = text();
    assert!(
        logs.contains("NGI refused a client-credentials token"),
        "{logs}"
    );
    assert!(logs.contains("invalid_scope"), "{logs}");
    for token in tokens {
        let (_, signature) = token.split_once('.').unwrap();
        assert!(
            !logs.contains(signature),
            "a client-credentials token is in the logs"
        );
    }
}

#[tokio::test]
async fn the_partner_token_never_reaches_the_logs() {
    captured();
    const TOKEN: &str = "partner-token-in-the-logs-test-0123456789";
    let app = spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            partner_token: Some(TOKEN.into()),
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let links = app.url("/partner/api/links");
    let body = serde_json::json!({"reference": "APP-LOGS-1"});
    // Refused (no token, a wrong one, the token in the wrong scheme), then let in.
    let mut statuses = vec![];
    for auth in [
        None,
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Basic {TOKEN}")),
    ] {
        let mut request = app.client.post(links.clone()).json(&body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    let made = app
        .client
        .post(links)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    statuses.push(made.status().as_u16());
    assert_eq!(statuses, [401, 401, 401, 201]);
    let link: Value = made.json().await.unwrap();
    let start = app
        .get_url(url::Url::parse(link["url"].as_str().unwrap()).unwrap())
        .await;
    assert_eq!(start.status(), 303);

    let logs = text();
    assert!(
        logs.contains("partner API: missing or wrong token"),
        "the refusals are logged"
    );
    assert!(!logs.contains(TOKEN), "the partner token is in the logs");
    assert!(!logs.contains("APP-LOGS-1"), "the reference is not logged");
}

#[tokio::test]
async fn cookie_values_and_authorization_headers_never_reach_the_logs() {
    for format in [LogFormat::Json, LogFormat::Pretty] {
        let mut secrets: Vec<String> = vec![
            "cookie-secret-6f1d2a".into(),
            "bearer-secret-93be07".into(),
            "basic-secret-d4a8c1".into(),
        ];
        let mut seen = Vec::new();
        let logs = logged_in(format, async {
            let app = spawn_app().await;
            // A real session, so its cookie is one the site knows.
            let callback = app.consent_as(PERSON_1).await;
            let answer = app.get_url(callback).await;
            let session = app.session_cookie(&answer).unwrap();
            let session_value = session
                .split(';')
                .next()
                .and_then(|pair| pair.split_once('='))
                .map(|(_, value)| value.to_owned())
                .unwrap();
            seen.push(session_value.clone());
            let basic = {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode("user:basic-secret-d4a8c1")
            };
            seen.push(basic.clone());
            let cookie =
                format!("ngi_session={session_value}; ngi_lang=en; tracker=cookie-secret-6f1d2a");
            for (path, authorization) in [
                ("/", "Bearer bearer-secret-93be07".to_owned()),
                ("/debt", format!("Basic {basic}")),
                ("/no/such/page", "Bearer bearer-secret-93be07".to_owned()),
                ("/v1/callback?code=c&state=s", format!("Basic {basic}")),
                ("/healthz", "Bearer bearer-secret-93be07".to_owned()),
                ("/static/app.css", "Bearer bearer-secret-93be07".to_owned()),
            ] {
                reqwest::Client::new()
                    .get(app.url(path))
                    .header("cookie", &cookie)
                    .header("authorization", authorization)
                    .send()
                    .await
                    .unwrap();
            }
            let response = reqwest::Client::new()
                .post(app.url("/consent/start"))
                .header("cookie", &cookie)
                .header("authorization", "Bearer bearer-secret-93be07")
                .form(&[("nin", "")])
                .send()
                .await
                .unwrap();
            assert!(!response.status().is_server_error());
        })
        .await;
        secrets.append(&mut seen);

        assert!(
            logs.contains("/debt") && logs.contains("/v1/callback"),
            "the requests were not logged: {logs}"
        );
        for secret in &secrets {
            assert!(
                !logs.contains(secret.as_str()),
                "{format:?}: a cookie or Authorization value ({}…) is in the logs",
                &secret[..6]
            );
        }
    }
}
