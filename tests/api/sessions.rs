//! Sessions that outgrow one machine: Redis shared by instances, surviving restarts, and a Redis
//! that goes away and comes back. Also the memory store letting idle sessions go.
//!
//! The cross-instance tests use the machine's Redis at 127.0.0.1:6379; the outage test runs a
//! Redis of its own on a free port, so stopping it disturbs no other test. Without Redis they
//! say SKIPPED loudly, unless `NGI_REQUIRE_REDIS=1` (as `.ci/run` sets) makes that a failure.

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

const SHARED_REDIS: &str = "redis://127.0.0.1:6379/0";

fn required() -> bool {
    std::env::var("NGI_REQUIRE_REDIS").is_ok_and(|v| v == "1")
}

fn skip(test: &str, why: &str) {
    assert!(!required(), "{test}: {why}, and NGI_REQUIRE_REDIS=1");
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why}. This test did NOT run (set NGI_REQUIRE_REDIS=1 to make it fail)."
    );
}

async fn redis_answers(addr: &str) -> bool {
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
async fn instance(
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
    let redis = |args: &mut ServeArgs| args.session_store = Some(SHARED_REDIS.into());
    let _stop_a = instance(a, &public, &sim, redis).await;
    let _stop_b = instance(b, &public, &sim, redis).await;
    let app = TestApp {
        address: public.clone(),
        sim,
        client: browser(),
        clock: TestClock::new(),
    };

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
    let redis = |args: &mut ServeArgs| args.session_store = Some(SHARED_REDIS.into());
    let stop = instance(listener, &public, &sim, redis).await;
    let app = TestApp {
        address: public.clone(),
        sim: sim.clone(),
        client: browser(),
        clock: TestClock::new(),
    };
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
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn binary() -> Option<&'static str> {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
    }

    async fn start(port: u16) -> Self {
        let mut redis = Self { port, child: None };
        redis.restart().await;
        redis
    }

    async fn restart(&mut self) {
        let child = Command::new(Self::binary().unwrap())
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis_answers(&format!("127.0.0.1:{}", self.port)).await {
            assert!(Instant::now() < deadline, "the test's Redis did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

#[tokio::test]
async fn redis_going_away_gives_unavailable_pages_and_the_site_recovers_when_it_is_back() {
    if OwnRedis::binary().is_none() {
        return skip(
            "redis_going_away_gives_unavailable_pages_and_the_site_recovers_when_it_is_back",
            "no redis-server binary",
        );
    }
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let mut redis = OwnRedis::start(port).await;
    let app = spawn_app_with(Options {
        args: ServeArgs {
            session_store: Some(format!("redis://127.0.0.1:{port}/0")),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let callback = app.consent_as(PERSON_1).await;

    redis.stop().await;

    let started = Instant::now();
    let page = app.get("/consent/start").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(body(page).await.contains("midlertidig utilgjengelig"));
    let page = app.get_url(callback).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.sim.token_requests(),
        0,
        "a code was exchanged without its state"
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body(ready).await.contains("session store"));
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "alive all along"
    );

    redis.restart().await;

    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/readyz").await.status() != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the site did not recover after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let callback = app.consent_as(PERSON_2).await;
    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
    redis.stop().await;
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

    tokio::time::sleep(Duration::from_millis(2100)).await;

    let page = app.get_url(callback).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(body(page).await.contains("Vi fant ikke forespørselen din"));
    assert_eq!(app.sim.token_requests(), 0);
}
