//! What the logs say, and what they never say. A binary of its own: it installs the process's
//! one log subscriber (JSON, as in production, our crate at debug), runs whole flows, and reads
//! every line written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // the flows here use only part of the helpers
#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use helpers::*;
use ngi_consent::config::LogFormat;
use ngi_consent::simulator::{Endpoint, Fault};
use serde_json::Value;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        ngi_consent::telemetry::init_with(
            LogFormat::Json,
            EnvFilter::new("info,ngi_consent=debug"),
            move || writer.clone(),
        );
        logs
    })
}

fn lines() -> Vec<Value> {
    let bytes = captured().0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// A field of the request span a line was logged in (the line's own span, or any enclosing one).
fn span_field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line["span"]
        .get(name)
        .or_else(|| line["spans"].as_array()?.iter().find_map(|s| s.get(name)))
}

fn text() -> String {
    String::from_utf8(captured().0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn whole_flows_leave_no_secret_in_the_logs() {
    captured();
    let mut secrets: Vec<String> = vec![CLIENT_SECRET.into(), PERSON_1.into(), PERSON_2.into()];

    // A completed flow, with the applicant's own number given on the landing form.
    let app = spawn_app().await;
    let start = app.start_with_nin(PERSON_1).await;
    let authorize = assert_redirect(&start);
    secrets.push(query(&authorize)["state"].clone());
    let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "accept").await;
    assert_redirect(&app.get_url(callback.clone()).await);
    assert_eq!(app.get("/debt").await.status(), 200);
    // Back onto the completed callback, and a reused code.
    app.get_url(callback).await;
    secrets.push(app.sim.last_token_request().unwrap().code_verifier.unwrap());

    // A second person, declined; an error callback; a refused exchange; a debt 403.
    let tx = app.log_in_at_ngi(app.start().await, PERSON_2).await;
    let declined = app.decide_at_ngi(&tx, "decline").await;
    secrets.push(query(&declined)["state"].clone());
    app.get_url(declined).await;
    for (endpoint, fault) in [
        (Endpoint::Token, Fault::status(400)),
        (Endpoint::Debt, Fault::status(403)),
        (Endpoint::Debt, Fault::garbage()),
    ] {
        let callback = app.consent_as(PERSON_2).await;
        secrets.push(query(&callback)["state"].clone());
        app.sim.set_fault(endpoint, Some(fault));
        assert!(app.get_url(callback).await.status().is_server_error());
        app.sim.set_fault(endpoint, None);
    }
    secrets.extend(app.sim.issued_codes());
    secrets.extend(app.sim.issued_access_tokens());
    assert!(app.sim.issued_codes().len() >= 4);
    assert!(!app.sim.issued_access_tokens().is_empty());

    let logs = text();
    assert!(
        logs.contains("/v1/callback"),
        "the callback route is not logged at all"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret ({}…) is in the logs",
            &secret[..4.min(secret.len())]
        );
    }
    assert!(!logs.contains("code="), "a query string is in the logs");
    assert!(!logs.contains("state="), "a query string is in the logs");
}

#[tokio::test]
async fn each_request_gets_one_line_with_its_id_route_status_and_latency() {
    captured();
    let app = spawn_app().await;
    let page = app.get("/debt").await;
    let request_id = page.headers()["x-request-id"].to_str().unwrap().to_owned();

    let ours: Vec<Value> = lines()
        .into_iter()
        .filter(|l| span_field(l, "request_id").is_some_and(|v| v == request_id.as_str()))
        .filter(|l| l["message"] == "finished processing request")
        .collect();
    assert_eq!(ours.len(), 1, "expected exactly one request line");
    let line = &ours[0];
    assert_eq!(line["span"]["route"], "/debt");
    assert_eq!(line["status"], 404);
    assert!(line["latency"].is_string(), "{line}");
    assert_eq!(line["level"], "INFO");
}

#[tokio::test]
async fn ngi_sees_our_request_id_as_its_trace_id() {
    captured();
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    let response = app.get_url(callback).await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let seen = app.sim.last_debt_request().unwrap();
    assert_eq!(seen.trace_id.as_deref(), Some(request_id.as_str()));
    let logged = lines().into_iter().any(|l| {
        l["span"]["request_id"] == request_id.as_str() && l["span"]["route"] == "/v1/callback"
    });
    assert!(logged, "the callback's request id is not in the logs");
}

#[tokio::test]
async fn ngi_trace_ids_from_error_answers_are_logged() {
    captured();
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    app.sim.set_fault(
        Endpoint::Debt,
        Some(Fault::Respond {
            status: 403,
            content_type: "application/json".into(),
            body: r#"{"error":"no valid consent","trace_id":"ngi-trace-4d2e5329"}"#.into(),
        }),
    );
    assert_eq!(app.get_url(callback).await.status(), 502);
    assert!(text().contains("ngi-trace-4d2e5329"));
}

#[tokio::test]
async fn a_flows_start_and_outcome_share_a_flow_id_that_is_not_the_state() {
    captured();
    let app = spawn_app().await;
    let start = app.get("/consent/start").await;
    let state = query(&location(&start))["state"].clone();
    let start_id = start.headers()["x-request-id"].to_str().unwrap().to_owned();
    let tx = app.log_in_at_ngi(location(&start), PERSON_1).await;
    let callback = app.decide_at_ngi(&tx, "decline").await;
    let end = app.get_url(callback).await;
    let end_id = end.headers()["x-request-id"].to_str().unwrap().to_owned();

    let flow_of = |request_id: &str| -> Vec<String> {
        lines()
            .iter()
            .filter(|l| span_field(l, "request_id").is_some_and(|v| v == request_id))
            .filter_map(|l| {
                span_field(l, "flow_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    };
    let started = flow_of(&start_id);
    let ended = flow_of(&end_id);
    assert!(
        !started.is_empty() && !ended.is_empty(),
        "no flow id logged"
    );
    assert_eq!(started[0], ended[0]);
    assert_eq!(started[0].len(), 12);
    assert!(!state.contains(&started[0]));
    let outcome = lines().into_iter().any(|l| {
        span_field(&l, "request_id").is_some_and(|v| v == end_id.as_str())
            && l["error.kind"] == "consent_denied"
    });
    assert!(outcome, "the outcome line is missing");
}

/// NGI's error codes are 4xx pages, but `invalid_scopes` (our own request was wrong) is still an
/// error-level line, which is how operators learn of it; a person's own refusal is not.
#[tokio::test]
async fn a_refused_scope_is_logged_at_error_level_though_the_page_is_a_4xx() {
    captured();
    let app = spawn_app().await;
    let mut level_of = vec![];
    for code in ["invalid_scopes", "server_error"] {
        let state = query(&app.start().await)["state"].clone();
        let response = app
            .get_url(callback_with(&app, &[("error", code), ("state", &state)]))
            .await;
        assert_eq!(response.status(), 400, "{code}");
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let line = lines()
            .into_iter()
            .find(|l| {
                span_field(l, "request_id").is_some_and(|v| v == request_id.as_str())
                    && l["error.kind"].is_string()
            })
            .unwrap_or_else(|| panic!("no outcome line for {code}"));
        level_of.push(line["level"].as_str().unwrap().to_owned());
    }
    assert_eq!(level_of, ["ERROR", "INFO"]);
}

/// The outcome line names the cause chain: the refusal and why.
#[tokio::test]
async fn an_outcome_line_carries_its_cause() {
    captured();
    let app = spawn_app().await;
    let response = app
        .get_url(callback_with(
            &app,
            &[("code", "c"), ("state", "never-issued")],
        ))
        .await;
    assert_eq!(response.status(), 400);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let cause = lines()
        .into_iter()
        .find_map(|l| {
            (span_field(&l, "request_id").is_some_and(|v| v == request_id.as_str())
                && l["error.kind"] == "flow_unknown")
                .then(|| l["error.cause"].as_str().unwrap_or("").to_owned())
        })
        .expect("no outcome line");
    assert_eq!(
        cause,
        "callback refused: no pending flow with that state in this session"
    );
}
