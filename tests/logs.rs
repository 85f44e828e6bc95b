//! What the logs say, and what they never say. A binary of its own: it installs the process's
//! one log subscriber (JSON, as in production, our crate at debug), runs whole flows, and reads
//! every line written. One file on purpose, though past 600 lines: the process has one global
//! subscriber, so everything that reads it lives in this one binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // the flows here use only part of the helpers
#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use helpers::*;
use ngi_consent::config::LogFormat;
use ngi_consent::simulator::{Endpoint, Fault, IdTokenFault};
use serde_json::Value;

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
            ngi_consent::telemetry::filter("info,ngi_consent=debug").unwrap(),
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
async fn id_tokens_and_nonces_never_reach_the_logs() {
    captured();
    let app = spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            ngi_scope: Some("debt.unsecured.presentation openid".into()),
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let mut nonces = Vec::new();
    for fault in [
        None,
        Some(IdTokenFault::WrongNonce),
        Some(IdTokenFault::OtherPid),
        Some(IdTokenFault::AlgNone),
    ] {
        app.sim.set_id_token_fault(fault);
        let authorize = app.start().await;
        nonces.push(query(&authorize)["nonce"].clone());
        let tx = app.log_in_at_ngi(authorize, PERSON_1).await;
        let callback = app.decide_at_ngi(&tx, "accept").await;
        let status = app.get_url(callback).await.status();
        assert_eq!(status.is_server_error(), fault.is_some(), "{fault:?}");
    }
    let logs = text();
    assert!(logs.contains("id_token_refused"), "the refusal is logged");
    for nonce in &nonces {
        assert!(!logs.contains(nonce.as_str()), "a nonce is in the logs");
    }
    // Every JWT begins with the base64 of `{"`: none may be in the logs.
    assert!(!logs.contains("eyJ"), "a JWT is in the logs");
    assert!(!logs.contains(PERSON_1), "a pid is in the logs");
}

#[tokio::test]
async fn client_credentials_tokens_never_reach_the_logs() {
    use ngi_consent::ngi::client::{NgiClient, NgiConfig};
    use ngi_consent::ngi::credentials::{Audience, CallError, ClientCredentials};

    captured();
    let site = url::Url::parse("http://127.0.0.1:9/").unwrap();
    let sim = spawn_simulator(&site, CLIENT_SECRET, false).await;
    let ngi = NgiClient::new(NgiConfig {
        access: sim.base_url().clone(),
        api: sim.base_url().clone(),
        client_id: oauth2::ClientId::new(CLIENT_ID.into()),
        client_secret: oauth2::ClientSecret::new(CLIENT_SECRET.into()),
        redirect_uri: site.join("/v1/callback").unwrap(),
        scope: "debt.unsecured.presentation".parse().unwrap(),
        pkce: true,
        issuer: Some(sim.issuer()),
        timeout: std::time::Duration::from_secs(5),
        connect_timeout: std::time::Duration::from_secs(1),
    })
    .unwrap();
    let creds = ClientCredentials::new(Arc::new(ngi), TestClock::new().as_clock()).unwrap();
    // Granted, refused by the API twice (so dropped and renewed), and refused by NGI.
    let refused: Result<(), _> = creds
        .with_token(Audience::Debt, "trace", |_token| async {
            Err(CallError::<std::fmt::Error>::TokenRefused)
        })
        .await;
    assert!(refused.is_err());
    sim.set_client_audiences(CLIENT_ID, &[]);
    assert!(creds.token(Audience::Feed, "trace").await.is_err());

    let tokens = sim.issued_access_tokens();
    assert_eq!(tokens.len(), 2);
    let logs = text();
    assert!(
        logs.contains("NGI refused a client-credentials token"),
        "{logs}"
    );
    assert!(logs.contains("invalid_scope"), "{logs}");
    for token in tokens {
        let (_, signature) = token.split_once('.').unwrap();
        assert!(
            !logs.contains(signature),
            "a client-credentials token is in the logs"
        );
    }
}

#[tokio::test]
async fn the_partner_token_never_reaches_the_logs() {
    captured();
    const TOKEN: &str = "partner-token-in-the-logs-test-0123456789";
    let app = spawn_app_with(Options {
        args: ngi_consent::config::ServeArgs {
            partner_token: Some(TOKEN.into()),
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let links = app.url("/partner/api/links");
    let body = serde_json::json!({"reference": "APP-LOGS-1"});
    // Refused (no token, a wrong one, the token in the wrong scheme), then let in.
    let mut statuses = vec![];
    for auth in [
        None,
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Basic {TOKEN}")),
    ] {
        let mut request = app.client.post(links.clone()).json(&body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    let made = app
        .client
        .post(links)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    statuses.push(made.status().as_u16());
    assert_eq!(statuses, [401, 401, 401, 201]);
    let link: Value = made.json().await.unwrap();
    let start = app
        .get_url(url::Url::parse(link["url"].as_str().unwrap()).unwrap())
        .await;
    assert_eq!(start.status(), 303);

    let logs = text();
    assert!(
        logs.contains("partner API: missing or wrong token"),
        "the refusals are logged"
    );
    assert!(!logs.contains(TOKEN), "the partner token is in the logs");
    assert!(!logs.contains("APP-LOGS-1"), "the reference is not logged");
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

/// A completed callback writes one line: its request line, which says the flow succeeded and
/// what the ledger recorded (no line of its own for either).
#[tokio::test]
async fn a_completed_callback_says_its_outcome_on_its_one_request_line() {
    captured();
    let app = spawn_app().await;
    let callback = app.consent_as(PERSON_1).await;
    let response = app.get_url(callback).await;
    assert_redirect(&response);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let ours: Vec<Value> = lines()
        .into_iter()
        .filter(|l| span_field(l, "request_id").is_some_and(|v| v == request_id.as_str()))
        .filter(|l| l["level"] != "DEBUG")
        .collect();
    assert_eq!(ours.len(), 1, "expected the request line alone: {ours:?}");
    let line = &ours[0];
    assert_eq!(line["message"], "finished processing request");
    assert_eq!(line["status"], 303);
    assert_eq!(span_field(line, "flow.outcome").unwrap(), "success");
    assert_eq!(span_field(line, "flow.with_reference").unwrap(), false);
    assert_eq!(span_field(line, "consent.status").unwrap(), "used");
    assert!(span_field(line, "flow_id").is_some_and(Value::is_string));
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

/// Runs `work` with the log lines of this thread written in `format` to a buffer of its own, and
/// returns them. The test's runtime has one thread, and the site and the simulator it starts run
/// on it, so their lines are all here (and in no other test's buffer).
async fn logged_in(format: LogFormat, work: impl std::future::Future<Output = ()>) -> String {
    let logs = Captured::default();
    let writer = logs.clone();
    let dispatch = ngi_consent::telemetry::dispatch(
        format,
        ngi_consent::telemetry::filter("info,ngi_consent=debug").unwrap(),
        move || writer.clone(),
    );
    let guard = tracing::dispatcher::set_default(&dispatch);
    work.await;
    drop(guard);
    String::from_utf8(logs.0.lock().unwrap().clone()).unwrap()
}

/// The text without ANSI colour sequences (the pretty format colours its output on a terminal).
fn without_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// A value that tries to end the log line and start a fake one of each format.
const FORGED: &str = "x\r\n2026-01-01T00:00:00.000000Z ERROR FORGED line\n{\"level\":\"ERROR\",\"message\":\"FORGED\"}\rFORGED";

/// Sends `FORGED` in every input a request carries: path, query, headers, cookies, form fields,
/// the callback's parameters, the simulator's forms, and NGI's error answers.
async fn hostile_requests() {
    let app = spawn_app().await;
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let forged = enc(FORGED);
    for path in [
        format!("/no/such/{forged}"),
        format!("/?lang={forged}"),
        format!("/debt?{forged}={forged}"),
        format!("/v1/callback?error={forged}&error_description={forged}&state={forged}"),
        format!("/v1/callback?code={forged}&state={forged}&iss={forged}"),
        format!("/static/{forged}"),
        format!("/consent/start?next={forged}"),
    ] {
        let response = app.get(&path).await;
        assert!(!response.status().is_server_error(), "{path}");
    }
    // Header values cannot hold CR or LF; what they can hold is sent.
    let escaped = "x\tFORGED %0d%0a FORGED";
    let response = app
        .client
        .post(app.url("/consent/start"))
        .header("user-agent", escaped)
        .header("accept-language", escaped)
        .header("referer", escaped)
        .header("x-forwarded-for", escaped)
        .header("cookie", format!("ngi_lang={forged}; ngi_session={forged}"))
        .form(&[("nin", FORGED), (FORGED, FORGED)])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    // The simulator's login form.
    let authorize = app.start().await;
    let login = assert_redirect(&app.get_url(authorize).await);
    let tx = query(&login)["tx"].clone();
    for form in [
        vec![("tx", tx.as_str()), ("nin", FORGED), ("action", "login")],
        vec![("tx", FORGED), ("nin", PERSON_1), ("action", FORGED)],
    ] {
        app.client
            .post(login.join("/testid/login").unwrap())
            .form(&form)
            .send()
            .await
            .unwrap();
    }
    // NGI's error answers, with the value as error code, description and trace id.
    let ngi_error = serde_json::json!({
        "error": FORGED, "error_description": FORGED, "trace_id": FORGED,
    })
    .to_string();
    for (endpoint, status) in [
        (Endpoint::Token, 400),
        (Endpoint::Debt, 403),
        (Endpoint::Debt, 500),
    ] {
        let callback = app.consent_as(PERSON_1).await;
        app.sim.set_fault(
            endpoint,
            Some(Fault::Respond {
                status,
                content_type: "application/json".into(),
                body: ngi_error.clone(),
            }),
        );
        assert!(app.get_url(callback).await.status().is_server_error());
        app.sim.set_fault(endpoint, None);
    }
}

#[tokio::test]
async fn line_breaks_in_any_input_cannot_forge_a_json_log_line() {
    let logs = logged_in(LogFormat::Json, hostile_requests()).await;

    assert!(
        logs.to_ascii_lowercase().contains("forged"),
        "the hostile values were not logged at all: the test proves nothing"
    );
    assert!(!logs.contains('\r'), "a carriage return is in the logs");
    for line in logs.lines() {
        let record: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a line is not one JSON record ({e}): {line}"));
        assert!(record.is_object() && record["level"].is_string(), "{line}");
    }
}

#[tokio::test]
async fn line_breaks_in_any_input_cannot_forge_a_pretty_log_line() {
    let logs = without_ansi(&logged_in(LogFormat::Pretty, hostile_requests()).await);

    assert!(
        logs.to_ascii_lowercase().contains("forged"),
        "the hostile values were not logged at all: the test proves nothing"
    );
    assert!(!logs.contains('\r'), "a carriage return is in the logs");
    for line in logs.lines() {
        // Every record starts with its time, `2026-12-01T12:00:00.123456Z`.
        let shape = "dddd-dd-ddTdd:dd:dd.";
        let timed = line.chars().count() > shape.len()
            && shape.chars().zip(line.chars()).all(|(want, got)| {
                if want == 'd' {
                    got.is_ascii_digit()
                } else {
                    want == got
                }
            });
        assert!(
            timed,
            "a line does not start with the time of a real record: {line:?}"
        );
        assert!(!line.starts_with("2026-01-01T00:00:00"), "{line:?}");
    }
}

#[tokio::test]
async fn error_codes_and_trace_ids_from_ngi_are_logged_cut_to_a_fixed_length() {
    let long_code = format!("invalid_consent_{}", "c".repeat(5_000));
    let long_trace = format!("trace-{}", "7".repeat(5_000));
    let logs = logged_in(LogFormat::Json, async {
        let app = spawn_app().await;
        for (endpoint, status) in [(Endpoint::Token, 400), (Endpoint::Debt, 403)] {
            let callback = app.consent_as(PERSON_1).await;
            app.sim.set_fault(
                endpoint,
                Some(Fault::Respond {
                    status,
                    content_type: "application/json".into(),
                    body: serde_json::json!({ "error": long_code, "trace_id": long_trace })
                        .to_string(),
                }),
            );
            assert_eq!(app.get_url(callback).await.status(), 502);
            app.sim.set_fault(endpoint, None);
        }
    })
    .await;

    // 64 characters of each reach the log, no more.
    let code_logged = &long_code[..64];
    let trace_logged = &long_trace[..64];
    // A token error other than invalid_grant refuses us as a client.
    let refused = lines_of(&logs, "client_refused");
    let not_valid = lines_of(&logs, "consent_not_valid");
    assert_eq!((refused.len(), not_valid.len()), (1, 1), "{logs}");
    assert!(refused[0].contains(code_logged), "{}", refused[0]);
    assert!(not_valid[0].contains(code_logged), "{}", not_valid[0]);
    assert!(not_valid[0].contains(trace_logged), "{}", not_valid[0]);
    assert!(
        !logs.contains(&long_code[..65]),
        "an error code is logged whole"
    );
    assert!(
        !logs.contains(&long_trace[..65]),
        "a trace id is logged whole"
    );
}

/// The JSON lines whose `error.kind` is `kind`, as text.
fn lines_of(logs: &str, kind: &str) -> Vec<String> {
    logs.lines()
        .filter(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|record| record["error.kind"] == kind)
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn cookie_values_and_authorization_headers_never_reach_the_logs() {
    for format in [LogFormat::Json, LogFormat::Pretty] {
        let mut secrets: Vec<String> = vec![
            "cookie-secret-6f1d2a".into(),
            "bearer-secret-93be07".into(),
            "basic-secret-d4a8c1".into(),
        ];
        let mut seen = Vec::new();
        let logs = logged_in(format, async {
            let app = spawn_app().await;
            // A real session, so its cookie is one the site knows.
            let callback = app.consent_as(PERSON_1).await;
            let answer = app.get_url(callback).await;
            let session = app.session_cookie(&answer).unwrap();
            let session_value = session
                .split(';')
                .next()
                .and_then(|pair| pair.split_once('='))
                .map(|(_, value)| value.to_owned())
                .unwrap();
            seen.push(session_value.clone());
            let basic = {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode("user:basic-secret-d4a8c1")
            };
            seen.push(basic.clone());
            let cookie =
                format!("ngi_session={session_value}; ngi_lang=en; tracker=cookie-secret-6f1d2a");
            for (path, authorization) in [
                ("/", "Bearer bearer-secret-93be07".to_owned()),
                ("/debt", format!("Basic {basic}")),
                ("/no/such/page", "Bearer bearer-secret-93be07".to_owned()),
                ("/v1/callback?code=c&state=s", format!("Basic {basic}")),
                ("/healthz", "Bearer bearer-secret-93be07".to_owned()),
                ("/static/app.css", "Bearer bearer-secret-93be07".to_owned()),
            ] {
                reqwest::Client::new()
                    .get(app.url(path))
                    .header("cookie", &cookie)
                    .header("authorization", authorization)
                    .send()
                    .await
                    .unwrap();
            }
            let response = reqwest::Client::new()
                .post(app.url("/consent/start"))
                .header("cookie", &cookie)
                .header("authorization", "Bearer bearer-secret-93be07")
                .form(&[("nin", "")])
                .send()
                .await
                .unwrap();
            assert!(!response.status().is_server_error());
        })
        .await;
        secrets.append(&mut seen);

        assert!(
            logs.contains("/debt") && logs.contains("/v1/callback"),
            "the requests were not logged: {logs}"
        );
        for secret in &secrets {
            assert!(
                !logs.contains(secret.as_str()),
                "{format:?}: a cookie or Authorization value ({}…) is in the logs",
                &secret[..6]
            );
        }
    }
}

/// NGI out of reach: the error line's cause chain says what failed underneath (the transport's
/// own words), and never the URL that was asked.
#[tokio::test]
async fn an_unreachable_ngi_is_logged_with_its_cause_and_without_the_url() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let logs = logged_in(LogFormat::Json, async {
        let app = spawn_app_with(Options {
            args: ngi_consent::config::ServeArgs {
                ngi_api_url: Some(format!("http://{dead}")),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
        let callback = app.consent_as(PERSON_1).await;
        assert_eq!(app.get_url(callback).await.status(), 503);
    })
    .await;
    let failed = lines_of(&logs, "ngi_unavailable");
    assert_eq!(failed.len(), 1, "{logs}");
    let line: Value = serde_json::from_str(&failed[0]).unwrap();
    let cause = line["error.cause"].as_str().unwrap();
    assert!(
        cause.starts_with("NGI: NGI debt could not be reached"),
        "{cause}"
    );
    assert!(
        cause.len() > "NGI: NGI debt could not be reached".len() + 10,
        "no cause: {cause}"
    );
    assert!(!cause.contains(&dead.to_string()), "{cause}");
    assert!(!cause.contains("/v1/debt"), "{cause}");
}

/// Sessions shared in Redis with a ledger in each instance's own SQLite file: the operator is
/// warned at start-up, naming DATABASE_URL; with sessions in memory there is nothing to warn of.
#[tokio::test]
async fn redis_sessions_with_an_sqlite_ledger_warn_that_the_ledger_is_per_instance() {
    let redis_up = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        tokio::net::TcpStream::connect("127.0.0.1:6379"),
    )
    .await
    .is_ok_and(|connected| connected.is_ok());
    if !redis_up {
        let required = std::env::var("NGI_REQUIRE_REDIS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "no Redis on 127.0.0.1:6379, and NGI_REQUIRE_REDIS=1"
        );
        eprintln!(
            "SKIPPED redis_sessions_with_an_sqlite_ledger_warn_that_the_ledger_is_per_instance: \
             no Redis on 127.0.0.1:6379. This test did NOT run (set NGI_REQUIRE_REDIS=1 to make \
             it fail)."
        );
        return;
    }
    let per_instance = |logs: &str| {
        logs.lines()
            .filter(|line| {
                serde_json::from_str::<Value>(line).is_ok_and(|record| {
                    record["level"] == "WARN"
                        && record["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("each instance keeps its own ledger"))
                })
            })
            .count()
    };
    let shared = logged_in(LogFormat::Json, async {
        spawn_app_with(Options {
            args: ngi_consent::config::ServeArgs {
                session_store: Some("redis://127.0.0.1:6379/0".into()),
                session_key: Some("dGVzdC1zZXNzaW9uLWtleS0zMi1ieXRlcy1sb25nISE=".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
    })
    .await;
    assert_eq!(per_instance(&shared), 1, "{shared}");
    let alone = logged_in(LogFormat::Json, async {
        spawn_app().await;
    })
    .await;
    assert_eq!(per_instance(&alone), 0, "{alone}");
}

/// A Redis that is not there at start-up does not stop the site: the operator reads why (the
/// connection was refused) at error level, and the site serves its health check.
#[tokio::test]
async fn a_redis_away_at_start_up_is_logged_with_its_reason_and_the_site_starts() {
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let logs = logged_in(LogFormat::Json, async {
        let app = spawn_app_with(Options {
            args: ngi_consent::config::ServeArgs {
                session_store: Some(format!("redis://127.0.0.1:{port}/0")),
                session_key: Some("dGVzdC1zZXNzaW9uLWtleS0zMi1ieXRlcy1sb25nISE=".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
        assert_eq!(app.get("/healthz").await.status(), 200);
    })
    .await;
    let away = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|record| {
            record["message"]
                .as_str()
                .is_some_and(|m| m.contains("Redis session store is not reachable yet"))
        })
        .unwrap_or_else(|| panic!("no line about the Redis store: {logs}"));
    assert_eq!(away["level"], "ERROR", "{away}");
    assert!(
        away["error"]
            .as_str()
            .is_some_and(|e| e.contains("refused")),
        "{away}"
    );
}
