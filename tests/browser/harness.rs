//! Headless-browser test harness: Chromium driven through chromedriver
//! (WebDriver), axe-core accessibility checks and screenshots.
//!
//! One file on purpose, though past 600 lines: it is one thing, a browser's life (finding the
//! binaries, starting and stopping chromedriver, the session, axe-core, screenshots), and each
//! part leans on the others' private state.
//!
//! ```ignore
//! let Some(browser) = Browser::start().await? else { return Ok(()) };
//! goto(&browser, &format!("http://{addr}/")).await?;
//! let violations = axe(&browser).await?;
//! assert!(violations.is_empty(), "{}", describe(&violations));
//! browser.close().await?;
//! ```
//!
//! `Browser` dereferences to [`fantoccini::Client`], so every helper that
//! takes `&Client` also accepts `&browser`.
//!
//! Environment:
//! - `CHROMEDRIVER`: path to chromedriver (default: `PATH`, then `/usr/bin/chromedriver`).
//! - `CHROME`: path to the Chromium binary (default: `PATH`, then `/usr/bin/chromium`).
//! - `NGI_REQUIRE_BROWSER=1`: a missing browser fails the test instead of skipping it.
//! - `AXE_CORE_JS`: a local `axe.min.js` to use instead of fetching axe-core with npm.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

/// Phone-sized window (a large Android phone, CSS pixels).
pub const WINDOW_SIZE: (u32, u32) = (412, 915);
/// Longest wait for chromedriver to answer `GET /status` with `ready: true`.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for chromedriver to launch Chromium and open a session.
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for a new page after a click or a form submit.
pub const NAVIGATION_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for `npm` to fetch axe-core.
const NPM_TIMEOUT: Duration = Duration::from_secs(180);
/// The npm package spec fetched when `AXE_CORE_JS` is not set.
const AXE_CORE_SPEC: &str = "axe-core@4";
/// The axe-core rule tags that are checked.
pub const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// Every failure of the harness, as a readable message.
pub struct HarnessError(String);

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug prints the plain message: a test returning `Err` shows it readably.
impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for HarnessError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self(message)
    }
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// A running chromedriver with one open Chromium session.
///
/// Prefer [`Browser::close`]; dropping it (e.g. when a test panics) also ends
/// the session, kills chromedriver and whatever it launched, and removes the
/// temporary profile.
pub struct Browser {
    client: Client,
    driver: Child,
    driver_pid: Option<u32>,
    port: u16,
    session_id: Option<String>,
    run_dir: PathBuf,
    closed: bool,
}

impl Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless
    /// Chromium session with a phone-sized window.
    ///
    /// Returns `Ok(None)` (after printing `SKIPPED: …` to stderr) when chromium
    /// or chromedriver is not installed, unless `NGI_REQUIRE_BROWSER=1`, in
    /// which case that is an error.
    pub async fn start() -> Result<Option<Self>> {
        Self::start_with_viewport(WINDOW_SIZE).await
    }

    /// [`Browser::start`] with another viewport (`(width, height)` in CSS pixels), e.g. the
    /// 320 px of WCAG 1.4.10 (reflow).
    pub async fn start_with_viewport(viewport: (u32, u32)) -> Result<Option<Self>> {
        let driver = find_executable("CHROMEDRIVER", "chromedriver", "/usr/bin/chromedriver");
        let chrome = find_executable("CHROME", "chromium", "/usr/bin/chromium");
        let (driver, chrome) = match (driver, chrome) {
            (Ok(driver), Ok(chrome)) => (driver, chrome),
            (driver, chrome) => {
                let missing: Vec<String> =
                    [driver.err(), chrome.err()].into_iter().flatten().collect();
                let message = format!(
                    "browser tests need Debian's chromium and chromium-driver \
                     (apt-get install -y chromium chromium-driver); {}",
                    missing.join("; ")
                );
                if require_browser() {
                    return Err(HarnessError(format!(
                        "NGI_REQUIRE_BROWSER=1, but {message}"
                    )));
                }
                // Written to the stderr handle, not with eprintln!, so that
                // libtest's output capture does not hide it on a passing test.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {}: {message}. This test did NOT run; set NGI_REQUIRE_BROWSER=1 to make this a failure.",
                    std::thread::current().name().unwrap_or("browser test")
                );
                return Ok(None);
            }
        };
        Self::launch(&driver, &chrome, viewport).await.map(Some)
    }

    async fn launch(driver_path: &Path, chrome: &Path, viewport: (u32, u32)) -> Result<Self> {
        let run_dir = unique_dir("browser")?;
        let profile = run_dir.join("profile");
        std::fs::create_dir_all(&profile)?;
        let log = run_dir.join("chromedriver.log");

        // The free port is found by binding :0 and releasing it; another
        // process could grab it in between, so a driver that exits early is
        // retried on a new port.
        let mut attempt = 0;
        let (mut driver, port) = loop {
            attempt += 1;
            let port = free_loopback_port()?;
            let mut child = Command::new(driver_path)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    HarnessError(format!("cannot start {}: {e}", driver_path.display()))
                })?;
            match wait_until_ready(&mut child, port).await {
                Ok(()) => break (child, port),
                Err(DriverStartError::Exited(status)) if attempt < 3 => {
                    eprintln!(
                        "chromedriver on port {port} exited early ({status}); retrying on another port"
                    );
                }
                Err(error) => {
                    stop_driver(&mut child);
                    let detail = log_tail(&log);
                    let _ = std::fs::remove_dir_all(&run_dir);
                    return Err(HarnessError(format!(
                        "chromedriver ({}) did not become ready: {error}\n{detail}",
                        driver_path.display()
                    )));
                }
            }
        };
        let driver_pid = driver.id();

        let capabilities = capabilities(chrome, &profile, viewport);
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities);
        let webdriver_url = format!("http://127.0.0.1:{port}");
        let connected =
            tokio::time::timeout(SESSION_TIMEOUT, builder.connect(&webdriver_url)).await;
        let client = match connected {
            Ok(Ok(client)) => client,
            failed => {
                let reason = match failed {
                    Ok(Err(error)) => HarnessError::from(error).to_string(),
                    _ => format!("no session within {SESSION_TIMEOUT:?}"),
                };
                stop_driver(&mut driver);
                let detail = log_tail(&log);
                let _ = std::fs::remove_dir_all(&run_dir);
                return Err(HarnessError(format!(
                    "chromedriver could not start {}: {reason}\n{detail}",
                    chrome.display()
                )));
            }
        };
        let session_id = client.session_id().await.ok().flatten();
        Ok(Self {
            client,
            driver,
            driver_pid,
            port,
            session_id,
            run_dir,
            closed: false,
        })
    }

    /// Process id of chromedriver (its process group holds Chromium too).
    pub fn chromedriver_pid(&self) -> Option<u32> {
        self.driver_pid
    }

    /// The temporary Chromium profile (`--user-data-dir`), removed on close.
    pub fn profile_dir(&self) -> PathBuf {
        self.run_dir.join("profile")
    }

    /// Ends the WebDriver session (Chromium quits), then stops chromedriver.
    pub async fn close(mut self) -> Result<()> {
        let ended =
            tokio::time::timeout(Duration::from_secs(15), self.client.clone().close()).await;
        self.closed = matches!(ended, Ok(Ok(())));
        stop_driver(&mut self.driver);
        match ended {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(HarnessError(format!(
                "closing the WebDriver session failed: {error}"
            ))),
            Err(_) => Err(HarnessError(
                "closing the WebDriver session timed out".to_owned(),
            )),
        }
        // Drop finishes the cleanup (process group, profile directory).
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            // No async here (the runtime may be shutting down after a panic):
            // ask chromedriver to quit Chromium over a plain blocking socket.
            if let Some(session_id) = &self.session_id {
                delete_session_blocking(self.port, session_id);
            }
        }
        stop_driver(&mut self.driver);
        if std::thread::panicking() {
            eprintln!(
                "browser harness: kept chromedriver log for the failed test: {}",
                self.run_dir.join("chromedriver.log").display()
            );
            let _ = std::fs::remove_dir_all(self.profile_dir());
        } else {
            let _ = std::fs::remove_dir_all(&self.run_dir);
        }
    }
}

fn capabilities(chrome: &Path, profile: &Path, viewport: (u32, u32)) -> Capabilities {
    let (width, height) = viewport;
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--hide-scrollbars".to_owned(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".to_owned(), json!("chrome"));
    capabilities.insert("pageLoadStrategy".to_owned(), json!("normal"));
    capabilities.insert(
        "timeouts".to_owned(),
        json!({ "script": 30_000, "pageLoad": 30_000, "implicit": 0 }),
    );
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chrome.display().to_string(),
            "args": args,
            // Chromium clamps windows to at least 500 px wide, so the phone
            // viewport comes from device emulation (pixel ratio 1 keeps
            // screenshots at CSS-pixel size).
            "mobileEmulation": {
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "mobile": true, "touch": true }
            },
        }),
    );
    capabilities
}

fn require_browser() -> bool {
    std::env::var("NGI_REQUIRE_BROWSER").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// `$env_var` if set (must be executable), else `name` on `PATH`, else `fallback`.
fn find_executable(env_var: &str, name: &str, fallback: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!(
                "{env_var}={} is not an executable file",
                path.display()
            ))
        };
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate));
    on_path
        .or_else(|| Some(PathBuf::from(fallback)).filter(|p| is_executable(p)))
        .ok_or_else(|| format!("{name} not found ({env_var} unset, not on PATH, no {fallback})"))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A fresh directory under cargo's per-target temp dir (`target/tmp`).
fn unique_dir(prefix: &str) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

enum DriverStartError {
    Exited(std::process::ExitStatus),
    Io(std::io::Error),
    Timeout,
}

impl fmt::Display for DriverStartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited(status) => write!(f, "it exited ({status})"),
            Self::Io(error) => write!(f, "{error}"),
            Self::Timeout => write!(f, "GET /status not ready within {DRIVER_READY_TIMEOUT:?}"),
        }
    }
}

/// Polls `GET /status` until chromedriver reports `ready: true` (bounded).
async fn wait_until_ready(child: &mut Child, port: u16) -> Result<(), DriverStartError> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| DriverStartError::Io(std::io::Error::other(e)))?;
    let url = format!("http://127.0.0.1:{port}/status");
    let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(DriverStartError::Io)? {
            return Err(DriverStartError::Exited(status));
        }
        if let Ok(response) = http.get(&url).send().await
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == Value::Bool(true)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(DriverStartError::Timeout);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `DELETE /session/{id}` over a blocking socket, bounded; errors are ignored.
fn delete_session_blocking(port: u16, session_id: &str) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // chromedriver answers once Chromium has quit; it may keep the connection
    // open, so stop at the end of the response headers instead of EOF.
    let mut response = Vec::new();
    let mut chunk = [0_u8; 1024];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Kills chromedriver and its process group (it was started as a group
/// leader, and Chromium inherits the group: this catches a Chromium left
/// behind when the session could not be ended), then reaps chromedriver.
/// Synchronous and bounded, so it also works in `Drop`.
fn stop_driver(child: &mut Child) {
    // `id()` is `None` once the child was reaped: then its pid, and with it
    // the group id, may belong to someone else, so nothing is signalled.
    if let Some(pid) = child.id() {
        // dash's builtin kill takes a negative pid (a group); /bin/kill
        // (procps) is not on every minimal Debian image.
        let _ = std::process::Command::new("sh")
            .args(["-c", "kill -9 \"-$1\"", "sh", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = child.start_kill();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn log_tail(log: &Path) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            format!("last lines of {}:\n{tail}", log.display())
        }
        Err(_) => format!("(no chromedriver log at {})", log.display()),
    }
}

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

// ---------------------------------------------------------------------------
// axe-core
// ---------------------------------------------------------------------------

/// One failed axe rule and the page nodes that fail it.
#[derive(Debug, Clone, Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: Option<String>,
    pub help: String,
    #[serde(rename = "helpUrl")]
    pub help_url: String,
    /// One CSS selector per failing node (frames/shadow roots joined by ` >>> `).
    pub targets: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let impact = self.impact.as_deref().unwrap_or("unknown");
        write!(
            f,
            "{} [{impact}]: {} ({})",
            self.id, self.help, self.help_url
        )?;
        for target in &self.targets {
            write!(f, "\n      at {target}")?;
        }
        Ok(())
    }
}

/// A readable list of violations, for assertion messages.
pub fn describe(violations: &[Violation]) -> String {
    if violations.is_empty() {
        return "no axe violations".to_owned();
    }
    let mut text = format!(
        "{} axe violation(s) ({}):",
        violations.len(),
        AXE_TAGS.join(", ")
    );
    for violation in violations {
        text.push_str("\n  - ");
        text.push_str(&violation.to_string());
    }
    text
}

/// The ids of the violated rules, sorted.
pub fn rule_ids(violations: &[Violation]) -> Vec<&str> {
    let mut ids: Vec<&str> = violations.iter().map(|v| v.id.as_str()).collect();
    ids.sort_unstable();
    ids
}

const AXE_PRESENT_JS: &str =
    "return typeof window.axe === 'object' && typeof window.axe.run === 'function';";

const AXE_RUN_JS: &str = r#"
const done = arguments[arguments.length - 1];
window.axe.run(document, arguments[0]).then(function (results) {
  done({ violations: results.violations.map(function (v) {
    return {
      id: v.id,
      impact: v.impact || null,
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.map(function (n) {
        return n.target.map(function (t) { return Array.isArray(t) ? t.join(' >>> ') : String(t); }).join(' >>> ');
      })
    };
  }) });
}, function (e) {
  done({ error: String((e && e.stack) || e) });
});
"#;

/// Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the current page and
/// returns its violations. axe-core is injected through WebDriver script
/// execution, which page Content-Security-Policy does not block.
pub async fn axe(client: &Client) -> Result<Vec<Violation>> {
    let present = client.execute(AXE_PRESENT_JS, vec![]).await?;
    if present != json!(true) {
        let source = axe_source().await?;
        let inject = format!("{source}\n;return typeof window.axe === 'object';");
        let injected = client.execute(&inject, vec![]).await?;
        if injected != json!(true) {
            return Err(HarnessError(
                "injecting axe-core did not define window.axe on the page".to_owned(),
            ));
        }
    }
    let options = json!({
        "runOnly": { "type": "tag", "values": AXE_TAGS },
        "resultTypes": ["violations"],
    });
    let outcome = client.execute_async(AXE_RUN_JS, vec![options]).await?;
    if let Some(error) = outcome.get("error") {
        return Err(HarnessError(format!("axe.run failed: {error}")));
    }
    let violations = outcome
        .get("violations")
        .cloned()
        .ok_or_else(|| HarnessError(format!("unexpected axe result: {outcome}")))?;
    Ok(serde_json::from_value(violations)?)
}

static AXE_SOURCE: OnceCell<String> = OnceCell::const_new();

/// The axe-core source, loaded once per test binary.
async fn axe_source() -> Result<&'static str> {
    AXE_SOURCE
        .get_or_try_init(load_axe_source)
        .await
        .map(String::as_str)
}

async fn load_axe_source() -> Result<String> {
    let path = match std::env::var_os("AXE_CORE_JS").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => fetch_axe_core().await?,
    };
    let source = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| HarnessError(format!("cannot read axe-core from {}: {e}", path.display())))?;
    if !source.contains("axe") {
        return Err(HarnessError(format!(
            "{} does not look like axe-core",
            path.display()
        )));
    }
    Ok(source)
}

/// Installs axe-core with npm into `target/tmp/axe-core` unless it is already
/// there, and returns the path of `axe.min.js`. Concurrent test binaries are
/// safe: each installs into its own staging directory and renames it into
/// place; a rename that loses the race is discarded.
async fn fetch_axe_core() -> Result<PathBuf> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("axe-core");
    let axe_js = |root: &Path| {
        root.join("node_modules")
            .join("axe-core")
            .join("axe.min.js")
    };
    if axe_js(&cache).is_file() {
        return Ok(axe_js(&cache));
    }
    let staging = unique_dir("axe-core.staging")?;
    let mut npm = Command::new("npm");
    npm.args([
        "install",
        "--no-save",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
    ])
    .args(["--ignore-scripts", "--loglevel=error", "--prefix"])
    .arg(&staging)
    .arg(AXE_CORE_SPEC)
    .env("npm_config_update_notifier", "false")
    .stdin(Stdio::null())
    .kill_on_drop(true);
    let hint = "install npm, or set AXE_CORE_JS=/path/to/axe.min.js";
    let failure = match tokio::time::timeout(NPM_TIMEOUT, npm.output()).await {
        Err(_) => Some(format!(
            "npm install {AXE_CORE_SPEC} took over {NPM_TIMEOUT:?}"
        )),
        Ok(Err(e)) => Some(format!("cannot run npm to fetch {AXE_CORE_SPEC}: {e}")),
        Ok(Ok(output)) if !output.status.success() || !axe_js(&staging).is_file() => Some(format!(
            "npm install {AXE_CORE_SPEC} failed ({})\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
        Ok(Ok(_)) => None,
    };
    if let Some(failure) = failure {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(HarnessError(format!("{failure}\n{hint}")));
    }
    if std::fs::rename(&staging, &cache).is_err() {
        // Another test binary finished first; use its copy.
        let _ = std::fs::remove_dir_all(&staging);
    }
    let path = axe_js(&cache);
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError(format!(
            "axe-core missing at {} after npm install",
            path.display()
        )))
    }
}
