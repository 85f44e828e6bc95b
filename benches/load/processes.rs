//! The servers under load, each a child process pinned to its core with `taskset`, and the
//! small system commands the bench runs.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use ngi_consent::config::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use ngi_consent::paths;

use crate::bare;
use crate::client::Conn;
use crate::options::Options;
use crate::settings::{
    APP_BIND, DATA_DIR, DATABASE_URL, FLOW_STARTS_PER_SECOND, NGI_ACCESS_URL, NGI_API_URL,
    NGI_CLIENT_ID, NGI_CLIENT_SECRET, PUBLIC_URL, RATE_LIMIT_PER_MINUTE, server_settings,
};
use crate::simulator;

/// The release `ngi-consent` cargo builds for benches: the site, and the simulator as its
/// `simulator` subcommand.
pub const SITE_BIN: &str = env!("CARGO_BIN_EXE_ngi-consent");
const TMP_DIR: &str = env!("CARGO_TARGET_TMPDIR");
/// The server under load alone on one core; the simulator and the load generator on the other.
pub const SITE_CORE: &str = "0";
pub const LOAD_CORE: &str = "1";

/// The children, killed on every way out (normal end, error, panic).
#[derive(Default)]
pub struct Processes(Vec<(String, Child)>);

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
        for key in server_settings() {
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

    pub fn stop(&mut self, name: &str) {
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

pub fn log_path(name: &str) -> PathBuf {
    PathBuf::from(TMP_DIR).join(name)
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a command to its end: its standard output, trimmed.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

pub struct Ports {
    pub site: u16,
    pub sim: u16,
}

impl Ports {
    pub fn site_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.site)
    }
    pub fn sim_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.sim)
    }
}

/// Starts the simulator on the load core and waits until it answers.
pub async fn start_simulator(procs: &mut Processes, ports: &Ports) -> u32 {
    let bind = format!("127.0.0.1:{}", ports.sim);
    let redirect = format!("{}{}", ports.site_url(), paths::CALLBACK);
    let pid = procs.spawn(
        "simulator",
        LOAD_CORE,
        SITE_BIN,
        &["simulator", "--bind", &bind, "--redirect-uri", &redirect],
        &[],
        Stdio::null(),
    );
    wait_ready(procs, pid, ports.sim, simulator::DISCOVERY, LOAD_CORE).await;
    pid
}

/// The site's ledger settings: a fresh `DATA_DIR`, and `DATABASE_URL` when `--site-env` sets it.
pub fn ledger_env(options: &Options) -> Vec<(&'static str, String)> {
    let mut env = vec![(DATA_DIR, fresh_data_dir())];
    env.extend(
        options
            .site_env
            .iter()
            .filter(|(key, _)| key == DATABASE_URL)
            .map(|(_, value)| (DATABASE_URL, value.clone())),
    );
    env
}

/// The site's settings: the demo client against the bench's simulator, `extra`, then
/// `--site-env`'s (which win).
pub fn site_env<'a>(
    ports: &Ports,
    options: &'a Options,
    extra: &[(&'a str, String)],
) -> Vec<(&'a str, String)> {
    let mut env = vec![
        (DATA_DIR, fresh_data_dir()),
        (APP_BIND, format!("127.0.0.1:{}", ports.site)),
        (PUBLIC_URL, ports.site_url()),
        (NGI_ACCESS_URL, ports.sim_url()),
        (NGI_API_URL, ports.sim_url()),
        (NGI_CLIENT_ID, DEMO_CLIENT_ID.to_owned()),
        (NGI_CLIENT_SECRET, DEMO_CLIENT_SECRET.to_owned()),
        (RATE_LIMIT_PER_MINUTE, "0".to_owned()),
        // The per-instance cap on flow starts would refuse the bench's load as a flood.
        (FLOW_STARTS_PER_SECOND, "0".to_owned()),
    ];
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key, value.clone()));
    }
    for (key, value) in &options.site_env {
        env.retain(|(k, _)| k != key);
        env.push((key.as_str(), value.clone()));
    }
    env
}

/// Starts the site on its core with the demo client against the bench's simulator, `extra`
/// settings, then `--site-env`'s (which win); waits until it answers.
pub async fn start_site(
    procs: &mut Processes,
    ports: &Ports,
    options: &Options,
    extra: &[(&str, String)],
) -> u32 {
    let env = site_env(ports, options, extra);
    let log = if options.site_logs {
        Stdio::from(std::fs::File::create(log_path("bench-site.log")).unwrap())
    } else {
        Stdio::null()
    };
    let pid = procs.spawn("site", SITE_CORE, SITE_BIN, &[], &env, log);
    wait_ready(procs, pid, ports.site, paths::HEALTHZ, SITE_CORE).await;
    pid
}

/// The time from starting the site (its `taskset` exec included) to its first 200 on
/// `/healthz`, polled every millisecond; the site is stopped after.
pub async fn time_to_healthy(
    procs: &mut Processes,
    ports: &Ports,
    options: &Options,
    extra: &[(&str, String)],
) -> Duration {
    let env = site_env(ports, options, extra);
    let began = Instant::now();
    procs.spawn("site", SITE_CORE, SITE_BIN, &[], &env, Stdio::null());
    loop {
        if let Some(why) = procs.exited() {
            panic!("{why}");
        }
        let mut conn = Conn::new(ports.site);
        if let Ok(answer) = conn.send(Method::GET, paths::HEALTHZ, &[], None).await
            && answer.status == StatusCode::OK
        {
            let took = began.elapsed();
            procs.stop("site");
            return took;
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "the site did not answer /healthz within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// An empty directory for one start of the site's SQLite ledger, under target/tmp. Without it
/// the site wrote to `./data` in the checkout, whose ledger (and WAL) grew with every run, so
/// a flow's cost depended on how many runs came before.
fn fresh_data_dir() -> String {
    static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = log_path(&format!("bench-site-data-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.display().to_string()
}

/// Starts the bare handler (this binary re-executed) on the site's core; waits until it answers.
/// With `with_session`, each request creates a session in the site's memory store.
pub async fn start_bare(procs: &mut Processes, port: u16, with_session: bool) -> u32 {
    let exe = std::env::current_exe().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec![bare::SERVER_FLAG, &addr];
    if with_session {
        args.push(bare::WITH_SESSION);
    }
    let pid = procs.spawn(
        "bare",
        SITE_CORE,
        exe.to_str().unwrap(),
        &args,
        &[],
        Stdio::null(),
    );
    wait_ready(procs, pid, port, paths::HEALTHZ, SITE_CORE).await;
    pid
}

/// Starts the bare flow server (this binary re-executed) on the site's port and core, its debt
/// page `page_bytes` long; with `ledger` (the site's ledger settings), recording each consent
/// in that ledger. Waits until it answers.
pub async fn start_bare_flow(
    procs: &mut Processes,
    ports: &Ports,
    page_bytes: usize,
    ledger: Option<&[(&str, String)]>,
) -> u32 {
    let exe = std::env::current_exe().unwrap();
    let addr = format!("127.0.0.1:{}", ports.site);
    let mut args = vec![
        bare::FLOW_SERVER_FLAG.to_owned(),
        addr,
        ports.sim_url(),
        page_bytes.to_string(),
    ];
    if ledger.is_some() {
        args.push(bare::WITH_LEDGER.to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pid = procs.spawn(
        "bare-flow",
        SITE_CORE,
        exe.to_str().unwrap(),
        &args,
        ledger.unwrap_or_default(),
        Stdio::null(),
    );
    wait_ready(procs, pid, ports.site, paths::HEALTHZ, SITE_CORE).await;
    pid
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
