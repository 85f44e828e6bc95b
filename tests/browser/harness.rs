//! Headless-browser test harness: Chromium driven through chromedriver
//! (WebDriver), axe-core accessibility checks and screenshots.
//!
//! This file is a browser's life (finding the binaries, starting and stopping chromedriver, the
//! session); `page` drives and photographs pages, `axe` checks them. Both use the harness's
//! error, timeouts and scratch directories from here.
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
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

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

mod axe;
mod page;

pub use axe::{axe, describe, rule_ids};
pub use page::{
    click, click_and_wait_for_navigation, click_and_wait_for_navigation_within, current_url, fill,
    goto, screenshot, text_of, wait_for_element,
};
