//! Proves the harness on pages served by an axum router inside the test.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::harness::{
    Browser, HarnessError, WINDOW_SIZE, axe, click, click_and_wait_for_navigation,
    click_and_wait_for_navigation_within, current_url, describe, fill, goto, rule_ids, screenshot,
    text_of, wait_for_element,
};

type TestResult = Result<(), HarnessError>;

/// The strict policy the app's pages send: no script source at all.
const STRICT_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE_CSS: &str = "body { font-family: sans-serif; margin: 1rem; color: #1a1a1a; background: #ffffff; }
label { display: block; margin-bottom: .25rem; }
input { font-size: 1rem; padding: .5rem; border: 1px solid #595959; }
button { font-size: 1rem; padding: .5rem 1rem; margin-top: .5rem; color: #ffffff; background: #004b87; border: 0; }
";

const LOGO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 48 48"><rect width="48" height="48" rx="8" fill="#004b87"/></svg>"##;

const GOOD_PAGE: &str = r#"<!doctype html>
<html lang="nb">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Se gjelden din – testside</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header><img src="/logo.svg" alt="ngi-consent" width="48" height="48"></header>
<main>
<h1>Se gjelden din</h1>
<p>Skriv navnet ditt og send skjemaet.</p>
<form method="post" action="/submit">
<label for="name">Navn</label>
<input id="name" name="name" type="text" autocomplete="name" required>
<button type="submit">Send</button>
</form>
</main>
</body>
</html>
"#;

/// Accessible, but with an inline script that the CSP must block.
const CSP_CANARY_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>CSP canary</title></head>
<body>
<main>
<h1>CSP canary</h1>
<p id="status">Inline script must not run here.</p>
<script>document.documentElement.setAttribute('data-inline-script', 'ran');</script>
</main>
</body>
</html>
"#;

/// Deliberately inaccessible: no lang, an image without alt, an unlabelled input.
const BROKEN_PAGE: &str = r#"<!doctype html>
<html>
<head><meta charset="utf-8"><title>Broken page</title></head>
<body>
<main>
<h1>Broken page</h1>
<img src="/logo.svg" width="48" height="48">
<form method="post" action="/submit">
<input type="text" name="name">
<button type="submit">Send</button>
</form>
</main>
</body>
</html>
"#;

#[derive(Deserialize)]
struct Submission {
    name: String,
}

fn html(body: String) -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, STRICT_CSP),
        ],
        body,
    )
        .into_response()
}

fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

async fn submit(Form(submission): Form<Submission>) -> Redirect {
    let name: String = url::form_urlencoded::byte_serialize(submission.name.as_bytes()).collect();
    Redirect::to(&format!("/result?name={name}"))
}

async fn result(Query(submission): Query<Submission>) -> Response {
    html(format!(
        r#"<!doctype html>
<html lang="nb">
<head><meta charset="utf-8"><title>Kvittering</title><link rel="stylesheet" href="/style.css"></head>
<body><main><h1>Kvittering</h1><p id="result">Takk, {}.</p></main></body>
</html>
"#,
        escape_html(&submission.name)
    ))
}

/// Serves the test pages on `127.0.0.1:0`; returns the base URL.
async fn serve() -> String {
    let app = Router::new()
        .route("/", get(|| async { html(GOOD_PAGE.to_owned()) }))
        .route(
            "/csp-canary",
            get(|| async { html(CSP_CANARY_PAGE.to_owned()) }),
        )
        .route(
            "/broken",
            get(|| async { ([(CONTENT_TYPE, "text/html; charset=utf-8")], BROKEN_PAGE) }),
        )
        .route("/submit", axum::routing::post(submit))
        .route("/result", get(result))
        .route(
            "/style.css",
            get(|| async { ([(CONTENT_TYPE, "text/css")], STYLE_CSS) }),
        )
        .route(
            "/logo.svg",
            get(|| async { ([(CONTENT_TYPE, "image/svg+xml")], LOGO_SVG) }),
        );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_accessible_page_under_a_strict_csp_has_no_axe_violations() -> TestResult {
    let base = serve().await;
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let response = reqwest::get(format!("{base}/")).await?;
    assert_eq!(
        response
            .headers()
            .get(CONTENT_SECURITY_POLICY)
            .map(|v| v.to_str().unwrap()),
        Some(STRICT_CSP)
    );

    goto(&browser, &format!("{base}/")).await?;
    let violations = axe(&browser).await?;
    assert!(violations.is_empty(), "{}", describe(&violations));
    browser.close().await
}

#[tokio::test]
async fn a_broken_page_is_reported_for_missing_alt_label_and_lang() -> TestResult {
    let base = serve().await;
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    goto(&browser, &format!("{base}/broken")).await?;
    let violations = axe(&browser).await?;
    let ids = rule_ids(&violations);
    for expected in ["image-alt", "label", "html-has-lang"] {
        assert!(
            ids.contains(&expected),
            "expected {expected}; got {}",
            describe(&violations)
        );
    }
    let image_alt = violations.iter().find(|v| v.id == "image-alt").unwrap();
    assert_eq!(image_alt.targets, ["img"], "{}", describe(&violations));
    let label = violations.iter().find(|v| v.id == "label").unwrap();
    assert_eq!(label.targets, ["input"], "{}", describe(&violations));
    let report = describe(&violations);
    assert!(report.contains("image-alt [critical]"), "{report}");
    browser.close().await
}

#[tokio::test]
async fn the_page_csp_blocks_inline_script_but_not_axe_injected_over_webdriver() -> TestResult {
    let base = serve().await;
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    goto(&browser, &format!("{base}/csp-canary")).await?;
    let inline_ran = browser
        .execute(
            "return document.documentElement.getAttribute('data-inline-script');",
            vec![],
        )
        .await?;
    assert_eq!(
        inline_ran,
        serde_json::Value::Null,
        "the CSP did not block the inline script"
    );

    let violations = axe(&browser).await?;
    assert!(violations.is_empty(), "{}", describe(&violations));
    // A second run reuses the injected axe-core.
    assert!(axe(&browser).await?.is_empty());
    browser.close().await
}

#[tokio::test]
async fn submitting_the_form_follows_the_303_and_shows_the_result() -> TestResult {
    let base = serve().await;
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    goto(&browser, &format!("{base}/")).await?;
    fill(&browser, "#name", "Kari <Nordmann>").await?;
    click_and_wait_for_navigation(&browser, "form button[type=submit]").await?;

    wait_for_element(&browser, "#result").await?;
    assert_eq!(
        text_of(&browser, "#result").await?,
        "Takk, Kari <Nordmann>."
    );
    let url = current_url(&browser).await?;
    assert_eq!(url.path(), "/result");
    assert_eq!(url.query(), Some("name=Kari+%3CNordmann%3E"));
    let violations = axe(&browser).await?;
    assert!(violations.is_empty(), "{}", describe(&violations));
    browser.close().await
}

#[tokio::test]
async fn navigation_waits_are_bounded_when_a_click_goes_nowhere() -> TestResult {
    let base = serve().await;
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    goto(&browser, &format!("{base}/")).await?;
    // A click that does not navigate is fine on its own…
    click(&browser, "h1").await?;
    // …but waiting for a navigation after it fails in bounded time.
    let started = Instant::now();
    let outcome =
        click_and_wait_for_navigation_within(&browser, "h1", Duration::from_secs(2)).await;
    let error = outcome.expect_err("a click without navigation must time out");
    assert!(
        error.to_string().contains("did not load a new page"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    browser.close().await
}

#[tokio::test]
async fn a_screenshot_is_saved_as_a_png_in_the_screenshots_directory() -> TestResult {
    let base = serve().await;
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    goto(&browser, &format!("{base}/")).await?;
    let path = screenshot(&browser, "harness-selftest-good-page").await?;
    assert_eq!(
        path,
        Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots/harness-selftest-good-page.png")
    );
    let png = std::fs::read(&path)?;
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    // The IHDR chunk holds the size: the phone-sized viewport.
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert_eq!((width, height), WINDOW_SIZE, "screenshot size");
    let inner = browser
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await?;
    assert_eq!(
        inner,
        serde_json::json!([WINDOW_SIZE.0, WINDOW_SIZE.1]),
        "viewport size"
    );

    assert!(screenshot(&browser, "../escape").await.is_err());
    browser.close().await
}

/// Processes whose command line mentions `needle` (e.g. a profile directory).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
        })
        .collect()
}

fn is_running(pid: u32) -> bool {
    // Gone, or a zombie ("Z"/"X" state), counts as not running.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit(") ")
            .next()
            .and_then(|rest| rest.chars().next());
        !matches!(state, Some('Z' | 'X'))
    })
}

async fn assert_all_gone(driver_pid: u32, profile: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let chromium = processes_mentioning(profile);
        let driver = is_running(driver_pid);
        if chromium.is_empty() && !driver {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left running: chromedriver={driver}, chromium pids={chromium:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn closing_the_browser_leaves_no_chromedriver_or_chromium_running() -> TestResult {
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let driver_pid = browser.chromedriver_pid().unwrap();
    let profile = browser.profile_dir().display().to_string();
    assert!(is_running(driver_pid));
    assert!(
        !processes_mentioning(&profile).is_empty(),
        "chromium should be running"
    );

    browser.close().await?;
    assert_all_gone(driver_pid, &profile).await;
    assert!(
        !Path::new(&profile).exists(),
        "profile directory was not removed"
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_browser_without_closing_also_stops_everything() -> TestResult {
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let driver_pid = browser.chromedriver_pid().unwrap();
    let profile = browser.profile_dir().display().to_string();
    assert!(
        !processes_mentioning(&profile).is_empty(),
        "chromium should be running"
    );

    drop(browser);
    assert_all_gone(driver_pid, &profile).await;
    Ok(())
}
