//! One conformance suite for every session store the site can run on: the memory store, a sealed
//! memory store and sealed Redis (the machine's Redis at 127.0.0.1:6379; without it the Redis
//! case says SKIPPED loudly, unless `NGI_REQUIRE_REDIS=1` makes that a failure). Also what Redis
//! holds after a real flow: no key a cookie could be pasted from, and no record a cookie finds.

use std::collections::HashMap;

use jiff::SignedDuration;
use ngi_consent::session::SessionBackend;
use ngi_consent::session::memory::MemoryStore;
use ngi_consent::session::sealed::{SealedStore, SessionKey};
use reqwest::StatusCode;
use serde_json::json;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;
use url::Url;

use crate::helpers::*;
use crate::sessions::{
    SESSION_KEY, SHARED_REDIS, app_on_own_redis, free_port, raw_redis, redis_answers, redis_client,
    skip,
};

fn session_key() -> SessionKey {
    SessionKey::from_base64(SESSION_KEY).unwrap()
}

/// A record with `data`, expiring `in_` after the clock's now (whole seconds: every store keeps
/// at least millisecond precision).
fn record(clock: &TestClock, in_: SignedDuration, data: serde_json::Value) -> Record {
    let at = clock.now() + in_;
    Record {
        id: Id::default(),
        data: serde_json::from_value::<HashMap<_, _>>(data).unwrap(),
        expiry_date: OffsetDateTime::from_unix_timestamp(at.as_second()).unwrap(),
    }
}

/// What every session store must do, judged by `clock`. `claims` is the backend keeping the
/// record of used states beside the store, where it keeps one.
async fn conformance<S: SessionStore>(
    name: &str,
    store: &S,
    claims: Option<&SessionBackend>,
    clock: &TestClock,
) {
    // Create, then load: the same record.
    let mut first = record(clock, SignedDuration::from_mins(30), json!({"a": "one"}));
    let given_id = first.id;
    store.create(&mut first).await.unwrap();
    assert_eq!(first.id, given_id, "{name}: create changed a fresh id");
    let loaded = store.load(&first.id).await.unwrap().expect(name);
    assert_eq!(loaded.id, first.id, "{name}");
    assert_eq!(loaded.data, first.data, "{name}");
    assert_eq!(loaded.expiry_date, first.expiry_date, "{name}");

    // Create never overwrites: a second record under the same id gets another one.
    let mut clash = record(clock, SignedDuration::from_mins(30), json!({"a": "clash"}));
    clash.id = first.id;
    store.create(&mut clash).await.unwrap();
    assert_ne!(clash.id, first.id, "{name}: create overwrote a session");
    assert_eq!(
        store.load(&first.id).await.unwrap().unwrap().data["a"],
        "one"
    );
    assert_eq!(
        store.load(&clash.id).await.unwrap().unwrap().data["a"],
        "clash"
    );

    // Save replaces the data (and the expiry) of an existing session.
    let mut changed = first.clone();
    changed.data.insert("a".into(), json!("changed"));
    changed.data.insert("b".into(), json!([1, 2, 3]));
    changed.expiry_date += tower_sessions::cookie::time::Duration::minutes(5);
    store.save(&changed).await.unwrap();
    let loaded = store.load(&first.id).await.unwrap().unwrap();
    assert_eq!(loaded.data, changed.data, "{name}");
    assert_eq!(loaded.expiry_date, changed.expiry_date, "{name}");

    // Delete: gone; deleting again is no error; the other session is untouched.
    store.delete(&first.id).await.unwrap();
    assert!(store.load(&first.id).await.unwrap().is_none(), "{name}");
    store.delete(&first.id).await.unwrap();

    // A save from a request that loaded the session before it was deleted (logout, a new id
    // after the callback) does not bring it back.
    store.save(&changed).await.unwrap();
    assert!(
        store.load(&first.id).await.unwrap().is_none(),
        "{name}: a save brought a deleted session back"
    );
    assert!(store.load(&clash.id).await.unwrap().is_some(), "{name}");
    store.delete(&clash.id).await.unwrap();

    // An id never created finds nothing.
    assert!(
        store.load(&Id::default()).await.unwrap().is_none(),
        "{name}"
    );

    // Expiry, by the clock: there until its expiry date, gone from then on.
    let mut brief = record(clock, SignedDuration::from_mins(1), json!({"a": "brief"}));
    store.create(&mut brief).await.unwrap();
    clock.advance(SignedDuration::from_secs(59));
    assert!(store.load(&brief.id).await.unwrap().is_some(), "{name}");
    clock.advance(SignedDuration::from_secs(1));
    assert!(
        store.load(&brief.id).await.unwrap().is_none(),
        "{name}: an expired session still loads"
    );

    // The state claim: true once, then false; another state is its own.
    if let Some(claims) = claims {
        let digest = format!("conformance-{}", uuid::Uuid::new_v4());
        assert!(claims.claim_state(&digest).await.unwrap(), "{name}");
        assert!(!claims.claim_state(&digest).await.unwrap(), "{name}");
        assert!(
            claims
                .claim_state(&format!("{digest}-other"))
                .await
                .unwrap(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_memory_store_conforms() {
    let clock = TestClock::new();
    let backend = SessionBackend::memory(clock.as_clock());
    conformance("memory", &backend, Some(&backend), &clock).await;
}

#[tokio::test]
async fn the_sealed_memory_store_conforms() {
    let clock = TestClock::new();
    let store = SealedStore::new(MemoryStore::new(clock.as_clock()), &session_key());
    conformance("sealed memory", &store, None, &clock).await;
}

#[tokio::test]
async fn the_sealed_redis_store_conforms() {
    if !redis_answers("127.0.0.1:6379").await {
        return skip(
            "the_sealed_redis_store_conforms",
            "no Redis at 127.0.0.1:6379",
        );
    }
    let clock = TestClock::new();
    let backend = SessionBackend::redis(
        &Url::parse(SHARED_REDIS).unwrap(),
        None,
        &session_key(),
        clock.as_clock(),
    )
    .await
    .unwrap();
    conformance("sealed redis", &backend, Some(&backend), &clock).await;
}

#[tokio::test]
async fn no_redis_key_is_a_session_cookie_and_a_pasted_cookie_finds_nothing() {
    let Some((app, mut redis, url)) =
        app_on_own_redis("no_redis_key_is_a_session_cookie_and_a_pasted_cookie_finds_nothing")
            .await
    else {
        return;
    };

    // The cookie of the flow's start, and the one the callback gives (a new id).
    let start = app.get("/consent/start").await;
    let first = cookie_value(&app.session_cookie(&start).unwrap());
    let tx = app.log_in_at_ngi(assert_redirect(&start), PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    let completed = app.get_url(callback).await;
    let second = cookie_value(&app.session_cookie(&completed).unwrap());
    assert_ne!(first, second);
    assert_eq!(app.get("/debt").await.status(), StatusCode::OK);

    let values = raw_redis(&url).await;
    assert!(
        values
            .iter()
            .any(|(key, _)| key.starts_with("ngi-consent:session:")),
        "no session in Redis: {:?}",
        values.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    for (key, value) in &values {
        assert!(key.starts_with(ngi_consent::session::REDIS_KEY_PREFIX));
        for cookie in [&first, &second] {
            assert!(!key.contains(cookie.as_str()), "a cookie is a Redis key");
            assert!(
                !String::from_utf8_lossy(value).contains(cookie.as_str()),
                "a cookie is in a Redis value"
            );
        }
    }
    // Someone reading Redis pastes a cookie value as a key: nothing there.
    let mut reader = redis_client(&url).await;
    for cookie in [&first, &second] {
        let found: Option<Vec<u8>> = redis::cmd("GET")
            .arg(cookie.as_str())
            .query_async(&mut reader)
            .await
            .unwrap();
        assert!(found.is_none(), "a cookie value finds a Redis record");
    }
    // Or a key as a cookie: no session.
    for (key, _) in &values {
        let response = browser()
            .get(app.url("/debt"))
            .header("cookie", format!("ngi_session={key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    redis.stop().await;
}

#[tokio::test]
async fn a_sealed_record_copied_under_another_sessions_redis_key_does_not_open() {
    if !redis_answers("127.0.0.1:6379").await {
        return skip(
            "a_sealed_record_copied_under_another_sessions_redis_key_does_not_open",
            "no Redis at 127.0.0.1:6379",
        );
    }
    let clock = TestClock::new();
    let key = session_key();
    let store = SessionBackend::redis(
        &Url::parse(SHARED_REDIS).unwrap(),
        None,
        &key,
        clock.as_clock(),
    )
    .await
    .unwrap();
    let mut victim = record(&clock, SignedDuration::from_mins(5), json!({"debt": "x"}));
    let mut thief = record(&clock, SignedDuration::from_mins(5), json!({}));
    store.create(&mut victim).await.unwrap();
    store.create(&mut thief).await.unwrap();

    let mut reader = redis_client(SHARED_REDIS).await;
    let keys = key.storage_keys();
    let victims: Vec<u8> = redis::cmd("GET")
        .arg(keys.session(&victim.id))
        .query_async(&mut reader)
        .await
        .unwrap();
    assert!(!victims.is_empty());
    let () = redis::cmd("SET")
        .arg(keys.session(&thief.id))
        .arg(victims.as_slice())
        .query_async(&mut reader)
        .await
        .unwrap();

    assert!(store.load(&thief.id).await.unwrap().is_none());
    assert!(store.load(&victim.id).await.unwrap().is_some());
    store.delete(&victim.id).await.unwrap();
    store.delete(&thief.id).await.unwrap();
}

#[tokio::test]
async fn store_failures_are_typed_errors_that_keep_their_cause() {
    use ngi_consent::session::{ClaimError, PingError, RedisSetupError};
    use std::error::Error;
    let clock = TestClock::new();
    let key = session_key();

    let bad = Url::parse("redis://127.0.0.1:6379/not-a-database").unwrap();
    let setup = SessionBackend::redis(&bad, None, &key, clock.as_clock())
        .await
        .unwrap_err();
    assert!(matches!(setup, RedisSetupError::Url(_)), "{setup:?}");
    assert!(setup.source().is_some());

    // Nothing listens: the claim and the ping fail, each saying why underneath.
    let port = free_port().await;
    let down = Url::parse(&format!("redis://127.0.0.1:{port}/0")).unwrap();
    let store = SessionBackend::redis(&down, None, &key, clock.as_clock())
        .await
        .unwrap();
    let claim = store.claim_state("any-digest").await.unwrap_err();
    assert!(matches!(claim, ClaimError::Redis(_)));
    assert!(claim.source().is_some());
    let PingError::Redis(ping) = store.ping().await.unwrap_err();
    assert!(!ping.to_string().is_empty());
    let text = ngi_consent::error::chain(&claim);
    assert!(
        text.starts_with("Redis did not record the used state: "),
        "{text}"
    );
}
