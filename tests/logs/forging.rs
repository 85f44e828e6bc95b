//! Line breaks in any input a request carries cannot forge a log line, in either format.

use super::*;

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
        let page = callback_with_ngi_answer(&app, endpoint, status, &ngi_error).await;
        assert!(page.is_server_error(), "{page}");
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
