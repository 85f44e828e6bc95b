//! Start-up as an operator meets it: one clear line naming a bad setting, and a non-zero exit.

use std::process::Command;

fn run_with(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ngi-consent"));
    command
        .env_clear()
        .env("DATA_DIR", crate::helpers::temp_data_dir());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn a_missing_client_id_outside_simulator_mode_stops_start_up_naming_it() {
    let out = run_with(&[
        ("NGI_ENV", "preprod"),
        ("PUBLIC_URL", "https://lan.example.no"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid setting NGI_CLIENT_ID"), "{stderr}");
}

/// As `run_with`, for settings the site should refuse: a site that starts instead is stopped
/// after a while and reported, rather than left serving.
pub async fn refused_with(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"));
    command
        .env_clear()
        .env("DATA_DIR", crate::helpers::temp_data_dir())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the site started with {env:?}"))
        .unwrap()
}

#[tokio::test]
async fn without_ngi_env_a_public_address_stops_start_up_asking_for_ngi_env() {
    for (bind, public_url) in [
        ("0.0.0.0:0", "http://127.0.0.1:3000"),
        ("127.0.0.1:0", "https://lan.example.no"),
    ] {
        let env = [
            ("APP_BIND", bind),
            ("PUBLIC_URL", public_url),
            ("SIMULATOR_BIND", "127.0.0.1:0"),
        ];
        let out = refused_with(&env).await;
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("invalid setting NGI_ENV"), "{stderr}");
        assert!(stderr.contains("NGI_ENV=simulator"), "{stderr}");
    }
}

#[tokio::test]
async fn without_ngi_env_real_client_credentials_stop_start_up_asking_for_ngi_env() {
    let secret = "a-secret-ngi-issued";
    let out = refused_with(&[
        ("APP_BIND", "127.0.0.1:0"),
        ("SIMULATOR_BIND", "127.0.0.1:0"),
        ("NGI_CLIENT_ID", "lan-example"),
        ("NGI_CLIENT_SECRET", secret),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid setting NGI_ENV"), "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
}

#[tokio::test]
async fn an_explicit_simulator_on_a_public_url_shows_the_demo_banner() {
    let settings = ngi_consent::config::Settings::from_args(ngi_consent::config::ServeArgs {
        ngi_env: Some("simulator".into()),
        public_url: Some("https://demo.example.no".into()),
        simulator_bind: Some("127.0.0.1:0".into()),
        data_dir: Some(crate::helpers::temp_data_dir()),
        ..Default::default()
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let app = ngi_consent::startup::Application::build_with(
        listener,
        settings,
        ngi_consent::web::system_clock(),
    )
    .await
    .unwrap();
    assert!(app.simulator().is_some());
    tokio::spawn(app.run_until(std::future::pending()));

    let landing = reqwest::get(site.clone()).await.unwrap();

    assert_eq!(landing.status(), reqwest::StatusCode::OK);
    let page = landing.text().await.unwrap();
    assert!(page.contains(r#"class="demo-banner""#), "{page}");
    assert!(page.contains("simulator"), "{page}");
}

#[test]
fn a_bad_scope_stops_start_up_naming_it() {
    let out = run_with(&[("NGI_SCOPE", "debt.unsecured.presentation.400")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("invalid setting NGI_SCOPE"), "{stderr}");
}

#[test]
fn the_client_secret_never_appears_in_start_up_output() {
    let secret = "very-secret-value-123";
    let out = run_with(&[
        ("NGI_ENV", "preprod"),
        ("NGI_CLIENT_ID", "client"),
        ("NGI_CLIENT_SECRET", secret),
        ("PUBLIC_URL", "https://lan.example.no"),
        ("APP_BIND", "not-an-address"),
    ]);
    assert_ne!(out.status.code(), Some(0));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("APP_BIND"));
    assert!(!all.contains(secret));
}

#[test]
fn help_lists_every_setting_without_the_secret_value() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ngi-consent"));
    command
        .env("NGI_CLIENT_SECRET", "hidden-secret-xyz")
        .arg("--help");
    let out = command.output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for variable in [
        "APP_BIND",
        "PUBLIC_URL",
        "NGI_ENV",
        "NGI_ACCESS_URL",
        "NGI_API_URL",
        "NGI_CLIENT_ID",
        "NGI_CLIENT_SECRET",
        "NGI_SCOPE",
        "NGI_PKCE",
        "NGI_ISSUER",
        "SIMULATOR_BIND",
        "SESSION_MAX_AGE_SECS",
        "RATE_LIMIT_IPV6_PREFIX",
        "FLOW_STARTS_PER_SECOND",
    ] {
        assert!(help.contains(variable), "{variable} missing from --help");
    }
    assert!(!help.contains("hidden-secret-xyz"));
}

#[tokio::test]
async fn the_container_healthcheck_passes_against_a_running_site_and_fails_without_one() {
    let app = crate::helpers::spawn_app().await;
    let bind = format!("127.0.0.1:{}", app.address.port().unwrap());
    let ok = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
        .args(["healthcheck", "--bind", &bind])
        .status()
        .await
        .unwrap();
    assert!(ok.success());

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap().to_string();
    drop(closed);
    let failed = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
        .args(["healthcheck", "--bind", &dead])
        .status()
        .await
        .unwrap();
    assert!(!failed.success());
}

/// A port that was free a moment ago (the binary binds it itself).
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn wait_until_healthy(site: &url::Url) {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = client.get(site.join("/healthz").unwrap()).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the site did not become healthy");
}

#[tokio::test]
async fn the_simulator_runs_alone_for_another_client() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
        .args(["simulator", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first.rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");

    let discovery: serde_json::Value =
        reqwest::get(format!("{base}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(discovery["issuer"], format!("{base}/"));
    assert_eq!(
        discovery["token_endpoint_auth_methods_supported"][0],
        "client_secret_basic"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_then_exits_zero() {
    use crate::helpers::*;
    let port = free_port().await;
    let site = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let sim = spawn_simulator(&site, CLIENT_SECRET, false).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
        .env_clear()
        .env("DATA_DIR", crate::helpers::temp_data_dir())
        .env("APP_BIND", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", site.as_str())
        .env("NGI_ACCESS_URL", sim.base_url().as_str())
        .env("NGI_API_URL", sim.base_url().as_str())
        .env("NGI_CLIENT_ID", CLIENT_ID)
        .env("NGI_CLIENT_SECRET", CLIENT_SECRET)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_until_healthy(&site).await;
    let app = TestApp::browsing(site.clone(), sim.clone());
    let callback = app.consent_as(PERSON_1).await;
    sim.set_fault(
        ngi_consent::simulator::Endpoint::Debt,
        Some(ngi_consent::simulator::Fault::Delay(
            std::time::Duration::from_millis(1500),
        )),
    );
    let client = app.client.clone();
    let in_flight = tokio::spawn(async move { client.get(callback).send().await });
    // Let the callback reach the (slow) debt API, then ask the site to stop.
    while sim.debt_requests() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pid = child.id().unwrap().to_string();
    let kill = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());

    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(
        response.status(),
        reqwest::StatusCode::SEE_OTHER,
        "the request in flight was cut"
    );
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        reqwest::get(site.join("/healthz").unwrap()).await.is_err(),
        "still accepting"
    );
}
