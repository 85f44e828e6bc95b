//! A person in a phone-sized headless Chromium: landing → NGI (the embedded simulator) login →
//! consent → debt page, and the ways out (decline, cancel, a bad number, no debt to show).
//! Every page is checked with axe-core (WCAG 2.0/2.1 A and AA) and saved as a screenshot.

use fantoccini::Client;
use ngi_consent::config::{ServeArgs, Settings};
use ngi_consent::startup::Application;

use crate::harness::{
    Browser, HarnessError, axe, click_and_wait_for_navigation, current_url, describe, fill, goto,
    screenshot, text_of,
};

type TestResult = Result<(), HarnessError>;

/// The demo as `cargo run` starts it (pages are opened with `?lang=nb`: headless Chromium asks
/// for English), on free ports: the site and its embedded simulator.
async fn demo() -> String {
    let settings = Settings::from_args(ServeArgs {
        app_bind: Some("127.0.0.1:0".into()),
        simulator_bind: Some("127.0.0.1:0".into()),
        // A ledger of its own, never ./data.
        data_dir: Some(std::env::temp_dir().join(format!("ngi-browser-{}", uuid::Uuid::new_v4()))),
        ..ServeArgs::default()
    })
    .unwrap();
    let app = Application::build(settings).await.unwrap();
    let url = app.public_url().to_string();
    tokio::spawn(app.run_until(std::future::pending()));
    url
}

/// axe-core finds nothing on the current page, and the page is saved as `name`.
async fn accessible(client: &Client, name: &str) -> TestResult {
    screenshot(client, name).await?;
    let violations = axe(client).await?;
    assert!(
        violations.is_empty(),
        "axe-core found WCAG violations on {name} ({}):\n{}",
        current_url(client).await?,
        describe(&violations)
    );
    Ok(())
}

async fn body_text(client: &Client) -> Result<String, HarnessError> {
    text_of(client, "body").await
}

#[tokio::test]
async fn a_person_consents_and_sees_their_debt_on_an_accessible_page() -> TestResult {
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let site = demo().await;

    goto(&browser, &format!("{site}?lang=nb")).await?;
    assert!(
        text_of(&browser, "h1")
            .await?
            .contains("Hent gjeldsopplysningene dine")
    );
    accessible(&browser, "01-landing").await?;

    click_and_wait_for_navigation(&browser, "form.start button[type=submit]").await?;
    assert_eq!(current_url(&browser).await?.path(), "/testid/login");
    accessible(&browser, "02-ngi-login").await?;

    click_and_wait_for_navigation(&browser, "button[name=nin][value='14842249091']").await?;
    assert_eq!(current_url(&browser).await?.path(), "/testid/consent");
    assert!(body_text(&browser).await?.contains("Demobanken"));
    accessible(&browser, "03-ngi-consent").await?;

    click_and_wait_for_navigation(&browser, "button[name=decision][value=accept]").await?;
    let url = current_url(&browser).await?;
    assert_eq!(
        url.path(),
        "/debt",
        "the callback did not end on the debt page"
    );
    assert!(
        url.query().is_none(),
        "the debt page URL carries a query: {url}"
    );
    let text = body_text(&browser).await?;
    assert!(text.contains("Gjelden din"));
    // WebDriver reports the no-break spaces of the amount as plain spaces.
    assert!(text.contains("225 715,00 kr"), "{text}");
    assert!(text.contains("148422*****"));
    assert!(!text.contains("14842249091"));
    accessible(&browser, "04-debt-page").await?;

    // The same page in English, through the switch.
    click_and_wait_for_navigation(&browser, "a.lang-switch").await?;
    assert!(body_text(&browser).await?.contains("Your debt"));
    accessible(&browser, "05-debt-page-english").await?;

    // "Delete the information now" ends the session and leads back to the start.
    click_and_wait_for_navigation(&browser, "form[action='/session/end'] button").await?;
    assert_eq!(current_url(&browser).await?.path(), "/");
    goto(&browser, &format!("{site}debt")).await?;
    assert!(
        text_of(&browser, "h1")
            .await?
            .contains("No debt information to show")
    );

    browser.close().await
}

#[tokio::test]
async fn the_second_test_person_sees_a_warning_about_a_creditor_that_did_not_answer() -> TestResult
{
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let site = demo().await;

    goto(&browser, &format!("{site}?lang=nb")).await?;
    fill(&browser, "#nin", "29868099311").await?;
    click_and_wait_for_navigation(&browser, "form.start button[type=submit]").await?;
    click_and_wait_for_navigation(&browser, "button[name=nin][value='29868099311']").await?;
    click_and_wait_for_navigation(&browser, "button[name=decision][value=accept]").await?;

    let text = body_text(&browser).await?;
    assert!(
        text.contains("Ikke alle kreditorene dine svarte i tide"),
        "{text}"
    );
    assert!(text.contains("LOFOTEN FINANS ASA"));
    accessible(&browser, "06-debt-page-incomplete").await?;
    browser.close().await
}

#[tokio::test]
async fn declining_at_ngi_ends_on_a_page_that_says_nothing_was_shared() -> TestResult {
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let site = demo().await;

    goto(&browser, &format!("{site}?lang=nb")).await?;
    click_and_wait_for_navigation(&browser, "form.start button[type=submit]").await?;
    click_and_wait_for_navigation(&browser, "button[name=nin][value='14842249091']").await?;
    click_and_wait_for_navigation(&browser, "button[name=decision][value=decline]").await?;

    assert_eq!(current_url(&browser).await?.path(), "/v1/callback");
    assert!(text_of(&browser, "h1").await?.contains("Du takket nei"));
    assert!(
        body_text(&browser)
            .await?
            .contains("Ingen opplysninger er delt")
    );
    accessible(&browser, "07-consent-declined").await?;

    // "Start again" leads back to the landing step.
    click_and_wait_for_navigation(&browser, "main a.button").await?;
    assert_eq!(current_url(&browser).await?.path(), "/");
    browser.close().await
}

#[tokio::test]
async fn cancelling_the_login_at_ngi_ends_on_its_own_page() -> TestResult {
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let site = demo().await;

    goto(&browser, &format!("{site}?lang=nb")).await?;
    click_and_wait_for_navigation(&browser, "form.start button[type=submit]").await?;
    click_and_wait_for_navigation(&browser, "form.cancel-form button").await?;

    assert!(
        text_of(&browser, "h1")
            .await?
            .contains("Innloggingen ble avbrutt")
    );
    accessible(&browser, "08-login-cancelled").await?;
    browser.close().await
}

#[tokio::test]
async fn a_mistyped_national_identity_number_is_explained_on_the_landing_page() -> TestResult {
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let site = demo().await;

    goto(&browser, &format!("{site}?lang=nb")).await?;
    fill(&browser, "#nin", "12345678901").await?;
    click_and_wait_for_navigation(&browser, "form.start button[type=submit]").await?;

    assert_eq!(current_url(&browser).await?.path(), "/consent/start");
    assert!(
        text_of(&browser, "#nin-error")
            .await?
            .contains("ikke gyldig")
    );
    accessible(&browser, "09-landing-invalid-number").await?;
    browser.close().await
}

#[tokio::test]
async fn the_debt_page_without_a_flow_and_an_unknown_page_are_accessible_in_english() -> TestResult
{
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let site = demo().await;

    goto(&browser, &format!("{site}debt?lang=en")).await?;
    assert!(
        text_of(&browser, "h1")
            .await?
            .contains("No debt information to show")
    );
    accessible(&browser, "10-no-debt-english").await?;

    goto(&browser, &format!("{site}no/such/page")).await?;
    assert!(
        text_of(&browser, "h1")
            .await?
            .contains("This page does not exist")
    );
    accessible(&browser, "11-not-found-english").await?;
    browser.close().await
}

/// At the simulator's Min gjeld page a person logs in, sees the lasting consent they just gave,
/// and withdraws it: every page accessible.
#[tokio::test]
async fn a_person_withdraws_a_consent_at_min_gjeld_on_accessible_pages() -> TestResult {
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let settings = Settings::from_args(ServeArgs {
        app_bind: Some("127.0.0.1:0".into()),
        simulator_bind: Some("127.0.0.1:0".into()),
        ngi_scope: Some("debt.unsecured.presentation.30".into()),
        data_dir: Some(std::env::temp_dir().join(format!("ngi-browser-{}", uuid::Uuid::new_v4()))),
        ..ServeArgs::default()
    })
    .unwrap();
    let app = Application::build(settings).await.unwrap();
    let site = app.public_url().to_string();
    let ngi = app.simulator().unwrap().base_url().to_string();
    tokio::spawn(app.run_until(std::future::pending()));

    goto(&browser, &format!("{site}?lang=nb")).await?;
    click_and_wait_for_navigation(&browser, "form.start button[type=submit]").await?;
    click_and_wait_for_navigation(&browser, "button[name=nin][value='14842249091']").await?;
    click_and_wait_for_navigation(&browser, "button[name=decision][value=accept]").await?;
    assert_eq!(current_url(&browser).await?.path(), "/debt");

    goto(&browser, &format!("{ngi}min-gjeld")).await?;
    accessible(&browser, "30-min-gjeld-login").await?;
    fill(&browser, "#nin", "12345678901").await?;
    click_and_wait_for_navigation(&browser, "form[novalidate] button[type=submit]").await?;
    assert!(body_text(&browser).await?.contains("ikke gyldig"));
    accessible(&browser, "31-min-gjeld-login-refused").await?;

    click_and_wait_for_navigation(&browser, "button[name=nin][value='14842249091']").await?;
    let text = body_text(&browser).await?;
    assert!(
        text.contains("Demobanken") && text.contains("Aktivt"),
        "{text}"
    );
    assert!(!text.contains("14842249091"));
    accessible(&browser, "32-min-gjeld-consents").await?;

    click_and_wait_for_navigation(&browser, "form[action='/min-gjeld/revoke'] button").await?;
    let text = body_text(&browser).await?;
    assert!(text.contains("Trukket tilbake"), "{text}");
    accessible(&browser, "33-min-gjeld-withdrawn").await?;

    browser.close().await
}
