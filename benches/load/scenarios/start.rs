//! Scenario 1: `GET /consent/start` without cookies (every request a new session and a new
//! pending flow), on the site and on the bare handler.

use std::time::Instant;

use hyper::{Method, StatusCode};
use ngi_consent::paths;

use crate::client::Conn;
use crate::drive::{Stop, drive};
use crate::measure::{Latencies, Profiler, Usage, Watched};
use crate::options::Ctx;
use crate::processes::{Ports, Processes, free_port, start_bare, start_site};
use crate::report::{Report, saturation, server_ticks};

/// The target: a start costs the site at most this many times the bare handler's CPU.
const START_CPU_RATIO: f64 = 2.5;

struct StartFigures {
    requests: u64,
    failed: u64,
    rps: f64,
    p50: f64,
    p99: f64,
    cpu_us: f64,
    usage: Usage,
}

/// One `GET /consent/start` without cookies: its latency in nanoseconds.
pub async fn get_start(conn: &mut Conn, _n: u64) -> Result<u64, String> {
    let t = Instant::now();
    let answer = conn
        .send(Method::GET, paths::CONSENT_START, &[], None)
        .await?;
    if answer.status != StatusCode::SEE_OTHER || answer.location.is_none() {
        return Err(format!(
            "GET {} answered {}",
            paths::CONSENT_START,
            answer.status
        ));
    }
    Ok(t.elapsed().as_nanos() as u64)
}

/// `concurrency` connections to `port`, each opened once.
pub fn connections(port: u16, ctx: &Ctx) -> Vec<Conn> {
    (0..ctx.options.concurrency)
        .map(|_| Conn::new(port))
        .collect()
}

async fn start_load(port: u16, watched: Watched, ctx: &Ctx, label: &str) -> StartFigures {
    let sizes = &ctx.sizes;
    let mut conns = connections(port, ctx);
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

/// The site, then the bare handler, then the bare handler with a session, each alone on the
/// site's core.
pub async fn run(procs: &mut Processes, ports: &Ports, ctx: &Ctx, report: &mut Report) {
    eprintln!("scenario 1: GET /consent/start, site then bare handler …");
    let site = start_site(procs, ports, &ctx.options, &[]).await;
    let s = start_load(ports.site, Watched::server(site), ctx, "site").await;
    procs.stop("site");

    let bare_port = free_port();
    let bare = start_bare(procs, bare_port, false).await;
    let b = start_load(bare_port, Watched::server(bare), ctx, "bare").await;
    procs.stop("bare");

    let bare_port = free_port();
    let bare = start_bare(procs, bare_port, true).await;
    let w = start_load(bare_port, Watched::server(bare), ctx, "bare-session").await;
    procs.stop("bare");

    let r = report;
    let c = ctx.options.concurrency;
    r.info(
        &format!("1 start: site req/s ({c} conns)"),
        format!("{:.0}", s.rps),
    );
    r.info(
        "1 start: site p50 / p99",
        format!("{:.2} / {:.2} ms", s.p50, s.p99),
    );
    r.row(
        "1 start: site CPU per request ÷ bare handler's",
        format!(
            "{:.1} / {:.1} µs = {:.2} ×",
            s.cpu_us,
            b.cpu_us,
            s.cpu_us / b.cpu_us
        ),
        &format!("≤ {START_CPU_RATIO} ×"),
        Some(s.cpu_us <= START_CPU_RATIO * b.cpu_us),
    );
    r.info(
        "1 start: bare handler + a session: CPU per request (÷ bare handler's)",
        format!("{:.1} µs ({:.2} ×)", w.cpu_us, w.cpu_us / b.cpu_us),
    );
    r.info(
        "1 start: site CPU ÷ bare handler + a session",
        format!(
            "{:.1} / {:.1} µs = {:.2} ×",
            s.cpu_us,
            w.cpu_us,
            s.cpu_us / w.cpu_us
        ),
    );
    r.row(
        "1 start: bare req/s",
        format!("{:.0}", b.rps),
        "(ceiling)",
        None,
    );
    r.info(
        "1 start: bare p50 / p99",
        format!("{:.2} / {:.2} ms", b.p50, b.p99),
    );
    r.info(
        "1 start: bare CPU per request",
        format!("{:.1} µs", b.cpu_us),
    );
    r.info(
        "1 start: site req/s ÷ bare's",
        format!("{:.2} ×", s.rps / b.rps),
    );
    for (label, f) in [("site", &s), ("bare", &b), ("bare + session", &w)] {
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
