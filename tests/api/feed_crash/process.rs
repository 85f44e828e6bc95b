//! The hidden `feed-step` subcommand as a child process: configured as an operator would, stopped
//! dead at a named crash point, or run until it has caught up; the steps it prints.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use ngi_consent::simulator::SimulatorHandle;
use tokio::process::Command;

use super::ledger::Store;
use crate::helpers::{CLIENT_ID, CLIENT_SECRET};

const SIGABRT: i32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Step {
    pub(super) cursor: Option<i64>,
    pub(super) leader: bool,
    pub(super) events: usize,
    pub(super) more: bool,
}

impl Step {
    /// `cursor=<n|none> leader=<bool> events=<n> more=<bool>`; `None` for any other line.
    pub(super) fn parse(line: &str) -> Option<Step> {
        let mut fields = line.split(' ').map(|f| f.split_once('='));
        let (Some(("cursor", cursor)), Some(("leader", leader)), Some(("events", events))) =
            (fields.next()?, fields.next()?, fields.next()?)
        else {
            return None;
        };
        let Some(("more", more)) = fields.next()? else {
            return None;
        };
        Some(Step {
            cursor: if cursor == "none" {
                None
            } else {
                Some(cursor.parse().ok()?)
            },
            leader: leader.parse().ok()?,
            events: events.parse().ok()?,
            more: more.parse().ok()?,
        })
    }

    pub(super) fn all(stdout: &[u8]) -> Vec<Step> {
        String::from_utf8_lossy(stdout)
            .lines()
            .filter_map(Step::parse)
            .collect()
    }
}

/// `ngi-consent feed-step` against `sim` and `store`, as an operator would configure a site
/// outside simulator mode (NGI's hosts, our client, the issuer known).
pub(super) fn feed_step(
    sim: &SimulatorHandle,
    store: &Store,
    page_size: u32,
    args: &[&str],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ngi-consent"));
    let (ledger_var, ledger) = store.setting();
    command
        .arg("feed-step")
        .args(args)
        .env_clear()
        .env("APP_BIND", "127.0.0.1:0")
        .env("PUBLIC_URL", "http://127.0.0.1:9")
        .env("NGI_ACCESS_URL", sim.base_url().as_str())
        .env("NGI_API_URL", sim.base_url().as_str())
        .env("NGI_ISSUER", sim.issuer())
        .env("NGI_CLIENT_ID", CLIENT_ID)
        .env("NGI_CLIENT_SECRET", CLIENT_SECRET)
        .env("FEED_POLL_SECS", "0")
        .env("FEED_PAGE_SIZE", page_size.to_string())
        .env("RUST_LOG", "error")
        .env(ledger_var, ledger)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// One step stopped dead at `point`: the process must die by SIGABRT (only the crash point
/// aborts), not exit.
pub(super) async fn crash_at(sim: &SimulatorHandle, store: &Store, page_size: u32, point: &str) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        feed_step(sim, store, page_size, &["--crash-at", point]).output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{point}: {:?}, stdout {}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        Step::all(&out.stdout).is_empty(),
        "{point}: a step finished"
    );
}

/// `feed-step --until-caught-up`, run again while it is not the leader (on PostgreSQL, the lock
/// of a process just killed is released when the server notices its connection gone). Its steps.
pub(super) async fn run_to_end(sim: &SimulatorHandle, store: &Store, page_size: u32) -> Vec<Step> {
    for _ in 0..100 {
        let out = tokio::time::timeout(
            Duration::from_secs(120),
            feed_step(sim, store, page_size, &["--until-caught-up"]).output(),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(
            out.status.success(),
            "{:?}, stdout {}, stderr {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let steps = Step::all(&out.stdout);
        let last = *steps.last().expect("at least one step");
        if last.leader {
            assert!(!last.more, "{steps:?}");
            return steps;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("feed-step never became the feed's leader");
}
