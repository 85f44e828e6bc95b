//! The partner console in a 320 px wide headless Chromium, in both languages: every page (the
//! login form and its refusal, the ledger, a consent, the debt again, status, revoke, the
//! registration form and its refusal, a start link, the consent feed with its events) reflows without sideways
//! scrolling and axe-core finds no WCAG 2.0/2.1 A or AA violation on it.

use std::sync::Arc;

use fantoccini::Client;
use ngi_consent::config::{ServeArgs, Settings};
use ngi_consent::feed::Follower;
use ngi_consent::startup::Application;

use crate::harness::{
    Browser, HarnessError, axe, click_and_wait_for_navigation, current_url, describe, fill, goto,
};
use crate::reflow::{REFLOW_WIDTH, Report};

type TestResult = Result<(), HarnessError>;

const TOKEN: &str = "console-browser-token-0123456789abcdef";

/// The demo with a partner token of the test's own, on free ports, and its feed follower.
async fn demo() -> (String, Arc<Follower>) {
    let settings = Settings::from_args(ServeArgs {
        app_bind: Some("127.0.0.1:0".into()),
        simulator_bind: Some("127.0.0.1:0".into()),
        partner_token: Some(TOKEN.into()),
        ngi_scope: Some("debt.unsecured.presentation.30".into()),
        data_dir: Some(std::env::temp_dir().join(format!("ngi-console-{}", uuid::Uuid::new_v4()))),
        ..ServeArgs::default()
    })
    .unwrap();
    let app = Application::build(settings).await.unwrap();
    let url = app.public_url().to_string();
    let follower = Arc::clone(app.follower());
    tokio::spawn(app.run_until(std::future::pending()));
    (url, follower)
}

/// Both checks on the current page: reflow (into `report`) and axe-core (into `axe_failures`).
async fn check(
    client: &Client,
    report: &mut Report,
    axe_failures: &mut Vec<String>,
    name: &str,
    lang: &str,
) -> TestResult {
    report.check(client, name, lang).await?;
    let violations = axe(client).await?;
    if !violations.is_empty() {
        axe_failures.push(format!(
            "{name} ({}): {}",
            current_url(client).await?.path(),
            describe(&violations)
        ));
    }
    Ok(())
}

#[tokio::test]
async fn every_console_page_reflows_at_320_css_pixels_and_passes_axe_in_either_language()
-> TestResult {
    let Some(browser) = Browser::start_with_viewport((REFLOW_WIDTH, 640)).await? else {
        return Ok(());
    };
    let (site, follower) = demo().await;
    let mut report = Report::default();
    let mut axe_failures = Vec::new();

    let walked = async {
        for lang in ["nb", "en"] {
            macro_rules! check_as {
                ($name:expr) => {
                    check(
                        &browser,
                        &mut report,
                        &mut axe_failures,
                        &format!("{lang}: console {}", $name),
                        lang,
                    )
                    .await
                };
            }

            goto(&browser, &format!("{site}partner/login?lang={lang}")).await?;
            check_as!("login")?;
            fill(&browser, "#token", "not-the-token").await?;
            click_and_wait_for_navigation(&browser, "form.console-login button").await?;
            check_as!("login refused")?;
            fill(&browser, "#token", TOKEN).await?;
            click_and_wait_for_navigation(&browser, "form.console-login button").await?;
            assert_eq!(current_url(&browser).await?.path(), "/partner/consents");
            check_as!("ledger")?;

            goto(&browser, &format!("{site}partner/links")).await?;
            check_as!("start link form")?;
            fill(&browser, "#link-reference", "APP-1").await?;
            click_and_wait_for_navigation(&browser, "form.console-link button").await?;
            check_as!("start link made")?;
            let link = browser
                .execute(
                    "return document.getElementById('start-link').value;",
                    vec![],
                )
                .await?;
            let link = link.as_str().unwrap_or_default().to_owned();

            // The person's flow through the link, in the same browser.
            goto(&browser, link.trim()).await?;
            click_and_wait_for_navigation(&browser, "button[name=nin][value='14842249091']")
                .await?;
            click_and_wait_for_navigation(&browser, "button[name=decision][value=accept]").await?;

            goto(&browser, &format!("{site}partner/consents")).await?;
            check_as!("ledger with a consent")?;
            goto(
                &browser,
                &format!("{site}partner/consents?status=withdrawn"),
            )
            .await?;
            check_as!("ledger, filter refused")?;
            goto(&browser, &format!("{site}partner/consents?reference=APP-1")).await?;
            click_and_wait_for_navigation(&browser, "table.ledger a").await?;
            let consent = current_url(&browser).await?;
            check_as!("consent")?;
            click_and_wait_for_navigation(&browser, "form[action$='/debt'] button").await?;
            check_as!("debt again")?;
            goto(&browser, consent.as_str()).await?;
            click_and_wait_for_navigation(&browser, "form[action$='/status'] button").await?;
            check_as!("status asked")?;
            click_and_wait_for_navigation(&browser, "form[action$='/revoke'] button").await?;
            check_as!("revoked")?;

            goto(&browser, &format!("{site}partner/register")).await?;
            check_as!("registration form")?;
            fill(&browser, "#nin", "12345678901").await?;
            fill(&browser, "#duration_days", "400").await?;
            click_and_wait_for_navigation(&browser, "form.console-register button").await?;
            check_as!("registration refused")?;
            fill(&browser, "#nin", "29868099311").await?;
            fill(&browser, "#duration_days", "30").await?;
            click_and_wait_for_navigation(&browser, "form.console-register button").await?;
            check_as!("registered")?;

            // The revocation's event read now, so the feed page has its table of events.
            follower.poll_once(jiff::Timestamp::now()).await?;
            goto(&browser, &format!("{site}partner/feed")).await?;
            check_as!("feed")?;
            let rows = browser
                .execute(
                    "return document.querySelectorAll('table.feed-events tbody tr').length;",
                    vec![],
                )
                .await?;
            assert!(
                rows.as_u64().is_some_and(|n| n >= 2),
                "the feed page lists the events: {rows}"
            );
            click_and_wait_for_navigation(&browser, "nav.console-nav form button").await?;
            assert_eq!(current_url(&browser).await?.path(), "/partner/login");
        }
        Ok::<(), HarnessError>(())
    }
    .await;
    assert!(
        report.failures.is_empty(),
        "{} of {} console pages fail the reflow checks at {REFLOW_WIDTH} px:\n{}",
        report.failures.len(),
        report.pages.len(),
        report.failures.join("\n")
    );
    assert!(
        axe_failures.is_empty(),
        "axe-core found WCAG violations:\n{}",
        axe_failures.join("\n")
    );
    walked?;
    assert_eq!(report.pages.len(), 30, "not every console page was checked");
    browser.close().await
}
