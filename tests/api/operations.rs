//! What operators rely on: the rate limit on starting flows, and the metrics.

use reqwest::StatusCode;

use crate::helpers::*;

fn limited(per_minute: &str, trusted: Option<&str>) -> Options {
    Options {
        args: ngi_consent::config::ServeArgs {
            rate_limit_per_minute: Some(per_minute.into()),
            trusted_proxies: trusted.map(Into::into),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn starting_flows_is_limited_per_client_with_a_page_and_retry_after() {
    let app = spawn_app_with(limited("3", None)).await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/consent/start").await.status(),
            StatusCode::SEE_OTHER
        );
    }

    let refused = app.get("/consent/start").await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert!(body(refused).await.contains("For mange forsøk"));
    // The form is limited as well, and other pages are not.
    let form = app.start_with_nin(PERSON_1).await;
    assert_eq!(form.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let untrusted = spawn_app_with(limited("1", None)).await;
    let first = untrusted
        .client
        .get(untrusted.url("/consent/start"))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let spoofed = untrusted
        .client
        .get(untrusted.url("/consent/start"))
        .header("x-forwarded-for", "198.51.100.2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        spoofed.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a forged header escaped the limit"
    );

    let behind_proxy = spawn_app_with(limited("1", Some("127.0.0.1"))).await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        let response = behind_proxy
            .client
            .get(behind_proxy.url("/consent/start"))
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{client} was limited with another"
        );
    }
    let again = behind_proxy
        .client
        .get(behind_proxy.url("/consent/start"))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_limit_of_zero_switches_the_rate_limit_off() {
    let app = spawn_app_with(limited("0", None)).await;
    for _ in 0..50 {
        assert_eq!(
            app.get("/consent/start").await.status(),
            StatusCode::SEE_OTHER
        );
    }
}

/// The value of one Prometheus sample, 0 when it is not there yet.
fn sample(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_flows_callbacks_by_outcome_and_time_ngi() {
    let app = spawn_app().await;
    let before = body(app.get("/metrics").await).await;

    assert_eq!(app.follow_login(PERSON_1).await.status(), StatusCode::OK);
    let tx = app.log_in_at_ngi(app.start().await, PERSON_1).await;
    app.get_url(app.decide_at_ngi(&tx, "decline").await).await;

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let after = body(response).await;
    let grew = |series: &str, by: f64| {
        let delta = sample(&after, series) - sample(&before, series);
        assert!(
            delta >= by,
            "{series} grew by {delta}, expected at least {by}\n{after}"
        );
    };
    grew("ngi_consent_flows_started_total", 2.0);
    grew("ngi_consent_callbacks_total{outcome=\"success\"}", 1.0);
    grew(
        "ngi_consent_callbacks_total{outcome=\"consent_denied\"}",
        1.0,
    );
    grew(
        "ngi_consent_ngi_request_duration_seconds_count{endpoint=\"token\"}",
        1.0,
    );
    grew(
        "ngi_consent_ngi_request_duration_seconds_count{endpoint=\"debt\"}",
        1.0,
    );
    assert!(after.contains(
        "ngi_consent_ngi_request_duration_seconds_bucket{endpoint=\"token\",le=\"0.005\"}"
    ));
}

#[tokio::test]
async fn metrics_count_upstream_errors_by_kind() {
    let app = spawn_app().await;
    let before = body(app.get("/metrics").await).await;
    let callback = app.consent_as(PERSON_1).await;
    app.sim.set_fault(
        ngi_consent::simulator::Endpoint::Debt,
        Some(ngi_consent::simulator::Fault::garbage()),
    );
    assert_eq!(
        app.get_url(callback).await.status(),
        StatusCode::BAD_GATEWAY
    );

    let after = body(app.get("/metrics").await).await;
    let series = "ngi_consent_ngi_errors_total{endpoint=\"debt\",kind=\"bad_answer\"}";
    assert!(
        sample(&after, series) - sample(&before, series) >= 1.0,
        "{after}"
    );
    let outcome = "ngi_consent_callbacks_total{outcome=\"ngi_bad_answer\"}";
    assert!(sample(&after, outcome) - sample(&before, outcome) >= 1.0);
}

/// A fresh process (the metrics recorder is process-wide, so not this test binary): every
/// counter and histogram is on `/metrics` at 0 before the first flow, with its label values.
#[tokio::test]
async fn a_fresh_instance_shows_every_series_at_zero() {
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ngi-consent"))
        .env_clear()
        .env("DATA_DIR", crate::helpers::temp_data_dir())
        .env("APP_BIND", format!("127.0.0.1:{port}"))
        .env("SIMULATOR_BIND", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        // The feed follower polls at start-up (and takes a token for it): off here, so what is
        // read is the registration alone.
        .env("FEED_POLL_SECS", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut metrics = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&url).await
            && response.status().is_success()
        {
            metrics = Some(response.text().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().await.unwrap();
    let metrics = metrics.expect("the site did not answer /metrics");

    let at_zero = |series: &str| {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("{series} is missing\n{metrics}"));
        assert_eq!(line.rsplit(' ').next(), Some("0"), "{line}");
    };
    at_zero("ngi_consent_flows_started_total");
    for outcome in [
        "success",
        "replayed",
        "state_unknown",
        "state_expired",
        "consent_denied",
        "invalid_scopes",
        "ngi_server_error",
        "token_refused",
        "purpose_mismatch",
        "ngi_unavailable",
    ] {
        at_zero(&format!(
            "ngi_consent_callbacks_total{{outcome=\"{outcome}\"}}"
        ));
    }
    for audience in ["debt", "agreement", "feed"] {
        for outcome in ["granted", "refused", "failed"] {
            at_zero(&format!(
                "ngi_consent_client_credentials_requests_total{{audience=\"{audience}\",outcome=\"{outcome}\"}}"
            ));
        }
    }
    for endpoint in ["token", "debt", "discovery"] {
        at_zero(&format!(
            "ngi_consent_ngi_request_duration_seconds_count{{endpoint=\"{endpoint}\"}}"
        ));
        at_zero(&format!(
            "ngi_consent_ngi_errors_total{{endpoint=\"{endpoint}\",kind=\"timeout\"}}"
        ));
    }
}

/// A site behind a trusted proxy on loopback, starting at most `cap` flows a second.
async fn behind_a_proxy_with_a_cap_of(cap: &str) -> TestApp {
    spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            flow_starts_per_second: Some(cap.into()),
            trusted_proxies: Some("127.0.0.1".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
}

/// `GET /consent/start` as `client`, named by the proxy's X-Forwarded-For.
fn start_as(
    app: &TestApp,
    client: &str,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    app.client
        .get(app.url("/consent/start"))
        .header("x-forwarded-for", client)
        .send()
}

#[tokio::test]
async fn flow_starts_across_many_clients_are_capped_per_instance_with_retry_after() {
    let app = behind_a_proxy_with_a_cap_of("2").await;
    let start_as = |client: &'static str| start_as(&app, client);
    // Each client is well within its own limit; together they reach the instance's cap.
    for client in ["198.51.100.1", "198.51.100.2"] {
        let response = start_as(client).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{client}");
    }

    let refused = start_as("203.0.113.3").await.unwrap();

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1);
    assert!(body(refused).await.contains("For mange forsøk"));
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_cap_of_zero_lets_many_clients_start_flows() {
    let app = behind_a_proxy_with_a_cap_of("0").await;
    for n in 1..=50 {
        let response = start_as(&app, &format!("198.51.100.{n}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "client {n}");
    }
}
