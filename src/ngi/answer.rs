//! Reading NGI's answers: the body within a size cap, the debt answer into the domain, error
//! answers into typed errors, and strings NGI sends made safe for a log line.

use reqwest::header::{self, HeaderValue};

use super::error::{Endpoint, NgiError};
use super::wire;
use crate::domain::debt::DebtSummary;

/// Reads a debt API answer (`GET /v1/debt`, `GET /v1/debt/{id}`): 200 with JSON debt information
/// becomes the summary; 403 is [`NgiError::ConsentNotValid`] with NGI's `error`; anything else is
/// [`NgiError::Status`]. The body is read within [`MAX_ANSWER_BYTES`].
pub(crate) async fn read_debt_answer(
    endpoint: Endpoint,
    response: reqwest::Response,
) -> Result<DebtSummary, NgiError> {
    let status = response.status();
    let json = is_json(response.headers().get(header::CONTENT_TYPE));
    let body = read_body(endpoint, response).await?;
    if status == reqwest::StatusCode::OK {
        if !json {
            return Err(NgiError::BadAnswer {
                endpoint,
                detail: "the answer is not JSON".into(),
            });
        }
        let info: wire::DebtInformation =
            serde_json::from_slice(&body).map_err(|e| NgiError::BadAnswer {
                endpoint,
                detail: format!("not debt information: {}", json_error(&e)),
            })?;
        return DebtSummary::try_from(info).map_err(|e| NgiError::BadAnswer {
            endpoint,
            detail: e.to_string(),
        });
    }
    Err(error_answer(endpoint, status.as_u16(), &body))
}

/// An error answer from the debt API: 403 is [`NgiError::ConsentNotValid`] with NGI's `error`
/// (cut to a loggable string), anything else [`NgiError::Status`].
pub(crate) fn error_answer(endpoint: Endpoint, status: u16, body: &[u8]) -> NgiError {
    let error: Option<wire::ErrorBody> = serde_json::from_slice(body).ok();
    let trace_id = error
        .as_ref()
        .and_then(|e| e.trace_id.as_deref())
        .map(loggable);
    if status == 403 {
        return NgiError::ConsentNotValid {
            error: error
                .and_then(|e| e.error)
                .map_or_else(|| "forbidden".into(), |e| loggable(&e)),
            trace_id,
        };
    }
    NgiError::Status {
        endpoint,
        status,
        trace_id,
    }
}

/// The most of a string from NGI (an error code, a trace id) that reaches a log line.
pub(crate) const MAX_LOGGED_CHARS: usize = 64;

/// A string NGI sent, made safe for a log line: at most [`MAX_LOGGED_CHARS`] characters of ASCII
/// letters, digits, space and `_-.:`, so an answer cannot forge lines, hide behind control
/// characters or fill the log. Documented codes and trace ids (`invalid consent`, UUIDs) pass
/// unchanged.
pub(crate) fn loggable(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | ':'))
        .take(MAX_LOGGED_CHARS)
        .collect()
}

/// The most of a sentence from NGI (a Spring error's `message`) that is kept.
pub(crate) const MAX_MESSAGE_CHARS: usize = 200;

/// A sentence NGI sent for people to read (a Spring error's `message`, possibly in Norwegian),
/// made safe for a log line and a page: at most [`MAX_MESSAGE_CHARS`] characters of letters
/// (any script), digits, space and ordinary punctuation. Control and formatting characters
/// (line breaks, direction overrides), markup and quotes that could end a JSON or HTML string
/// are dropped.
pub(crate) fn loggable_message(value: &str) -> String {
    let kept: String = value
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| {
            c.is_alphanumeric()
                || matches!(
                    c,
                    ' ' | '_' | '-' | '.' | ':' | ',' | ';' | '\'' | '(' | ')' | '/' | '?' | '!'
                )
        })
        .take(MAX_MESSAGE_CHARS)
        .collect();
    crate::domain::nin::mask_long_numbers(kept.trim())
}

/// What kind of JSON error, and where, without serde's text: it quotes the offending value,
/// which in a debt answer could be a national identity number or an amount.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// The most of an answer from NGI we read: a debt answer is a few kilobytes.
pub(crate) const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Reads an answer's body, refusing one larger than `MAX_ANSWER_BYTES`.
pub(crate) async fn read_body(
    endpoint: Endpoint,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, NgiError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| NgiError::from_reqwest(endpoint, e))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(NgiError::BadAnswer {
                endpoint,
                detail: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}
