//! `AppError`: the one error handlers return. Each kind is a status and a page in the person's
//! language; the page itself is rendered by `web::context`, which knows the language and the
//! request id, so turning an error into a response has no side effects.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::flow::CompleteError;
use crate::flow::callback::NgiErrorCode;
use crate::flow::receive::Refusal;
use crate::i18n::{ErrorText, Texts};
use crate::ngi::client::NgiError;

/// An error's text followed by its sources', `: `-separated: the one way this crate writes an
/// error with its causes, for a log line or a start-up message.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Declares every outcome kind from one table: the enum, `ALL`, and each kind's status, label,
/// text, whether its page offers a new flow, and whether operators must hear of it even when the
/// status is a 4xx. A new outcome is one row here and its texts in `i18n`.
macro_rules! error_kinds {
    ($(
        $(#[$doc:meta])*
        $kind:ident => ($status:ident, $label:literal, $text:ident, restart: $restart:literal, alert: $alert:literal),
    )+) => {
        /// What the person is told, one variant per page.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorKind {
            $($(#[$doc])* $kind,)+
        }

        impl ErrorKind {
            /// Every kind, in table order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind,)+];

            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorKind::$kind => StatusCode::$status,)+
                }
            }

            /// A fixed label for logs and metrics.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $label,)+
                }
            }

            pub fn text(self, t: &'static Texts) -> ErrorText {
                match self {
                    $(ErrorKind::$kind => t.$text,)+
                }
            }

            /// Whether the page offers "start again" (a new consent flow) or just the front page.
            pub fn offers_restart(self) -> bool {
                match self {
                    $(ErrorKind::$kind => $restart,)+
                }
            }

            /// Whether the log line is at error level: always for a 5xx, and for the 4xx that
            /// only we can fix (our own request to NGI was wrong).
            pub fn alerts(self) -> bool {
                self.status().is_server_error()
                    || match self {
                        $(ErrorKind::$kind => $alert,)+
                    }
            }
        }
    };
}

// NGI's own error codes (`?error=` on the callback) are 4xx: the browser relays them, and anyone
// can send them with a state of their own, so they must not count as our failures (load
// balancers with outlier detection take an instance out of rotation after a run of 5xx). 5xx is
// kept for our own calls to NGI that fail (502/504) and our own store (503).
error_kinds! {
    ConsentDenied => (FORBIDDEN, "consent_denied", err_consent_denied, restart: true, alert: false),
    LoginCancelled => (FORBIDDEN, "login_cancelled", err_login_cancelled, restart: true, alert: false),
    /// NGI says it failed (`error=server_error`), as relayed by the browser.
    NgiServerError => (BAD_REQUEST, "ngi_server_error", err_ngi_server_error, restart: true, alert: false),
    /// NGI refused the scope we asked for: our configuration is wrong, so operators must hear of it.
    InvalidScopes => (BAD_REQUEST, "invalid_scopes", err_invalid_scopes, restart: true, alert: true),
    /// An error code NGI does not document.
    NgiOther => (BAD_REQUEST, "ngi_other_error", err_ngi_other, restart: true, alert: false),
    FlowUnknown => (BAD_REQUEST, "flow_unknown", err_flow_unknown, restart: true, alert: false),
    FlowExpired => (BAD_REQUEST, "flow_expired", err_flow_expired, restart: true, alert: false),
    /// NGI did not accept the code (`invalid_grant`): used, expired or made up. A browser can send
    /// any code with its own state, so this is a 4xx, not our failure.
    TokenRefused => (BAD_REQUEST, "token_refused", err_token_refused, restart: true, alert: false),
    /// NGI refused us as a client (`invalid_client`, `unauthorized_client` …): our configuration.
    ClientRefused => (BAD_GATEWAY, "client_refused", err_client_refused, restart: true, alert: true),
    ConsentNotValid => (BAD_GATEWAY, "consent_not_valid", err_consent_not_valid, restart: true, alert: false),
    /// NGI granted, or answered under, another purpose than the one asked for.
    PurposeMismatch => (BAD_GATEWAY, "purpose_mismatch", err_purpose_mismatch, restart: true, alert: false),
    NgiUnavailable => (SERVICE_UNAVAILABLE, "ngi_unavailable", err_ngi_unavailable, restart: true, alert: false),
    NgiTimeout => (GATEWAY_TIMEOUT, "ngi_timeout", err_ngi_timeout, restart: true, alert: false),
    NgiBadAnswer => (BAD_GATEWAY, "ngi_bad_answer", err_ngi_bad_answer, restart: true, alert: false),
    PersonMismatch => (FORBIDDEN, "person_mismatch", err_person_mismatch, restart: true, alert: false),
    /// NGI's ID token failed a check (signature, issuer, audience, time, nonce, or it names
    /// another person or consent than the debt answer): NGI's failure, or someone posing as NGI.
    IdTokenRefused => (BAD_GATEWAY, "id_token_refused", err_id_token_refused, restart: true, alert: false),
    NoDebt => (NOT_FOUND, "no_debt", err_no_debt, restart: true, alert: false),
    /// A withdrawal with no lasting consent in the session.
    NoConsent => (NOT_FOUND, "no_consent", err_no_consent, restart: false, alert: false),
    BadRequest => (BAD_REQUEST, "bad_request", err_bad_request, restart: false, alert: false),
    /// A start link whose application reference is unsigned, altered, expired or malformed: the
    /// person goes back to the partner's application, so no plain restart is offered.
    BadLink => (BAD_REQUEST, "bad_link", err_bad_link, restart: false, alert: false),
    NotFound => (NOT_FOUND, "not_found", err_not_found, restart: false, alert: false),
    Unavailable => (SERVICE_UNAVAILABLE, "unavailable", err_unavailable, restart: true, alert: false),
    TooManyRequests => (TOO_MANY_REQUESTS, "too_many_requests", err_too_many_requests, restart: true, alert: false),
    CrossSite => (FORBIDDEN, "cross_site", err_cross_site, restart: false, alert: false),
    Internal => (INTERNAL_SERVER_ERROR, "internal", err_internal, restart: true, alert: false),
}

/// An error on its way to becoming a page. `context` and `source` are for the log line only,
/// never the page, and never hold a secret (codes, tokens, states and identity numbers are not
/// put in error text). The source is kept as an error, so the log line shows its whole chain.
#[derive(Debug, Clone)]
pub struct AppError {
    pub kind: ErrorKind,
    context: Option<&'static str>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl AppError {
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            context: None,
            source: None,
        }
    }

    /// An error with a fixed explanation for the log.
    pub fn with_cause(kind: ErrorKind, context: &'static str) -> Self {
        Self {
            kind,
            context: Some(context),
            source: None,
        }
    }

    /// An error caused by another one, kept whole for the log's cause chain.
    pub fn caused_by(
        kind: ErrorKind,
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            context: Some(context),
            source: Some(Arc::new(source)),
        }
    }

    pub fn session(e: tower_sessions::session::Error) -> Self {
        Self::caused_by(ErrorKind::Unavailable, "session store", e)
    }

    /// `context: source: source's source …`, for the one log line an error gets.
    pub fn cause_chain(&self) -> String {
        match (self.context, &self.source) {
            (Some(context), Some(source)) => format!("{context}: {}", chain(source.as_ref())),
            (None, Some(source)) => chain(source.as_ref()),
            (Some(context), None) => context.to_owned(),
            (None, None) => String::new(),
        }
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

impl From<&Refusal> for ErrorKind {
    fn from(refusal: &Refusal) -> Self {
        match refusal {
            Refusal::Malformed(_)
            | Refusal::IssuerMismatch
            | Refusal::Unknown
            | Refusal::AlreadyClaimed => ErrorKind::FlowUnknown,
            Refusal::Expired => ErrorKind::FlowExpired,
            Refusal::Ngi(code) => code.into(),
        }
    }
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        let kind = ErrorKind::from(&refusal);
        AppError::caused_by(kind, "callback refused", refusal)
    }
}

impl From<NgiError> for AppError {
    fn from(e: NgiError) -> Self {
        let kind = match &e {
            NgiError::TokenRefused { code } if code == "invalid_grant" => ErrorKind::TokenRefused,
            NgiError::TokenRefused { .. } => ErrorKind::ClientRefused,
            NgiError::ConsentNotValid { .. } => ErrorKind::ConsentNotValid,
            NgiError::Status { status, .. } if *status >= 500 => ErrorKind::NgiUnavailable,
            NgiError::Status { .. } | NgiError::BadAnswer { .. } => ErrorKind::NgiBadAnswer,
            NgiError::Timeout { .. } => ErrorKind::NgiTimeout,
            NgiError::Unreachable { .. } => ErrorKind::NgiUnavailable,
        };
        AppError::caused_by(kind, "NGI", e)
    }
}

impl From<CompleteError> for AppError {
    fn from(e: CompleteError) -> Self {
        match e {
            CompleteError::Ngi(e) => e.into(),
            CompleteError::PersonMismatch
            | CompleteError::PurposeMismatch { .. }
            | CompleteError::IdTokenRefused(_) => {
                let kind = match e {
                    CompleteError::PersonMismatch => ErrorKind::PersonMismatch,
                    CompleteError::IdTokenRefused(_) => ErrorKind::IdTokenRefused,
                    _ => ErrorKind::PurposeMismatch,
                };
                AppError::caused_by(kind, "the flow did not complete", e)
            }
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
        let kinds = ErrorKind::ALL;
        for lang in [Lang::Nb, Lang::En] {
            let mut titles = std::collections::HashSet::new();
            for &kind in kinds {
                let text = kind.text(lang.texts());
                assert!(!text.title.is_empty() && !text.body.is_empty());
                assert!(titles.insert(text.title), "{kind:?} shares a title");
                assert!(kind.status().is_client_error() || kind.status().is_server_error());
            }
        }
    }

    #[test]
    fn every_error_kind_has_its_own_label() {
        let labels: std::collections::HashSet<_> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(labels.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn ngi_error_codes_relayed_by_a_browser_are_never_5xx() {
        for code in [
            "server_error",
            "invalid_scopes",
            "consent_denied",
            "login_cancelled",
            "x",
        ] {
            let kind = ErrorKind::from(&NgiErrorCode::parse(code));
            assert!(kind.status().is_client_error(), "{code}: {}", kind.status());
        }
    }

    #[test]
    fn a_refused_scope_is_still_an_error_level_log_line() {
        assert!(ErrorKind::InvalidScopes.alerts());
        assert!(!ErrorKind::ConsentDenied.alerts());
        assert!(ErrorKind::NgiUnavailable.alerts());
    }

    #[test]
    fn the_log_cause_shows_the_whole_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = AppError::caused_by(
            ErrorKind::Unavailable,
            "session store",
            Outer(std::io::Error::other("connection refused")),
        );
        assert_eq!(e.cause_chain(), "session store: outer: connection refused");
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
        assert!(ErrorKind::TokenRefused.status().is_client_error());
        assert_eq!(
            kind(NgiError::TokenRefused {
                code: "invalid_client".into()
            }),
            ErrorKind::ClientRefused
        );
    }
}
