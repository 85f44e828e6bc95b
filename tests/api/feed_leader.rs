//! One follower of NGI's consent feed among several instances on PostgreSQL: the instance that
//! holds the feed's advisory lock follows, the others only try for it; when the leader's
//! connection ends (its process killed, or the connection ended by PostgreSQL) another takes
//! over, and no event is applied twice.

use std::time::Duration;

use ngi_consent::config::ServeArgs;
use ngi_consent::domain::consent::{ConsentId, Status};
use ngi_consent::ledger::EventOutcome;
use sqlx::Connection;

use crate::feed_follower::{granted, poll, status_of, withdraw_at_min_gjeld};
use crate::helpers::{CLIENT_ID, CLIENT_SECRET, Options, TestApp, spawn_app_with};
use crate::ledger_flow::{POSTGRES_URL, drop_schema, postgres_schema};
use crate::lifecycle::WITH_DAYS;

/// A site on `database_url` asking for consents that last; NGI is `ngi` (another app's
/// simulator) when given, else its own. Its feed runner is off: the test steps it.
async fn site_on(database_url: &str, ngi: Option<&TestApp>) -> TestApp {
    let ngi_url = ngi.map(|app| app.sim.base_url().to_string());
    spawn_app_with(Options {
        args: ServeArgs {
            ngi_scope: Some(WITH_DAYS.into()),
            database_url: Some(database_url.into()),
            ngi_access_url: ngi_url.clone(),
            ngi_api_url: ngi_url,
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await
}

async fn admin() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(POSTGRES_URL).await.unwrap()
}

/// The backend holding `schema`'s feed lock, if one does.
async fn lock_holder(schema: &str) -> Option<i32> {
    let mut admin = admin().await;
    let pid = sqlx::query_scalar::<_, i32>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND ((classid::bigint << 32) | objid::bigint) \
             = hashtextextended('ngi-consent feed ' || $1, 0)",
    )
    .bind(schema)
    .fetch_optional(&mut admin)
    .await
    .unwrap();
    let _ = admin.close().await;
    pid
}

/// Every feed event of `schema` once: (type, outcome, duplicates), in sequence order.
async fn recorded_events(schema: &str) -> Vec<(String, String, i32)> {
    let mut admin = admin().await;
    let rows = sqlx::query_as::<_, (String, String, i32)>(&format!(
        "SELECT event_type, outcome, duplicates FROM {schema}.feed_events ORDER BY sequence_nr"
    ))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    let _ = admin.close().await;
    rows
}

/// How many times the ledger moved consent `id` to `ended_at_ngi` (more than once: an event
/// applied twice).
async fn times_ended(app: &TestApp, id: &ConsentId) -> usize {
    let consent = app.ledger().get(id).await.unwrap().unwrap();
    consent
        .history
        .iter()
        .filter(|change| change.to == Status::EndedAtNgi)
        .count()
}

fn created_and_archived() -> Vec<(String, String, i32)> {
    vec![
        ("SAMTYKKE_OPPRETTET".into(), "confirmed".into(), 0),
        ("SAMTYKKE_ARKIVERT".into(), "applied".into(), 0),
    ]
}

#[tokio::test]
async fn on_postgresql_one_instance_follows_and_another_takes_over_when_its_connection_ends() {
    let test = "another_takes_over_when_the_leaders_connection_ends";
    let Some((schema, url)) = postgres_schema(test).await else {
        return;
    };
    let a = site_on(&url, None).await;
    let b = site_on(&url, Some(&a)).await;

    let first = granted(&a).await;
    withdraw_at_min_gjeld(&a, &first).await;
    let led = poll(&a).await;
    assert!(led.leader, "the first to try leads");
    assert_eq!(
        led.events,
        [
            ("created", EventOutcome::Confirmed),
            ("archived", EventOutcome::Applied)
        ]
    );
    let asked = a.sim.feed_requests();
    let waiting = poll(&b).await;
    assert!(!waiting.leader, "a second instance does not follow");
    assert!(waiting.events.is_empty());
    assert_eq!(a.sim.feed_requests(), asked, "a non-leader reads no feed");
    assert_eq!(
        waiting.cursor, led.cursor,
        "it shows the cursor as it stands"
    );
    assert!(!b.follower().state().leader);

    // PostgreSQL ends the leader's connection; its lock goes with it.
    let pid = lock_holder(&schema)
        .await
        .expect("the leader holds the lock");
    let mut admin = admin().await;
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended);
    let _ = admin.close().await;
    for _ in 0..100 {
        if lock_holder(&schema).await.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lock_holder(&schema).await, None, "the lock was released");

    // A second later, so the newest consent is the second one.
    a.clock.advance(jiff::SignedDuration::from_secs(1));
    let second = granted(&a).await;
    withdraw_at_min_gjeld(&a, &second).await;
    let took_over = poll(&b).await;
    assert!(took_over.leader, "the other instance takes over");
    assert_eq!(
        took_over.events,
        [
            ("created", EventOutcome::Confirmed),
            ("archived", EventOutcome::Applied)
        ]
    );
    assert_eq!(took_over.cursor, Some(a.sim.feed_last_sequence_nr()));
    // The old leader finds its connection gone, gives the lead up, and does not get it back.
    assert!(a.follower().poll_once(a.clock.now()).await.is_err());
    assert!(a.follower().state().last_error.is_some());
    let stood_down = poll(&a).await;
    assert!(!stood_down.leader);
    assert!(stood_down.events.is_empty());

    for id in [&first, &second] {
        assert_eq!(status_of(&a, id).await, Status::EndedAtNgi);
        assert_eq!(times_ended(&a, id).await, 1, "applied once");
    }
    let mut expected = created_and_archived();
    expected.extend(created_and_archived());
    assert_eq!(recorded_events(&schema).await, expected);
    drop(a);
    drop(b);
    drop_schema(&schema).await;
}

/// A site process following the feed of `ngi` every 5 s on `database_url`.
struct SiteProcess {
    child: tokio::process::Child,
    metrics: String,
}

impl SiteProcess {
    async fn start(ngi: &TestApp, database_url: &str) -> Self {
        let port = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let ngi_url = ngi.sim.base_url().to_string();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
            .env_clear()
            .env("APP_BIND", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", format!("http://127.0.0.1:{port}/"))
            .env("NGI_ACCESS_URL", &ngi_url)
            .env("NGI_API_URL", &ngi_url)
            .env("NGI_CLIENT_ID", CLIENT_ID)
            .env("NGI_CLIENT_SECRET", CLIENT_SECRET)
            .env("NGI_SCOPE", WITH_DAYS)
            .env("PARTNER_TOKEN", "a-partner-token-of-at-least-32-characters")
            .env("DATABASE_URL", database_url)
            .env("FEED_POLL_SECS", "5")
            .env("LOG_FORMAT", "json")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Self {
            child,
            metrics: format!("http://127.0.0.1:{port}/metrics"),
        }
    }

    /// `ngi_consent_feed_leader` as the process shows it; `None` while it does not answer.
    async fn leader(&self) -> Option<bool> {
        let text = reqwest::get(&self.metrics).await.ok()?.text().await.ok()?;
        let line = text
            .lines()
            .find(|l| l.starts_with("ngi_consent_feed_leader "))?;
        Some(line.ends_with(" 1"))
    }
}

/// Waits up to `within` for `check`.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn on_postgresql_killing_the_leading_process_hands_the_feed_to_the_other() {
    let test = "killing_the_leading_process_hands_the_feed_to_the_other";
    let Some((schema, url)) = postgres_schema(test).await else {
        return;
    };
    // The people's side and NGI: an in-process site with its own follower off.
    let people = site_on(&url, None).await;
    let mut sites = [
        SiteProcess::start(&people, &url).await,
        SiteProcess::start(&people, &url).await,
    ];
    // Each polls at start-up; exactly one leads.
    let settled = eventually(Duration::from_secs(20), || async {
        matches!(
            (sites[0].leader().await, sites[1].leader().await),
            (Some(true), Some(false)) | (Some(false), Some(true))
        )
    })
    .await;
    assert!(settled, "one site process leads and the other does not");
    let leader = usize::from(sites[1].leader().await == Some(true));

    let first = granted(&people).await;
    withdraw_at_min_gjeld(&people, &first).await;
    let heard = eventually(Duration::from_secs(15), || async {
        status_of(&people, &first).await == Status::EndedAtNgi
    })
    .await;
    assert!(heard, "the leader applied the withdrawal");

    sites[leader].child.kill().await.unwrap();
    let other = 1 - leader;
    people.clock.advance(jiff::SignedDuration::from_secs(1));
    let second = granted(&people).await;
    withdraw_at_min_gjeld(&people, &second).await;
    let took_over = eventually(Duration::from_secs(20), || async {
        sites[other].leader().await == Some(true)
            && status_of(&people, &second).await == Status::EndedAtNgi
    })
    .await;
    assert!(took_over, "the other site process took the feed over");

    for id in [&first, &second] {
        assert_eq!(times_ended(&people, id).await, 1, "applied once");
    }
    let mut expected = created_and_archived();
    expected.extend(created_and_archived());
    assert_eq!(recorded_events(&schema).await, expected);
    drop(sites);
    drop(people);
    drop_schema(&schema).await;
}
