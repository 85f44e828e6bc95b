//! Sessions that outgrow one machine: Redis shared by instances, surviving restarts, racing
//! callbacks, nothing in the clear. Also the memory store letting idle sessions go, and the Redis
//! helpers the other session tests use (a Redis of the test's own, a raw reader). Redis failing
//! under the site is `redis_faults.rs`.
//!
//! These tests use the machine's Redis at 127.0.0.1:6379, or a Redis of their own on a free port.
//! Without Redis they say SKIPPED loudly, unless `NGI_REQUIRE_REDIS=1` (as `.ci/run` sets) makes
//! that a failure.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ngi_consent::config::{ServeArgs, Settings};
use ngi_consent::simulator::SimulatorHandle;
use ngi_consent::startup::Application;
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use url::Url;

use crate::helpers::*;

pub(crate) const SHARED_REDIS: &str = "redis://127.0.0.1:6379/0";
/// 32 bytes, base64: the key sealing session data in Redis.
pub(crate) const SESSION_KEY: &str = "dGVzdC1zZXNzaW9uLWtleS0zMi1ieXRlcy1sb25nISE=";

pub(crate) fn with_redis(url: &str) -> impl Fn(&mut ServeArgs) + Copy + '_ {
    move |args: &mut ServeArgs| {
        args.session_store = Some(url.into());
        args.session_key = Some(SESSION_KEY.into());
    }
}

pub(crate) fn required() -> bool {
    std::env::var("NGI_REQUIRE_REDIS").is_ok_and(|v| v == "1")
}

pub(crate) fn skip(test: &str, why: &str) {
    assert!(!required(), "{test}: {why}, and NGI_REQUIRE_REDIS=1");
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why}. This test did NOT run (set NGI_REQUIRE_REDIS=1 to make it fail)."
    );
}

/// A site whose sessions live in a Redis of the test's own, with that Redis and its URL; `None`
/// (after saying SKIPPED, or failing under NGI_REQUIRE_REDIS=1) without a redis-server binary.
pub(crate) async fn app_on_own_redis(test: &str) -> Option<(TestApp, OwnRedis, String)> {
    if OwnRedis::binary().is_none() {
        skip(test, "no redis-server binary");
        return None;
    }
    let port = free_port().await;
    let redis = OwnRedis::start(port).await;
    let url = format!("redis://127.0.0.1:{port}/0");
    let app = app_on_redis(&url).await;
    Some((app, redis, url))
}

/// A site whose sessions live in the Redis at `url`, sealed with SESSION_KEY.
pub(crate) async fn app_on_redis(url: &str) -> TestApp {
    let mut args = ServeArgs::default();
    with_redis(url)(&mut args);
    spawn_app_with(Options {
        args,
        ..Options::default()
    })
    .await
}

/// A port nothing listens on now.
pub(crate) async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

pub(crate) async fn redis_answers(addr: &str) -> bool {
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await
    else {
        return false;
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    matches!(
        tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut buf)).await,
        Ok(Ok(_))
    ) && &buf == b"+PONG\r\n"
}

/// One instance of the site on `listener`, sharing `sim` and `public_url` with its siblings, as
/// behind a load balancer. Returns a sender that stops it gracefully.
pub(crate) async fn instance(
    listener: TcpListener,
    public_url: &Url,
    sim: &SimulatorHandle,
    extra: impl FnOnce(&mut ServeArgs),
) -> oneshot::Sender<()> {
    let mut args = ServeArgs {
        public_url: Some(public_url.to_string()),
        ngi_access_url: Some(sim.base_url().to_string()),
        ngi_api_url: Some(sim.base_url().to_string()),
        ngi_client_id: Some(CLIENT_ID.into()),
        ngi_client_secret: Some(CLIENT_SECRET.into()),
        data_dir: Some(crate::helpers::temp_data_dir()),
        ..ServeArgs::default()
    };
    extra(&mut args);
    let settings = Settings::from_args(args).unwrap();
    let app = Application::build_with(listener, settings, ngi_consent::web::system_clock())
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    stop
}

fn on(url: &Url, port: u16) -> Url {
    let mut moved = url.clone();
    moved.set_port(Some(port)).unwrap();
    moved
}

#[tokio::test]
async fn a_flow_started_on_one_instance_completes_on_another_through_redis() {
    if !redis_answers("127.0.0.1:6379").await {
        return skip(
            "a_flow_started_on_one_instance_completes_on_another_through_redis",
            "no Redis at 127.0.0.1:6379",
        );
    }
    let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_port = b.local_addr().unwrap().port();
    let public = Url::parse(&format!("http://{}", a.local_addr().unwrap())).unwrap();
    let sim = spawn_simulator(&public, CLIENT_SECRET, false).await;
    let redis = with_redis(SHARED_REDIS);
    let _stop_a = instance(a, &public, &sim, redis).await;
    let _stop_b = instance(b, &public, &sim, redis).await;
    let app = TestApp::browsing(public.clone(), sim);

    // Started on A; the load balancer sends NGI's redirect back to B.
    let callback = app.consent_as(PERSON_1).await;
    let on_b = app.get_url(on(&callback, b_port)).await;
    assert_eq!(
        on_b.status(),
        StatusCode::SEE_OTHER,
        "B did not find A's flow"
    );
    assert_eq!(location(&on_b).path(), "/debt");

    // And the debt page is shown by either.
    let from_a = app.get("/debt").await;
    assert_eq!(from_a.status(), StatusCode::OK);
    assert!(body(from_a).await.contains("148422*****"));
    assert_eq!(
        app.get_url(on(&app.url("/debt"), b_port)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn restarting_an_instance_loses_no_session() {
    if !redis_answers("127.0.0.1:6379").await {
        return skip(
            "restarting_an_instance_loses_no_session",
            "no Redis at 127.0.0.1:6379",
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let public = Url::parse(&format!("http://{addr}")).unwrap();
    let sim = spawn_simulator(&public, CLIENT_SECRET, false).await;
    let redis = with_redis(SHARED_REDIS);
    let stop = instance(listener, &public, &sim, redis).await;
    let app = TestApp::browsing(public.clone(), sim.clone());
    let callback = app.consent_as(PERSON_1).await;

    // The instance stops and a new one starts on the same address.
    stop.send(()).unwrap();
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => break listener,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let _stop = instance(listener, &public, &sim, redis).await;

    let response = app.get_url(callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/debt").await.status(), StatusCode::OK);
}

/// A Redis of the test's own, on a free port, that the test can stop and start again.
pub(crate) struct OwnRedis {
    pub(crate) port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub(crate) fn binary() -> Option<&'static str> {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
    }

    /// redis-server on loopback, keeping nothing on disk, with `args` for its ports.
    pub(crate) fn server(args: &[&str]) -> Child {
        Command::new(Self::binary().unwrap())
            .args(args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    pub(crate) async fn start(port: u16) -> Self {
        let mut redis = Self { port, child: None };
        redis.restart().await;
        redis
    }

    pub(crate) async fn restart(&mut self) {
        let child = Self::server(&["--port", &self.port.to_string()]);
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis_answers(&format!("127.0.0.1:{}", self.port)).await {
            assert!(Instant::now() < deadline, "the test's Redis did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

#[tokio::test]
async fn an_idle_session_ends_and_its_pending_flow_with_it() {
    let app = spawn_app_with(Options {
        args: ServeArgs {
            session_idle_secs: Some("1".into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    let callback = app.consent_as(PERSON_1).await;

    app.clock.advance(jiff::SignedDuration::from_secs(2));

    let page = app.get_url(callback).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(body(page).await.contains("Vi fant ikke forespørselen din"));
    assert_eq!(app.sim.token_requests(), 0);
}

/// The same callback sent many times at once (a double click, a replay): however the requests
/// race to the session, the code is exchanged once.
async fn racing_callbacks_exchange_the_code_once(options: Options) {
    let app = spawn_app_with(options).await;
    let callback = app.consent_as(PERSON_1).await;

    let racing: Vec<_> = (0..8)
        .map(|_| {
            let client = app.client.clone();
            let url = callback.clone();
            tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
        })
        .collect();
    let mut statuses = vec![];
    for task in racing {
        statuses.push(task.await.unwrap());
    }

    assert_eq!(app.sim.token_requests(), 1, "statuses: {statuses:?}");
    assert!(statuses.contains(&StatusCode::SEE_OTHER));
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::BAD_REQUEST),
        "statuses: {statuses:?}"
    );
}

#[tokio::test]
async fn racing_callbacks_exchange_the_code_once_with_the_memory_store() {
    racing_callbacks_exchange_the_code_once(Options::default()).await;
}

#[tokio::test]
async fn racing_callbacks_exchange_the_code_once_with_redis() {
    if !redis_answers("127.0.0.1:6379").await {
        return skip(
            "racing_callbacks_exchange_the_code_once_with_redis",
            "no Redis at 127.0.0.1:6379",
        );
    }
    racing_callbacks_exchange_the_code_once(Options {
        args: ServeArgs {
            session_store: Some(SHARED_REDIS.into()),
            session_key: Some(SESSION_KEY.into()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
}

#[tokio::test]
async fn redis_holds_no_national_identity_number_or_debt_in_the_clear() {
    let Some((app, mut redis, url)) =
        app_on_own_redis("redis_holds_no_national_identity_number_or_debt_in_the_clear").await
    else {
        return;
    };
    let start = app.start_with_nin(PERSON_2).await;
    let tx = app.log_in_at_ngi(assert_redirect(&start), PERSON_2).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    let completed = app.get_url(callback).await;
    assert_redirect(&completed);
    assert_eq!(app.get("/debt").await.status(), StatusCode::OK);

    let values = raw_redis(&url).await;
    assert!(!values.is_empty(), "no session in Redis");
    for (key, value) in values {
        let text = String::from_utf8_lossy(&value);
        for clear in [PERSON_2, "298680", "TROLLFJORD", "LOFOTEN"] {
            assert!(
                !text.contains(clear),
                "{clear} is readable in Redis under {key}"
            );
        }
    }
    redis.stop().await;
}

/// Every key in the Redis at `url`, with its value (string values only: all this site writes).
pub(crate) async fn raw_redis(url: &str) -> Vec<(String, Vec<u8>)> {
    let mut redis = redis_client(url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut values = vec![];
    for key in keys {
        let value: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        values.push((key, value));
    }
    values
}

/// A connection of the test's own to the Redis at `url`, as someone reading it would have.
pub(crate) async fn redis_client(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}
