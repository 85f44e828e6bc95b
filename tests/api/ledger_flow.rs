//! The consent ledger seen through the redirect flow: a completed flow leaves one row (the
//! identity number masked), a flow that ends before the debt fetch leaves none; bad ledger
//! settings stop start-up. The ledger's own suite (both databases) is in src/ledger/tests.rs.

use jiff::SignedDuration;
use ngi_consent::config::ServeArgs;
use ngi_consent::domain::consent::{Source, Status};
use ngi_consent::ledger::{Consent, ListQuery};
use reqwest::StatusCode;
use sqlx::Connection;

use crate::helpers::{
    Options, PERSON_1, assert_redirect, callback_with, spawn_app, spawn_app_with,
};
use crate::startup::refused_with;

pub(crate) const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

async fn all_rows(app: &crate::helpers::TestApp) -> Vec<Consent> {
    app.ledger()
        .list(ListQuery {
            limit: 1000,
            ..ListQuery::default()
        })
        .await
        .unwrap()
        .consents
}

async fn assert_one_single_use_row(app: &crate::helpers::TestApp) {
    let page = app.follow_login(PERSON_1).await;
    assert_eq!(page.status(), StatusCode::OK);
    let rows = all_rows(app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.status, Status::Used);
    assert_eq!(row.source, Source::Redirect);
    assert_eq!(row.duration_days, None);
    assert_eq!(row.nin_masked, "148422*****");
    assert_eq!(row.reference, None);
    let id = row.id.clone().expect("NGI's consent id");
    let read = app.ledger().get(&id).await.unwrap().unwrap();
    assert_eq!(read.history.len(), 1);
    assert_eq!(read.history[0].to, Status::Used);
    assert!(!format!("{read:?}").contains(PERSON_1));
}

#[tokio::test]
async fn a_completed_single_use_flow_leaves_one_used_row_with_the_masked_number() {
    let app = spawn_app().await;
    assert_one_single_use_row(&app).await;
}

#[tokio::test]
async fn a_flow_asking_for_days_leaves_an_active_row_with_an_expiry() {
    let app = spawn_app_with(Options {
        args: ServeArgs {
            ngi_scope: Some("debt.unsecured.presentation.30".into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    let page = app.follow_login(PERSON_1).await;
    assert_eq!(page.status(), StatusCode::OK);
    let rows = all_rows(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.status, Status::Active);
    assert_eq!(row.duration_days, Some(30));
    let expires_at = row.expires_at.expect("an expiry");
    assert!(expires_at > app.clock.now() + SignedDuration::from_hours(24 * 29));
    assert_eq!(row.status_at(app.clock.now()), Status::Active);
    assert_eq!(row.status_at(expires_at), Status::Expired);
    assert_eq!(row.nin_masked, "148422*****");
}

#[tokio::test]
async fn a_flow_declined_at_ngi_leaves_no_row() {
    let app = spawn_app().await;
    let authorize = app.start().await;
    let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "decline").await;
    let answer = app.get_url(callback).await;
    assert!(answer.status().is_client_error(), "{}", answer.status());
    assert!(all_rows(&app).await.is_empty());
}

#[tokio::test]
async fn a_callback_with_a_bad_state_leaves_no_row() {
    let app = spawn_app().await;
    let authorize = app.start().await;
    let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    let code = crate::helpers::query(&callback)["code"].clone();
    let forged = callback_with(&app, &[("code", &code), ("state", "not-the-state")]);
    let answer = app.get_url(forged).await;
    assert!(answer.status().is_client_error(), "{}", answer.status());
    assert!(all_rows(&app).await.is_empty());

    // The real callback still completes, and leaves its one row.
    let to_debt = assert_redirect(&app.get_url(callback).await);
    assert_eq!(to_debt.path(), "/debt");
    assert_eq!(all_rows(&app).await.len(), 1);
}

/// A schema of its own in the machine's PostgreSQL, as a DATABASE_URL for a site; `None` (after
/// saying SKIPPED) without a reachable PostgreSQL, unless NGI_REQUIRE_POSTGRES=1.
pub async fn postgres_schema(test: &str) -> Option<(String, String)> {
    let connected = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sqlx::PgConnection::connect(POSTGRES_URL),
    )
    .await;
    let mut admin = match connected {
        Ok(Ok(conn)) => conn,
        other => {
            let why = match other {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer within 5 s".to_owned(),
            };
            assert!(
                !std::env::var("NGI_REQUIRE_POSTGRES").is_ok_and(|v| v == "1"),
                "{test}: PostgreSQL at {POSTGRES_URL} cannot be reached ({why}), and \
                 NGI_REQUIRE_POSTGRES=1"
            );
            eprintln!(
                "SKIPPED {test}: PostgreSQL at {POSTGRES_URL} cannot be reached ({why}). This \
                 test did NOT run (set NGI_REQUIRE_POSTGRES=1 to make it fail)."
            );
            return None;
        }
    };
    let schema = format!("flow_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
    let url = format!("{POSTGRES_URL}?options[search_path]={schema}");
    Some((schema, url))
}

pub async fn drop_schema(schema: &str) {
    let mut admin = sqlx::PgConnection::connect(POSTGRES_URL).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
}

#[tokio::test]
async fn on_postgresql_a_completed_flow_leaves_one_used_row() {
    let Some((schema, url)) =
        postgres_schema("on_postgresql_a_completed_flow_leaves_one_used_row").await
    else {
        return;
    };
    let app = spawn_app_with(Options {
        args: ServeArgs {
            database_url: Some(url),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    assert_one_single_use_row(&app).await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    drop_schema(&schema).await;
}

/// Starts the demo site with one ledger setting, which must stop it with `code` and one line on
/// stderr that says `says`; the password `pw-secret` appears in no output.
async fn refused_with_ledger_setting(setting: (&str, &str), code: i32, says: &str) {
    let out = refused_with(&[
        ("APP_BIND", "127.0.0.1:0"),
        ("SIMULATOR_BIND", "127.0.0.1:0"),
        setting,
    ])
    .await;
    assert_eq!(out.status.code(), Some(code), "{setting:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let all = format!("{stdout}{stderr}");
    assert!(!all.contains("pw-secret"), "{all}");
}

#[tokio::test]
async fn a_database_url_of_another_scheme_stops_start_up_naming_it() {
    refused_with_ledger_setting(
        (
            "DATABASE_URL",
            "mysql://ledger:pw-secret@db.example/consents",
        ),
        2,
        "invalid setting DATABASE_URL",
    )
    .await;
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_written_stops_start_up_naming_it() {
    let file = crate::helpers::temp_data_dir().join("a-file");
    std::fs::write(&file, "").unwrap();
    let below_a_file = file.join("data");
    refused_with_ledger_setting(
        ("DATA_DIR", below_a_file.to_str().unwrap()),
        2,
        "invalid setting DATA_DIR",
    )
    .await;
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_stops_start_up_with_one_line_and_no_password() {
    let out = refused_with(&[
        ("APP_BIND", "127.0.0.1:0"),
        ("SIMULATOR_BIND", "127.0.0.1:0"),
        (
            "DATABASE_URL",
            "postgres://ledger:pw-secret@127.0.0.1:1/consents",
        ),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("consent ledger"), "{stderr}");
    assert!(!stderr.contains("pw-secret"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("pw-secret"), "{stdout}");
}

#[tokio::test]
async fn a_ledger_that_cannot_be_written_still_shows_the_debt_and_counts_the_failure() {
    let data_dir = crate::helpers::temp_data_dir();
    let app = spawn_app_with(Options {
        args: ServeArgs {
            data_dir: Some(data_dir.clone()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    // The ledger's tables disappear under the running site.
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let file = data_dir.join("ngi-consent.db");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    sqlx::query("DROP TABLE consent_history")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("DROP TABLE consents")
        .execute(&mut db)
        .await
        .unwrap();
    let _ = db.close().await;

    let page = app.follow_login(PERSON_1).await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the person still sees their debt"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let failures = metrics
        .lines()
        .find(|l| {
            l.starts_with("ngi_consent_ledger_write_failures_total") && l.contains("record_granted")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no ledger failure counter in {metrics}"));
    assert!(failures >= 1.0, "{failures}");
}
