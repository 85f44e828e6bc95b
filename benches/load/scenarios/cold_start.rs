//! Scenario 4: cold start — the release binary's time from exec to its first 200 on `/healthz`,
//! ten times each: with a new SQLite ledger (the file created and migrated), then with the same
//! ledger again (its migrations found applied); or, with `--site-env DATABASE_URL=…`, twenty
//! starts on that PostgreSQL (the first migrates it if it is new).

use std::time::Duration;

use crate::options::Ctx;
use crate::processes::{Ports, Processes, log_path, time_to_healthy};
use crate::report::Report;

const RUNS: usize = 10;
/// The target: from exec to the first 200 on /healthz.
const TARGET: Duration = Duration::from_millis(100);

fn median_and_max(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub async fn run(procs: &mut Processes, ports: &Ports, ctx: &Ctx, report: &mut Report) {
    eprintln!("scenario 4: cold start, {RUNS} times each …");
    let postgres = ctx
        .options
        .site_env
        .iter()
        .any(|(key, _)| key == "DATABASE_URL");
    let (mut new, mut existing) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        let dir = log_path(&format!("bench-cold-start-{i}"));
        let _ = std::fs::remove_dir_all(&dir);
        let extra = [("DATA_DIR", dir.display().to_string())];
        new.push(time_to_healthy(procs, ports, &ctx.options, &extra).await);
        existing.push(time_to_healthy(procs, ports, &ctx.options, &extra).await);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let rows: Vec<(&str, Vec<Duration>)> = if postgres {
        // One database for every start: only the first on a new schema migrates it.
        new.extend(existing);
        vec![(
            "4 cold start: PostgreSQL ledger, 20 starts, the first migrating a new schema (median / max)",
            new,
        )]
    } else {
        vec![
            ("4 cold start: new SQLite ledger (median / max)", new),
            (
                "4 cold start: existing SQLite ledger (median / max)",
                existing,
            ),
        ]
    };
    for (figure, times) in rows {
        let (median, max) = median_and_max(times);
        report.row(
            figure,
            format!("{} / {}", ms(median), ms(max)),
            "≤ 100 ms",
            Some(median <= TARGET),
        );
    }
    report.notes.push(format!(
        "Cold start: from spawning `taskset -c 0 ngi-consent` to its first 200 on /healthz, polled \
         every millisecond; {RUNS} starts of each kind, the median judged."
    ));
}
