use super::*;

const PERSON: &str = "14842249091";
const CONSENT: &str = "0dcec3d5-6844-4d2c-b972-83086064b111";

fn request() -> AgreementRequest {
    AgreementRequest {
        nin: Nin::parse(PERSON).unwrap(),
        purpose: Purpose::Processing,
        duration_days: 28,
        client_consent_id: "APP-1".into(),
    }
}

fn registered(body: serde_json::Value) -> Result<Registered, AgreementError> {
    read_registered(body.to_string().as_bytes(), &request())
}

#[test]
fn the_body_has_the_base_scope_the_days_and_the_reference() {
    let body = serde_json::to_value(WireRequest::from(&request())).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "nin": PERSON,
            "scope_of_consent": "debt.unsecured.processing",
            "consent_duration_days": 28,
            "client_consent_id": "APP-1",
        })
    );
}

#[test]
fn a_request_shows_only_the_masked_number_in_debug() {
    let shown = format!("{:?}", request());
    assert!(!shown.contains(PERSON), "{shown}");
    assert!(shown.contains("148422*****"), "{shown}");
    assert!(shown.contains("APP-1"), "{shown}");
}

#[test]
fn a_registered_consent_is_read_with_its_iso_expiry() {
    let answer = registered(serde_json::json!({
        "client_consent_id": "APP-1",
        "consent": {
            "id": CONSENT,
            "expires_at": "2026-02-01T06:14:00Z",
            "scope_of_consent": "debt.unsecured.processing",
        },
    }))
    .unwrap();
    assert_eq!(answer.consent_id.as_str(), CONSENT);
    assert_eq!(
        answer.expires_at,
        Some("2026-02-01T06:14:00Z".parse().unwrap())
    );
    assert_eq!(answer.purpose, Purpose::Processing);
}

#[test]
fn an_expiry_with_an_offset_is_the_same_instant_and_one_without_is_unknown() {
    let with = |expires_at: &str| {
        registered(serde_json::json!({
            "consent": {"id": CONSENT, "expires_at": expires_at},
        }))
        .unwrap()
        .expires_at
    };
    assert_eq!(
        with("2026-02-01T07:14:00+01:00"),
        Some("2026-02-01T06:14:00Z".parse().unwrap())
    );
    assert_eq!(with("2026-02-01T06:14:00"), None);
    assert_eq!(with("1769926440"), None);
}

#[test]
fn an_answer_without_a_usable_consent_id_cannot_be_read() {
    for body in [
        serde_json::json!({"client_consent_id": "APP-1"}),
        serde_json::json!({"consent": {"expires_at": "2026-02-01T06:14:00Z"}}),
        serde_json::json!({"consent": {"id": "../../oauth2/revoke"}}),
        serde_json::json!({"consent": {"id": CONSENT, "scope_of_consent": "openid"}}),
        serde_json::json!({"consent": {"id": CONSENT, "scope_of_consent": "debt.unsecured.presentation"}}),
        serde_json::json!({"client_consent_id": "APP-2", "consent": {"id": CONSENT}}),
    ] {
        let e = registered(body.clone()).unwrap_err();
        assert_eq!(e.kind(), "bad_answer", "{body}");
        assert!(e.is_retryable(), "{body}");
    }
    let e = read_registered(b"{\"consent\": ", &request()).unwrap_err();
    assert_eq!(e.kind(), "bad_answer");
}

fn spring(status: u16, error: &str, message: &str) -> Vec<u8> {
    serde_json::json!({
        "status": status,
        "timestamp": "2026-01-10T06:14:00.123+00:00",
        "path": "/v1/consent/agreement",
        "error": error,
        "message": message,
        "requestId": "5c1e-42",
    })
    .to_string()
    .into_bytes()
}

#[test]
fn a_409_is_a_conflict_with_ngis_message() {
    let body = spring(
        409,
        "Conflict",
        "This consent (represented by 'client_consent_id') is already registered with some other data.",
    );
    match error_answer(409, &body) {
        Some(AgreementError::Conflict {
            message,
            request_id,
        }) => {
            assert_eq!(
                message,
                "This consent (represented by 'client_consent_id') is already registered with some other data."
            );
            assert_eq!(request_id.as_deref(), Some("5c1e-42"));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn a_400_and_a_403_are_refusals_with_error_message_and_request_id() {
    for status in [400, 403] {
        let body = spring(
            status,
            "Bad Request",
            "nin: invalid national identity number",
        );
        let e = error_answer(status, &body).unwrap();
        assert!(e.is_refusal() && !e.is_retryable());
        match e {
            AgreementError::Refused {
                status: s,
                error,
                message,
                request_id,
            } => {
                assert_eq!(s, status);
                assert_eq!(error, "Bad Request");
                assert_eq!(message, "nin: invalid national identity number");
                assert_eq!(request_id.as_deref(), Some("5c1e-42"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn a_refusal_without_a_body_still_names_its_status() {
    match error_answer(403, b"") {
        Some(AgreementError::Refused {
            error,
            message,
            request_id,
            ..
        }) => {
            assert_eq!(error, "Forbidden");
            assert_eq!(message, "");
            assert_eq!(request_id, None);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_401_or_a_403_invalid_access_token_asks_for_a_fresh_token() {
    assert!(error_answer(401, b"").is_none());
    assert!(error_answer(403, &spring(403, "Invalid Access Token", "x")).is_none());
}

#[test]
fn a_5xx_or_429_is_retryable_and_another_status_is_not() {
    for status in [500, 502, 503, 504, 429] {
        let e = error_answer(status, &spring(status, "Internal Server Error", "x")).unwrap();
        assert_eq!(e.kind(), "unavailable", "{status}");
        assert!(e.is_retryable() && !e.is_refusal(), "{status}");
    }
    for status in [404, 405, 302, 415] {
        let e = error_answer(status, b"").unwrap();
        assert_eq!(e.kind(), "unexpected", "{status}");
        assert!(!e.is_retryable(), "{status}");
    }
}

#[test]
fn ngis_strings_are_cut_and_stripped_before_they_reach_a_log() {
    let long = format!("line one\nline two <script>\u{202e}{}", "x".repeat(500));
    let body = serde_json::json!({
        "status": 400, "error": "Bad\r\nRequest", "message": long, "requestId": "id\n\"x"
    })
    .to_string();
    match error_answer(400, body.as_bytes()) {
        Some(AgreementError::Refused {
            error,
            message,
            request_id,
            ..
        }) => {
            assert_eq!(error, "BadRequest");
            assert!(message.starts_with("line one line two script"), "{message}");
            assert!(!message.contains(['\n', '<', '\u{202e}']), "{message}");
            assert_eq!(
                message.chars().count(),
                crate::ngi::answer::MAX_MESSAGE_CHARS
            );
            assert_eq!(request_id.as_deref(), Some("idx"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn every_kind_is_listed_and_token_troubles_are_retryable_only_when_ngi_was_down() {
    let endpoint = Endpoint::Token;
    let errors = [
        AgreementError::Conflict {
            message: String::new(),
            request_id: None,
        },
        AgreementError::Refused {
            status: 400,
            error: String::new(),
            message: String::new(),
            request_id: None,
        },
        AgreementError::Token(Arc::new(TokenError::Refused {
            audience: Audience::Agreement,
            error: "invalid_client".into(),
        })),
        AgreementError::TokenRefused,
        AgreementError::Unavailable(NgiError::Timeout { endpoint: ENDPOINT }),
        AgreementError::BadAnswer(NgiError::BadAnswer {
            endpoint: ENDPOINT,
            detail: String::new(),
        }),
        AgreementError::Unexpected(NgiError::Status {
            endpoint: ENDPOINT,
            status: 404,
            trace_id: None,
        }),
    ];
    let kinds: Vec<_> = errors.iter().map(AgreementError::kind).collect();
    assert_eq!(kinds, AgreementError::KINDS);
    for e in &errors {
        assert!(crate::ngi::client::NgiError::KINDS.contains(&metrics_kind(e)));
    }
    assert!(!errors[2].is_retryable());
    assert!(!errors[3].is_retryable());
    let token_down =
        AgreementError::Token(Arc::new(TokenError::Ngi(NgiError::Timeout { endpoint })));
    assert!(token_down.is_retryable());
}
