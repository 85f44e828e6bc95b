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
//! 4. Cold start: the release binary's time from exec to its first 200 on `/healthz`, with a new
//!    ledger (created and migrated) and with an existing one (migrations checked), or on the
//!    PostgreSQL of `--site-env DATABASE_URL=…`.
//!
//! Flags (after `--`): `--quick` (small numbers, a smoke check), `--concurrency N` (default 32),
//! `--only start|flow|memory|cold-start` (repeatable), `--site-env KEY=VALUE` (a setting for the site,
//! e.g. `LOG_FORMAT=json` or `SESSION_STORE=redis://127.0.0.1:6379`; repeatable),
//! `--site-logs` (keep the site's log in target/tmp/bench-site.log instead of discarding it),
//! `--perf` (record the server during each measured phase with `perf record` into
//! target/tmp/perf-*.data; its overhead lands in the figures, so profile and measure in separate
//! runs).
//!
//! The modules: `options` (flags and sizes), `settings` (the setting names), `processes` (the
//! servers, spawned and pinned), `bare` (the bare servers), `client` (HTTP and cookies),
//! `measure` (CPU, RSS, latency), `drive` (the load of one phase), `simulator` (its routes and
//! test persons), `scenarios`, `report`.

// A bench, not the product: a step that cannot go on stops the run and says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bare;
mod client;
mod drive;
mod measure;
mod options;
mod processes;
mod report;
mod scenarios;
mod settings;
mod simulator;

use std::net::SocketAddr;
use std::time::Instant;

use options::{Ctx, Options, Scenario};
use processes::{LOAD_CORE, Ports, Processes, SITE_BIN, SITE_CORE, free_port, run};
use report::{Report, RunInfo, loadavg};
use settings::{RATE_LIMIT_PER_MINUTE, SESSION_IDLE_SECS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == bare::SERVER_FLAG) {
        let addr: SocketAddr = args[i + 1].parse().expect("--bare-server takes an address");
        let with_session = args.get(i + 2).is_some_and(|a| a == bare::WITH_SESSION);
        bare::serve_bare(addr, with_session);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == bare::FLOW_SERVER_FLAG) {
        let addr: SocketAddr = args[i + 1]
            .parse()
            .expect("--bare-flow-server takes an address");
        let page_bytes: usize = args[i + 3].parse().expect("and a page size");
        let masked: Vec<String> = simulator::persons_with_debt()
            .into_iter()
            .map(|p| p.masked)
            .collect();
        let with_ledger = args.get(i + 4).is_some_and(|a| a == bare::WITH_LEDGER);
        bare::serve_bare_flow(addr, &args[i + 2], page_bytes, &masked, with_ledger);
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

async fn bench(options: Options) {
    let clk_tck: f64 = run("getconf", &["CLK_TCK"]).parse().unwrap();
    let ctx = Ctx {
        sizes: options.sizes(),
        options,
        tick: 1.0 / clk_tck,
    };
    let help = run(SITE_BIN, &["--help"]);
    let info = RunInfo {
        load_before: loadavg(),
        began: Instant::now(),
        clk_tck,
        rate_limit_known: help.contains(RATE_LIMIT_PER_MINUTE),
    };
    let idle_known = help.contains(SESSION_IDLE_SECS);
    let simulator_help = run(SITE_BIN, &["simulator", "--help"]);
    let mut uncleared = settings::uncleared(&help);
    uncleared.extend(settings::uncleared(&simulator_help));
    assert!(
        uncleared.is_empty(),
        "settings of the servers missing from benches/load/settings.rs: {uncleared:?}"
    );
    eprintln!(
        "load bench{}: site {SITE_BIN} on core {SITE_CORE}; simulator and load generator on core {LOAD_CORE}",
        if ctx.options.quick { " (quick)" } else { "" }
    );

    let mut procs = Processes::default();
    let ports = Ports {
        site: free_port(),
        sim: free_port(),
    };
    let sim_pid = processes::start_simulator(&mut procs, &ports).await;
    let mut report = Report::default();
    let wanted = |s| ctx.options.scenarios.contains(&s);
    if wanted(Scenario::Start) {
        scenarios::start::run(&mut procs, &ports, &ctx, &mut report).await;
    }
    if wanted(Scenario::Flow) {
        scenarios::flow::run(&mut procs, &ports, sim_pid, &ctx, &mut report).await;
    }
    if wanted(Scenario::Memory) {
        scenarios::memory::run(&mut procs, &ports, &ctx, idle_known, &mut report).await;
    }
    if wanted(Scenario::ColdStart) {
        scenarios::cold_start::run(&mut procs, &ports, &ctx, &mut report).await;
    }
    drop(procs);
    report.print(&ctx, &info);
}
