//! WCAG 1.4.10 (reflow): at 320 CSS pixels wide, no page of the site or of the simulator scrolls
//! sideways, in either language. Long Norwegian compounds ("gjeldsopplysningene") must wrap.
//! Every page a browser can reach is visited; failures name the page and the offending elements.
//! Each page must also name its language, and Norwegian pages ask for hyphenation.

use fantoccini::Client;
use ngi_consent::config::{ServeArgs, Settings};
use ngi_consent::simulator::{Endpoint, Fault, SimulatorHandle};
use ngi_consent::startup::Application;
use serde_json::Value;

use crate::harness::{Browser, HarnessError, click_and_wait_for_navigation, fill, goto};

type TestResult = Result<(), HarnessError>;

/// The narrowest viewport WCAG 1.4.10 asks content to reflow in (CSS pixels).
pub(crate) const REFLOW_WIDTH: u32 = 320;

/// Everything that sticks out past the viewport's right edge: the document itself when it scrolls
/// sideways, every element whose box does, and every element whose own text does (a word that
/// cannot break overflows its box without widening it). At most 12 entries, innermost first.
const OVERFLOW_SCRIPT: &str = r#"
const root = document.documentElement;
const width = root.clientWidth;
const found = [];
const name = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (typeof el.className === 'string' && el.className.trim()) {
    s += '.' + el.className.trim().split(/\s+/).join('.');
  }
  const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 50);
  return text ? `${s} "${text}"` : s;
};
if (root.scrollWidth > width) {
  found.push(`the document is ${root.scrollWidth} px wide in a ${width} px viewport`);
}
const offenders = new Map();
const add = (el, right) => offenders.set(el, Math.max(offenders.get(el) || 0, right));
for (const el of document.body.querySelectorAll('*')) {
  const box = el.getBoundingClientRect();
  if (box.width > 0 && box.right > width + 0.5) add(el, box.right);
}
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  if (!node.textContent.trim()) continue;
  const range = document.createRange();
  range.selectNodeContents(node);
  for (const line of range.getClientRects()) {
    if (line.width > 0 && line.right > width + 0.5 && node.parentElement) {
      add(node.parentElement, line.right);
    }
  }
}
const all = [...offenders.keys()];
const innermost = all.filter((el) => !all.some((o) => o !== el && el.contains(o)));
for (const el of innermost.slice(0, 12)) {
  found.push(`${name(el)} reaches ${Math.round(offenders.get(el))} px`);
}
return found;
"#;

/// What sticks out on the current page, each entry naming an element.
async fn overflow(client: &Client) -> Result<Vec<String>, HarnessError> {
    let found = client.execute(OVERFLOW_SCRIPT, vec![]).await?;
    Ok(found
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// Pages seen, and what overflowed on which.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) pages: Vec<String>,
    pub(crate) failures: Vec<String>,
}

impl Report {
    /// Checks the current page, remembered as `name`, which should be in `lang`.
    pub(crate) async fn check(&mut self, client: &Client, name: &str, lang: &str) -> TestResult {
        let width: i64 = client
            .execute("return document.documentElement.clientWidth;", vec![])
            .await?
            .as_i64()
            .unwrap_or_default();
        assert_eq!(width, i64::from(REFLOW_WIDTH), "the viewport is not 320 px");
        // The path only: a callback's query holds a state value.
        let url = client.current_url().await?.path().to_owned();
        let mut found = overflow(client).await?;
        // Hyphenation needs the page's language; Norwegian pages ask for it.
        let style = client
            .execute(
                "const s = getComputedStyle(document.body); \
                 return [document.documentElement.lang, s.hyphens || s.webkitHyphens];",
                vec![],
            )
            .await?;
        if style[0] != lang {
            found.push(format!("<html lang> is {}, not {lang:?}", style[0]));
        }
        if lang == "nb" && style[1] != "auto" {
            found.push(format!("hyphens is {}, not auto", style[1]));
        }
        if !found.is_empty() {
            self.failures
                .push(format!("{name} ({url}):\n  - {}", found.join("\n  - ")));
        }
        self.pages.push(name.to_owned());
        Ok(())
    }
}

/// The demo on free ports, and its simulator (for faults).
async fn demo() -> (String, SimulatorHandle) {
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
    let sim = app.simulator().unwrap().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    (url, sim)
}

/// From the landing page in `lang`, through "start": the simulator's login page.
async fn to_ngi_login(browser: &Client, site: &str, lang: &str) -> TestResult {
    goto(browser, &format!("{site}?lang={lang}")).await?;
    click_and_wait_for_navigation(browser, "form.start button[type=submit]").await
}

/// Logs in at the simulator as `nin` and answers the consent page with `decision`.
async fn log_in_and_decide(browser: &Client, nin: &str, decision: &str) -> TestResult {
    click_and_wait_for_navigation(browser, &format!("button[name=nin][value='{nin}']")).await?;
    click_and_wait_for_navigation(browser, &format!("button[name=decision][value={decision}]"))
        .await
}

#[tokio::test]
async fn no_page_scrolls_sideways_at_320_css_pixels_in_either_language() -> TestResult {
    let Some(browser) = Browser::start_with_viewport((REFLOW_WIDTH, 640)).await? else {
        return Ok(());
    };
    let (site, sim) = demo().await;
    let mut report = Report::default();

    // A page that overflows may also break a click further on: what overflowed is reported first.
    let walked = visit_every_page(&browser, &site, &sim, &mut report).await;
    assert!(
        report.failures.is_empty(),
        "{} of {} pages fail the reflow checks at {REFLOW_WIDTH} px:\n{}",
        report.failures.len(),
        report.pages.len(),
        report.failures.join("\n")
    );
    walked?;
    assert_eq!(report.pages.len(), 40, "not every page was checked");
    browser.close().await
}

/// Every page of the site (both languages) and of the simulator, each checked once per language.
async fn visit_every_page(
    browser: &Client,
    site: &str,
    sim: &SimulatorHandle,
    report: &mut Report,
) -> TestResult {
    let ngi = sim.base_url().to_string();
    for lang in ["nb", "en"] {
        let page = |name: &str| format!("{lang}: {name}");

        goto(browser, &format!("{site}?lang={lang}")).await?;
        report.check(browser, &page("landing"), lang).await?;

        fill(browser, "#nin", "12345678901").await?;
        click_and_wait_for_navigation(browser, "form.start button[type=submit]").await?;
        report
            .check(browser, &page("landing, number refused"), lang)
            .await?;

        goto(browser, &format!("{site}debt")).await?;
        report
            .check(browser, &page("no debt to show"), lang)
            .await?;
        goto(browser, &format!("{site}no/such/page")).await?;
        report.check(browser, &page("page not found"), lang).await?;
        goto(browser, &format!("{site}v1/callback")).await?;
        report
            .check(browser, &page("callback, bad request"), lang)
            .await?;
        goto(browser, &format!("{site}v1/callback?code=c&state=unknown")).await?;
        report
            .check(browser, &page("callback, flow unknown"), lang)
            .await?;

        // The simulator's pages (Norwegian only) along a whole flow, and the debt pages.
        to_ngi_login(browser, site, lang).await?;
        report
            .check(browser, &page("simulator login"), "nb")
            .await?;
        fill(browser, "#nin", "12345678901").await?;
        click_and_wait_for_navigation(browser, "form[novalidate] button[type=submit]").await?;
        report
            .check(browser, &page("simulator login, number refused"), "nb")
            .await?;
        click_and_wait_for_navigation(browser, "button[name=nin][value='29868099311']").await?;
        report
            .check(browser, &page("simulator consent"), "nb")
            .await?;
        click_and_wait_for_navigation(browser, "button[name=decision][value=accept]").await?;
        report
            .check(browser, &page("debt page, a creditor missing"), lang)
            .await?;

        to_ngi_login(browser, site, lang).await?;
        log_in_and_decide(browser, "14842249091", "accept").await?;
        report.check(browser, &page("debt page"), lang).await?;

        to_ngi_login(browser, site, lang).await?;
        log_in_and_decide(browser, "14842249091", "decline").await?;
        report
            .check(browser, &page("consent declined"), lang)
            .await?;

        to_ngi_login(browser, site, lang).await?;
        click_and_wait_for_navigation(browser, "form.cancel-form button").await?;
        report
            .check(browser, &page("login cancelled"), lang)
            .await?;

        goto(browser, &format!("{site}?lang={lang}")).await?;
        fill(browser, "#nin", "14842249091").await?;
        click_and_wait_for_navigation(browser, "form.start button[type=submit]").await?;
        log_in_and_decide(browser, "29868099311", "accept").await?;
        report.check(browser, &page("another person"), lang).await?;

        for (name, endpoint, fault) in [
            ("token refused", Endpoint::Token, Fault::status(400)),
            ("NGI unavailable", Endpoint::Debt, Fault::status(500)),
            ("consent not valid", Endpoint::Debt, Fault::status(403)),
            ("NGI answer unreadable", Endpoint::Debt, Fault::garbage()),
        ] {
            sim.set_fault(endpoint, Some(fault));
            to_ngi_login(browser, site, lang).await?;
            log_in_and_decide(browser, "14842249091", "accept").await?;
            sim.set_fault(endpoint, None);
            report.check(browser, &page(name), lang).await?;
        }

        goto(browser, &format!("{ngi}oauth2/auth")).await?;
        report
            .check(browser, &page("simulator, bad request"), "nb")
            .await?;
        goto(browser, &format!("{ngi}no/such/page")).await?;
        report
            .check(browser, &page("simulator, page not found"), "nb")
            .await?;
    }

    Ok(())
}

/// The withdrawal of a lasting consent: the debt page with its form, then each answer page
/// (withdrawn; NGI could not confirm), in both languages.
#[tokio::test]
async fn the_withdrawal_pages_reflow_at_320_css_pixels_in_either_language() -> TestResult {
    let Some(browser) = Browser::start_with_viewport((REFLOW_WIDTH, 640)).await? else {
        return Ok(());
    };
    let settings = Settings::from_args(ServeArgs {
        app_bind: Some("127.0.0.1:0".into()),
        simulator_bind: Some("127.0.0.1:0".into()),
        ngi_scope: Some("debt.unsecured.presentation.30".into()),
        data_dir: Some(
            std::env::temp_dir().join(format!("ngi-consent-reflow-{}", uuid::Uuid::new_v4())),
        ),
        ..ServeArgs::default()
    })
    .unwrap();
    let app = Application::build(settings).await.unwrap();
    let site = app.public_url().to_string();
    let sim = app.simulator().unwrap().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let mut report = Report::default();

    let walked = async {
        for lang in ["nb", "en"] {
            let page = |name: &str| format!("{lang}: {name}");
            for (name, fault) in [
                ("withdrawal not confirmed", Some(Fault::status(500))),
                ("consent withdrawn", None),
            ] {
                to_ngi_login(&browser, &site, lang).await?;
                log_in_and_decide(&browser, "14842249091", "accept").await?;
                report
                    .check(&browser, &page("debt page, lasting consent"), lang)
                    .await?;
                sim.set_fault(Endpoint::Consent, fault);
                click_and_wait_for_navigation(&browser, "form.withdraw button[type=submit]")
                    .await?;
                sim.set_fault(Endpoint::Consent, None);
                report.check(&browser, &page(name), lang).await?;
            }
        }
        Ok::<(), HarnessError>(())
    }
    .await;
    assert!(
        report.failures.is_empty(),
        "{} of {} pages fail the reflow checks at {REFLOW_WIDTH} px:\n{}",
        report.failures.len(),
        report.pages.len(),
        report.failures.join("\n")
    );
    walked?;
    assert_eq!(report.pages.len(), 8, "not every page was checked");
    browser.close().await
}

/// Min gjeld at the simulator: the login, a refused number, the consents and a withdrawal.
#[tokio::test]
async fn the_min_gjeld_pages_reflow_at_320_css_pixels() -> TestResult {
    let Some(browser) = Browser::start_with_viewport((REFLOW_WIDTH, 640)).await? else {
        return Ok(());
    };
    let settings = Settings::from_args(ServeArgs {
        app_bind: Some("127.0.0.1:0".into()),
        simulator_bind: Some("127.0.0.1:0".into()),
        ngi_scope: Some("debt.unsecured.presentation.30".into()),
        data_dir: Some(
            std::env::temp_dir().join(format!("ngi-consent-reflow-{}", uuid::Uuid::new_v4())),
        ),
        ..ServeArgs::default()
    })
    .unwrap();
    let app = Application::build(settings).await.unwrap();
    let site = app.public_url().to_string();
    let ngi = app.simulator().unwrap().base_url().to_string();
    tokio::spawn(app.run_until(std::future::pending()));
    let mut report = Report::default();

    let walked = async {
        to_ngi_login(&browser, &site, "nb").await?;
        log_in_and_decide(&browser, "14842249091", "accept").await?;
        goto(&browser, &format!("{ngi}min-gjeld")).await?;
        report.check(&browser, "min gjeld login", "nb").await?;
        fill(&browser, "#nin", "12345678901").await?;
        click_and_wait_for_navigation(&browser, "form[novalidate] button[type=submit]").await?;
        report
            .check(&browser, "min gjeld login, number refused", "nb")
            .await?;
        click_and_wait_for_navigation(&browser, "button[name=nin][value='14842249091']").await?;
        report.check(&browser, "min gjeld consents", "nb").await?;
        click_and_wait_for_navigation(&browser, "form[action='/min-gjeld/revoke'] button").await?;
        report.check(&browser, "min gjeld, withdrawn", "nb").await
    }
    .await;
    assert!(
        report.failures.is_empty(),
        "Min gjeld pages fail the reflow checks at {REFLOW_WIDTH} px:\n{}",
        report.failures.join("\n")
    );
    walked?;
    assert_eq!(report.pages.len(), 4, "not every page was checked");
    browser.close().await
}
