//! What NGI's redirect back to `/v1/callback` says, parsed once: a code, or an error, with a state.
//!
//! `?error=` is data, not a failure to parse: each NGI error code becomes a variant the web layer
//! turns into its own page. `error_description` is kept out of the parsed value on purpose: anyone
//! can forge a callback URL, so its text is never shown or trusted (RFC 9207 §2.4).

use oauth2::{AuthorizationCode, CsrfToken};
use serde::Deserialize;

/// The query string exactly as it arrives; every field optional so that a missing one is our
/// decision, not a generic extractor rejection. `Debug` is written by hand: the code and the
/// state are secrets, so it says only which fields came.
#[derive(Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub scope: Option<String>,
    pub iss: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let came = |v: &Option<String>| if v.is_some() { "[present]" } else { "[absent]" };
        f.debug_struct("CallbackQuery")
            .field("code", &came(&self.code))
            .field("state", &came(&self.state))
            .field(
                "error",
                &NgiErrorCode::parse(self.error.as_deref().unwrap_or("")).as_str(),
            )
            .field("error_description", &came(&self.error_description))
            .field("scope", &came(&self.scope))
            .field("iss", &came(&self.iss))
            .finish()
    }
}

/// The error codes NGI documents for its authorization endpoint, and room for any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NgiErrorCode {
    ConsentDenied,
    LoginCancelled,
    ServerError,
    InvalidScopes,
    /// Any other code, reduced to at most 40 characters of `[a-z0-9_]` so it is safe to log.
    Other(String),
}

impl NgiErrorCode {
    pub fn parse(code: &str) -> Self {
        match code {
            "consent_denied" => Self::ConsentDenied,
            "login_cancelled" => Self::LoginCancelled,
            "server_error" => Self::ServerError,
            "invalid_scopes" => Self::InvalidScopes,
            other => Self::Other(
                other
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(40)
                    .collect::<String>()
                    .to_ascii_lowercase(),
            ),
        }
    }

    /// A fixed label for logs and metrics.
    pub fn as_str(&self) -> &str {
        match self {
            Self::ConsentDenied => "consent_denied",
            Self::LoginCancelled => "login_cancelled",
            Self::ServerError => "server_error",
            Self::InvalidScopes => "invalid_scopes",
            Self::Other(code) => code,
        }
    }
}

/// What the person came back with.
#[derive(Debug)]
pub enum Outcome {
    Granted(AuthorizationCode),
    Refused(NgiErrorCode),
}

/// A callback with a state and an outcome; `iss` is kept for the issuer check that comes first.
#[derive(Debug)]
pub struct Callback {
    pub iss: Option<String>,
    pub state: CsrfToken,
    pub outcome: Outcome,
}

/// A callback that cannot be matched to any flow or says nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the callback has no state")]
    MissingState,
    #[error("the callback has neither a code nor an error")]
    NoOutcome,
}

impl Callback {
    pub fn parse(query: CallbackQuery) -> Result<Self, CallbackError> {
        let present = |v: Option<String>| v.filter(|s| !s.is_empty());
        let state = present(query.state).ok_or(CallbackError::MissingState)?;
        // An error wins over a code: a response carrying both is not a grant (fail closed).
        let outcome = match (present(query.error), present(query.code)) {
            (Some(error), _) => Outcome::Refused(NgiErrorCode::parse(&error)),
            (None, Some(code)) => Outcome::Granted(AuthorizationCode::new(code)),
            (None, None) => return Err(CallbackError::NoOutcome),
        };
        Ok(Self {
            iss: present(query.iss),
            state: CsrfToken::new(state),
            outcome,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> CallbackQuery {
        let encoded = serde_urlencoded::to_string(pairs).unwrap();
        serde_urlencoded::from_str(&encoded).unwrap()
    }

    #[test]
    fn a_code_with_a_state_is_a_grant() {
        let cb = Callback::parse(query(&[
            ("code", "c0de"),
            ("scope", "debt.unsecured.presentation"),
            ("state", "s"),
        ]))
        .unwrap();
        assert_eq!(cb.state.secret(), "s");
        assert!(matches!(cb.outcome, Outcome::Granted(ref c) if c.secret() == "c0de"));
        assert!(cb.iss.is_none());
    }

    #[test]
    fn each_documented_ngi_error_is_its_own_variant() {
        for (code, expected) in [
            ("consent_denied", NgiErrorCode::ConsentDenied),
            ("login_cancelled", NgiErrorCode::LoginCancelled),
            ("server_error", NgiErrorCode::ServerError),
            ("invalid_scopes", NgiErrorCode::InvalidScopes),
        ] {
            let cb = Callback::parse(query(&[("error", code), ("state", "s")])).unwrap();
            assert!(matches!(cb.outcome, Outcome::Refused(ref e) if *e == expected));
        }
    }

    #[test]
    fn an_unknown_error_code_is_kept_but_made_safe_to_log() {
        let cb = Callback::parse(query(&[
            ("error", "access_denied\n<script>alert(1)</script>"),
            ("state", "s"),
        ]))
        .unwrap();
        let Outcome::Refused(NgiErrorCode::Other(code)) = cb.outcome else {
            panic!("expected an unknown error code")
        };
        assert_eq!(code, "access_deniedscriptalert1script");
    }

    #[test]
    fn an_error_wins_over_a_code() {
        let cb = Callback::parse(query(&[
            ("code", "c"),
            ("error", "consent_denied"),
            ("state", "s"),
        ]))
        .unwrap();
        assert!(matches!(cb.outcome, Outcome::Refused(_)));
    }

    #[test]
    fn a_callback_without_state_is_refused_even_with_an_error() {
        for pairs in [
            &[("code", "c")][..],
            &[("error", "consent_denied")],
            &[("state", "")],
        ] {
            assert_eq!(
                Callback::parse(query(pairs)).unwrap_err(),
                CallbackError::MissingState
            );
        }
    }

    #[test]
    fn a_callback_with_only_a_state_says_nothing() {
        assert_eq!(
            Callback::parse(query(&[("state", "s")])).unwrap_err(),
            CallbackError::NoOutcome
        );
    }

    #[test]
    fn debug_output_of_a_callback_shows_no_code_or_state() {
        let q = query(&[
            ("code", "secret-code-value"),
            ("state", "secret-state-value"),
            ("error_description", "secret-description"),
        ]);
        for shown in [format!("{q:?}"), format!("{q:#?}")] {
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.contains("code"));
        }
        let cb = Callback::parse(q).unwrap();
        for shown in [format!("{cb:?}"), format!("{cb:#?}")] {
            assert!(!shown.contains("secret-code-value") && !shown.contains("secret-state-value"));
        }
    }

    #[test]
    fn the_issuer_is_kept_for_checking() {
        let cb = Callback::parse(query(&[
            ("code", "c"),
            ("state", "s"),
            ("iss", "https://access-preprod.norskgjeld.no/"),
        ]))
        .unwrap();
        assert_eq!(
            cb.iss.as_deref(),
            Some("https://access-preprod.norskgjeld.no/")
        );
    }
}
