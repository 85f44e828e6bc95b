//! How long a session lives, what its id looks like, what its record holds, and how it ends —
//! proved on the store itself, not only on pages. The clock is moved by hand.

use std::str::FromStr;

use jiff::SignedDuration;
use ngi_consent::config::ServeArgs;
use ngi_consent::session::SessionBackend;
use ngi_consent::session::data::DEFAULT_SESSION_MAX_AGE;
use reqwest::StatusCode;
use tower_sessions::session::Id;
use tower_sessions::session_store::SessionStore;

use crate::helpers::*;
use crate::sessions::{app_on_own_redis, raw_redis};

/// The session id a response set (after the callback: the new id of a session holding debt).
fn session_id(app: &TestApp, response: &reqwest::Response) -> Id {
    let cookie = app.session_cookie(response).expect("no session cookie set");
    Id::from_str(&cookie_value(&cookie)).unwrap()
}

/// A flow completed as `nin`: the id of the session now holding the debt.
async fn completed_flow(app: &TestApp, nin: &str) -> Id {
    let callback = app.consent_as(nin).await;
    let completed = app.get_url(callback).await;
    assert_eq!(location(&completed).path(), "/debt");
    let id = session_id(app, &completed);
    assert_eq!(app.get("/debt").await.status(), StatusCode::OK);
    id
}

/// A session kept active (a new flow every 25 minutes, well inside the 30-minute idle timeout)
/// for `active` (at least 50 minutes), then a consent given at NGI: the callback to follow.
async fn active_for_then_consent(app: &TestApp, active: SignedDuration) -> url::Url {
    app.start().await;
    app.clock.advance(SignedDuration::from_mins(25));
    app.start().await;
    app.clock.advance(SignedDuration::from_mins(25));
    app.start().await;
    app.clock.advance(active - SignedDuration::from_mins(50));
    app.consent_as(PERSON_1).await
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_active_it_is() {
    assert_eq!(DEFAULT_SESSION_MAX_AGE, SignedDuration::from_hours(1));
    let app = spawn_app().await;
    // 55 minutes in: a flow whose callback comes back 6 minutes later, still inside its
    // 10 minutes and the idle timeout, but past the session's hour.
    let callback = active_for_then_consent(&app, SignedDuration::from_mins(55)).await;
    app.clock.advance(SignedDuration::from_mins(6));

    let page = app.get_url(callback).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(body(page).await.contains("Vi fant ikke forespørselen din"));
    assert_eq!(app.sim.token_requests(), 0, "a code was exchanged");

    // The person starts afresh: a new flow works, in a new session.
    let callback = app.consent_as(PERSON_1).await;
    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
}

#[tokio::test]
async fn the_same_flow_inside_the_maximum_age_completes() {
    let app = spawn_app().await;
    let callback = active_for_then_consent(&app, SignedDuration::from_mins(53)).await;
    app.clock.advance(SignedDuration::from_mins(6));

    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
}

#[tokio::test]
async fn a_flow_started_just_before_shown_debt_went_stale_lives_its_own_lifetime() {
    let app = spawn_app().await;
    completed_flow(&app, PERSON_1).await;

    // 14 minutes after the debt was fetched (a minute before it goes stale), a new flow.
    app.clock.advance(SignedDuration::from_mins(14));
    let callback = app.consent_as(PERSON_2).await;
    // Back from NGI 2 minutes later: the session must still be there.
    app.clock.advance(SignedDuration::from_mins(2));
    let completed = app.get_url(callback).await;
    assert_eq!(
        completed.status(),
        StatusCode::SEE_OTHER,
        "the session died"
    );
    assert_eq!(location(&completed).path(), "/debt");
    let debt = app.get("/debt").await;
    assert_eq!(debt.status(), StatusCode::OK);
    assert!(body(debt).await.contains("298680*****"));
}

#[tokio::test]
async fn shown_debt_goes_from_the_store_when_it_goes_stale() {
    let app = spawn_app().await;
    let id = completed_flow(&app, PERSON_1).await;
    let store = app.sessions();
    assert!(store.load(&id).await.unwrap().is_some());

    app.clock.advance(SignedDuration::from_mins(15));
    assert!(store.load(&id).await.unwrap().is_none());
    store.evict_expired_once(app.clock.now()).await;
    let SessionBackend::Memory { store: memory, .. } = store else {
        unreachable!("the tests' default store is memory")
    };
    assert_eq!(memory.len(), 0, "the stale session is still held");
}

/// Every record's data in the store as JSON text.
async fn memory_records_text(app: &TestApp) -> String {
    let SessionBackend::Memory { store, .. } = app.sessions() else {
        unreachable!("the tests' default store is memory")
    };
    serde_json::to_string(&store.records().iter().map(|r| &r.data).collect::<Vec<_>>()).unwrap()
}

/// The access tokens and codes the simulator issued, each whole and in its parts.
fn issued_secrets(app: &TestApp) -> Vec<String> {
    let tokens = app.sim.issued_access_tokens();
    assert!(!tokens.is_empty(), "no token was issued");
    let mut secrets = vec![];
    for token in tokens {
        secrets.extend(token.split('.').map(str::to_owned));
        secrets.push(token);
    }
    secrets.extend(app.sim.issued_codes());
    secrets
}

#[tokio::test]
async fn no_access_token_is_kept_in_the_memory_store_after_a_flow() {
    let app = spawn_app().await;
    completed_flow(&app, PERSON_1).await;

    let held = memory_records_text(&app).await;
    assert!(
        held.contains("ngi.debt.shown"),
        "the record read is not the session's"
    );
    for secret in issued_secrets(&app) {
        assert!(!held.contains(&secret), "the store holds {secret}");
    }
}

#[tokio::test]
async fn no_access_token_is_kept_in_redis_after_a_flow() {
    let Some((app, mut redis, url)) =
        app_on_own_redis("no_access_token_is_kept_in_redis_after_a_flow").await
    else {
        return;
    };
    let id = completed_flow(&app, PERSON_1).await;

    // Neither in what Redis holds, nor in the record it opens to.
    let raw = raw_redis(&url).await;
    assert!(!raw.is_empty());
    let opened = app.sessions().load(&id).await.unwrap().unwrap();
    let opened = serde_json::to_string(&opened.data).unwrap();
    assert!(opened.contains("ngi.debt.shown"));
    for secret in issued_secrets(&app) {
        assert!(!opened.contains(&secret), "the session holds {secret}");
        for (key, value) in &raw {
            assert!(!String::from_utf8_lossy(value).contains(&secret), "{key}");
        }
    }
    redis.stop().await;
}

#[tokio::test]
async fn session_ids_are_distinct_128_bit_random_values() {
    const SESSIONS: usize = 200;
    let app = spawn_app_with(Options {
        args: ServeArgs {
            rate_limit_per_minute: Some("0".into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    let mut ids = std::collections::HashSet::new();
    let mut ones = 0u32;
    let mut ones_per_bit = [0u32; 128];
    for _ in 0..SESSIONS {
        // A browser of its own each time: a new session.
        let response = browser()
            .get(app.url("/consent/start"))
            .send()
            .await
            .unwrap();
        let value = cookie_value(&app.session_cookie(&response).unwrap());
        assert_eq!(value.len(), 22, "not 128 bits in base64url: {value}");
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let bits = Id::from_str(&value).unwrap().0.cast_unsigned();
        ones += bits.count_ones();
        for (bit, count) in ones_per_bit.iter_mut().enumerate() {
            *count += u32::from((bits >> bit) & 1 == 1);
        }
        assert!(ids.insert(value), "a session id came twice");
    }
    // 25,600 random bits: about half are ones (the standard deviation is 80; allow 5 of them),
    // and no bit position is stuck.
    let total = 128 * SESSIONS as u32;
    assert!(
        ones.abs_diff(total / 2) < 400,
        "{ones} ones in {total} bits"
    );
    assert!(
        ones_per_bit.iter().all(|&n| n > 0 && n < SESSIONS as u32),
        "a bit of the id never changes: {ones_per_bit:?}"
    );
}

#[tokio::test]
async fn ending_the_session_deletes_its_record_and_removes_the_cookie() {
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    let completed = app.get_url(callback).await;
    let cookie = app.session_cookie(&completed).unwrap();
    let id = Id::from_str(&cookie_value(&cookie)).unwrap();
    assert!(app.sessions().load(&id).await.unwrap().is_some());

    let ended = app
        .client
        .post(app.url("/session/end"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(ended.headers()["clear-site-data"], "\"cookies\"");
    let removal = app
        .session_cookie(&ended)
        .expect("the cookie is not removed");
    assert!(
        removal.contains("Max-Age=0") && cookie_value(&removal).is_empty(),
        "not a removal: {removal}"
    );

    // Gone from the store, not just from this browser.
    assert!(app.sessions().load(&id).await.unwrap().is_none());
    let held = memory_records_text(&app).await;
    assert!(
        !held.contains("ngi.debt.shown"),
        "the store still holds the debt"
    );
    // The old cookie, replayed by another browser, finds nothing.
    let replayed = browser()
        .get(app.url("/debt"))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::NOT_FOUND);
}
