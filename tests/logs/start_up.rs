//! What an operator reads at start-up and when a dependency is away: an unreachable NGI, a Redis
//! not there yet, a ledger per instance.

use super::*;

/// NGI out of reach: the error line's cause chain says what failed underneath (the transport's
/// own words), and never the URL that was asked.
#[tokio::test]
async fn an_unreachable_ngi_is_logged_with_its_cause_and_without_the_url() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let logs = logged_in(LogFormat::Json, async {
        let app = spawn_app_with(Options {
            args: ngi_consent::config::ServeArgs {
                ngi_api_url: Some(format!("http://{dead}")),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
        let callback = app.consent_as(PERSON_1).await;
        assert_eq!(app.get_url(callback).await.status(), 503);
    })
    .await;
    let failed = lines_of(&logs, "ngi_unavailable");
    assert_eq!(failed.len(), 1, "{logs}");
    let line: Value = serde_json::from_str(&failed[0]).unwrap();
    let cause = line["error.cause"].as_str().unwrap();
    assert!(
        cause.starts_with("NGI: NGI debt could not be reached"),
        "{cause}"
    );
    assert!(
        cause.len() > "NGI: NGI debt could not be reached".len() + 10,
        "no cause: {cause}"
    );
    assert!(!cause.contains(&dead.to_string()), "{cause}");
    assert!(!cause.contains("/v1/debt"), "{cause}");
}

/// Sessions shared in Redis with a ledger in each instance's own SQLite file: the operator is
/// warned at start-up, naming DATABASE_URL; with sessions in memory there is nothing to warn of.
#[tokio::test]
async fn redis_sessions_with_an_sqlite_ledger_warn_that_the_ledger_is_per_instance() {
    let redis_up = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        tokio::net::TcpStream::connect("127.0.0.1:6379"),
    )
    .await
    .is_ok_and(|connected| connected.is_ok());
    if !redis_up {
        let required = std::env::var("NGI_REQUIRE_REDIS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "no Redis on 127.0.0.1:6379, and NGI_REQUIRE_REDIS=1"
        );
        eprintln!(
            "SKIPPED redis_sessions_with_an_sqlite_ledger_warn_that_the_ledger_is_per_instance: \
             no Redis on 127.0.0.1:6379. This test did NOT run (set NGI_REQUIRE_REDIS=1 to make \
             it fail)."
        );
        return;
    }
    let per_instance = |logs: &str| {
        logs.lines()
            .filter(|line| {
                serde_json::from_str::<Value>(line).is_ok_and(|record| {
                    record["level"] == "WARN"
                        && record["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("each instance keeps its own ledger"))
                })
            })
            .count()
    };
    let shared = logged_in(LogFormat::Json, async {
        spawn_app_with(Options {
            args: ngi_consent::config::ServeArgs {
                session_store: Some("redis://127.0.0.1:6379/0".into()),
                session_key: Some("dGVzdC1zZXNzaW9uLWtleS0zMi1ieXRlcy1sb25nISE=".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
    })
    .await;
    assert_eq!(per_instance(&shared), 1, "{shared}");
    let alone = logged_in(LogFormat::Json, async {
        spawn_app().await;
    })
    .await;
    assert_eq!(per_instance(&alone), 0, "{alone}");
}

/// A Redis that is not there at start-up does not stop the site: the operator reads why (the
/// connection was refused) at error level, and the site serves its health check.
#[tokio::test]
async fn a_redis_away_at_start_up_is_logged_with_its_reason_and_the_site_starts() {
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let logs = logged_in(LogFormat::Json, async {
        let app = spawn_app_with(Options {
            args: ngi_consent::config::ServeArgs {
                session_store: Some(format!("redis://127.0.0.1:{port}/0")),
                session_key: Some("dGVzdC1zZXNzaW9uLWtleS0zMi1ieXRlcy1sb25nISE=".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
        assert_eq!(app.get("/healthz").await.status(), 200);
    })
    .await;
    let away = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|record| {
            record["message"]
                .as_str()
                .is_some_and(|m| m.contains("Redis session store is not reachable yet"))
        })
        .unwrap_or_else(|| panic!("no line about the Redis store: {logs}"));
    assert_eq!(away["level"], "ERROR", "{away}");
    assert!(
        away["error"]
            .as_str()
            .is_some_and(|e| e.contains("refused")),
        "{away}"
    );
}
