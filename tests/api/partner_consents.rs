//! The partner API's consents over real sockets against the simulator: a consent from a signed
//! link listed, read and its debt fetched twice; a single-use one refused the second time; status
//! before and after a revoke; a revoke NGI fails, then finished; integrated consents registered,
//! the same again, and the conflicts; every refusal naming its field, with nothing written and
//! nothing sent to NGI.

use reqwest::header::{LOCATION, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::partner_door::PARTNER_TOKEN;
use ngi_consent::config::ServeArgs;
use ngi_consent::simulator::{Endpoint, Fault};

const WITH_DAYS: &str = "debt.unsecured.presentation.30";

async fn partner_app_asking_for(scope: &str) -> TestApp {
    spawn_app_with(Options {
        args: ServeArgs {
            partner_token: Some(PARTNER_TOKEN.into()),
            ngi_scope: Some(scope.into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await
}

/// One call of the partner API with the right token.
async fn call(app: &TestApp, method: Method, path: &str, body: Option<&Value>) -> Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(PARTNER_TOKEN);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn json_of(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// A problem answer's body, its status and content type checked.
async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    json_of(response, status).await
}

/// A flow through a signed link for `reference`, as `person`: the consent id the site recorded.
async fn consent_through_link(app: &TestApp, reference: &str, person: &str) -> String {
    let link = json_of(
        call(
            app,
            Method::POST,
            "/partner/api/links",
            Some(&json!({ "reference": reference })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let link = url::Url::parse(link["url"].as_str().unwrap()).unwrap();
    let authorize = assert_redirect(&app.get_url(link).await);
    let tx = app.log_in_at_ngi(authorize, person).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    assert_eq!(
        assert_redirect(&app.get_url(callback).await).path(),
        "/debt"
    );
    let listed = json_of(
        call(
            app,
            Method::GET,
            &format!("/partner/api/consents?reference={reference}"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    listed["consents"][0]["id"].as_str().unwrap().to_owned()
}

fn consent_path(id: &str) -> String {
    format!("/partner/api/consents/{id}")
}

#[tokio::test]
async fn a_lasting_consent_from_a_signed_link_is_listed_read_and_its_debt_fetched_twice() {
    let app = partner_app_asking_for(WITH_DAYS).await;
    let id = consent_through_link(&app, "APP-1", PERSON_1).await;

    let consent = json_of(
        call(&app, Method::GET, &consent_path(&id), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(consent["reference"], "APP-1");
    assert_eq!(consent["source"], "redirect");
    assert_eq!(consent["purpose"], "presentation");
    assert_eq!(consent["duration_days"], 30);
    assert_eq!(consent["status"], "active");
    assert_eq!(consent["nin_masked"], "148422*****");
    assert!(consent["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(consent["history"][0]["to"], "active", "{consent}");
    assert!(!consent.to_string().contains(PERSON_1));

    for _ in 0..2 {
        let debt = json_of(
            call(
                &app,
                Method::GET,
                &format!("{}/debt", consent_path(&id)),
                None,
            )
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(debt["consent_id"], id.as_str());
        assert_eq!(debt["nin_masked"], "148422*****");
        assert!(!debt.to_string().contains(PERSON_1), "{debt}");
        let loans = debt["loans"].as_array().unwrap();
        assert!(!loans.is_empty(), "{debt}");
        assert!(loans.iter().all(|l| l["type"].is_string()), "{debt}");
        assert!(debt["total_debt_ore"].as_i64().unwrap() > 0, "{debt}");
    }
}

#[tokio::test]
async fn a_single_use_consent_is_refused_a_second_fetch() {
    let app = partner_app_asking_for("debt.unsecured.presentation").await;
    let id = consent_through_link(&app, "APP-2", PERSON_1).await;
    let consent = json_of(
        call(&app, Method::GET, &consent_path(&id), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(consent["status"], "used");
    assert!(consent["duration_days"].is_null());

    let before = app.sim.consent_requests();
    let refused = problem(
        call(
            &app,
            Method::GET,
            &format!("{}/debt", consent_path(&id)),
            None,
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(refused["type"], "urn:ngi-consent:problem:single-use");
    assert_eq!(app.sim.consent_requests(), before, "NGI was asked");
}

#[tokio::test]
async fn status_before_and_after_a_revoke() {
    let app = partner_app_asking_for(WITH_DAYS).await;
    let id = consent_through_link(&app, "APP-3", PERSON_1).await;
    let status_path = format!("{}/status", consent_path(&id));

    let before = json_of(
        call(&app, Method::POST, &status_path, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(before["status"], "active");

    let revoked = json_of(
        call(&app, Method::DELETE, &consent_path(&id), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(revoked["status"], "revoked");
    let reasons: Vec<_> = revoked["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["to"].clone(), h["reason"].clone()))
        .collect();
    assert_eq!(
        reasons[1],
        (json!("revoking"), json!("revoked by the partner"))
    );
    assert_eq!(reasons[2].0, "revoked");

    let after = json_of(
        call(&app, Method::POST, &status_path, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after["status"], "revoked");
    let debt = problem(
        call(
            &app,
            Method::GET,
            &format!("{}/debt", consent_path(&id)),
            None,
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(debt["type"], "urn:ngi-consent:problem:not-active");

    // A second revoke is answered from the ledger.
    let again = json_of(
        call(&app, Method::DELETE, &consent_path(&id), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["status"], "revoked");
}

#[tokio::test]
async fn a_revoke_ngi_fails_stays_revoking_and_the_retry_finishes_it() {
    let app = partner_app_asking_for(WITH_DAYS).await;
    let id = consent_through_link(&app, "APP-4", PERSON_1).await;

    app.sim.set_fault(
        Endpoint::Consent,
        Some(Fault::Respond {
            status: 500,
            content_type: "application/json".into(),
            body: r#"{"error":"server_error"}"#.into(),
        }),
    );
    let pending = json_of(
        call(&app, Method::DELETE, &consent_path(&id), None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(pending["status"], "revoking");

    app.sim.set_fault(Endpoint::Consent, None);
    let done = json_of(
        call(&app, Method::DELETE, &consent_path(&id), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "revoked");
}

#[tokio::test]
async fn an_integrated_consent_is_registered_the_same_again_is_the_same_and_other_data_conflicts() {
    let app = partner_app_asking_for(WITH_DAYS).await;
    let body = json!({
        "nin": PERSON_2,
        "purpose": "processing",
        "duration_days": 14,
        "reference": "LOAN-77"
    });

    let created = call(&app, Method::POST, "/partner/api/consents", Some(&body)).await;
    let location = created.headers()[LOCATION].to_str().unwrap().to_owned();
    let created = json_of(created, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, consent_path(&id));
    assert_eq!(created["status"], "active");
    assert_eq!(created["source"], "integrated");
    assert_eq!(created["reference"], "LOAN-77");
    assert_eq!(created["duration_days"], 14);
    assert_eq!(created["nin_masked"], "298680*****");
    assert!(created["expires_at"].is_string());
    assert_eq!(app.sim.agreement_requests(), 1);

    let same = json_of(
        call(&app, Method::POST, "/partner/api/consents", Some(&body)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(same["id"], id.as_str());
    assert_eq!(
        app.sim.agreement_requests(),
        1,
        "an active consent is answered from the ledger"
    );

    let mut other = body.clone();
    other["duration_days"] = json!(15);
    let taken = problem(
        call(&app, Method::POST, "/partner/api/consents", Some(&other)).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(taken["type"], "urn:ngi-consent:problem:reference-taken");
    assert_eq!(taken["field"], "reference");
    assert_eq!(app.sim.agreement_requests(), 1);

    // The registered consent is used like any other lasting one.
    let debt = json_of(
        call(
            &app,
            Method::GET,
            &format!("{}/debt", consent_path(&id)),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(debt["nin_masked"], "298680*****");
}

#[tokio::test]
async fn ngis_conflict_and_refusal_are_told_in_its_words_and_leave_the_consent_refused() {
    let app = partner_app_asking_for(WITH_DAYS).await;
    app.sim
        .set_fault(Endpoint::Agreement, Some(Fault::spring_status(409)));
    let conflict = problem(
        call(
            &app,
            Method::POST,
            "/partner/api/consents",
            Some(&json!({"nin": PERSON_1, "purpose": "presentation", "duration_days": 30, "reference": "AT-NGI"})),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(conflict["type"], "urn:ngi-consent:problem:conflict-at-ngi");
    assert!(
        conflict["detail"]
            .as_str()
            .unwrap()
            .starts_with("NGI (409)"),
        "{conflict}"
    );

    // A second later, so "newest first" has one answer (rows of the same second are ordered
    // by their random row id).
    app.clock.advance(jiff::SignedDuration::from_secs(1));
    app.sim
        .set_fault(Endpoint::Agreement, Some(Fault::spring_status(400)));
    let refused = problem(
        call(
            &app,
            Method::POST,
            "/partner/api/consents",
            Some(&json!({"nin": PERSON_1, "purpose": "presentation", "duration_days": 30, "reference": "REFUSED"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["type"], "urn:ngi-consent:problem:refused-by-ngi");

    // The same request again is refused again, in the words recorded, without asking NGI.
    app.sim.set_fault(Endpoint::Agreement, None);
    let asked = app.sim.agreement_requests();
    let again = problem(
        call(
            &app,
            Method::POST,
            "/partner/api/consents",
            Some(&json!({"nin": PERSON_1, "purpose": "presentation", "duration_days": 30, "reference": "REFUSED"})),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        again["type"],
        "urn:ngi-consent:problem:registration-refused"
    );
    assert!(
        again["detail"].as_str().unwrap().starts_with("NGI refused"),
        "{again}"
    );
    assert_eq!(app.sim.agreement_requests(), asked);

    let listed = json_of(
        call(
            &app,
            Method::GET,
            "/partner/api/consents?status=refused",
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let references: Vec<_> = listed["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["reference"].clone(), c["id"].clone()))
        .collect();
    assert_eq!(
        references,
        vec![
            (json!("REFUSED"), Value::Null),
            (json!("AT-NGI"), Value::Null)
        ]
    );
}

#[tokio::test]
async fn a_registration_ngi_does_not_confirm_stays_registering_and_the_same_request_finishes_it() {
    let app = partner_app_asking_for(WITH_DAYS).await;
    let body = json!({"nin": PERSON_1, "purpose": "presentation", "duration_days": 90});

    app.sim
        .set_fault(Endpoint::Agreement, Some(Fault::spring_status(500)));
    let pending = call(&app, Method::POST, "/partner/api/consents", Some(&body)).await;
    assert_eq!(pending.headers()[RETRY_AFTER], "30");
    problem(pending, StatusCode::SERVICE_UNAVAILABLE).await;

    let listed = json_of(
        call(&app, Method::GET, "/partner/api/consents", None).await,
        StatusCode::OK,
    )
    .await;
    let row = &listed["consents"][0];
    assert_eq!(row["status"], "registering");
    assert!(row["id"].is_null());
    // Without a reference of its own the consent got a UUID: the retry names it.
    let reference = row["reference"].as_str().unwrap().to_owned();
    assert_eq!(reference.len(), 36, "{row}");

    app.sim.set_fault(Endpoint::Agreement, None);
    let mut again = body.clone();
    again["reference"] = json!(reference);
    let done = json_of(
        call(&app, Method::POST, "/partner/api/consents", Some(&again)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "active");
    assert!(done["id"].is_string());
    assert_eq!(app.sim.agreement_requests(), 2);
}

#[tokio::test]
async fn every_refusal_names_its_field_writes_nothing_and_asks_ngi_nothing() {
    let app = partner_app_asking_for(WITH_DAYS).await;
    let good = json!({"nin": PERSON_1, "purpose": "presentation", "duration_days": 30});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("nin", json!("14842249092")), "nin"),
        (with("nin", json!("123")), "nin"),
        (with("purpose", json!("marketing")), "purpose"),
        (with("duration_days", json!(0)), "duration_days"),
        (with("duration_days", json!(366)), "duration_days"),
        (with("duration_days", json!("30")), "duration_days"),
        (with("reference", json!("a".repeat(101))), "reference"),
        (with("reference", json!("APP 1")), "reference"),
        (with("extra", json!(1)), "extra"),
        (
            json!({"nin": PERSON_1, "purpose": "processing", "duration_days": 29}),
            "duration_days",
        ),
        (json!({"purpose": "processing", "duration_days": 2}), "nin"),
    ] {
        let refused = problem(
            call(&app, Method::POST, "/partner/api/consents", Some(&body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["field"], field, "{body}: {refused}");
        assert!(!refused.to_string().contains(PERSON_1), "{refused}");
    }

    for (method, path, status, field) in [
        (
            Method::GET,
            "/partner/api/consents?limit=0",
            422,
            Some("limit"),
        ),
        (
            Method::GET,
            "/partner/api/consents?limit=1001",
            422,
            Some("limit"),
        ),
        (
            Method::GET,
            "/partner/api/consents?status=gone",
            422,
            Some("status"),
        ),
        (
            Method::GET,
            "/partner/api/consents?after=xyz",
            422,
            Some("after"),
        ),
        (
            Method::GET,
            "/partner/api/consents/not%20an%20id",
            422,
            Some("id"),
        ),
        (Method::DELETE, "/partner/api/consents/a_b", 422, Some("id")),
        (Method::GET, "/partner/api/consents/unknown-id", 404, None),
        (
            Method::DELETE,
            "/partner/api/consents/unknown-id",
            404,
            None,
        ),
        (
            Method::POST,
            "/partner/api/consents/unknown-id/status",
            404,
            None,
        ),
        (
            Method::GET,
            "/partner/api/consents/unknown-id/debt",
            404,
            None,
        ),
    ] {
        let answer = problem(
            call(&app, method.clone(), path, None).await,
            StatusCode::from_u16(status).unwrap(),
        )
        .await;
        assert_eq!(answer["field"].as_str(), field, "{method} {path}: {answer}");
    }

    let listed = json_of(
        call(&app, Method::GET, "/partner/api/consents", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["consents"], json!([]), "a refusal wrote something");
    assert_eq!(app.sim.agreement_requests(), 0);
    assert_eq!(app.sim.consent_requests(), 0);
}

#[tokio::test]
async fn a_listing_pages_newest_first_with_its_cursor() {
    let app = partner_app_asking_for(WITH_DAYS).await;
    let mut made = Vec::new();
    for n in 0..3 {
        let created = json_of(
            call(
                &app,
                Method::POST,
                "/partner/api/consents",
                Some(&json!({"nin": PERSON_1, "purpose": "presentation", "duration_days": 30, "reference": format!("PAGE-{n}")})),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        made.push(created["reference"].as_str().unwrap().to_owned());
        app.clock.advance(jiff::SignedDuration::from_secs(1));
    }
    let mut seen = Vec::new();
    let mut path = "/partner/api/consents?limit=2".to_owned();
    loop {
        let page = json_of(call(&app, Method::GET, &path, None).await, StatusCode::OK).await;
        for consent in page["consents"].as_array().unwrap() {
            assert_eq!(
                consent["history"],
                json!([]),
                "a listing carries no history"
            );
            seen.push(consent["reference"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/partner/api/consents?limit=2&after={next}"),
            None => break,
        }
    }
    made.reverse();
    assert_eq!(seen, made);
}
