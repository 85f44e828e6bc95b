//! The consent flow end to end, through the simulator, as a browser walks it.

use reqwest::StatusCode;

use crate::helpers::*;

const NBSP: char = '\u{a0}';

fn kr(text: &str) -> String {
    text.replace(' ', &NBSP.to_string())
}

#[tokio::test]
async fn first_test_person_sees_their_debt_after_consenting() {
    let app = spawn_app().await;

    let page = app.follow_login(PERSON_1).await;

    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = body(page).await;
    assert!(html.contains("Gjelden din"), "{html}");
    assert!(
        html.contains(&kr("225 715,00 kr")),
        "total debt missing: {html}"
    );
    assert!(
        html.contains(&kr("80 000,00 kr")),
        "total credit limit missing"
    );
    for creditor in [
        "FJORDKREDITT ASA",
        "NORDLYSBANKEN AS",
        "VESTERHAV FINANS AS",
        "POLARSTJERNE KREDITT AS",
    ] {
        assert!(html.contains(creditor), "{creditor} missing");
    }
    for heading in ["Rammekreditter", "Nedbetalingslån", "Kortkreditter"] {
        assert!(html.contains(heading), "{heading} missing");
    }
    assert!(html.contains("148422*****"));
    assert!(
        !html.contains(PERSON_1),
        "the full national identity number is on the page"
    );
    assert!(
        !html.contains("Ikke alle kreditorene"),
        "complete data is not incomplete"
    );
}

#[tokio::test]
async fn second_test_person_sees_the_creditor_that_did_not_answer_and_a_warning() {
    let app = spawn_app().await;

    let html = body(app.follow_login(PERSON_2).await).await;

    assert!(html.contains(&kr("116 877,00 kr")), "{html}");
    assert!(html.contains(&kr("100 000,00 kr")));
    assert!(html.contains("Ikke alle kreditorene dine svarte i tide"));
    assert!(html.contains("Kreditorer som ikke svarte"));
    assert!(html.contains("LOFOTEN FINANS ASA"));
    assert!(html.contains("298680*****"));
    assert!(!html.contains(PERSON_2));
}

#[tokio::test]
async fn a_person_without_debt_data_is_told_nothing_is_registered() {
    let app = spawn_app().await;

    let html = body(app.follow_login(PERSON_WITHOUT_DEBT).await).await;

    assert!(
        html.contains("har ingen usikret gjeld registrert"),
        "{html}"
    );
    assert!(html.contains(&kr("0,00 kr")));
}

#[tokio::test]
async fn the_code_is_exchanged_once_with_the_pkce_verifier_and_the_token_fetches_the_debt() {
    use base64::Engine;
    use sha2::Digest;
    let app = spawn_app().await;
    let authorize = app.start().await;
    let params = query(&authorize);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["scope"], "debt.unsecured.presentation");
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_uri"], app.url("/v1/callback").as_str());
    assert!(params["state"].len() >= 43, "state shorter than 256 bits");

    let tx = app.log_in_at_ngi(authorize.clone(), PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    assert_eq!(query(&callback)["state"], params["state"]);
    assert_redirect(&app.get_url(callback).await);

    assert_eq!(app.sim.token_requests(), 1);
    let token_request = app.sim.last_token_request().unwrap();
    assert_eq!(
        token_request.grant_type.as_deref(),
        Some("authorization_code")
    );
    assert_eq!(
        token_request.client_id_from_basic.as_deref(),
        Some(CLIENT_ID)
    );
    assert_eq!(
        token_request.redirect_uri.as_deref(),
        Some(app.url("/v1/callback").as_str())
    );
    let verifier = token_request.code_verifier.unwrap();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    assert_eq!(challenge, params["code_challenge"]);

    assert_eq!(app.sim.debt_requests(), 1);
    let debt_request = app.sim.last_debt_request().unwrap();
    assert_eq!(
        debt_request.bearer.as_deref(),
        app.sim.issued_access_tokens().last().map(String::as_str)
    );
    assert!(debt_request.trace_id.is_some(), "no X-Trace-ID sent to NGI");
}

#[tokio::test]
async fn the_callback_redirects_to_the_debt_page_and_rotates_the_session_id() {
    let app = spawn_app().await;
    let start = app.get("/consent/start").await;
    let cookie_before = app.session_cookie(&start).unwrap();
    let tx = app.log_in_at_ngi(location(&start), PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;

    let response = app.get_url(callback).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).path(), "/debt");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookie_after = app
        .session_cookie(&response)
        .expect("no new session cookie");
    let id = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(
        id(&cookie_before),
        id(&cookie_after),
        "session id not rotated"
    );
}

#[tokio::test]
async fn back_or_reload_onto_a_completed_callback_leads_to_the_debt_page_without_a_new_exchange() {
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    assert_redirect(&app.get_url(callback.clone()).await);

    let again = app.get_url(callback).await;

    assert_eq!(location(&again).path(), "/debt");
    assert_eq!(app.sim.token_requests(), 1);
    assert_eq!(app.get("/debt").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn two_tabs_started_in_one_session_both_complete() {
    let app = spawn_app().await;
    let tab1 = app.start().await;
    let tab2 = app.start().await;
    let tx2 = app.log_in_at_ngi(tab2, PERSON_2).await;
    let callback2 = app.decide_at_ngi(&tx2, "accept").await;
    let tx1 = app.log_in_at_ngi(tab1, PERSON_1).await;
    let callback1 = app.decide_at_ngi(&tx1, "accept").await;

    assert_eq!(location(&app.get_url(callback2).await).path(), "/debt");
    assert!(body(app.get("/debt").await).await.contains("298680*****"));
    assert_eq!(location(&app.get_url(callback1).await).path(), "/debt");
    assert!(body(app.get("/debt").await).await.contains("148422*****"));
}

#[tokio::test]
async fn the_debt_page_is_gone_after_fifteen_minutes() {
    let app = spawn_app().await;
    assert_eq!(app.follow_login(PERSON_1).await.status(), StatusCode::OK);

    app.clock.advance(jiff::SignedDuration::from_mins(15));
    let page = app.get("/debt").await;

    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(body(page).await.contains("Ingen gjeldsopplysninger å vise"));
}

#[tokio::test]
async fn the_debt_page_without_a_completed_flow_says_there_is_nothing_to_show() {
    let app = spawn_app().await;
    let page = app.get("/debt").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let html = body(page).await;
    assert!(html.contains("Ingen gjeldsopplysninger å vise"));
    assert!(html.contains("Start på nytt"));
}

#[tokio::test]
async fn a_national_identity_number_that_matches_shows_the_debt() {
    let app = spawn_app().await;
    let start = app.start_with_nin(PERSON_1).await;
    let tx = app.log_in_at_ngi(assert_redirect(&start), PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;

    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
    assert_eq!(app.get("/debt").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_number_of_the_series_from_2032_completes_the_flow_from_the_landing_form() {
    // Skatteetaten's example: valid only under the check-digit rule for numbers issued from 2032.
    let new_series = "30108299939";
    let app = spawn_app().await;
    let start = app.start_with_nin(new_series).await;
    let tx = app.log_in_at_ngi(assert_redirect(&start), new_series).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;

    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
    let html = body(app.get("/debt").await).await;
    assert!(
        html.contains("har ingen usikret gjeld registrert"),
        "{html}"
    );
    assert!(html.contains("301082*****") && !html.contains(new_series));
}

#[tokio::test]
async fn debt_of_another_person_than_the_applicant_named_is_not_shown_or_kept() {
    let app = spawn_app().await;
    let start = app.start_with_nin(PERSON_1).await;
    let tx = app.log_in_at_ngi(assert_redirect(&start), PERSON_2).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;

    let page = app.get_url(callback).await;

    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let html = body(page).await;
    assert!(
        html.contains("Opplysningene gjelder en annen person"),
        "{html}"
    );
    assert!(!html.contains("298680") && !html.contains("148422"));
    assert_eq!(app.get("/debt").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_invalid_national_identity_number_is_refused_on_the_landing_page_without_starting() {
    let app = spawn_app().await;

    let page = app.start_with_nin("14842249092").await;

    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body(page).await;
    assert!(html.contains("Fødselsnummeret er ikke gyldig"));
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(!html.contains("14842249092"), "the typed number is echoed");
    // No flow was started: a callback for any state is unknown.
    let forged = callback_with(&app, &[("code", "x"), ("state", "y")]);
    assert_eq!(app.get_url(forged).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_empty_national_identity_number_starts_the_flow_without_a_check() {
    let app = spawn_app().await;
    let start = app.start_with_nin("  ").await;
    let tx = app.log_in_at_ngi(assert_redirect(&start), PERSON_2).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
}

#[tokio::test]
async fn an_extended_consent_scope_is_requested_and_described() {
    let app = spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            ngi_scope: Some("debt.unsecured.processing.28".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;

    let landing = body(app.get("/").await).await;
    assert!(landing.contains("vurdere søknaden din om lån eller kreditt"));
    assert!(landing.contains("Samtykket gjelder i 28 dager"));
    let authorize = app.start().await;
    assert_eq!(query(&authorize)["scope"], "debt.unsecured.processing.28");

    let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    assert_eq!(query(&callback)["scope"], "debt.unsecured.processing");
    assert_redirect(&app.get_url(callback).await);
    assert!(
        body(app.get("/debt").await)
            .await
            .contains("vurdere søknaden din")
    );
}

#[tokio::test]
async fn without_pkce_no_challenge_is_sent_and_the_flow_still_completes() {
    let app = spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            ngi_pkce: Some("false".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let authorize = app.start().await;
    assert!(!query(&authorize).contains_key("code_challenge"));
    let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
    assert!(
        app.sim
            .last_token_request()
            .unwrap()
            .code_verifier
            .is_none()
    );
}

#[tokio::test]
async fn a_matching_iss_is_accepted() {
    let app = spawn_app_with(Options {
        send_iss: true,
        ..Default::default()
    })
    .await;
    let callback = app.consent_as(PERSON_1).await;
    assert_eq!(query(&callback)["iss"], app.sim.issuer());
    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
}

#[tokio::test]
async fn deleting_the_information_ends_the_session_everywhere() {
    let app = spawn_app().await;
    let page = app.follow_login(PERSON_1).await;
    let html = body(page).await;
    assert!(html.contains("action=\"/session/end\""));
    let cookie = app
        .session_cookie(&app.get("/consent/start").await)
        .map(|c| c.split(';').next().unwrap().to_owned());

    let ended = app
        .client
        .post(app.url("/session/end"))
        .send()
        .await
        .unwrap();

    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ended).path(), "/");
    assert_eq!(ended.headers()["clear-site-data"], "\"cookies\"");
    assert_eq!(app.get("/debt").await.status(), StatusCode::NOT_FOUND);
    // The old cookie, replayed, finds nothing: the session is gone from the store too.
    if let Some(cookie) = cookie {
        let replayed = browser()
            .get(app.url("/debt"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(replayed.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn starting_a_new_flow_forgets_the_debt_shown_before() {
    let app = spawn_app().await;
    assert_eq!(app.follow_login(PERSON_1).await.status(), StatusCode::OK);
    app.start().await;
    assert_eq!(app.get("/debt").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_session_holding_debt_ends_fifteen_minutes_after_the_fetch() {
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    let response = app.get_url(callback).await;
    let cookie = app.session_cookie(&response).unwrap();
    let max_age: i64 = cookie
        .split(';')
        .map(str::trim)
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap_or_else(|| panic!("no Max-Age in {cookie}"))
        .parse()
        .unwrap();
    assert!((890..=900).contains(&max_age), "Max-Age={max_age}");
}

#[tokio::test]
async fn an_unknown_loan_type_and_missing_figures_are_shown_not_dropped() {
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    let answer = r#"{
        "ssn": "14842249091",
        "loans": [
            {"creditorName": "NYTT FINANS AS", "loan": {"type": "buyNowPayLater", "balance": 150000}},
            {"creditorName": "KORTHUSET AS", "loan": {"type": "chargeCard", "coBorrower": 0, "interestBearingBalance": 250050}},
            {"creditorName": "STILLE BANK ASA", "loan": null}
        ],
        "numberOfCreditorsAnswered": 2,
        "numberOfcreditorsMissing": 1,
        "consent": {"exp": 1785312537, "id": "3649911c-a58a-4b76-9794-edd8c692e84f", "scope": "debt.unsecured.presentation"}
    }"#;
    app.sim.set_fault(
        ngi_consent::simulator::Endpoint::Debt,
        Some(ngi_consent::simulator::Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: answer.into(),
        }),
    );
    assert_redirect(&app.get_url(callback).await);

    let html = body(app.get("/debt").await).await;
    assert!(html.contains("Andre lån"), "{html}");
    assert!(html.contains("NYTT FINANS AS") && html.contains("buyNowPayLater"));
    assert!(html.contains("KORTHUSET AS"));
    assert!(html.contains(&kr("2 500,50 kr")), "the card's total");
    assert!(
        html.contains("ikke oppgitt"),
        "a missing figure is not marked as such"
    );
    assert!(html.contains("STILLE BANK ASA") && html.contains("Kreditorer som ikke svarte"));
    // Oslo time of the consent's expiry: 1785312537 is 29 July 2026 08:08:57 UTC, 10:08 in Oslo.
    assert!(html.contains("29.07.2026 kl. 10:08"), "{html}");
}
