//! Navigating, clicking, filling in and reading pages, each bounded in time, and screenshots.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::{Client, Locator};
use serde_json::json;

use super::{HarnessError, NAVIGATION_TIMEOUT, Result};

// ---------------------------------------------------------------------------
// Navigation and interaction helpers
// ---------------------------------------------------------------------------

/// Navigates to `url`, which must point at a loopback address.
pub async fn goto(client: &Client, url: &str) -> Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| HarnessError(format!("bad URL {url:?}: {e}")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    };
    if !loopback {
        return Err(HarnessError(format!(
            "refusing to browse to {url}: only loopback targets are allowed"
        )));
    }
    client.goto(url).await?;
    Ok(())
}

pub async fn current_url(client: &Client) -> Result<url::Url> {
    Ok(client.current_url().await?)
}

async fn find(client: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    client
        .find(Locator::Css(css))
        .await
        .map_err(|e| HarnessError(format!("no element matches {css:?}: {e}")))
}

/// Clicks the first element matching `css` (no navigation wait).
pub async fn click(client: &Client, css: &str) -> Result<()> {
    find(client, css).await?.click().await?;
    Ok(())
}

/// Replaces the value of the input matching `css` with `text`, as typed keys.
pub async fn fill(client: &Client, css: &str, text: &str) -> Result<()> {
    let element = find(client, css).await?;
    element.clear().await?;
    element.send_keys(text).await?;
    Ok(())
}

/// The rendered text of the first element matching `css`.
pub async fn text_of(client: &Client, css: &str) -> Result<String> {
    Ok(find(client, css).await?.text().await?)
}

/// Waits (bounded) until an element matching `css` exists.
pub async fn wait_for_element(client: &Client, css: &str) -> Result<()> {
    client
        .wait()
        .at_most(NAVIGATION_TIMEOUT)
        .every(Duration::from_millis(50))
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| {
            HarnessError(format!(
                "no element matches {css:?} within {NAVIGATION_TIMEOUT:?}: {e}"
            ))
        })?;
    Ok(())
}

/// Clicks `css` (a link, or a form's submit button) and waits until a *new*
/// document has loaded completely, following any redirects (POST → 303 →
/// GET). Works even when the new page has the same URL: the old document is
/// tagged with a marker that a new document does not carry.
pub async fn click_and_wait_for_navigation(client: &Client, css: &str) -> Result<()> {
    click_and_wait_for_navigation_within(client, css, NAVIGATION_TIMEOUT).await
}

/// [`click_and_wait_for_navigation`] with an explicit bound.
pub async fn click_and_wait_for_navigation_within(
    client: &Client,
    css: &str,
    timeout: Duration,
) -> Result<()> {
    let marker = format!(
        "ngi-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    client
        .execute(
            "window.__ngiHarnessPage = arguments[0]; return true;",
            vec![json!(marker)],
        )
        .await?;
    click(client, css).await?;
    let deadline = Instant::now() + timeout;
    loop {
        // Errors are expected while the old document is being torn down.
        let state = client
            .execute(
                "return [window.__ngiHarnessPage === arguments[0], document.readyState];",
                vec![json!(marker)],
            )
            .await;
        if let Ok(state) = state
            && state[0] == json!(false)
            && state[1] == json!("complete")
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let at = client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            return Err(HarnessError(format!(
                "clicking {css:?} did not load a new page within {timeout:?} (still at {at})"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// Screenshots
// ---------------------------------------------------------------------------

/// Saves a PNG of the viewport to `screenshots/<name>.png` at the repository
/// root and returns its path. `name` may use `[A-Za-z0-9._-]`.
pub async fn screenshot(client: &Client, name: &str) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(HarnessError(format!(
            "bad screenshot name {name:?}: use [A-Za-z0-9._-]"
        )));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    tokio::fs::create_dir_all(&dir).await?;
    let path = dir.join(format!("{name}.png"));
    let png = client.screenshot().await?;
    tokio::fs::write(&path, png).await?;
    Ok(path)
}
