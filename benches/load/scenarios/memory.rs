//! Scenario 3: the site's memory with many pending flows in the session store (all live: the idle
//! expiry is longer than the wave), after they expire, and after a second wave as large.

use std::time::{Duration, Instant};

use crate::client::Conn;
use crate::drive::{Phase, Stop, drive};
use crate::measure::{Watched, status_kib};
use crate::options::Ctx;
use crate::processes::{Ports, Processes, start_site};
use crate::report::Report;
use crate::scenarios::start::{connections, get_start};
use crate::settings::SESSION_IDLE_SECS;

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

/// `n` pending flows (`GET /consent/start` without cookies), every one answered.
async fn pending_wave(conns: &mut [Conn], watched: Watched, n: u64, label: &str) -> Phase<u64> {
    let phase = drive(
        conns,
        watched,
        Stop::exactly(n, Duration::from_secs(600)),
        get_start,
    )
    .await;
    assert_eq!(phase.failed, 0, "{label}: {:?}", phase.first_error);
    assert_eq!(phase.results.len() as u64, n, "{label}: stopped early");
    phase
}

async fn memory_load(port: u16, watched: Watched, ctx: &Ctx, idle_known: bool) -> MemoryFigures {
    let pid = watched.server;
    let before_kib = status_kib(pid, "VmRSS:");
    let mut conns = connections(port, ctx);
    let n = ctx.sizes.pending_flows;
    let phase = pending_wave(&mut conns, watched, n, "memory").await;
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
        pending_wave(&mut conns, watched, n, "memory, second wave").await;
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

/// A fresh site with a short idle expiry (when it knows the setting `idle_known`), alone on its
/// core.
pub async fn run(
    procs: &mut Processes,
    ports: &Ports,
    ctx: &Ctx,
    idle_known: bool,
    report: &mut Report,
) {
    eprintln!(
        "scenario 3: memory with {} pending flows …",
        ctx.sizes.pending_flows
    );
    let idle = [(SESSION_IDLE_SECS, ctx.memory_idle_secs().to_string())];
    let site = start_site(procs, ports, &ctx.options, &idle).await;
    let m = memory_load(ports.site, Watched::server(site), ctx, idle_known).await;
    procs.stop("site");
    let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
    let r = report;
    r.info(
        "3 memory: site RSS before",
        format!("{:.1} MB", mb(m.before_kib)),
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
    r.info(
        &format!("3 memory: RSS with {} pending flows", m.pending),
        format!(
            "{:.1} MB ({:.0} bytes per flow)",
            mb(m.after_kib),
            (m.after_kib.saturating_sub(m.before_kib)) as f64 * 1024.0 / m.pending as f64
        ),
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
            r.info(
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
        None => r.info(
            "3 memory: RSS after expiry",
            format!("pending: the site has no {SESSION_IDLE_SECS} yet"),
        ),
    }
}
