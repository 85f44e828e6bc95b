//! The partner console's actions over real sockets against the simulator: each action on a
//! consent, registration and start links, paging through the ledger, and no full identity number
//! on any page.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::partner_console::{console_app, listed, log_in, page, post};
use ngi_consent::simulator::{Endpoint, Fault};

/// The start link a console page shows in its copy field.
fn shown_link(page: &str) -> url::Url {
    let start = page.find("id=\"start-link\"").expect("a link field");
    let from = start + page[start..].find('>').unwrap() + 1;
    let to = from + page[from..].find("</textarea>").unwrap();
    url::Url::parse(&page[from..to].replace("&amp;", "&").replace("&#38;", "&")).unwrap()
}

fn assert_no_full_number(pages: &[String]) {
    for (n, page) in pages.iter().enumerate() {
        for person in [PERSON_1, PERSON_2] {
            assert!(!page.contains(person), "page {n} shows {person}:\n{page}");
        }
    }
}

#[tokio::test]
async fn each_action_works_and_no_page_shows_a_full_identity_number() {
    let app = console_app().await;
    log_in(&app).await;
    let mut pages = Vec::new();

    // A start link for an application, then the person's flow through it.
    pages.push(page(&app, "/partner/links", StatusCode::OK).await);
    let made = post(
        &app,
        "/partner/links",
        &[("reference", "APP-7")],
        StatusCode::CREATED,
    )
    .await;
    let link = shown_link(&made);
    assert_eq!(link.path(), "/consent/start");
    assert_eq!(query(&link)["ref"], "APP-7");
    pages.push(made);
    let refused = post(
        &app,
        "/partner/links",
        &[("reference", "a b")],
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        refused.contains("id=\"link-reference-error\"")
            && refused.contains("aria-invalid=\"true\"")
    );
    pages.push(refused);

    let flow = console_app_view(&app);
    let authorize = assert_redirect(&flow.get_url(link).await);
    let tx = flow.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = flow.decide_at_ngi(&tx, "accept").await;
    assert_eq!(
        assert_redirect(&flow.get_url(callback).await).path(),
        "/debt"
    );
    let id = listed(&app).await[0]["id"].as_str().unwrap().to_owned();

    // The ledger, filtered, and the consent's page.
    let ledger = page(&app, "/partner/consents", StatusCode::OK).await;
    assert!(ledger.contains(&format!("/partner/consents/{id}")) && ledger.contains("APP-7"));
    assert!(ledger.contains("148422*****"), "the number masked");
    pages.push(ledger);
    let filtered = page(
        &app,
        "/partner/consents?status=revoked&reference=",
        StatusCode::OK,
    )
    .await;
    assert!(
        !filtered.contains("APP-7"),
        "a revoked filter shows no active consent"
    );
    pages.push(filtered);
    let by_reference = page(&app, "/partner/consents?reference=APP-7", StatusCode::OK).await;
    assert!(by_reference.contains(&id));
    pages.push(by_reference);
    let bad_filter = page(
        &app,
        "/partner/consents?status=withdrawn",
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(bad_filter.contains("id=\"status-error\""));
    pages.push(bad_filter);
    let consent_path = format!("/partner/consents/{id}");
    let consent = page(&app, &consent_path, StatusCode::OK).await;
    assert!(consent.contains("APP-7") && consent.contains("<table class=\"stack history\">"));
    pages.push(consent);
    pages.push(
        page(
            &app,
            "/partner/consents/no-such-consent",
            StatusCode::NOT_FOUND,
        )
        .await,
    );

    // The debt again, shown; the status asked; the consent revoked.
    let requests = app.sim.consent_requests();
    let debt = post(&app, &format!("{consent_path}/debt"), &[], StatusCode::OK).await;
    assert!(debt.contains("id=\"total-debt\""));
    assert_eq!(
        app.sim.consent_requests(),
        requests + 1,
        "fetched from NGI now"
    );
    pages.push(debt);
    let status = post(&app, &format!("{consent_path}/status"), &[], StatusCode::OK).await;
    assert!(status.contains("notice-ok"));
    pages.push(status);
    let revoked = post(&app, &format!("{consent_path}/revoke"), &[], StatusCode::OK).await;
    assert!(revoked.contains("notice-ok"));
    pages.push(revoked);
    assert_eq!(listed(&app).await[0]["status"], "revoked");
    let again = post(
        &app,
        &format!("{consent_path}/debt"),
        &[],
        StatusCode::CONFLICT,
    )
    .await;
    assert!(again.contains("notice-error"));
    pages.push(again);

    // An integrated consent registered; refusals name their field and never echo the number.
    pages.push(page(&app, "/partner/register", StatusCode::OK).await);
    let bad_nin = post(
        &app,
        "/partner/register",
        &[
            ("nin", "14842249092"),
            ("purpose", "presentation"),
            ("duration_days", "30"),
        ],
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(bad_nin.contains("id=\"nin-error\"") && !bad_nin.contains("14842249092"));
    pages.push(bad_nin);
    // A number typed into the wrong fields is not sent back in full either.
    let misplaced = post(
        &app,
        "/partner/register",
        &[
            ("nin", PERSON_2),
            ("purpose", "presentation"),
            ("duration_days", PERSON_1),
            ("reference", PERSON_1),
        ],
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(misplaced.contains("id=\"days-error\"") && misplaced.contains("148422*****"));
    pages.push(misplaced);
    let bad_days = post(
        &app,
        "/partner/register",
        &[
            ("nin", PERSON_2),
            ("purpose", "processing"),
            ("duration_days", "29"),
            ("reference", "INT-1"),
        ],
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(bad_days.contains("id=\"days-error\"") && bad_days.contains("INT-1"));
    pages.push(bad_days);
    let registered = post(
        &app,
        "/partner/register",
        &[
            ("nin", PERSON_2),
            ("purpose", "processing"),
            ("duration_days", "14"),
            ("reference", "INT-1"),
        ],
        StatusCode::OK,
    )
    .await;
    assert!(registered.contains("notice-ok") && registered.contains("INT-1"));
    assert!(registered.contains("298680*****"));
    pages.push(registered);
    let taken = post(
        &app,
        "/partner/register",
        &[
            ("nin", PERSON_1),
            ("purpose", "processing"),
            ("duration_days", "14"),
            ("reference", "INT-1"),
        ],
        StatusCode::CONFLICT,
    )
    .await;
    assert!(taken.contains("id=\"register-reference-error\""));
    pages.push(taken);
    let integrated: Vec<Value> = listed(&app)
        .await
        .into_iter()
        .filter(|c| c["reference"] == "INT-1")
        .collect();
    assert_eq!(integrated.len(), 1, "registered once");
    assert_eq!(integrated[0]["nin_masked"], "298680*****");

    // NGI fails: the consent's page says so, and nothing is recorded as done.
    let integrated = integrated[0]["id"].as_str().unwrap().to_owned();
    app.sim
        .set_fault(Endpoint::Consent, Some(Fault::status(500)));
    let failed = post(
        &app,
        &format!("/partner/consents/{integrated}/status"),
        &[],
        StatusCode::BAD_GATEWAY,
    )
    .await;
    app.sim.set_fault(Endpoint::Consent, None);
    assert!(failed.contains("notice-error"));
    pages.push(failed);

    pages.push(page(&app, "/partner/feed", StatusCode::OK).await);
    assert_no_full_number(&pages);
}

/// The same site as `app`, for a second client (the person's browser).
fn console_app_view(app: &TestApp) -> TestApp {
    TestApp {
        clock: app.clock.clone(),
        ..TestApp::browsing(app.address.clone(), app.sim.clone())
    }
}

#[tokio::test]
async fn the_ledger_pages_with_its_cursor_keeping_the_filters() {
    let app = console_app().await;
    log_in(&app).await;
    for n in 0..3 {
        post(
            &app,
            "/partner/register",
            &[
                ("nin", PERSON_1),
                ("purpose", "presentation"),
                ("duration_days", "30"),
                ("reference", &format!("PAGE-{n}")),
            ],
            StatusCode::OK,
        )
        .await;
        app.clock.advance(jiff::SignedDuration::from_secs(1));
    }
    let mut seen = Vec::new();
    let mut path = "/partner/consents?status=active&limit=2".to_owned();
    for _ in 0..3 {
        let shown = page(&app, &path, StatusCode::OK).await;
        let mut here: Vec<(usize, i32)> = (0..3)
            .filter_map(|n| shown.find(&format!(">PAGE-{n}<")).map(|at| (at, n)))
            .collect();
        here.sort_unstable();
        seen.extend(here.into_iter().map(|(_, n)| n));
        let Some(at) = shown.find("rel=\"next\" href=\"") else {
            break;
        };
        let from = at + "rel=\"next\" href=\"".len();
        let to = from + shown[from..].find('"').unwrap();
        path = shown[from..to].replace("&amp;", "&").replace("&#38;", "&");
        assert!(
            path.contains("status=active") && path.contains("limit=2"),
            "{path}"
        );
    }
    assert_eq!(seen, vec![2, 1, 0], "newest first, each once");
}
