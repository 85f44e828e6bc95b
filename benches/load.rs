//! `cargo bench --bench load [-- --quick]`: the site's speed, measured end to end over real sockets.
//!
//! The bench starts everything itself and pins it with `taskset`: the site (the release
//! `ngi-consent` binary cargo builds for benches) alone on core 0; the NGI simulator
//! (`ngi-consent simulator`) and this process, the load generator (one current-thread tokio
//! runtime, hyper HTTP/1.1 connections with keep-alive), on core 1. Server CPU time is read from
//! `/proc/<pid>/stat` (utime + stime) around each measured phase, so "CPU per request" is the
//! site's own cost and moves little with the machine's load; req/s and latency do move with it.
//! The report also says how busy each core was and how much of it was ours.
//!
//! Scenarios:
//! 1. `GET /consent/start` without cookies (every request a new session and a new pending flow),
//!    beside a bare axum handler answering the same 303 (this binary re-executed with
//!    `--bare-server`, pinned to core 0 the same way): the HTTP stack's ceiling here.
//! 2. Complete flows, each with its own cookie jar: start → simulator authorize → login →
//!    consent → callback (token + debt fetched by the site) → debt page, the page checked. Then
//!    the same flows through a bare flow server (`--bare-flow-server`): the same HTTP exchanges
//!    with no work around them, the floor of a flow on this stack and machine.
//! 3. Memory: the site's RSS with 100 000 pending flows in the session store (all live: the idle
//!    expiry is longer than the wave), after they expire, and after a second wave as large.
//!
//! Flags (after `--`): `--quick` (small numbers, a smoke check), `--concurrency N` (default 32),
//! `--only start|flow|memory` (repeatable), `--site-env KEY=VALUE` (a setting for the site,
//! e.g. `LOG_FORMAT=json` or `SESSION_STORE=redis://127.0.0.1:6379`; repeatable),
//! `--site-logs` (keep the site's log in target/tmp/bench-site.log instead of discarding it),
//! `--perf` (record the server during each measured phase with `perf record` into
//! target/tmp/perf-*.data; its overhead lands in the figures, so profile and measure in separate
//! runs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use url::Url;

const SITE_BIN: &str = env!("CARGO_BIN_EXE_ngi-consent");
const TMP_DIR: &str = env!("CARGO_TARGET_TMPDIR");
const CLIENT_ID: &str = "ngi-consent-demo";
const CLIENT_SECRET: &str = "demo-secret-for-the-local-simulator";
/// The simulator's test persons with debt, and how the debt page shows them.
const PERSONS: [(&str, &str); 2] = [
    ("14842249091", "148422*****"),
    ("29868099311", "298680*****"),
];
/// What the bare handler answers with: an authorization URL as long as the site's.
const BARE_LOCATION: &str = "http://127.0.0.1:3001/oauth2/auth?response_type=code&client_id=ngi-consent-demo&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code_challenge=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code_challenge_method=S256&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fv1%2Fcallback&scope=debt.unsecured.presentation";
const SITE_CORE: &str = "0";
const LOAD_CORE: &str = "1";
/// Every setting the site and the simulator read from the environment: cleared for the children.
const SERVER_SETTINGS: [&str; 24] = [
    "APP_BIND",
    "PUBLIC_URL",
    "NGI_ENV",
    "NGI_ACCESS_URL",
    "NGI_API_URL",
    "NGI_CLIENT_ID",
    "NGI_CLIENT_SECRET",
    "NGI_CLIENT_SECRET_FILE",
    "NGI_SCOPE",
    "NGI_PKCE",
    "NGI_ISSUER",
    "NGI_TIMEOUT_MS",
    "NGI_CONNECT_TIMEOUT_MS",
    "SIMULATOR_BIND",
    "SIMULATOR_REDIRECT_URI",
    "LOG_FORMAT",
    "RUST_LOG",
    "SESSION_STORE",
    "SESSION_IDLE_SECS",
    "SESSION_KEY",
    "REDIS_CA_FILE",
    "RATE_LIMIT_PER_MINUTE",
    "TRUSTED_PROXIES",
    "SIMULATOR_SEND_ISS",
];
/// The site's idle session expiry during the memory scenario (when the site knows the setting):
/// longer than a wave of pending flows takes, so that none expires while they are counted.
const MEMORY_IDLE_SECS: u64 = 30;
const MEMORY_IDLE_SECS_QUICK: u64 = 10;

// ---------------------------------------------------------------------------------------------
// Settings

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Start,
    Flow,
    Memory,
}

struct Options {
    quick: bool,
    concurrency: usize,
    scenarios: Vec<Scenario>,
    site_logs: bool,
    perf: bool,
    /// Extra settings for the site (`--site-env KEY=VALUE`).
    site_env: Vec<(String, String)>,
}

/// How much each scenario does.
struct Sizes {
    start_warmup: u64,
    start_min_requests: u64,
    /// A phase also runs until the server used this many clock ticks, so that the ±1 tick at
    /// each end is under 1 % of the figure.
    min_ticks: u64,
    max_phase: Duration,
    flow_warmup: u64,
    flows: u64,
    pending_flows: u64,
}

impl Options {
    fn parse(args: &[String]) -> Self {
        let mut options = Options {
            quick: false,
            concurrency: 32,
            scenarios: vec![],
            site_logs: false,
            perf: false,
            site_env: vec![],
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--site-logs" => options.site_logs = true,
                "--perf" => options.perf = true,
                "--site-env" => {
                    let (key, value) = args
                        .next()
                        .and_then(|kv| kv.split_once('='))
                        .expect("--site-env takes KEY=VALUE");
                    options.site_env.push((key.to_owned(), value.to_owned()));
                }
                "--concurrency" => {
                    options.concurrency = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .expect("--concurrency takes a positive number");
                }
                "--only" => options
                    .scenarios
                    .push(match args.next().map(String::as_str) {
                        Some("start") => Scenario::Start,
                        Some("flow") => Scenario::Flow,
                        Some("memory") => Scenario::Memory,
                        _ => panic!("--only takes start, flow or memory"),
                    }),
                // cargo bench passes --bench; libtest-style filters are not used here.
                "--bench" => {}
                other if other.starts_with('-') => panic!("unknown flag {other}"),
                _ => {}
            }
        }
        if options.scenarios.is_empty() {
            options.scenarios = vec![Scenario::Start, Scenario::Flow, Scenario::Memory];
        }
        options
    }

    fn sizes(&self) -> Sizes {
        if self.quick {
            Sizes {
                start_warmup: 500,
                start_min_requests: 3_000,
                min_ticks: 0,
                max_phase: Duration::from_secs(5),
                flow_warmup: 32,
                flows: 300,
                pending_flows: 10_000,
            }
        } else {
            Sizes {
                start_warmup: 5_000,
                start_min_requests: 30_000,
                min_ticks: 300,
                max_phase: Duration::from_secs(90),
                flow_warmup: 320,
                // Warm-up and measured flows together stay under the simulator's 10 000-entry
                // maps, past which each insert there scans the map (load side, not the site).
                flows: 8_000,
                pending_flows: 100_000,
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--bare-server") {
        let addr: SocketAddr = args[i + 1].parse().expect("--bare-server takes an address");
        serve_bare(addr);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--bare-flow-server") {
        let addr: SocketAddr = args[i + 1]
            .parse()
            .expect("--bare-flow-server takes an address");
        let sim = args[i + 2].clone();
        let page_bytes: usize = args[i + 3].parse().expect("and a page size");
        serve_bare_flow(addr, sim, page_bytes);
        return;
    }
    let options = Options::parse(&args);
    // The load generator, and every thread it will start, on core 1.
    run(
        "taskset",
        &["-a", "-p", "-c", LOAD_CORE, &std::process::id().to_string()],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(tokio::task::LocalSet::new().run_until(bench(options)));
}

// ---------------------------------------------------------------------------------------------
// The bare handler: the same 303, nothing else (no session, no middleware, no logging).

fn serve_bare(addr: SocketAddr) {
    use axum::Router;
    use axum::response::Redirect;
    use axum::routing::get;
    // Like the site's #[tokio::main]: a multi-thread runtime sized by the CPUs it may use.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let app = Router::new()
            .route(
                "/consent/start",
                get(|| async { Redirect::to(BARE_LOCATION) }),
            )
            .route("/healthz", get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

// The bare flow: the same HTTP exchanges as a complete flow and nothing else. The 303 to the
// simulator (a fixed state and PKCE pair), the callback that posts the code to the token
// endpoint (client_secret_basic, the verifier) and fetches the debt with the access token it
// reads from the answer, a 303 to /debt, and a fixed page as long as the site's debt page. No
// session, no state check, no template, no logging, no parsing of the debt: what any
// implementation on axum and reqwest pays for the three requests in and the two out.

/// PKCE verifier of the bare flow (RFC 7636: 43 to 128 unreserved characters).
const BARE_VERIFIER: &str = "bare-flow-verifier-0123456789-0123456789-abcdefghij";

struct BareFlow {
    http: reqwest::Client,
    token_url: Url,
    debt_url: Url,
    redirect_uri: String,
    location: String,
    page: String,
}

#[derive(serde::Deserialize)]
struct BareCallback {
    code: String,
}

#[derive(serde::Deserialize)]
struct BareToken {
    access_token: String,
}

fn serve_bare_flow(addr: SocketAddr, sim: String, page_bytes: usize) {
    use axum::extract::{Query, State};
    use axum::http::StatusCode as Status;
    use axum::response::{Html, IntoResponse, Redirect, Response};
    use axum::routing::get;
    use base64::Engine as _;
    use sha2::Digest as _;
    use std::sync::Arc;

    let sim = Url::parse(&sim).unwrap();
    let redirect_uri = format!("http://{addr}/v1/callback");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(BARE_VERIFIER.as_bytes()));
    let mut location = sim.join("/oauth2/auth").unwrap();
    location
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("state", "bare-flow-state-0123456789-0123456789-abcd")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "debt.unsecured.presentation");
    // Both persons' masked numbers, so that the load driver's check of the page passes.
    let mut page = format!(
        "<!doctype html><title>debt</title><p>{} {}</p>",
        PERSONS[0].1, PERSONS[1].1
    );
    page.push_str(&" ".repeat(page_bytes.saturating_sub(page.len())));
    let state = Arc::new(BareFlow {
        // Configured like the site's client: no redirects followed, connect and total timeouts.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        token_url: sim.join("/oauth2/token").unwrap(),
        debt_url: sim.join("/v1/debt").unwrap(),
        redirect_uri,
        location: location.into(),
        page,
    });

    async fn start(State(s): State<Arc<BareFlow>>) -> Redirect {
        Redirect::to(&s.location)
    }
    async fn callback(State(s): State<Arc<BareFlow>>, Query(q): Query<BareCallback>) -> Response {
        let exchange = async {
            let token: BareToken = s
                .http
                .post(s.token_url.clone())
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &q.code),
                    ("redirect_uri", &s.redirect_uri),
                    ("code_verifier", BARE_VERIFIER),
                ])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            s.http
                .get(s.debt_url.clone())
                .bearer_auth(&token.access_token)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await
        };
        match exchange.await {
            Ok(_) => Redirect::to("/debt").into_response(),
            Err(e) => (Status::BAD_GATEWAY, e.to_string()).into_response(),
        }
    }
    async fn debt(State(s): State<Arc<BareFlow>>) -> Html<String> {
        Html(s.page.clone())
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let app = axum::Router::new()
            .route("/consent/start", get(start))
            .route("/v1/callback", get(callback))
            .route("/debt", get(debt))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// Processes

/// The children, killed on every way out (normal end, error, panic).
#[derive(Default)]
struct Processes(Vec<(String, Child)>);

impl Processes {
    fn spawn(
        &mut self,
        name: &str,
        core: &str,
        program: &str,
        args: &[&str],
        env: &[(&str, String)],
        log: Stdio,
    ) -> u32 {
        let stderr = std::fs::File::create(log_path(&format!("bench-{name}.stderr"))).unwrap();
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(core)
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        // Only the settings given here (and --site-env) reach the servers, whatever this
        // process's environment holds.
        for key in SERVER_SETTINGS {
            command.env_remove(key);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let pid = child.id();
        self.0.push((name.to_owned(), child));
        pid
    }

    fn exited(&mut self) -> Option<String> {
        self.0
            .iter_mut()
            .find_map(|(name, child)| match child.try_wait() {
                Ok(Some(status)) => Some(format!(
                    "{name} exited ({status}); see {}",
                    log_path(&format!("bench-{name}.stderr")).display()
                )),
                _ => None,
            })
    }

    fn stop(&mut self, name: &str) {
        if let Some(i) = self.0.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.0.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_path(name: &str) -> PathBuf {
    PathBuf::from(TMP_DIR).join(name)
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

struct Ports {
    site: u16,
    sim: u16,
}

impl Ports {
    fn site_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.site)
    }
    fn sim_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.sim)
    }
}

/// Starts the simulator on the load core and waits until it answers.
async fn start_simulator(procs: &mut Processes, ports: &Ports) -> u32 {
    let bind = format!("127.0.0.1:{}", ports.sim);
    let redirect = format!("{}/v1/callback", ports.site_url());
    let pid = procs.spawn(
        "simulator",
        LOAD_CORE,
        SITE_BIN,
        &["simulator", "--bind", &bind, "--redirect-uri", &redirect],
        &[],
        Stdio::null(),
    );
    wait_ready(
        procs,
        pid,
        ports.sim,
        "/.well-known/openid-configuration",
        LOAD_CORE,
    )
    .await;
    pid
}

fn start_site(
    procs: &mut Processes,
    ports: &Ports,
    options: &Options,
    extra: &[(&str, String)],
) -> u32 {
    let mut env = vec![
        ("APP_BIND", format!("127.0.0.1:{}", ports.site)),
        ("PUBLIC_URL", ports.site_url()),
        ("NGI_ACCESS_URL", ports.sim_url()),
        ("NGI_API_URL", ports.sim_url()),
        ("NGI_CLIENT_ID", CLIENT_ID.to_owned()),
        ("NGI_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
    ];
    env.extend(extra.iter().cloned());
    for (key, value) in &options.site_env {
        env.retain(|(k, _)| k != key);
        env.push((key.as_str(), value.clone()));
    }
    let log = if options.site_logs {
        Stdio::from(std::fs::File::create(log_path("bench-site.log")).unwrap())
    } else {
        Stdio::null()
    };
    procs.spawn("site", SITE_CORE, SITE_BIN, &[], &env, log)
}

fn start_bare(procs: &mut Processes, port: u16) -> u32 {
    let exe = std::env::current_exe().unwrap();
    let addr = format!("127.0.0.1:{port}");
    procs.spawn(
        "bare",
        SITE_CORE,
        exe.to_str().unwrap(),
        &["--bare-server", &addr],
        &[],
        Stdio::null(),
    )
}

fn start_bare_flow(procs: &mut Processes, ports: &Ports, page_bytes: usize) -> u32 {
    let exe = std::env::current_exe().unwrap();
    let addr = format!("127.0.0.1:{}", ports.site);
    procs.spawn(
        "bare-flow",
        SITE_CORE,
        exe.to_str().unwrap(),
        &[
            "--bare-flow-server",
            &addr,
            &ports.sim_url(),
            &page_bytes.to_string(),
        ],
        &[],
        Stdio::null(),
    )
}

/// Polls `path` until it answers 200, then checks that `pid` is the server (taskset execs the
/// program, so the pid is the server's own) and runs where it should.
async fn wait_ready(procs: &mut Processes, pid: u32, port: u16, path: &str, core: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(why) = procs.exited() {
            panic!("{why}");
        }
        let mut conn = Conn::new(port);
        if let Ok(answer) = conn.send(Method::GET, path, &[], None).await
            && answer.status == StatusCode::OK
        {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
            let affinity = run("taskset", &["-c", "-p", &pid.to_string()]);
            assert!(
                affinity.ends_with(&format!(": {core}")) && !exe.ends_with("taskset"),
                "pid {pid} ({}) runs on {affinity}",
                exe.display()
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "port {port} not ready after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP client: one keep-alive HTTP/1.1 connection, reopened if the server closes it.

struct Answer {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    body: Bytes,
}

struct Conn {
    port: u16,
    host: String,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(port: u16) -> Self {
        Self {
            port,
            host: format!("127.0.0.1:{port}"),
            sender: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut http1::SendRequest<Full<Bytes>>, String> {
        let usable = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !usable {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::task::spawn_local(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().unwrap())
    }

    async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        cookies: &[(String, String)],
        form: Option<String>,
    ) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(HOST, &self.host);
        if !cookies.is_empty() {
            let mut header = String::new();
            for (name, value) in cookies {
                if !header.is_empty() {
                    header.push_str("; ");
                }
                let _ = write!(header, "{name}={value}");
            }
            request = request.header(COOKIE, header);
        }
        let body = match form {
            Some(form) => {
                request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body).map_err(|e| e.to_string())?;
        let sender = self.connect().await?;
        sender.ready().await.map_err(|e| format!("ready: {e}"))?;
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                self.sender = None;
                return Err(format!("request: {e}"));
            }
        };
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cookies = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Answer {
            status,
            location,
            cookies,
            body,
        })
    }
}

/// A browser's cookies for one site: name → value (attributes are not needed here).
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, answer: &Answer) {
        for cookie in &answer.cookies {
            let pair = cookie.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.0.retain(|(n, _)| n != name.trim());
                self.0
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CPU time and machine counters

#[derive(Clone, Copy, Default)]
struct CoreTimes {
    busy: u64,
    total: u64,
    steal: u64,
}

/// Clock ticks of utime + stime of a process (all its threads).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are utime and stime; `rest` starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn core_times() -> [CoreTimes; 2] {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let mut cores = [CoreTimes::default(); 2];
    for line in stat.lines() {
        for (i, core) in cores.iter_mut().enumerate() {
            if let Some(rest) = line.strip_prefix(&format!("cpu{i} ")) {
                let v: Vec<u64> = rest
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect();
                // user nice system idle iowait irq softirq steal guest guest_nice
                let total: u64 = v[..8].iter().sum();
                *core = CoreTimes {
                    busy: total - v[3] - v[4],
                    total,
                    steal: v[7],
                };
            }
        }
    }
    cores
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// Who is watched during a phase: the server(s) and this process.
#[derive(Clone, Copy)]
struct Watched {
    server: u32,
    simulator: Option<u32>,
}

#[derive(Clone, Copy)]
struct Snapshot {
    at: Instant,
    server: u64,
    simulator: u64,
    bench: u64,
    cores: [CoreTimes; 2],
}

impl Snapshot {
    fn take(w: Watched) -> Self {
        Self {
            at: Instant::now(),
            server: cpu_ticks(w.server),
            simulator: w.simulator.map_or(0, cpu_ticks),
            bench: cpu_ticks(std::process::id()),
            cores: core_times(),
        }
    }
}

/// What a phase used: CPU ticks of each process, wall time, and how busy the two cores were.
struct Usage {
    wall: Duration,
    server: u64,
    simulator: u64,
    bench: u64,
    /// Busy share of core 0 and core 1 over the phase, all processes (others' builds included).
    core_busy: [f64; 2],
    core_steal: [f64; 2],
}

impl Usage {
    fn between(a: &Snapshot, b: &Snapshot) -> Self {
        let share = |f: fn(&CoreTimes) -> u64, i: usize| {
            let total = (b.cores[i].total - a.cores[i].total).max(1) as f64;
            (f(&b.cores[i]) - f(&a.cores[i])) as f64 / total
        };
        Self {
            wall: b.at - a.at,
            server: b.server - a.server,
            simulator: b.simulator - a.simulator,
            bench: b.bench - a.bench,
            core_busy: [share(|c| c.busy, 0), share(|c| c.busy, 1)],
            core_steal: [share(|c| c.steal, 0), share(|c| c.steal, 1)],
        }
    }

    /// Share of one core a process used over the phase.
    fn share(&self, ticks: u64, tick: f64) -> f64 {
        ticks as f64 * tick / self.wall.as_secs_f64()
    }
}

/// `perf record` attached to a server for one phase (with `--perf`); stopped on drop.
struct Profiler(Option<Child>);

impl Profiler {
    fn attach(ctx: &Ctx, pid: u32, name: &str) -> Self {
        if !ctx.options.perf {
            return Self(None);
        }
        let out = log_path(&format!("perf-{name}.data"));
        let child = Command::new("perf")
            .args(["record", "-F", "997", "--call-graph", "dwarf,16384", "-p"])
            .arg(pid.to_string())
            .arg("-o")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("--perf needs perf (Debian's linux-perf)");
        // Let perf attach before the phase starts.
        std::thread::sleep(Duration::from_millis(500));
        eprintln!("perf: recording pid {pid} into {}", out.display());
        Self(Some(child))
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Latencies

/// Every latency of a phase, in nanoseconds.
#[derive(Default)]
struct Latencies(Vec<u64>);

impl Latencies {
    fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1] as f64 / 1e6
    }
}

// ---------------------------------------------------------------------------------------------
// Load: `concurrency` workers on this thread, each owning its connection(s).

/// When a phase stops: once `min_requests` are issued and the server used `min_ticks`, or at
/// `max_wall`; never more than `max_requests`.
struct Stop {
    min_requests: u64,
    max_requests: u64,
    min_ticks: u64,
    max_wall: Duration,
}

impl Stop {
    fn exactly(n: u64, max_wall: Duration) -> Self {
        Self {
            min_requests: n,
            max_requests: n,
            min_ticks: 0,
            max_wall,
        }
    }
}

struct Phase<T> {
    results: Vec<T>,
    failed: u64,
    first_error: Option<String>,
    usage: Usage,
}

/// Runs `job` on every worker until `stop`; CPU and core counters are read just before and
/// just after, so only this phase is measured.
async fn drive<W, T, F>(workers: &mut [W], watched: Watched, stop: Stop, job: F) -> Phase<T>
where
    F: AsyncFn(&mut W, u64) -> Result<T, String>,
{
    let issued = Cell::new(0u64);
    let stopping = Cell::new(false);
    let results = RefCell::new(Vec::new());
    let failures = RefCell::new((0u64, None::<String>));
    let before = Snapshot::take(watched);

    let watcher = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let enough = issued.get() >= stop.min_requests
                && cpu_ticks(watched.server) - before.server >= stop.min_ticks;
            if enough || before.at.elapsed() >= stop.max_wall {
                stopping.set(true);
                return;
            }
        }
    };
    let job = &job;
    let work = futures_util::future::join_all(workers.iter_mut().map(|w| {
        let (issued, stopping, results, failures) = (&issued, &stopping, &results, &failures);
        async move {
            loop {
                if stopping.get() || issued.get() >= stop.max_requests {
                    stopping.set(true);
                    return;
                }
                issued.set(issued.get() + 1);
                match job(&mut *w, issued.get()).await {
                    Ok(result) => results.borrow_mut().push(result),
                    Err(e) => {
                        let mut f = failures.borrow_mut();
                        f.0 += 1;
                        f.1.get_or_insert(e);
                    }
                }
            }
        }
    }));
    // The phase ends when the last worker does, not at the watcher's next look.
    {
        let mut work = std::pin::pin!(work);
        tokio::select! {
            () = watcher => { (&mut work).await; }
            _ = &mut work => {}
        }
    }
    let after = Snapshot::take(watched);
    let (failed, first_error) = failures.into_inner();
    Phase {
        results: results.into_inner(),
        failed,
        first_error,
        usage: Usage::between(&before, &after),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: GET /consent/start without cookies, on the site and on the bare handler

struct StartFigures {
    requests: u64,
    failed: u64,
    rps: f64,
    p50: f64,
    p99: f64,
    cpu_us: f64,
    usage: Usage,
}

async fn get_start(conn: &mut Conn, _n: u64) -> Result<u64, String> {
    let t = Instant::now();
    let answer = conn.send(Method::GET, "/consent/start", &[], None).await?;
    if answer.status != StatusCode::SEE_OTHER || answer.location.is_none() {
        return Err(format!("GET /consent/start answered {}", answer.status));
    }
    Ok(t.elapsed().as_nanos() as u64)
}

async fn start_load(port: u16, watched: Watched, ctx: &Ctx, label: &str) -> StartFigures {
    let sizes = &ctx.sizes;
    let mut conns: Vec<Conn> = (0..ctx.options.concurrency)
        .map(|_| Conn::new(port))
        .collect();
    let warm = Stop::exactly(sizes.start_warmup, sizes.max_phase);
    let warm = drive(&mut conns, watched, warm, get_start).await;
    assert_eq!(warm.failed, 0, "{label} warm-up: {:?}", warm.first_error);
    let stop = Stop {
        min_requests: sizes.start_min_requests,
        max_requests: u64::MAX,
        min_ticks: sizes.min_ticks,
        max_wall: sizes.max_phase,
    };
    let perf = Profiler::attach(ctx, watched.server, &format!("start-{label}"));
    let phase = drive(&mut conns, watched, stop, get_start).await;
    drop(perf);
    assert_eq!(phase.failed, 0, "{label}: {:?}", phase.first_error);
    let requests = phase.results.len() as u64;
    let mut latencies = Latencies(phase.results);
    StartFigures {
        requests,
        failed: phase.failed,
        rps: requests as f64 / phase.usage.wall.as_secs_f64(),
        p50: latencies.percentile_ms(50.0),
        p99: latencies.percentile_ms(99.0),
        cpu_us: phase.usage.server as f64 * ctx.tick * 1e6 / requests.max(1) as f64,
        usage: phase.usage,
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: complete flows, each with its own cookie jar

struct Browser {
    site: Conn,
    sim: Conn,
    site_base: Url,
    sim_base: Url,
}

struct FlowTimes {
    total: u64,
    callback: u64,
    page_bytes: usize,
}

fn redirect(answer: &Answer, base: &Url, step: &str) -> Result<Url, String> {
    if answer.status != StatusCode::SEE_OTHER {
        return Err(format!("{step}: expected 303, got {}", answer.status));
    }
    let location = answer
        .location
        .as_deref()
        .ok_or_else(|| format!("{step}: 303 without Location"))?;
    base.join(location)
        .map_err(|e| format!("{step}: bad Location: {e}"))
}

fn on(url: &Url, base: &Url, path: &str, step: &str) -> Result<String, String> {
    if url.origin() != base.origin() || url.path() != path {
        return Err(format!(
            "{step}: redirected to {}{}",
            url.origin().ascii_serialization(),
            url.path()
        ));
    }
    Ok(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    })
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn one_flow(b: &mut Browser, n: u64) -> Result<FlowTimes, String> {
    let (nin, masked) = PERSONS[(n % 2) as usize];
    let t0 = Instant::now();
    let mut site_jar = Jar::default();
    let mut sim_jar = Jar::default();

    let answer = b
        .site
        .send(Method::GET, "/consent/start", &site_jar.0, None)
        .await?;
    site_jar.take(&answer);
    let authorize = redirect(&answer, &b.site_base, "start")?;
    let path = on(&authorize, &b.sim_base, "/oauth2/auth", "start")?;

    let answer = b.sim.send(Method::GET, &path, &sim_jar.0, None).await?;
    sim_jar.take(&answer);
    let login = redirect(&answer, &authorize, "authorize")?;
    on(&login, &b.sim_base, "/testid/login", "authorize")?;
    let tx = login
        .query_pairs()
        .find(|(k, _)| k == "tx")
        .map(|(_, v)| v.into_owned())
        .ok_or("authorize: no tx")?;

    let body = form(&[("tx", &tx), ("nin", nin), ("action", "login")]);
    let answer = b
        .sim
        .send(Method::POST, "/testid/login", &sim_jar.0, Some(body))
        .await?;
    sim_jar.take(&answer);
    let consent = redirect(&answer, &login, "login")?;
    on(&consent, &b.sim_base, "/testid/consent", "login")?;

    let body = form(&[("tx", &tx), ("decision", "accept")]);
    let answer = b
        .sim
        .send(Method::POST, "/testid/consent", &sim_jar.0, Some(body))
        .await?;
    sim_jar.take(&answer);
    let callback = redirect(&answer, &consent, "consent")?;
    let path = on(&callback, &b.site_base, "/v1/callback", "consent")?;

    let t_callback = Instant::now();
    let answer = b.site.send(Method::GET, &path, &site_jar.0, None).await?;
    let callback_ns = t_callback.elapsed().as_nanos() as u64;
    site_jar.take(&answer);
    let debt = redirect(&answer, &callback, "callback")?;
    let path = on(&debt, &b.site_base, "/debt", "callback")?;

    let answer = b.site.send(Method::GET, &path, &site_jar.0, None).await?;
    if answer.status != StatusCode::OK {
        return Err(format!("debt page: {}", answer.status));
    }
    if !String::from_utf8_lossy(&answer.body).contains(masked) {
        return Err(format!("debt page without {masked}"));
    }
    Ok(FlowTimes {
        total: t0.elapsed().as_nanos() as u64,
        callback: callback_ns,
        page_bytes: answer.body.len(),
    })
}

struct FlowFigures {
    flows: u64,
    failed: u64,
    first_error: Option<String>,
    fps: f64,
    flow: (f64, f64),
    callback: (f64, f64),
    site_us: f64,
    sim_us: f64,
    bench_us: f64,
    /// The debt page's mean size in bytes.
    page_bytes: usize,
    usage: Usage,
}

async fn flow_load(ports: &Ports, watched: Watched, ctx: &Ctx, label: &str) -> FlowFigures {
    let site_base = Url::parse(&ports.site_url()).unwrap();
    let sim_base = Url::parse(&ports.sim_url()).unwrap();
    let mut browsers: Vec<Browser> = (0..ctx.options.concurrency)
        .map(|_| Browser {
            site: Conn::new(ports.site),
            sim: Conn::new(ports.sim),
            site_base: site_base.clone(),
            sim_base: sim_base.clone(),
        })
        .collect();
    let sizes = &ctx.sizes;
    let warm = Stop::exactly(sizes.flow_warmup, sizes.max_phase);
    let warm = drive(&mut browsers, watched, warm, one_flow).await;
    assert_eq!(warm.failed, 0, "flow warm-up: {:?}", warm.first_error);
    let stop = Stop::exactly(sizes.flows, sizes.max_phase * 4);
    let perf = Profiler::attach(ctx, watched.server, &format!("flow-{label}"));
    let phase = drive(&mut browsers, watched, stop, one_flow).await;
    drop(perf);
    let flows = phase.results.len() as u64;
    let mut totals = Latencies(phase.results.iter().map(|f| f.total).collect());
    let mut callbacks = Latencies(phase.results.iter().map(|f| f.callback).collect());
    let per_flow = |ticks: u64| ticks as f64 * ctx.tick * 1e6 / flows.max(1) as f64;
    FlowFigures {
        flows,
        failed: phase.failed,
        first_error: phase.first_error,
        fps: flows as f64 / phase.usage.wall.as_secs_f64(),
        flow: (totals.percentile_ms(50.0), totals.percentile_ms(99.0)),
        callback: (callbacks.percentile_ms(50.0), callbacks.percentile_ms(99.0)),
        site_us: per_flow(phase.usage.server),
        sim_us: per_flow(phase.usage.simulator),
        bench_us: per_flow(phase.usage.bench),
        page_bytes: phase.results.iter().map(|f| f.page_bytes).sum::<usize>()
            / phase.results.len().max(1),
        usage: phase.usage,
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario 3: memory with many pending flows

struct MemoryFigures {
    pending: u64,
    /// How long the first wave took, and whether sessions began to expire before it ended.
    wave: Duration,
    expired_during_wave: bool,
    before_kib: u64,
    after_kib: u64,
    peak_kib: u64,
    /// After the idle expiry, when the site knows `SESSION_IDLE_SECS`: the RSS, and the requests
    /// sent over how long after the expiry.
    expired: Option<Expired>,
}

struct Expired {
    rss_kib: u64,
    /// The RSS read once a second during the trickle (eviction and the allocator's return of
    /// memory happen during it, so one reading alone could catch either half-way).
    trickle_rss_kib: Vec<u64>,
    trickle_requests: u64,
    trickle: Duration,
    /// After a second wave of as many pending flows as the first.
    second_wave_kib: u64,
    second_wave_peak_kib: u64,
}

async fn memory_load(port: u16, watched: Watched, ctx: &Ctx, idle_known: bool) -> MemoryFigures {
    let pid = watched.server;
    let before_kib = status_kib(pid, "VmRSS:");
    let mut conns: Vec<Conn> = (0..ctx.options.concurrency)
        .map(|_| Conn::new(port))
        .collect();
    let n = ctx.sizes.pending_flows;
    let phase = drive(
        &mut conns,
        watched,
        Stop::exactly(n, Duration::from_secs(600)),
        get_start,
    )
    .await;
    assert_eq!(phase.failed, 0, "memory: {:?}", phase.first_error);
    assert_eq!(phase.results.len() as u64, n, "memory: stopped early");
    let after_kib = status_kib(pid, "VmRSS:");
    let peak_kib = status_kib(pid, "VmHWM:");
    let wave = phase.usage.wall;
    let idle = Duration::from_secs(ctx.memory_idle_secs());
    let expired = if idle_known {
        // Every session of the wave has expired `idle` after the wave ended. The in-memory store
        // (moka) evicts expired sessions when it is used, so then a trickle of requests (20 a
        // second, each a new small session) keeps it in use, as a live site would. Eviction
        // goes in bounded batches, so the RSS is read once a second through 20 s of it.
        tokio::time::sleep(idle + Duration::from_secs(1)).await;
        let mut conn = Conn::new(port);
        let trickle = Duration::from_secs(if ctx.options.quick { 3 } else { 20 });
        let end = Instant::now() + trickle;
        let mut sent = 0u64;
        let mut trickle_rss_kib = vec![];
        let mut next_reading = Instant::now() + Duration::from_secs(1);
        while Instant::now() < end {
            get_start(&mut conn, 0).await.expect("trickle after expiry");
            sent += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            if Instant::now() >= next_reading {
                trickle_rss_kib.push(status_kib(pid, "VmRSS:"));
                next_reading += Duration::from_secs(1);
            }
        }
        let expired = status_kib(pid, "VmRSS:");
        // RSS alone cannot say whether the expired sessions were freed (the allocator keeps
        // freed memory): a second wave of as many pending flows shows it. If they were, the
        // second wave reuses their memory and the RSS barely grows.
        let phase = drive(
            &mut conns,
            watched,
            Stop::exactly(n, Duration::from_secs(600)),
            get_start,
        )
        .await;
        assert_eq!(
            phase.failed, 0,
            "memory, second wave: {:?}",
            phase.first_error
        );
        Some(Expired {
            rss_kib: expired,
            trickle_requests: sent,
            trickle_rss_kib,
            trickle,
            second_wave_kib: status_kib(pid, "VmRSS:"),
            second_wave_peak_kib: status_kib(pid, "VmHWM:"),
        })
    } else {
        None
    };
    MemoryFigures {
        pending: n,
        wave,
        expired_during_wave: idle_known && wave >= idle,
        before_kib,
        after_kib,
        peak_kib,
        expired,
    }
}

// ---------------------------------------------------------------------------------------------
// The run and its report

struct Ctx {
    options: Options,
    sizes: Sizes,
    /// Seconds per clock tick.
    tick: f64,
}

impl Ctx {
    fn memory_idle_secs(&self) -> u64 {
        if self.options.quick {
            MEMORY_IDLE_SECS_QUICK
        } else {
            MEMORY_IDLE_SECS
        }
    }
}

struct Report {
    rows: Vec<[String; 4]>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, figure: &str, value: String, target: &str, pass: Option<bool>) {
        let result = match pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "",
        };
        self.rows.push([
            figure.to_owned(),
            value,
            target.to_owned(),
            result.to_owned(),
        ]);
    }
}

/// The server's CPU ticks in a phase, and what the ±1 tick at each end is of them.
fn server_ticks(usage: &Usage) -> String {
    format!(
        "server {} ticks (±2 ticks = {:.1} %)",
        usage.server,
        200.0 / usage.server.max(1) as f64
    )
}

fn percent(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// Who was saturated in a phase: each core's busy share, and our processes' share of it.
fn saturation(phase: &str, usage: &Usage, tick: f64, on_core1: &str) -> String {
    let site = usage.share(usage.server, tick);
    let load = usage.share(usage.simulator + usage.bench, tick);
    let verdict = |ours: f64, busy: f64| {
        if ours >= 0.9 {
            "saturated by ours"
        } else if busy >= 0.95 {
            "saturated, partly by other processes"
        } else {
            "not saturated"
        }
    };
    format!(
        "{phase}: core 0 busy {} (server {}, steal {}) — {}; core 1 busy {} ({on_core1} {}, steal {}) — {}",
        percent(usage.core_busy[0]),
        percent(site),
        percent(usage.core_steal[0]),
        verdict(site, usage.core_busy[0]),
        percent(usage.core_busy[1]),
        percent(load),
        percent(usage.core_steal[1]),
        verdict(load, usage.core_busy[1]),
    )
}

fn machine() -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map(|m| m.trim().to_owned())
        .unwrap_or_default();
    let commit = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    vec![
        format!("date: {}", run("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        format!(
            "machine: {cpus} CPUs, {model}, {memory} memory, Linux {}",
            kernel.trim()
        ),
        format!("commit: {commit}"),
    ]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn bench(options: Options) {
    let clk_tck: f64 = run("getconf", &["CLK_TCK"]).parse().unwrap();
    let ctx = Ctx {
        sizes: options.sizes(),
        options,
        tick: 1.0 / clk_tck,
    };
    let help = run(SITE_BIN, &["--help"]);
    let rate_limit_known = help.contains("RATE_LIMIT_PER_MINUTE");
    let idle_known = help.contains("SESSION_IDLE_SECS");
    let load_before = loadavg();
    let began = Instant::now();
    eprintln!(
        "load bench{}: site {SITE_BIN} on core {SITE_CORE}; simulator and load generator on core {LOAD_CORE}",
        if ctx.options.quick { " (quick)" } else { "" }
    );

    let mut procs = Processes::default();
    let ports = Ports {
        site: free_port(),
        sim: free_port(),
    };
    let sim_pid = start_simulator(&mut procs, &ports).await;
    let mut report = Report {
        rows: vec![],
        notes: vec![],
    };

    if ctx.options.scenarios.contains(&Scenario::Start) {
        eprintln!("scenario 1: GET /consent/start, site then bare handler …");
        let site = start_site(&mut procs, &ports, &ctx.options, &[]);
        wait_ready(&mut procs, site, ports.site, "/healthz", SITE_CORE).await;
        let watched = Watched {
            server: site,
            simulator: None,
        };
        let s = start_load(ports.site, watched, &ctx, "site").await;
        procs.stop("site");

        let bare_port = free_port();
        let bare = start_bare(&mut procs, bare_port);
        wait_ready(&mut procs, bare, bare_port, "/healthz", SITE_CORE).await;
        let watched = Watched {
            server: bare,
            simulator: None,
        };
        let b = start_load(bare_port, watched, &ctx, "bare").await;
        procs.stop("bare");

        let r = &mut report;
        let c = ctx.options.concurrency;
        r.row(
            &format!("1 start: site req/s ({c} conns)"),
            format!("{:.0}", s.rps),
            &format!("≥ 0.5 × bare = {:.0}", 0.5 * b.rps),
            Some(s.rps >= 0.5 * b.rps),
        );
        r.row(
            "1 start: site p50 / p99",
            format!("{:.2} / {:.2} ms", s.p50, s.p99),
            "",
            None,
        );
        r.row(
            "1 start: site CPU per request",
            format!("{:.1} µs", s.cpu_us),
            &format!("≤ 2 × bare = {:.1} µs", 2.0 * b.cpu_us),
            Some(s.cpu_us <= 2.0 * b.cpu_us),
        );
        r.row(
            "1 start: bare req/s",
            format!("{:.0}", b.rps),
            "(ceiling)",
            None,
        );
        r.row(
            "1 start: bare p50 / p99",
            format!("{:.2} / {:.2} ms", b.p50, b.p99),
            "",
            None,
        );
        r.row(
            "1 start: bare CPU per request",
            format!("{:.1} µs", b.cpu_us),
            "",
            None,
        );
        r.row(
            "1 start: site ÷ bare",
            format!(
                "req/s {:.2}×, CPU {:.2}×",
                s.rps / b.rps,
                s.cpu_us / b.cpu_us
            ),
            "≥ 0.5×, ≤ 2×",
            None,
        );
        for (label, f) in [("site", &s), ("bare", &b)] {
            r.notes.push(format!(
                "1 {label}: {} requests in {:.1} s, {} failed, {}",
                f.requests,
                f.usage.wall.as_secs_f64(),
                f.failed,
                server_ticks(&f.usage),
            ));
            r.notes.push(saturation(
                &format!("1 {label}"),
                &f.usage,
                ctx.tick,
                "bench",
            ));
        }
    }

    if ctx.options.scenarios.contains(&Scenario::Flow) {
        eprintln!("scenario 2: complete flows …");
        let site = start_site(&mut procs, &ports, &ctx.options, &[]);
        wait_ready(&mut procs, site, ports.site, "/healthz", SITE_CORE).await;
        let watched = Watched {
            server: site,
            simulator: Some(sim_pid),
        };
        let f = flow_load(&ports, watched, &ctx, "site").await;
        procs.stop("site");

        eprintln!("scenario 2: the same flows through the bare flow server …");
        // A fresh simulator, so that both runs find its maps equally empty.
        procs.stop("simulator");
        let fresh_sim = start_simulator(&mut procs, &ports).await;
        let bare = start_bare_flow(&mut procs, &ports, f.page_bytes);
        wait_ready(&mut procs, bare, ports.site, "/healthz", SITE_CORE).await;
        let watched = Watched {
            server: bare,
            simulator: Some(fresh_sim),
        };
        let b = flow_load(&ports, watched, &ctx, "bare").await;
        procs.stop("bare-flow");
        let r = &mut report;
        let c = ctx.options.concurrency;
        r.row(
            &format!("2 flow: complete flows/s ({c} concurrent)"),
            format!("{:.0}", f.fps),
            "",
            None,
        );
        r.row(
            "2 flow: whole flow p50 / p99",
            format!("{:.2} / {:.2} ms", f.flow.0, f.flow.1),
            "",
            None,
        );
        r.row(
            "2 flow: callback p50 / p99",
            format!("{:.2} / {:.2} ms", f.callback.0, f.callback.1),
            "p99 < 5 ms",
            Some(f.callback.1 < 5.0),
        );
        r.row(
            "2 flow: site CPU per complete flow",
            format!("{:.0} µs", f.site_us),
            "≤ 60 µs",
            Some(f.site_us <= 60.0),
        );
        r.row(
            "2 flow: failed flows",
            format!("{} of {}", f.failed, f.flows + f.failed),
            "0",
            Some(f.failed == 0),
        );
        r.row(
            "2 flow: simulator / load generator CPU per flow",
            format!("{:.0} µs / {:.0} µs", f.sim_us, f.bench_us),
            "(core 1)",
            None,
        );
        r.row(
            "2 flow: bare flow, flows/s",
            format!("{:.0}", b.fps),
            "(same exchanges only)",
            None,
        );
        r.row(
            "2 flow: bare flow, callback p50 / p99",
            format!("{:.2} / {:.2} ms", b.callback.0, b.callback.1),
            "",
            None,
        );
        r.row(
            "2 flow: bare flow, server CPU per flow",
            format!("{:.0} µs", b.site_us),
            "",
            None,
        );
        r.row(
            "2 flow: site ÷ bare flow",
            format!(
                "flows/s {:.2}×, CPU {:.2}×",
                f.fps / b.fps.max(f64::MIN_POSITIVE),
                f.site_us / b.site_us.max(f64::MIN_POSITIVE)
            ),
            "",
            None,
        );
        for (label, x) in [("site", &f), ("bare flow", &b)] {
            if let Some(e) = &x.first_error {
                r.notes.push(format!("2 {label}: first failure: {e}"));
            }
            r.notes.push(format!(
                "2 {label}: {} flows in {:.1} s, {} failed, {}, debt page {} bytes",
                x.flows,
                x.usage.wall.as_secs_f64(),
                x.failed,
                server_ticks(&x.usage),
                x.page_bytes,
            ));
            r.notes.push(saturation(
                &format!("2 {label}"),
                &x.usage,
                ctx.tick,
                "simulator + bench",
            ));
        }
    }

    if ctx.options.scenarios.contains(&Scenario::Memory) {
        eprintln!(
            "scenario 3: memory with {} pending flows …",
            ctx.sizes.pending_flows
        );
        let idle = [("SESSION_IDLE_SECS", ctx.memory_idle_secs().to_string())];
        let site = start_site(&mut procs, &ports, &ctx.options, &idle);
        wait_ready(&mut procs, site, ports.site, "/healthz", SITE_CORE).await;
        let watched = Watched {
            server: site,
            simulator: None,
        };
        let m = memory_load(ports.site, watched, &ctx, idle_known).await;
        procs.stop("site");
        let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
        let r = &mut report;
        r.row(
            "3 memory: site RSS before",
            format!("{:.1} MB", mb(m.before_kib)),
            "",
            None,
        );
        r.notes.push(format!(
            "3 memory: the {} pending flows took {:.1} s to start{}",
            m.pending,
            m.wave.as_secs_f64(),
            if m.expired_during_wave {
                ", longer than the idle expiry: some had expired before the RSS was read, so it understates"
            } else {
                ", within the idle expiry: all were held when the RSS was read"
            }
        ));
        r.row(
            &format!("3 memory: RSS with {} pending flows", m.pending),
            format!(
                "{:.1} MB ({:.0} bytes per flow)",
                mb(m.after_kib),
                (m.after_kib.saturating_sub(m.before_kib)) as f64 * 1024.0 / m.pending as f64
            ),
            "",
            None,
        );
        r.row(
            &format!(
                "3 memory: peak RSS (VmHWM) with {} pending flows",
                m.pending
            ),
            format!("{:.1} MB", mb(m.peak_kib)),
            "< 150 MB",
            Some(mb(m.peak_kib) < 150.0),
        );
        match &m.expired {
            Some(e) => {
                r.row(
                    &format!(
                        "3 memory: RSS after expiry ({} s idle, then {} requests in {} s)",
                        ctx.memory_idle_secs(),
                        e.trickle_requests,
                        e.trickle.as_secs()
                    ),
                    format!(
                        "{:.1} MB (once a second during the trickle: {} MB)",
                        mb(e.rss_kib),
                        e.trickle_rss_kib
                            .iter()
                            .map(|&k| format!("{:.0}", mb(k)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "",
                    None,
                );
                r.row(
                    &format!(
                        "3 memory: RSS after a second wave of {} pending flows",
                        m.pending
                    ),
                    format!(
                        "{:.1} MB (+{:.1} MB over the first wave; peak {:.1} MB)",
                        mb(e.second_wave_kib),
                        mb(e.second_wave_kib) - mb(m.after_kib),
                        mb(e.second_wave_peak_kib)
                    ),
                    "expired sessions freed",
                    None,
                );
            }
            None => r.row(
                "3 memory: RSS after expiry",
                "pending: the site has no SESSION_IDLE_SECS yet".to_owned(),
                "",
                None,
            ),
        }
    }
    drop(procs);

    // The report.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## ngi-consent load bench{}\n",
        if ctx.options.quick {
            " (--quick: smoke numbers, not figures)"
        } else {
            ""
        }
    );
    for line in machine() {
        let _ = writeln!(out, "- {line}");
    }
    let _ = writeln!(
        out,
        "- load average (1, 5, 15 min): {load_before} before, {} after; {:.0} s in all",
        loadavg(),
        began.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        out,
        "- settings: site on core {SITE_CORE}, simulator + load generator on core {LOAD_CORE}; {} concurrent connections/flows, HTTP/1.1 keep-alive; \
         site RUST_LOG unset (info), log to {}; RATE_LIMIT_PER_MINUTE=0 ({}); CLK_TCK {clk_tck}",
        ctx.options.concurrency,
        if ctx.options.site_logs {
            "target/tmp/bench-site.log"
        } else {
            "/dev/null"
        },
        if rate_limit_known {
            "known to the site"
        } else {
            "not yet a setting of the site"
        },
    );
    if !ctx.options.site_env.is_empty() {
        let extra: Vec<String> = ctx
            .options
            .site_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "- site settings given with --site-env: {}",
            extra.join(" ")
        );
    }
    let _ = writeln!(out, "\n| figure | value | target | |\n|---|---|---|---|");
    for [figure, value, target, result] in &report.rows {
        let _ = writeln!(out, "| {figure} | {value} | {target} | {result} |");
    }
    let _ = writeln!(out);
    for note in &report.notes {
        let _ = writeln!(out, "- {note}");
    }
    println!("{out}");
}
