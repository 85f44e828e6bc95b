//! Crash safety of the consent-feed follower, on SQLite and on PostgreSQL. The hidden `feed-step`
//! subcommand runs as a child process against one simulator in this test; it is stopped dead at
//! each named point of a page, or by SIGKILL at random moments, and then run to the end. Every
//! event must then be in the ledger once, applied once, as if the follower had never stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use ngi_consent::simulator::{LateEvent, SimulatorHandle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncBufReadExt, BufReader};
use url::Url;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, spawn_simulator};

/// One ledger under the test, made fresh and read back as a snapshot.
mod ledger;
/// The `feed-step` child process and the steps it prints.
mod process;

use ledger::{ARCHIVED, CREATED, Consent, Db, EventRow, FROM_FEED, GRANTED, Store, consent, row};
use process::{Step, crash_at, feed_step, run_to_end};

const SIGKILL: i32 = 9;

/// Each scenario once on SQLite and once on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Db::Sqlite, stringify!($name)).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(super::Db::Postgres, stringify!($name)).await;
            }
        }
    )*};
}

on_both!(
    a_crash_at_any_point_of_a_page_leaves_it_applied_once,
    twenty_kills_at_random_moments_leave_the_ledger_of_a_run_never_stopped,
);

/// The simulator: our client registered (its callback never used here).
async fn simulator() -> SimulatorHandle {
    spawn_simulator(
        &Url::parse("http://127.0.0.1:9/").unwrap(),
        CLIENT_SECRET,
        false,
    )
    .await
}

async fn a_crash_at_any_point_of_a_page_leaves_it_applied_once(db: Db, test: &str) {
    let mut stores = Vec::new();
    for _ in ngi_consent::feed::crash::CrashPoint::ALL {
        match Store::fresh(db, test).await {
            Some(store) => stores.push(store),
            None => return,
        }
    }
    let sim = simulator().await;
    // Three consents the ledger knows, two it does not; then, in one page, another client's
    // events (a gap), ARKIVERT of known and unknown consents, duplicates and late events.
    let known: Vec<String> = (0..3)
        .map(|_| sim.grant_consent(CLIENT_ID, 30).unwrap())
        .collect();
    let unknown: Vec<String> = (0..2)
        .map(|_| sim.grant_consent(CLIENT_ID, 30).unwrap())
        .collect();
    let (k1, k2, k3, u1, u2) = (&known[0], &known[1], &known[2], &unknown[0], &unknown[1]);
    let gap = sim.hidden_client_acts(2);
    assert_eq!(gap, [6, 7]);
    let now = Duration::ZERO;
    let k1_archived = sim.publish_late(k1, LateEvent::Archived, now).unwrap();
    let u1_archived = sim.publish_late(u1, LateEvent::Archived, now).unwrap();
    let k2_created_again = sim.repeat_event(2).unwrap();
    let hour = Duration::from_secs(3600);
    let k2_archived_late = sim.publish_late(k2, LateEvent::Archived, hour).unwrap();
    sim.hidden_client_acts(1);
    let u1_created_late = sim.publish_late(u1, LateEvent::Created, 2 * hour).unwrap();
    let k1_archived_again = sim.repeat_event(k1_archived).unwrap();
    assert_eq!(
        [
            k1_archived,
            u1_archived,
            k2_created_again,
            k2_archived_late,
            u1_created_late,
            k1_archived_again
        ],
        [8, 9, 10, 11, 13, 14]
    );
    let last = sim.feed_last_sequence_nr();
    assert_eq!(last, k1_archived_again, "the feed ends with one of ours");

    // Each event once, by its first number, with its final outcome; a duplicate only counted.
    let expected_events = vec![
        row(1, k1, CREATED, "confirmed", 0),
        row(2, k2, CREATED, "confirmed", 1),
        row(3, k3, CREATED, "confirmed", 0),
        // Consents the ledger did not know: recorded from the feed.
        row(4, u1, CREATED, "recorded", 0),
        row(5, u2, CREATED, "recorded", 0),
        row(k1_archived, k1, ARCHIVED, "applied", 1),
        row(u1_archived, u1, ARCHIVED, "applied", 0),
        row(k2_archived_late, k2, ARCHIVED, "applied", 0),
        // OPPRETTET again after NGI said it ended: an ended consent never reopens.
        row(u1_created_late, u1, CREATED, "unchanged", 0),
    ];
    let expected_consents: BTreeMap<String, Consent> = [
        (k1.clone(), consent(GRANTED, true)),
        (k2.clone(), consent(GRANTED, true)),
        (k3.clone(), consent(GRANTED, false)),
        (u1.clone(), consent(FROM_FEED, true)),
        (u2.clone(), consent(FROM_FEED, false)),
    ]
    .into();
    // Every event of ours is in one page of 100: 11 delivered, 2 of them duplicates.
    let page_size = 100;

    for (point, store) in ngi_consent::feed::crash::CrashPoint::ALL
        .iter()
        .zip(&stores)
    {
        let point = point.name();
        store.record_known(&known).await;
        let before = store.snapshot().await;
        assert_eq!(before.cursor, None);
        assert!(before.events.is_empty() && before.tombstones.is_empty());

        let pages_read = sim.feed_requests();
        crash_at(&sim, store, page_size, point).await;
        // Both bounds and the page were asked for before any point.
        assert_eq!(sim.feed_requests() - pages_read, 3, "{point}");
        let after_crash = store.snapshot().await;
        let committed = point == "after-commit";
        if committed {
            assert_eq!(after_crash.cursor, Some(last), "{point}");
            assert_eq!(after_crash.events.len(), expected_events.len(), "{point}");
        } else {
            // Nothing of an uncommitted page survives the process.
            assert_eq!(after_crash, before, "{point}");
        }

        let steps = run_to_end(&sim, store, page_size).await;
        let again = if committed { 0 } else { 11 };
        assert_eq!(
            steps,
            [Step {
                cursor: Some(last),
                leader: true,
                events: again,
                more: false
            }],
            "{point}"
        );
        let done = store.snapshot().await;
        done.assert_each_event_applied_once(point);
        let events: Vec<EventRow> = done
            .events
            .iter()
            .map(|e| EventRow {
                event_id: String::new(),
                ..e.clone()
            })
            .collect();
        assert_eq!(events, expected_events, "{point}");
        assert_eq!(done.consents, expected_consents, "{point}");
        // Every ARKIVERT here came after its consent's OPPRETTET: no tombstone.
        assert_eq!(done.tombstones, BTreeSet::new(), "{point}");
        assert_eq!(done.cursor, Some(last), "{point}");
        if committed {
            assert_eq!(done, after_crash, "{point}: the run after changed nothing");
        }
    }
    for store in stores {
        store.remove().await;
    }
}

/// What the test published to the simulator's feed, to know what the ledger must hold.
#[derive(Debug, Default)]
struct Published {
    /// Consents of ours the ledger knows / does not know.
    known: Vec<String>,
    unknown: Vec<String>,
    /// The sequence numbers of our client's events (the hidden client's are gaps).
    ours: Vec<i64>,
    /// Distinct events of ours (a repeat keeps its event id).
    events: usize,
    repeats: usize,
    /// Consents an ARKIVERT was published for.
    archived: BTreeSet<String>,
}

/// About `total` sequence numbers: consents granted (known to the ledger or not), another
/// client's events, repeats of earlier events, ARKIVERT of known and unknown consents, some
/// published late, and OPPRETTET again.
fn build_feed(sim: &SimulatorHandle, rng: &mut StdRng, total: i64) -> Published {
    let mut p = Published::default();
    let late = |rng: &mut StdRng| Duration::from_secs(rng.random_range(0..48 * 3600));
    while sim.feed_last_sequence_nr() < total - 1 {
        let roll = rng.random_range(0..100);
        let consents = p.known.len() + p.unknown.len();
        if roll < 30 || consents < 10 {
            let id = sim.grant_consent(CLIENT_ID, 30).unwrap();
            if rng.random_bool(0.5) {
                p.known.push(id);
            } else {
                p.unknown.push(id);
            }
            p.ours.push(sim.feed_last_sequence_nr());
            p.events += 1;
        } else if roll < 45 {
            sim.hidden_client_acts(rng.random_range(1..=3));
        } else if roll < 58 {
            let earlier = p.ours[rng.random_range(0..p.ours.len())];
            p.ours.push(sim.repeat_event(earlier).unwrap());
            p.repeats += 1;
        } else if roll < 90 {
            let of_known = roll < 78;
            let pool = if of_known { &p.known } else { &p.unknown };
            if pool.is_empty() {
                continue;
            }
            let id = pool[rng.random_range(0..pool.len())].clone();
            let by = late(rng);
            p.ours
                .push(sim.publish_late(&id, LateEvent::Archived, by).unwrap());
            p.archived.insert(id);
            p.events += 1;
        } else {
            let all: Vec<&String> = p.known.iter().chain(&p.unknown).collect();
            let id = all[rng.random_range(0..all.len())].clone();
            let by = late(rng);
            p.ours
                .push(sim.publish_late(&id, LateEvent::Created, by).unwrap());
            p.events += 1;
        }
    }
    // The feed ends with one of ours, so a follower that caught up stands at its last number.
    let id = p.known[0].clone();
    p.ours.push(
        sim.publish_late(&id, LateEvent::Archived, Duration::ZERO)
            .unwrap(),
    );
    p.archived.insert(id);
    p.events += 1;
    p
}

/// Equal sets, or a failure naming only what differs.
fn assert_same<T: Ord + std::fmt::Debug>(got: &BTreeSet<T>, want: &BTreeSet<T>, context: &str) {
    let missing: Vec<&T> = want.difference(got).collect();
    let unexpected: Vec<&T> = got.difference(want).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{context}: missing {missing:?}, unexpected {unexpected:?}"
    );
}

/// What one SIGKILL hit.
#[derive(Debug)]
struct Kill {
    /// Steps the process had printed.
    steps: usize,
    /// Its last step said more was waiting (or it had printed none).
    unfinished: bool,
    /// It died by the SIGKILL (had not exited on its own).
    killed: bool,
    /// The ledger's cursor afterwards.
    cursor: Option<i64>,
}

async fn twenty_kills_at_random_moments_leave_the_ledger_of_a_run_never_stopped(
    db: Db,
    test: &str,
) {
    let Some(killed) = Store::fresh(db, test).await else {
        return;
    };
    let Some(calm) = Store::fresh(db, test).await else {
        return;
    };
    let seed: u64 = std::env::var("FEED_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let seed = format!("seed {seed} (FEED_CRASH_SEED={seed} repeats it)");
    let sim = simulator().await;
    let published = build_feed(&sim, &mut rng, 2000);
    let last = sim.feed_last_sequence_nr();
    assert!(last >= 2000, "{seed}");
    killed.record_known(&published.known).await;
    calm.record_known(&published.known).await;

    let page_size = 25;
    let mut kills = Vec::new();
    for _ in 0..20 {
        let mut child = feed_step(&sim, &killed, page_size, &["--until-caught-up"])
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // A few pages in (none: during start-up or the first page), then a moment more.
        let wanted = rng.random_range(0..=3);
        let extra = Duration::from_micros(rng.random_range(0..30_000));
        let mut steps = Vec::new();
        while steps.len() < wanted {
            match tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("{seed}: feed-step printed nothing for 60 s"))
                .unwrap()
            {
                Some(line) => steps.extend(Step::parse(&line)),
                None => break,
            }
        }
        tokio::time::sleep(extra).await;
        let _ = child.start_kill();
        let status = child.wait().await.unwrap();
        kills.push(Kill {
            steps: steps.len(),
            unfinished: steps.last().is_none_or(|s: &Step| s.more),
            killed: status.signal() == Some(SIGKILL),
            cursor: killed.cursor().await,
        });
    }
    // Shown with --nocapture: where the kills landed.
    eprintln!(
        "{db:?}, {seed}: kills after {:?} steps, cursors {:?}",
        kills.iter().map(|k| k.steps).collect::<Vec<_>>(),
        kills.iter().map(|k| k.cursor).collect::<Vec<_>>()
    );
    let mid_run = kills.iter().filter(|k| k.killed && k.unfinished).count();
    assert!(
        mid_run >= 15,
        "{seed}: most kills must land mid-run: {kills:#?}"
    );
    assert!(
        kills.iter().filter(|k| k.steps > 0 && k.killed).count() >= 5,
        "{seed}: some kills after pages were written: {kills:#?}"
    );
    let cursors: Vec<Option<i64>> = kills.iter().map(|k| k.cursor).collect();
    assert!(
        cursors.windows(2).all(|w| w[0] <= w[1]),
        "{seed}: the cursor never moves back: {cursors:?}"
    );
    assert!(
        cursors.iter().collect::<BTreeSet<_>>().len() >= 5,
        "{seed}: the killed runs made progress between kills: {cursors:?}"
    );

    run_to_end(&sim, &killed, page_size).await;
    let steps = run_to_end(&sim, &calm, page_size).await;
    assert!(steps.len() >= 40, "{seed}: {} pages", steps.len());
    let after_kills = killed.snapshot().await;
    let never_stopped = calm.snapshot().await;

    // Concrete first: what the uninterrupted run must hold, from what was published.
    never_stopped.assert_each_event_applied_once(&seed);
    after_kills.assert_each_event_applied_once(&seed);
    let ours_last = *published.ours.last().unwrap();
    assert_eq!(ours_last, last, "{seed}");
    assert_eq!(never_stopped.cursor, Some(last), "{seed}");
    assert_eq!(never_stopped.events.len(), published.events, "{seed}");
    let duplicates: i64 = never_stopped.events.iter().map(|e| e.duplicates).sum();
    assert_eq!(duplicates, published.repeats as i64, "{seed}");
    // Consents the ledger did not know are recorded from their OPPRETTET, which NGI always
    // publishes before their ARKIVERT: every consent has a row, and nothing is tombstoned.
    let known: BTreeSet<&String> = published.known.iter().collect();
    let all: BTreeSet<&String> = published.known.iter().chain(&published.unknown).collect();
    assert_same(
        &never_stopped.consents.keys().collect(),
        &all,
        &format!("{seed}: consents"),
    );
    for (id, held) in &never_stopped.consents {
        let first = if known.contains(id) {
            GRANTED
        } else {
            FROM_FEED
        };
        let expected = consent(first, published.archived.contains(id));
        assert_eq!(held, &expected, "{seed}: consent {id}");
    }
    assert_same(
        &never_stopped.tombstones,
        &BTreeSet::new(),
        &format!("{seed}: tombstones"),
    );

    // And the ledger that was killed twenty times holds exactly the same.
    assert_eq!(after_kills.cursor, never_stopped.cursor, "{seed}");
    assert_same(
        &after_kills.tombstones,
        &never_stopped.tombstones,
        &format!("{seed}: tombstones after kills"),
    );
    assert_same(
        &after_kills.consents.keys().collect(),
        &never_stopped.consents.keys().collect(),
        &format!("{seed}: consents after kills"),
    );
    for (id, consent) in &after_kills.consents {
        assert_eq!(consent, &never_stopped.consents[id], "{seed}: consent {id}");
    }
    for (a, b) in after_kills.events.iter().zip(&never_stopped.events) {
        assert_eq!(a, b, "{seed}");
    }
    assert_eq!(
        after_kills.events.len(),
        never_stopped.events.len(),
        "{seed}"
    );
    assert!(after_kills == never_stopped, "{seed}: the ledgers differ");
    killed.remove().await;
    calm.remove().await;
}
