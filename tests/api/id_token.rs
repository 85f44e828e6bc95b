//! The `openid` scope over sockets: the simulator's RS256 ID token is verified in full, each bad
//! token stops the flow with an error page and no ledger row, a missing one is normal, and NGI's
//! keys are fetched once for many flows and again for a new `kid`.

use jiff::SignedDuration;
use ngi_consent::config::ServeArgs;
use ngi_consent::ledger::ListQuery;
use ngi_consent::simulator::{Endpoint, Fault, IdTokenFault};
use reqwest::StatusCode;

use crate::helpers::*;

const OPENID_SCOPE: &str = "debt.unsecured.presentation openid";
const REFUSED_TITLE: &str = "Vi kunne ikke bekrefte svaret fra Norsk Gjeldsinformasjon";

async fn spawn_openid_app() -> TestApp {
    spawn_app_with(Options {
        args: ServeArgs {
            ngi_scope: Some(OPENID_SCOPE.into()),
            // Some tests walk a dozen flows in a row.
            rate_limit_per_minute: Some("0".into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await
}

async fn ledger_rows(app: &TestApp) -> usize {
    app.ledger()
        .list(ListQuery {
            limit: 1000,
            ..ListQuery::default()
        })
        .await
        .unwrap()
        .consents
        .len()
}

/// The value of one Prometheus sample, 0 when it is not there yet.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn outcome(name: &str) -> String {
    format!("ngi_consent_id_tokens_total{{outcome=\"{name}\"}}")
}

/// One whole flow as PERSON_1 that must end on the debt page.
async fn shows_the_debt(app: &TestApp) {
    let page = app.follow_login(PERSON_1).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body(page).await;
    assert!(!html.contains(REFUSED_TITLE));
}

/// One whole flow as PERSON_1 that must end on the refusal page, with nothing shown or kept.
async fn is_refused(app: &TestApp) {
    let rows_before = ledger_rows(app).await;
    let callback = app.consent_as(PERSON_1).await;
    let debt_fetches = app.sim.debt_requests();
    let page = app.get_url(callback).await;
    assert_eq!(page.status(), StatusCode::BAD_GATEWAY);
    let html = body(page).await;
    assert!(html.contains(REFUSED_TITLE), "{html}");
    assert!(!html.contains(PERSON_1));
    assert_eq!(ledger_rows(app).await, rows_before, "no ledger row");
    assert!(
        app.sim.debt_requests() <= debt_fetches + 1,
        "at most the one debt fetch"
    );
    assert_ne!(app.get("/debt").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_verified_id_token_shows_the_debt_and_is_counted() {
    let app = spawn_openid_app().await;
    let before = body(app.get("/metrics").await).await;
    let authorize = app.start().await;
    let params = query(&authorize);
    assert_eq!(params["scope"], OPENID_SCOPE);
    assert!(params.get("nonce").is_some_and(|n| n.len() >= 43));
    let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    let to_debt = assert_redirect(&app.get_url(callback).await);
    assert_eq!(app.get_url(to_debt).await.status(), StatusCode::OK);
    assert_eq!(ledger_rows(&app).await, 1);
    let after = body(app.get("/metrics").await).await;
    let verified = outcome("verified");
    assert!(sample(&after, &verified) - sample(&before, &verified) >= 1.0);
}

#[tokio::test]
async fn each_bad_id_token_gives_the_error_page_and_no_ledger_row() {
    let app = spawn_openid_app().await;
    let before = body(app.get("/metrics").await).await;
    let faults = [
        IdTokenFault::WrongKey,
        IdTokenFault::AlgNone,
        IdTokenFault::Hs256,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongAudience,
        IdTokenFault::ExtraAudience,
        IdTokenFault::Expired,
        IdTokenFault::IssuedInTheFuture,
        IdTokenFault::WrongNonce,
        IdTokenFault::NoNonce,
        IdTokenFault::OtherPid,
        IdTokenFault::OtherConsentId,
    ];
    for fault in faults {
        app.sim.set_id_token_fault(Some(fault));
        is_refused(&app).await;
    }
    assert_eq!(ledger_rows(&app).await, 0);
    let after = body(app.get("/metrics").await).await;
    let refused = outcome("refused");
    assert!(sample(&after, &refused) - sample(&before, &refused) >= faults.len() as f64);
    // The same site and simulator, the token good again: the refusals were the token's.
    app.sim.set_id_token_fault(None);
    shows_the_debt(&app).await;
}

#[tokio::test]
async fn a_refused_signature_or_nonce_stops_the_flow_before_the_debt_is_fetched() {
    let app = spawn_openid_app().await;
    for fault in [IdTokenFault::WrongKey, IdTokenFault::WrongNonce] {
        app.sim.set_id_token_fault(Some(fault));
        let callback = app.consent_as(PERSON_1).await;
        let fetches = app.sim.debt_requests();
        assert_eq!(
            app.get_url(callback).await.status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(app.sim.debt_requests(), fetches, "{fault:?}");
    }
}

#[tokio::test]
async fn no_id_token_is_normal_and_counted() {
    let app = spawn_openid_app().await;
    app.sim.set_id_tokens(false);
    let before = body(app.get("/metrics").await).await;
    shows_the_debt(&app).await;
    assert_eq!(ledger_rows(&app).await, 1);
    let after = body(app.get("/metrics").await).await;
    let absent = outcome("absent");
    assert!(sample(&after, &absent) - sample(&before, &absent) >= 1.0);
    assert_eq!(app.sim.jwks_requests(), 0, "no token, no keys fetched");
}

#[tokio::test]
async fn ngi_s_keys_are_fetched_once_for_many_flows_and_again_for_a_new_kid() {
    let app = spawn_openid_app().await;
    for _ in 0..3 {
        shows_the_debt(&app).await;
    }
    assert_eq!(app.sim.jwks_requests(), 1);

    // NGI starts signing with a new key: its kid is unknown here, so the keys are fetched again.
    app.clock.advance(SignedDuration::from_secs(61));
    app.sim.rotate_id_token_key();
    shows_the_debt(&app).await;
    assert_eq!(app.sim.jwks_requests(), 2);
    shows_the_debt(&app).await;
    assert_eq!(app.sim.jwks_requests(), 2);
}

#[tokio::test]
async fn an_unknown_kid_is_refused_and_asks_ngi_at_most_once_a_minute() {
    let app = spawn_openid_app().await;
    shows_the_debt(&app).await;
    assert_eq!(app.sim.jwks_requests(), 1);

    app.sim.set_id_token_fault(Some(IdTokenFault::UnknownKid));
    // Within the minute after the last fetch: refused from the cache, NGI not asked.
    is_refused(&app).await;
    assert_eq!(app.sim.jwks_requests(), 1);
    // A minute on: fetched once more, still unknown, refused; then not again for a minute.
    app.clock.advance(SignedDuration::from_secs(61));
    is_refused(&app).await;
    assert_eq!(app.sim.jwks_requests(), 2);
    is_refused(&app).await;
    assert_eq!(app.sim.jwks_requests(), 2);
}

#[tokio::test]
async fn without_openid_no_nonce_is_sent_and_no_id_token_comes() {
    let app = spawn_app().await;
    let params = query(&app.start().await);
    assert!(!params.contains_key("nonce"));
    shows_the_debt(&app).await;
    assert_eq!(app.sim.jwks_requests(), 0);
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_stop_the_flow_as_ngi_s_failure() {
    let app = spawn_openid_app().await;
    app.sim.set_fault(Endpoint::Jwks, Some(Fault::status(500)));
    let callback = app.consent_as(PERSON_1).await;
    let page = app.get_url(callback).await;
    assert!(page.status().is_server_error(), "{}", page.status());
    assert_eq!(ledger_rows(&app).await, 0);
    assert_eq!(app.sim.debt_requests(), 0, "no debt fetched unverified");
    assert_ne!(app.get("/debt").await.status(), StatusCode::OK);

    // The keys are read again on the next flow, not cached as missing.
    app.sim.set_fault(Endpoint::Jwks, None);
    shows_the_debt(&app).await;
    assert_eq!(app.sim.jwks_requests(), 2);
}

#[tokio::test]
async fn with_a_configured_issuer_the_keys_are_found_through_discovery_when_needed() {
    // A site whose issuer is configured does not read discovery at start-up; the first ID token
    // makes it read discovery for `jwks_uri`, and the keys are then verified as always.
    let app = spawn_app_with(Options {
        args: ServeArgs {
            ngi_scope: Some(OPENID_SCOPE.into()),
            ..ServeArgs::default()
        },
        pin_issuer: true,
        ..Options::default()
    })
    .await;
    shows_the_debt(&app).await;
    assert_eq!(app.sim.jwks_requests(), 1);
    app.sim.set_id_token_fault(Some(IdTokenFault::WrongIssuer));
    is_refused(&app).await;
}
