//! What a request's lines say: one line each with its id, route, status and latency; the callback's
//! outcome and cause; the flow id; the trace ids NGI sees and answers with.

use super::*;

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
    let body = r#"{"error":"no valid consent","trace_id":"ngi-trace-4d2e5329"}"#;
    let page = callback_with_ngi_answer(&app, Endpoint::Debt, 403, body).await;
    assert_eq!(page, 502);
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

#[tokio::test]
async fn error_codes_and_trace_ids_from_ngi_are_logged_cut_to_a_fixed_length() {
    let long_code = format!("invalid_consent_{}", "c".repeat(5_000));
    let long_trace = format!("trace-{}", "7".repeat(5_000));
    let logs = logged_in(LogFormat::Json, async {
        let app = spawn_app().await;
        let body = serde_json::json!({ "error": long_code, "trace_id": long_trace }).to_string();
        for (endpoint, status) in [(Endpoint::Token, 400), (Endpoint::Debt, 403)] {
            let page = callback_with_ngi_answer(&app, endpoint, status, &body).await;
            assert_eq!(page, 502);
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
