//! The person withdraws a lasting consent from the debt page: a same-origin form whose consent
//! comes from the session only; cross-site posts are refused; posting again is harmless.

use jiff::SignedDuration;
use ngi_consent::domain::consent::Status;
use ngi_consent::simulator::{Endpoint, Fault};
use reqwest::{Response, StatusCode};

use crate::helpers::{PERSON_1, PERSON_2, TestApp, body, browser};
use crate::lifecycle::{SINGLE_USE, WITH_DAYS, app_asking_for, newest_consent, ngi_consents};

const FORM_ACTION: &str = "action=\"/consent/withdraw\"";

/// The form's post as a browser sends it from our own page.
async fn withdraw(app: &TestApp) -> Response {
    app.client
        .post(app.url("/consent/withdraw"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", app.address.origin().ascii_serialization())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_debt_page_of_a_lasting_consent_offers_the_withdrawal() {
    let app = app_asking_for(WITH_DAYS).await;
    let page = body(app.follow_login(PERSON_1).await).await;
    assert!(page.contains(FORM_ACTION), "{page}");
    assert!(page.contains("Trekk tilbake samtykket"), "{page}");
    assert!(
        page.contains("aria-describedby=\"withdraw-note\""),
        "{page}"
    );

    let english = body(app.get("/debt?lang=en").await).await;
    assert!(english.contains("Withdraw consent"), "{english}");
}

#[tokio::test]
async fn the_debt_page_of_a_single_use_consent_offers_no_withdrawal() {
    let app = app_asking_for(SINGLE_USE).await;
    let page = body(app.follow_login(PERSON_1).await).await;
    assert!(!page.contains(FORM_ACTION), "{page}");

    let response = withdraw(&app).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        body(response)
            .await
            .contains("Ingen samtykke å trekke tilbake")
    );
    assert_eq!(newest_consent(&app).await.status, Status::Used);
}

#[tokio::test]
async fn withdrawing_revokes_the_sessions_consent_and_posting_again_is_harmless() {
    let app = app_asking_for(WITH_DAYS).await;
    app.follow_login(PERSON_1).await;

    let response = withdraw(&app).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = body(response).await;
    assert!(page.contains("Samtykket er trukket tilbake"), "{page}");
    let consent = newest_consent(&app).await;
    assert_eq!(consent.status, Status::Revoked);
    let id = consent.id.unwrap();
    assert!(
        !ngi_consents(&app)
            .consent_status(&id, "t")
            .await
            .unwrap()
            .is_active()
    );

    let calls = app.sim.consent_requests();
    let again = withdraw(&app).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(body(again).await.contains("Samtykket er trukket tilbake"));
    assert_eq!(app.sim.consent_requests(), calls, "NGI was asked again");
    let history = newest_consent(&app).await.history;
    assert_eq!(
        history.iter().filter(|c| c.to == Status::Revoked).count(),
        1
    );
}

#[tokio::test]
async fn a_withdrawal_posted_from_another_site_is_refused() {
    let app = app_asking_for(WITH_DAYS).await;
    app.follow_login(PERSON_1).await;

    let response = app
        .client
        .post(app.url("/consent/withdraw"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .client
        .post(app.url("/consent/withdraw"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(newest_consent(&app).await.status, Status::Active);
    assert_eq!(app.sim.consent_requests(), 0);
}

#[tokio::test]
async fn a_withdrawal_without_a_consent_in_the_session_is_a_clear_404() {
    let app = app_asking_for(WITH_DAYS).await;
    let response = withdraw(&app).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let page = body(response).await;
    assert!(page.contains("Ingen samtykke å trekke tilbake"), "{page}");
}

#[tokio::test]
async fn a_consent_id_in_the_form_is_ignored() {
    let mut app = app_asking_for(WITH_DAYS).await;
    // Another person's lasting consent, in another browser.
    app.follow_login(PERSON_2).await;
    let theirs = newest_consent(&app).await;
    // Listed newest first: a second later, so the next consent is the newest.
    app.clock.advance(SignedDuration::from_secs(1));
    app.client = browser();
    app.follow_login(PERSON_1).await;
    let mine = newest_consent(&app).await;
    assert_ne!(mine.id, theirs.id);

    let their_id = theirs.id.clone().unwrap();
    let response = app
        .client
        .post(app.url("/consent/withdraw"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("consent_id", their_id.as_str()), ("id", their_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let ledger = app.lifecycle().ledger();
    let theirs = ledger.get(&their_id).await.unwrap().unwrap();
    let mine = ledger
        .get(mine.id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs.status, Status::Active);
    assert_eq!(mine.status, Status::Revoked);
}

#[tokio::test]
async fn a_withdrawal_ngi_cannot_confirm_says_it_will_be_retried() {
    let app = app_asking_for(WITH_DAYS).await;
    app.follow_login(PERSON_1).await;

    app.sim
        .set_fault(Endpoint::Consent, Some(Fault::status(503)));
    let response = withdraw(&app).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let page = body(response).await;
    assert!(page.contains("Vi prøver igjen automatisk"), "{page}");
    assert!(!page.contains("Samtykket er trukket tilbake"), "{page}");
    assert_eq!(newest_consent(&app).await.status, Status::Revoking);

    // Trying again once NGI is back finishes it.
    app.sim.set_fault(Endpoint::Consent, None);
    let response = withdraw(&app).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(newest_consent(&app).await.status, Status::Revoked);
}

#[tokio::test]
async fn a_consent_that_had_already_ended_says_so() {
    let app = app_asking_for(WITH_DAYS).await;
    app.follow_login(PERSON_1).await;
    let id = newest_consent(&app).await.id.unwrap();
    ngi_consents(&app).revoke(&id, "t").await.unwrap();

    let response = withdraw(&app).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = body(response).await;
    assert!(page.contains("Samtykket var allerede avsluttet"), "{page}");
    assert_eq!(newest_consent(&app).await.status, Status::EndedAtNgi);
}
