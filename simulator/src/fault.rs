//! Faults tests switch on per endpoint: a delay, another answer, or a connection dropped mid-body.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Fault;
use super::random;

impl Fault {
    /// `status` with NGI's error JSON `{error, error_description, timestamp, trace_id}`.
    pub fn status(code: u16) -> Fault {
        let (error, description) = match code {
            500 => ("server error", "An unexpected server error occurred"),
            502..=504 => (
                "service unavailable",
                "The service is temporarily unavailable",
            ),
            401 => ("unauthorized", "Request was unauthorized"),
            403 => ("forbidden", "Access is denied"),
            404 => ("not found", "The resource was not found"),
            429 => ("too many requests", "Too many requests, try again later"),
            _ => ("error", "Simulated failure"),
        };
        Fault::Respond {
            status: code,
            content_type: "application/json".into(),
            body: serde_json::json!({
                "error": error,
                "error_description": description,
                "timestamp": jiff::Timestamp::now().to_string(),
                "trace_id": random::uuid(),
            })
            .to_string(),
        }
    }

    /// `status` with Spring Boot's error JSON `{status, timestamp, path, error, message,
    /// requestId}`, as the agreement API answers.
    pub fn spring_status(code: u16) -> Fault {
        let error = StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        Fault::Respond {
            status: code,
            content_type: "application/json".into(),
            body: spring_error(
                code,
                error,
                "Simulated failure",
                "/v1/consent/agreement",
                &random::uuid(),
            )
            .to_string(),
        }
    }

    /// 200 `application/json` with a body that is not JSON.
    pub fn garbage() -> Fault {
        Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: "{\"access_token\": \"unterminated <<<garbage>>>".into(),
        }
    }

    /// 200 `text/html` with an HTML body, as a captive portal or a proxy's error page would send.
    pub fn wrong_content_type() -> Fault {
        Fault::Respond {
            status: 200,
            content_type: "text/html; charset=utf-8".into(),
            body: "<!doctype html><html lang=\"en\"><head><title>Maintenance</title></head>\
                   <body><h1>Down for maintenance</h1></body></html>"
                .into(),
        }
    }
}

/// Spring Boot's error body.
pub(crate) fn spring_error(
    status: u16,
    error: &str,
    message: &str,
    path: &str,
    request_id: &str,
) -> serde_json::Value {
    serde_json::json!({
        "status": status,
        "timestamp": jiff::Timestamp::now().to_string(),
        "path": path,
        "error": error,
        "message": message,
        "requestId": request_id,
    })
}

/// What a handler does with the fault set on its endpoint.
pub(crate) enum FaultOutcome {
    /// No fault, or a delay that has passed: answer normally.
    Proceed,
    /// Answer this instead; nothing (code, consent) is consumed.
    Answer(Response),
}

pub(crate) async fn apply(fault: Option<Fault>) -> FaultOutcome {
    match fault {
        None => FaultOutcome::Proceed,
        Some(Fault::Delay(duration)) => {
            tokio::time::sleep(duration).await;
            FaultOutcome::Proceed
        }
        Some(Fault::Respond {
            status,
            content_type,
            body,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let content_type = HeaderValue::try_from(content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            FaultOutcome::Answer(
                (status, [(header::CONTENT_TYPE, content_type)], body).into_response(),
            )
        }
        Some(Fault::EarlyClose) => FaultOutcome::Answer(early_close()),
    }
}

/// Sends the headers and part of a JSON body, pauses so that both reach the client, then fails the body:
/// hyper drops the connection, and the client sees a 200 whose body cannot be read to the end.
fn early_close() -> Response {
    const PARTIAL: &str = "{\"ssn\":\"14842249091\",\"loans\":[{\"creditorName\":\"FJORDKR";
    let chunks = futures_util::stream::unfold(0u8, |step| async move {
        match step {
            0 => Some((Ok(Bytes::from_static(PARTIAL.as_bytes())), 1)),
            1 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let closed =
                    io::Error::new(io::ErrorKind::ConnectionAborted, "simulated early close");
                Some((Err(closed), 2))
            }
            _ => None,
        }
    });
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            // A length the body never reaches, so even a lenient client cannot take the part for the whole.
            (
                header::CONTENT_LENGTH,
                HeaderValue::from(PARTIAL.len() + 4096),
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn status_faults_carry_ngi_error_json() {
        let Fault::Respond {
            status,
            content_type,
            body,
        } = Fault::status(500)
        else {
            unreachable!("status() builds a Respond fault")
        };
        assert_eq!((status, content_type.as_str()), (500, "application/json"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        for field in ["error", "error_description", "timestamp", "trace_id"] {
            assert!(
                json.get(field).is_some_and(|v| v.is_string()),
                "{field} in {body}"
            );
        }
    }

    #[test]
    fn spring_status_faults_carry_springs_error_json() {
        let Fault::Respond { status, body, .. } = Fault::spring_status(503) else {
            unreachable!("spring_status() builds a Respond fault")
        };
        assert_eq!(status, 503);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], 503);
        assert_eq!(json["error"], "Service Unavailable");
        for field in ["timestamp", "path", "message", "requestId"] {
            assert!(
                json.get(field).is_some_and(|v| v.is_string()),
                "{field} in {body}"
            );
        }
    }

    #[test]
    fn garbage_is_not_json() {
        let Fault::Respond { body, .. } = Fault::garbage() else {
            unreachable!()
        };
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
    }
}
