//! Scenario 2: complete flows, each with its own cookie jar: start → simulator authorize → login
//! → consent → callback (token + debt fetched by the site) → debt page, the page checked. Then
//! the same flows through the bare flow server, and through the bare flow server that records
//! each consent in the site's ledger.

use std::time::Instant;

use hyper::{Method, StatusCode};
use ngi_consent::paths;
use url::Url;

use crate::client::{Answer, Conn, Jar};
use crate::drive::{Stop, drive};
use crate::measure::{Latencies, Profiler, Usage, Watched, ticks_of};
use crate::options::Ctx;
use crate::processes::{
    Ports, Processes, ledger_env, start_bare_flow, start_simulator, start_site,
};
use crate::report::{Report, saturation, server_ticks};
use crate::simulator::{self, Person, persons_with_debt};

struct Browser {
    site: Conn,
    sim: Conn,
    site_base: Url,
    sim_base: Url,
    /// Who logs in at NGI: flow n as person n modulo their number.
    persons: Vec<Person>,
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
    let Person { nin, masked } = &b.persons[n as usize % b.persons.len()];
    let t0 = Instant::now();
    let mut site_jar = Jar::default();
    let mut sim_jar = Jar::default();

    let answer = b
        .site
        .send(Method::GET, paths::CONSENT_START, &site_jar.0, None)
        .await?;
    site_jar.take(&answer);
    let authorize = redirect(&answer, &b.site_base, "start")?;
    let path = on(&authorize, &b.sim_base, simulator::AUTHORIZE, "start")?;

    let answer = b.sim.send(Method::GET, &path, &sim_jar.0, None).await?;
    sim_jar.take(&answer);
    let login = redirect(&answer, &authorize, "authorize")?;
    on(&login, &b.sim_base, simulator::LOGIN, "authorize")?;
    let tx = login
        .query_pairs()
        .find(|(k, _)| k == "tx")
        .map(|(_, v)| v.into_owned())
        .ok_or("authorize: no tx")?;

    let body = form(&[("tx", &tx), ("nin", nin), ("action", "login")]);
    let answer = b
        .sim
        .send(Method::POST, simulator::LOGIN, &sim_jar.0, Some(body))
        .await?;
    sim_jar.take(&answer);
    let consent = redirect(&answer, &login, "login")?;
    on(&consent, &b.sim_base, simulator::CONSENT, "login")?;

    let body = form(&[("tx", &tx), ("decision", "accept")]);
    let answer = b
        .sim
        .send(Method::POST, simulator::CONSENT, &sim_jar.0, Some(body))
        .await?;
    sim_jar.take(&answer);
    let callback = redirect(&answer, &consent, "consent")?;
    let path = on(&callback, &b.site_base, paths::CALLBACK, "consent")?;

    let t_callback = Instant::now();
    let answer = b.site.send(Method::GET, &path, &site_jar.0, None).await?;
    let callback_ns = t_callback.elapsed().as_nanos() as u64;
    site_jar.take(&answer);
    let debt = redirect(&answer, &callback, "callback")?;
    let path = on(&debt, &b.site_base, paths::DEBT, "callback")?;

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

/// The targets: a complete flow costs the site at most this many times the bare flow's CPU, and
/// its callback p99 at most this many times the bare flow's.
const FLOW_RATIO: f64 = 1.5;

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
    /// Redis' and PostgreSQL's CPU per flow over the measured phase (0 when the site uses
    /// neither; anything else using them on this machine is counted too).
    redis_us: f64,
    postgres_us: f64,
    /// The debt page's mean size in bytes.
    page_bytes: usize,
    usage: Usage,
}

async fn flow_load(ports: &Ports, watched: Watched, ctx: &Ctx, label: &str) -> FlowFigures {
    let site_base = Url::parse(&ports.site_url()).unwrap();
    let sim_base = Url::parse(&ports.sim_url()).unwrap();
    let persons = persons_with_debt();
    let mut browsers: Vec<Browser> = (0..ctx.options.concurrency)
        .map(|_| Browser {
            site: Conn::new(ports.site),
            sim: Conn::new(ports.sim),
            site_base: site_base.clone(),
            sim_base: sim_base.clone(),
            persons: persons.clone(),
        })
        .collect();
    let sizes = &ctx.sizes;
    let warm = Stop::exactly(sizes.flow_warmup, sizes.max_phase);
    let warm = drive(&mut browsers, watched, warm, one_flow).await;
    assert_eq!(warm.failed, 0, "flow warm-up: {:?}", warm.first_error);
    let stop = Stop::exactly(sizes.flows, sizes.max_phase * 4);
    let perf = Profiler::attach(ctx, watched.server, &format!("flow-{label}"));
    let stores_before = (ticks_of("redis-server"), ticks_of("postgres"));
    let phase = drive(&mut browsers, watched, stop, one_flow).await;
    let stores_after = (ticks_of("redis-server"), ticks_of("postgres"));
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
        redis_us: per_flow(stores_after.0.saturating_sub(stores_before.0)),
        postgres_us: per_flow(stores_after.1.saturating_sub(stores_before.1)),
        page_bytes: phase.results.iter().map(|f| f.page_bytes).sum::<usize>()
            / phase.results.len().max(1),
        usage: phase.usage,
    }
}

/// The same flows through a bare flow server (with the ledger's record or without), with a
/// fresh simulator so that every run finds its maps equally empty.
async fn bare_flow_load(
    procs: &mut Processes,
    ports: &Ports,
    ctx: &Ctx,
    page_bytes: usize,
    with_ledger: bool,
) -> FlowFigures {
    procs.stop("simulator");
    let simulator = start_simulator(procs, ports).await;
    let ledger = with_ledger.then(|| ledger_env(&ctx.options));
    let bare = start_bare_flow(procs, ports, page_bytes, ledger.as_deref()).await;
    let watched = Watched {
        server: bare,
        simulator: Some(simulator),
    };
    let label = if with_ledger { "bare-ledger" } else { "bare" };
    let figures = flow_load(ports, watched, ctx, label).await;
    procs.stop("bare-flow");
    figures
}

/// The site's flows, then the same through the bare flow servers.
pub async fn run(
    procs: &mut Processes,
    ports: &Ports,
    sim_pid: u32,
    ctx: &Ctx,
    report: &mut Report,
) {
    eprintln!("scenario 2: complete flows …");
    let site = start_site(procs, ports, &ctx.options, &[]).await;
    let watched = Watched {
        server: site,
        simulator: Some(sim_pid),
    };
    let f = flow_load(ports, watched, ctx, "site").await;
    procs.stop("site");

    eprintln!("scenario 2: the same flows through the bare flow server …");
    let b = bare_flow_load(procs, ports, ctx, f.page_bytes, false).await;
    eprintln!("scenario 2: the same flows through the bare flow server with the ledger …");
    let l = bare_flow_load(procs, ports, ctx, f.page_bytes, true).await;
    let r = report;
    let c = ctx.options.concurrency;
    r.info(
        &format!("2 flow: complete flows/s ({c} concurrent)"),
        format!("{:.0}", f.fps),
    );
    r.info(
        "2 flow: whole flow p50 / p99",
        format!("{:.2} / {:.2} ms", f.flow.0, f.flow.1),
    );
    r.info(
        "2 flow: callback p50 / p99",
        format!("{:.2} / {:.2} ms", f.callback.0, f.callback.1),
    );
    r.row(
        "2 flow: callback p99 ÷ bare flow's",
        format!(
            "{:.2} / {:.2} ms = {:.2} ×",
            f.callback.1,
            b.callback.1,
            f.callback.1 / b.callback.1
        ),
        &format!("≤ {FLOW_RATIO} ×"),
        Some(f.callback.1 <= FLOW_RATIO * b.callback.1),
    );
    r.row(
        "2 flow: site CPU per complete flow ÷ bare flow's",
        format!(
            "{:.0} / {:.0} µs = {:.2} ×",
            f.site_us,
            b.site_us,
            f.site_us / b.site_us
        ),
        &format!("≤ {FLOW_RATIO} ×"),
        Some(f.site_us <= FLOW_RATIO * b.site_us),
    );
    r.info(
        "2 flow: Redis / PostgreSQL CPU per flow (all their processes)",
        format!("{:.0} µs / {:.0} µs", f.redis_us, f.postgres_us),
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
    r.info(
        "2 flow: bare flow, callback p50 / p99",
        format!("{:.2} / {:.2} ms", b.callback.0, b.callback.1),
    );
    r.info(
        "2 flow: bare flow, server CPU per flow",
        format!("{:.0} µs", b.site_us),
    );
    r.info(
        "2 flow: bare flow + the ledger's record, server CPU per flow / callback p99",
        format!("{:.0} µs / {:.2} ms", l.site_us, l.callback.1),
    );
    r.info(
        "2 flow: the ledger's record alone, CPU per flow (÷ bare flow's)",
        format!(
            "{:.0} µs ({:.2} ×)",
            l.site_us - b.site_us,
            (l.site_us - b.site_us) / b.site_us.max(f64::MIN_POSITIVE)
        ),
    );
    r.info(
        "2 flow: site CPU ÷ bare flow + the ledger's record",
        format!(
            "{:.0} / {:.0} µs = {:.2} ×",
            f.site_us,
            l.site_us,
            f.site_us / l.site_us.max(f64::MIN_POSITIVE)
        ),
    );
    r.info(
        "2 flow: site ÷ bare flow",
        format!(
            "flows/s {:.2}×, CPU {:.2}×",
            f.fps / b.fps.max(f64::MIN_POSITIVE),
            f.site_us / b.site_us.max(f64::MIN_POSITIVE)
        ),
    );
    for (label, x) in [("site", &f), ("bare flow", &b), ("bare flow + ledger", &l)] {
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
