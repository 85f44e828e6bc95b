//! Redis failing under the site: going away and coming back, going silent without closing its
//! connections, and TLS that trusts only the CA it is given. The outage and TLS tests run a Redis
//! of their own on a free port; the silent one relays to the machine's Redis. Without Redis they say
//! SKIPPED loudly, unless `NGI_REQUIRE_REDIS=1` (as `.ci/run` sets) makes that a failure.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ngi_consent::config::ServeArgs;
use reqwest::{Response, StatusCode};
use tokio::net::TcpListener;
use tokio::process::Child;
use url::Url;

use crate::helpers::*;
use crate::sessions::{
    OwnRedis, app_on_redis, free_port, instance, redis_answers, skip, with_redis,
};

#[tokio::test]
async fn redis_going_away_gives_unavailable_pages_and_the_site_recovers_when_it_is_back() {
    if OwnRedis::binary().is_none() {
        return skip(
            "redis_going_away_gives_unavailable_pages_and_the_site_recovers_when_it_is_back",
            "no redis-server binary",
        );
    }
    let port = free_port().await;
    let mut redis = OwnRedis::start(port).await;
    let app = app_on_redis(&format!("redis://127.0.0.1:{port}/0")).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let callback = app.consent_as(PERSON_1).await;

    redis.stop().await;

    let page = unavailable_within_5_s(&app).await;
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

    ready_again_within(&app, Duration::from_secs(15), "after Redis came back").await;
    redis.stop().await;
}

/// A TCP relay to Redis whose connections can go silent: what it relays so far stops carrying
/// anything but stays open, as when Redis's host vanishes without closing its connections (a lost
/// machine, a network partition). Connections made after that are relayed as before.
struct SilencingRelay {
    port: u16,
    silence: Arc<tokio::sync::watch::Sender<u32>>,
    /// The silenced connections, kept open until the test ends.
    _held: Arc<Mutex<Vec<(tokio::net::TcpStream, tokio::net::TcpStream)>>>,
}

impl SilencingRelay {
    async fn start(upstream: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silence = Arc::new(tokio::sync::watch::channel(0u32).0);
        let held = Arc::new(Mutex::new(vec![]));
        let (signal, keep) = (silence.clone(), held.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut quiet = signal.subscribe();
                let keep = keep.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    // Silence first: a command already on its way is not relayed after it.
                    let silenced = tokio::select! {
                        biased;
                        _ = quiet.changed() => true,
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => false,
                    };
                    if silenced {
                        keep.lock().unwrap().push((inbound, outbound));
                    }
                });
            }
        });
        Self {
            port,
            silence,
            _held: held,
        }
    }

    /// Every connection relayed so far goes silent.
    fn silence(&self) {
        self.silence.send_modify(|times| *times += 1);
    }
}

#[tokio::test]
async fn a_redis_connection_gone_silent_is_replaced_and_the_site_answers_again() {
    if !redis_answers("127.0.0.1:6379").await {
        return skip(
            "a_redis_connection_gone_silent_is_replaced_and_the_site_answers_again",
            "no Redis at 127.0.0.1:6379",
        );
    }
    let relay = SilencingRelay::start("127.0.0.1:6379").await;
    let app = app_on_redis(&format!("redis://127.0.0.1:{}/0", relay.port)).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    relay.silence();

    // No error, only silence: the page says unavailable once the command's time is up.
    unavailable_within_5_s(&app).await;
    // Redis itself never went away: a new connection carries the commands within seconds, not
    // when the kernel gives up on the silent one.
    ready_again_within(
        &app,
        Duration::from_secs(10),
        "after the connection went silent",
    )
    .await;
}

/// `GET /consent/start` answered 503 within 5 s, with Redis gone or silent under the site.
async fn unavailable_within_5_s(app: &TestApp) -> Response {
    let started = Instant::now();
    let page = app.get("/consent/start").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    page
}

/// Waits for `/readyz` to say ready within `limit`, then completes a flow.
async fn ready_again_within(app: &TestApp, limit: Duration, after: &str) {
    let deadline = Instant::now() + limit;
    while app.get("/readyz").await.status() != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "still unavailable {limit:?} {after}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let callback = app.consent_as(PERSON_2).await;
    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
}

/// A Redis of the test's own that speaks TLS only, on a free port, with a server certificate for
/// 127.0.0.1 signed by a CA made here; beside it, the certificate of another CA that signed
/// nothing. Killed, and its files removed, when dropped.
struct OwnTlsRedis {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl OwnTlsRedis {
    /// `None` when redis-server would not start, as one built without TLS does not.
    async fn start() -> Option<Self> {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let port = free_port().await;
        let dir = std::env::temp_dir().join(format!("ngi-redis-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = || {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
        };
        let (ours, other) = (ca(), ca());
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ours)
            .unwrap();
        for (name, pem) in [
            ("ca.pem", ours.pem()),
            ("other-ca.pem", other.pem()),
            ("server.pem", server.pem()),
            ("server.key", server_key.serialize_pem()),
        ] {
            std::fs::write(dir.join(name), pem).unwrap();
        }
        let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
        let mut child = OwnRedis::server(&[
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &file("server.pem"),
            "--tls-key-file",
            &file("server.key"),
            "--tls-ca-cert-file",
            &file("ca.pem"),
            "--tls-auth-clients",
            "no",
        ]);
        // Listening is enough: the certificates are loaded before the port opens.
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                let _ = std::fs::remove_dir_all(&dir);
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Self { port, dir, child })
    }

    fn store(&self) -> String {
        format!("rediss://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for OwnTlsRedis {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn a_flow_completes_over_tls_to_redis_and_a_certificate_from_another_ca_is_refused() {
    const TEST: &str =
        "a_flow_completes_over_tls_to_redis_and_a_certificate_from_another_ca_is_refused";
    if OwnRedis::binary().is_none() {
        return skip(TEST, "no redis-server binary");
    }
    let Some(redis) = OwnTlsRedis::start().await else {
        return skip(TEST, "redis-server did not start with TLS");
    };
    let store = redis.store();
    let with_ca = |file: &'static str| {
        let ca = redis.dir.join(file);
        let store = store.clone();
        move |args: &mut ServeArgs| {
            with_redis(&store)(args);
            args.redis_ca_file = Some(ca);
        }
    };

    // Trusting the CA that signed the server's certificate: ready, and a flow completes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let sim = spawn_simulator(&public, CLIENT_SECRET, false).await;
    let _stop = instance(listener, &public, &sim, with_ca("ca.pem")).await;
    let app = TestApp::browsing(public, sim);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let callback = app.consent_as(PERSON_1).await;
    assert_eq!(location(&app.get_url(callback).await).path(), "/debt");
    let debt = app.get("/debt").await;
    assert_eq!(debt.status(), StatusCode::OK);
    assert!(body(debt).await.contains("148422*****"));

    // Trusting another CA, or the system's roots: the server's certificate is refused.
    let other_ca: Box<dyn FnOnce(&mut ServeArgs)> = Box::new(with_ca("other-ca.pem"));
    let system_roots: Box<dyn FnOnce(&mut ServeArgs)> = Box::new(with_redis(&store));
    for (trusting, extra) in [
        ("another CA", other_ca),
        ("the system's roots", system_roots),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let sim = spawn_simulator(&public, CLIENT_SECRET, false).await;
        let _stop = instance(listener, &public, &sim, extra).await;
        let ready = browser()
            .get(public.join("/readyz").unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            ready.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "ready while trusting {trusting}"
        );
        assert!(body(ready).await.contains("session store"));
    }
}
