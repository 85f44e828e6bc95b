//! `AppError`: the one error handlers return. Each kind is a status and a page in the person's
//! language; the page itself is rendered by `web::context`, which knows the language and the
//! request id, so turning an error into a response has no side effects.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::flow::CompleteError;
use crate::flow::callback::NgiErrorCode;
use crate::i18n::{ErrorText, Texts};
use crate::ngi::client::NgiError;

/// What the person is told, one variant per page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    ConsentDenied,
    LoginCancelled,
    NgiServerError,
    InvalidScopes,
    NgiOther,
    FlowUnknown,
    FlowExpired,
    TokenRefused,
    ConsentNotValid,
    NgiUnavailable,
    NgiTimeout,
    NgiBadAnswer,
    PersonMismatch,
    NoDebt,
    BadRequest,
    NotFound,
    Unavailable,
    TooManyRequests,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::ConsentDenied | ErrorKind::LoginCancelled | ErrorKind::PersonMismatch => {
                StatusCode::FORBIDDEN
            }
            ErrorKind::FlowUnknown | ErrorKind::FlowExpired | ErrorKind::BadRequest => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::NoDebt | ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::NgiServerError
            | ErrorKind::NgiOther
            | ErrorKind::TokenRefused
            | ErrorKind::ConsentNotValid
            | ErrorKind::NgiBadAnswer => StatusCode::BAD_GATEWAY,
            ErrorKind::NgiUnavailable | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::NgiTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::InvalidScopes | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A fixed label for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConsentDenied => "consent_denied",
            ErrorKind::LoginCancelled => "login_cancelled",
            ErrorKind::NgiServerError => "ngi_server_error",
            ErrorKind::InvalidScopes => "invalid_scopes",
            ErrorKind::NgiOther => "ngi_other_error",
            ErrorKind::FlowUnknown => "flow_unknown",
            ErrorKind::FlowExpired => "flow_expired",
            ErrorKind::TokenRefused => "token_refused",
            ErrorKind::ConsentNotValid => "consent_not_valid",
            ErrorKind::NgiUnavailable => "ngi_unavailable",
            ErrorKind::NgiTimeout => "ngi_timeout",
            ErrorKind::NgiBadAnswer => "ngi_bad_answer",
            ErrorKind::PersonMismatch => "person_mismatch",
            ErrorKind::NoDebt => "no_debt",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::TooManyRequests => "too_many_requests",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn text(self, t: &'static Texts) -> ErrorText {
        match self {
            ErrorKind::ConsentDenied => t.err_consent_denied,
            ErrorKind::LoginCancelled => t.err_login_cancelled,
            ErrorKind::NgiServerError => t.err_ngi_server_error,
            ErrorKind::InvalidScopes => t.err_invalid_scopes,
            ErrorKind::NgiOther => t.err_ngi_other,
            ErrorKind::FlowUnknown => t.err_flow_unknown,
            ErrorKind::FlowExpired => t.err_flow_expired,
            ErrorKind::TokenRefused => t.err_token_refused,
            ErrorKind::ConsentNotValid => t.err_consent_not_valid,
            ErrorKind::NgiUnavailable => t.err_ngi_unavailable,
            ErrorKind::NgiTimeout => t.err_ngi_timeout,
            ErrorKind::NgiBadAnswer => t.err_ngi_bad_answer,
            ErrorKind::PersonMismatch => t.err_person_mismatch,
            ErrorKind::NoDebt => t.err_no_debt,
            ErrorKind::BadRequest => t.err_bad_request,
            ErrorKind::NotFound => t.err_not_found,
            ErrorKind::Unavailable => t.err_unavailable,
            ErrorKind::TooManyRequests => t.err_too_many_requests,
            ErrorKind::Internal => t.err_internal,
        }
    }

    /// Whether the page offers "start again" (a new consent flow) or just the front page.
    pub fn offers_restart(self) -> bool {
        !matches!(self, ErrorKind::BadRequest | ErrorKind::NotFound)
    }
}

/// An error on its way to becoming a page. `cause` is for the log line only, never the page, and
/// never holds a secret (codes, tokens, states and identity numbers are not put in error text).
#[derive(Debug, Clone)]
pub struct AppError {
    pub kind: ErrorKind,
    pub cause: Option<String>,
}

impl AppError {
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, cause: None }
    }

    pub fn with_cause(kind: ErrorKind, cause: impl std::fmt::Display) -> Self {
        Self {
            kind,
            cause: Some(cause.to_string()),
        }
    }

    pub fn session(e: tower_sessions::session::Error) -> Self {
        Self::with_cause(ErrorKind::Unavailable, format!("session store: {e}"))
    }
}

impl From<&NgiErrorCode> for ErrorKind {
    fn from(code: &NgiErrorCode) -> Self {
        match code {
            NgiErrorCode::ConsentDenied => ErrorKind::ConsentDenied,
            NgiErrorCode::LoginCancelled => ErrorKind::LoginCancelled,
            NgiErrorCode::ServerError => ErrorKind::NgiServerError,
            NgiErrorCode::InvalidScopes => ErrorKind::InvalidScopes,
            NgiErrorCode::Other(_) => ErrorKind::NgiOther,
        }
    }
}

impl From<NgiError> for AppError {
    fn from(e: NgiError) -> Self {
        let kind = match &e {
            NgiError::TokenRefused { .. } => ErrorKind::TokenRefused,
            NgiError::ConsentNotValid { .. } => ErrorKind::ConsentNotValid,
            NgiError::Status { status, .. } if *status >= 500 => ErrorKind::NgiUnavailable,
            NgiError::Status { .. } | NgiError::BadAnswer { .. } => ErrorKind::NgiBadAnswer,
            NgiError::Timeout { .. } => ErrorKind::NgiTimeout,
            NgiError::Unreachable { .. } => ErrorKind::NgiUnavailable,
        };
        AppError::with_cause(kind, e)
    }
}

impl From<CompleteError> for AppError {
    fn from(e: CompleteError) -> Self {
        match e {
            CompleteError::Ngi(e) => e.into(),
            CompleteError::PersonMismatch => AppError::with_cause(
                ErrorKind::PersonMismatch,
                "NGI's ssn differs from the national identity number the applicant gave",
            ),
        }
    }
}

/// The page is filled in by `web::context::render_errors`; this carries the kind to it.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = self.kind.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_has_a_page_in_both_languages() {
        use crate::i18n::Lang;
        let kinds = [
            ErrorKind::ConsentDenied,
            ErrorKind::LoginCancelled,
            ErrorKind::NgiServerError,
            ErrorKind::InvalidScopes,
            ErrorKind::NgiOther,
            ErrorKind::FlowUnknown,
            ErrorKind::FlowExpired,
            ErrorKind::TokenRefused,
            ErrorKind::ConsentNotValid,
            ErrorKind::NgiUnavailable,
            ErrorKind::NgiTimeout,
            ErrorKind::NgiBadAnswer,
            ErrorKind::PersonMismatch,
            ErrorKind::NoDebt,
            ErrorKind::BadRequest,
            ErrorKind::NotFound,
            ErrorKind::Unavailable,
            ErrorKind::TooManyRequests,
            ErrorKind::Internal,
        ];
        for lang in [Lang::Nb, Lang::En] {
            let mut titles = std::collections::HashSet::new();
            for kind in kinds {
                let text = kind.text(lang.texts());
                assert!(!text.title.is_empty() && !text.body.is_empty());
                assert!(titles.insert(text.title), "{kind:?} shares a title");
                assert!(kind.status().is_client_error() || kind.status().is_server_error());
            }
        }
    }

    #[test]
    fn upstream_faults_map_to_gateway_statuses() {
        use crate::ngi::client::Endpoint;
        let kind = |e: NgiError| AppError::from(e).kind;
        assert_eq!(
            kind(NgiError::Timeout {
                endpoint: Endpoint::Debt
            }),
            ErrorKind::NgiTimeout
        );
        assert_eq!(
            kind(NgiError::Status {
                endpoint: Endpoint::Token,
                status: 503,
                trace_id: None
            }),
            ErrorKind::NgiUnavailable
        );
        assert_eq!(
            kind(NgiError::Status {
                endpoint: Endpoint::Debt,
                status: 404,
                trace_id: None
            }),
            ErrorKind::NgiBadAnswer
        );
        assert_eq!(
            kind(NgiError::TokenRefused {
                code: "invalid_grant".into()
            }),
            ErrorKind::TokenRefused
        );
    }
}
