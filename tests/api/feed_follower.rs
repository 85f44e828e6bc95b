//! The consent-feed follower against the simulator, on SQLite and on PostgreSQL: a withdrawal at
//! the simulator's Min gjeld page reaching the ledger, gaps, duplicates and late events, an empty
//! page under both readings of `endSequenceNr`, a page cut short, and the window moved past the
//! cursor.

use std::time::Duration;

use ngi_consent::config::ServeArgs;
use ngi_consent::domain::consent::{ConsentId, Status};
use ngi_consent::feed::Outcome;
use ngi_consent::ledger::EventOutcome;
use ngi_consent::simulator::{Endpoint, Fault, FeedEnd, LateEvent};
use reqwest::StatusCode;

use crate::helpers::{Options, PERSON_1, TestApp, spawn_app_with};
use crate::ledger_flow::{drop_schema, postgres_schema};
use crate::lifecycle::{WITH_DAYS, newest_consent};

/// A site asking for consents that last, with `page_size` events a page, on SQLite or on a
/// PostgreSQL schema of its own (`None`: PostgreSQL cannot be reached and is not required).
async fn site(postgres: Option<&str>, page_size: &str) -> Option<(TestApp, Option<String>)> {
    let (schema, database_url) = match postgres {
        Some(test) => {
            let (schema, url) = postgres_schema(test).await?;
            (Some(schema), Some(url))
        }
        None => (None, None),
    };
    let app = spawn_app_with(Options {
        args: ServeArgs {
            ngi_scope: Some(WITH_DAYS.into()),
            feed_page_size: Some(page_size.into()),
            database_url,
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    Some((app, schema))
}

/// Each scenario once on SQLite and once on PostgreSQL.
macro_rules! on_both {
    ($($name:ident($page_size:literal)),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (app, _) = super::site(None, $page_size).await.unwrap();
                super::$name(&app).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some((app, schema)) =
                    super::site(Some(stringify!($name)), $page_size).await
                {
                    super::$name(&app).await;
                    super::drop_schema(&schema.unwrap()).await;
                }
            }
        }
    )*};
}

on_both!(
    a_withdrawal_at_min_gjeld_reaches_the_ledger_as_ended_at_ngi("100"),
    gaps_duplicates_and_late_events_are_applied_once("100"),
    an_empty_page_moves_the_cursor_only_to_an_end_not_behind_it("100"),
    a_page_cut_short_continues_after_its_highest_event("2"),
    a_window_moved_past_the_cursor_asks_ngi_for_every_open_consent("100"),
    a_consent_whose_person_never_came_back_is_recorded_from_the_feed_and_can_be_revoked("100"),
    a_withdrawal_heard_before_the_callback_keeps_the_consent_ended("100"),
);

pub(crate) async fn poll(app: &TestApp) -> Outcome {
    app.follower().poll_once(app.clock.now()).await.unwrap()
}

/// A completed redirect flow as `PERSON_1`: the consent's id, active in the ledger.
pub(crate) async fn granted(app: &TestApp) -> ConsentId {
    assert_eq!(app.follow_login(PERSON_1).await.status(), StatusCode::OK);
    let consent = newest_consent(app).await;
    assert_eq!(consent.status, Status::Active);
    consent.id.unwrap()
}

pub(crate) async fn status_of(app: &TestApp, id: &ConsentId) -> Status {
    app.ledger().get(id).await.unwrap().unwrap().status
}

/// The person logs in at the simulator's Min gjeld page and withdraws consent `id` there.
pub(crate) async fn withdraw_at_min_gjeld(app: &TestApp, id: &ConsentId) {
    let sim = app.sim.base_url();
    let login = app
        .client
        .post(sim.join("/min-gjeld/login").unwrap())
        .form(&[("nin", PERSON_1)])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_redirection(), "{}", login.status());
    let page = app
        .client
        .get(sim.join("/min-gjeld").unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(id.as_str()),
        "the consent is listed at Min gjeld"
    );
    let marker = "name=\"form_key\" value=\"";
    let start = page.find(marker).expect("a form key on the page") + marker.len();
    let form_key = &page[start..start + page[start..].find('"').unwrap()];
    let revoked = app
        .client
        .post(sim.join("/min-gjeld/revoke").unwrap())
        .form(&[("form_key", form_key), ("consent_id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_redirection(), "{}", revoked.status());
}

async fn a_withdrawal_at_min_gjeld_reaches_the_ledger_as_ended_at_ngi(app: &TestApp) {
    let id = granted(app).await;
    withdraw_at_min_gjeld(app, &id).await;
    // Before the follower hears of it the ledger still says active.
    assert_eq!(status_of(app, &id).await, Status::Active);
    let outcome = poll(app).await;
    assert_eq!(
        outcome.events,
        [
            ("created", EventOutcome::Confirmed),
            ("archived", EventOutcome::Applied)
        ]
    );
    assert_eq!(outcome.cursor, Some(app.sim.feed_last_sequence_nr()));
    assert!(!outcome.more);
    let consent = app.ledger().get(&id).await.unwrap().unwrap();
    assert_eq!(consent.status, Status::EndedAtNgi);
    let last = consent.history.last().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(Status::Active), Status::EndedAtNgi)
    );
    // Counted by type and outcome, the cursor and lag shown.
    let metrics = crate::helpers::body(app.get("/metrics").await).await;
    let applied = metrics
        .lines()
        .find(|l| {
            l.starts_with("ngi_consent_feed_events_total{")
                && l.contains("type=\"archived\"")
                && l.contains("outcome=\"applied\"")
        })
        .expect("archived events counted by outcome");
    let count: f64 = applied.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{applied}");
    for series in [
        "ngi_consent_feed_cursor ",
        "ngi_consent_feed_lag ",
        "ngi_consent_feed_lost_windows_total ",
    ] {
        assert!(metrics.contains(series), "{series} on /metrics");
    }
    // Heard once: the next poll finds nothing new and changes nothing.
    let again = poll(app).await;
    assert!(again.events.is_empty(), "{again:?}");
    assert_eq!(
        app.ledger().get(&id).await.unwrap().unwrap().history,
        consent.history
    );
}

async fn gaps_duplicates_and_late_events_are_applied_once(app: &TestApp) {
    let id = granted(app).await;
    let created = app.sim.feed_last_sequence_nr();
    // Another client's consents take numbers this client never sees.
    let hidden = app.sim.hidden_client_acts(3);
    assert_eq!(hidden.len(), 3);
    let repeated = app.sim.repeat_event(created).unwrap();
    let late = app
        .sim
        .publish_late(id.as_str(), LateEvent::Archived, Duration::from_secs(3600))
        .unwrap();
    assert!(created < hidden[0] && hidden[2] < repeated && repeated < late);
    let outcome = poll(app).await;
    assert_eq!(
        outcome.events,
        [
            ("created", EventOutcome::Confirmed),
            ("created", EventOutcome::Duplicate),
            ("archived", EventOutcome::Applied),
        ]
    );
    assert_eq!(outcome.cursor, Some(late));
    assert_eq!(status_of(app, &id).await, Status::EndedAtNgi);
    // The same event published again later is still not applied twice.
    let again = app.sim.repeat_event(late).unwrap();
    let outcome = poll(app).await;
    assert_eq!(outcome.events, [("archived", EventOutcome::Duplicate)]);
    assert_eq!(outcome.cursor, Some(again));
    let history = app.ledger().get(&id).await.unwrap().unwrap().history;
    assert_eq!(
        history
            .iter()
            .filter(|c| c.to == Status::EndedAtNgi)
            .count(),
        1
    );
}

async fn an_empty_page_moves_the_cursor_only_to_an_end_not_behind_it(app: &TestApp) {
    // Only another client's events: every page this client reads is empty.
    let hidden = app.sim.hidden_client_acts(3);
    // Read as the end of the page, an empty page names no end: the cursor stays, no loop.
    app.sim.set_feed_end(FeedEnd::OfPage);
    let outcome = poll(app).await;
    assert_eq!(
        (outcome.from, outcome.cursor, outcome.more),
        (Some(1), Some(0), false)
    );
    let outcome = poll(app).await;
    assert_eq!(
        (outcome.from, outcome.cursor, outcome.more),
        (Some(1), Some(0), false)
    );
    // Read as the end of the feed, it is not below the number asked for: taken.
    app.sim.set_feed_end(FeedEnd::OfFeed);
    let outcome = poll(app).await;
    assert_eq!(outcome.cursor, Some(hidden[2]));
    // Now the end is behind the number asked for: the cursor does not go back.
    let outcome = poll(app).await;
    assert_eq!(outcome.from, Some(hidden[2] + 1));
    assert_eq!((outcome.cursor, outcome.more), (Some(hidden[2]), false));
    assert!(outcome.events.is_empty());
}

async fn a_page_cut_short_continues_after_its_highest_event(app: &TestApp) {
    let id = granted(app).await;
    let created = app.sim.feed_last_sequence_nr();
    let repeats: Vec<i64> = (0..3)
        .map(|_| app.sim.repeat_event(created).unwrap())
        .collect();
    let archived = app
        .sim
        .publish_late(id.as_str(), LateEvent::Archived, Duration::from_secs(60))
        .unwrap();
    // Two a page: 1 and 2, then 3 and 4, then the archived one, never a number skipped.
    let first = poll(app).await;
    assert_eq!((first.cursor, first.more), (Some(repeats[0]), true));
    let second = poll(app).await;
    assert_eq!(second.from, Some(repeats[0] + 1));
    assert_eq!((second.cursor, second.more), (Some(repeats[2]), true));
    assert_eq!(status_of(app, &id).await, Status::Active);
    let third = poll(app).await;
    assert_eq!(third.events, [("archived", EventOutcome::Applied)]);
    assert_eq!((third.cursor, third.more), (Some(archived), false));
    assert_eq!(status_of(app, &id).await, Status::EndedAtNgi);
}

async fn a_window_moved_past_the_cursor_asks_ngi_for_every_open_consent(app: &TestApp) {
    let id = granted(app).await;
    let outcome = poll(app).await;
    assert_eq!(outcome.cursor, Some(app.sim.feed_last_sequence_nr()));
    let cursor = outcome.cursor.unwrap();
    // The person withdraws while the follower is not reading, and the 7-day window passes.
    withdraw_at_min_gjeld(app, &id).await;
    app.sim.hidden_client_acts(2);
    app.sim.advance_clock(Duration::from_secs(8 * 24 * 3600));
    let first = app.sim.feed_last_sequence_nr() + 1;
    let outcome = poll(app).await;
    assert_eq!(outcome.lost_window, Some((cursor, first)));
    assert_eq!(outcome.refreshed, 1);
    assert_eq!(outcome.cursor, Some(first - 1));
    // The lost withdrawal is known all the same: NGI was asked.
    assert_ne!(status_of(app, &id).await, Status::Active);
    // Once moved, the next poll loses nothing more.
    assert_eq!(poll(app).await.lost_window, None);
}

/// Waits up to `within` for `done`, checking every 50 ms.
async fn eventually<F: std::future::Future<Output = bool>>(within: Duration, done: impl Fn() -> F) {
    let until = tokio::time::Instant::now() + within;
    while !done().await {
        assert!(tokio::time::Instant::now() < until, "not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_runner_survives_a_failing_feed_without_failing_readyz_and_catches_up() {
    let app = spawn_app_with(Options {
        args: ServeArgs {
            ngi_scope: Some(WITH_DAYS.into()),
            feed_poll_secs: Some("5".into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    app.sim.set_fault(Endpoint::Feed, Some(Fault::status(503)));
    // The runner tries at once, and again after its first backoff.
    eventually(Duration::from_secs(5), || async {
        app.sim.feed_requests() >= 2
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(app.ledger().feed_cursor().await.unwrap(), None);
    // NGI answers again: within the backoff, not the 5 s interval, the cursor is written.
    app.sim.set_fault(Endpoint::Feed, None);
    eventually(Duration::from_secs(6), || async {
        app.ledger().feed_cursor().await.unwrap().is_some()
    })
    .await;
}

/// The person consents at NGI and never comes back to the callback: NGI holds a consent the
/// site would not know of. The feed's `SAMTYKKE_OPPRETTET` records it (no identity number or
/// expiry: the feed carries neither), NGI's status call gives its expiry, and the partner can
/// revoke it.
async fn a_consent_whose_person_never_came_back_is_recorded_from_the_feed_and_can_be_revoked(
    app: &TestApp,
) {
    let _never_followed = app.consent_as(PERSON_1).await;
    let outcome = poll(app).await;
    assert_eq!(outcome.events, [("created", EventOutcome::Recorded)]);
    let consent = newest_consent(app).await;
    let id = consent.id.clone().expect("NGI's consent id");
    assert_eq!(consent.status, Status::Active);
    assert_eq!(
        consent.nin_masked, "",
        "the feed carries no identity number"
    );
    assert_eq!(
        consent.source,
        ngi_consent::domain::consent::Source::Redirect
    );
    assert_eq!(consent.reference, None);
    assert_eq!(consent.expires_at, None, "the feed carries no expiry");
    // The partner's status call asks NGI, which gives it.
    let asked = app
        .lifecycle()
        .refresh_status(&id, app.clock.now(), "t")
        .await
        .unwrap();
    assert!(asked.expires_at.is_some(), "{asked:?}");
    assert_eq!(asked.status, Status::Active);
    let revoked = app
        .lifecycle()
        .revoke(
            &id,
            "the person never finished the application",
            app.clock.now(),
            "t",
        )
        .await
        .unwrap();
    assert!(
        matches!(revoked, ngi_consent::consents::Revocation::Revoked(_)),
        "{revoked:?}"
    );
    assert_eq!(status_of(app, &id).await, Status::Revoked);
}

/// The person consents at NGI and withdraws at Min gjeld before the callback arrives, and the
/// follower hears of both first: the callback arriving afterwards never brings the consent back
/// to life, and it stays one row.
async fn a_withdrawal_heard_before_the_callback_keeps_the_consent_ended(app: &TestApp) {
    let callback = app.consent_as(PERSON_1).await;
    assert_eq!(
        poll(app).await.events,
        [("created", EventOutcome::Recorded)]
    );
    let id = newest_consent(app).await.id.unwrap();
    withdraw_at_min_gjeld(app, &id).await;
    assert_eq!(
        poll(app).await.events,
        [("archived", EventOutcome::Applied)]
    );
    assert_eq!(status_of(app, &id).await, Status::EndedAtNgi);

    let late = app.get_url(callback).await;
    assert!(
        !late.status().is_server_error() || late.status() == StatusCode::BAD_GATEWAY,
        "{}",
        late.status()
    );
    let held = app.ledger().get(&id).await.unwrap().unwrap();
    assert_eq!(held.status, Status::EndedAtNgi, "{held:?}");
    let rows = app
        .ledger()
        .list(ngi_consent::ledger::ListQuery {
            status: None,
            now: app.clock.now(),
            reference: None,
            limit: 100,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(
        rows.consents
            .iter()
            .filter(|c| c.id.as_ref() == Some(&id))
            .count(),
        1
    );
}
