//! The consent flow's rules: what is kept while the person is at NGI, what a callback says, and
//! what completing a flow means (exchange once, fetch once, check it is the expected person).

pub mod callback;
pub mod link;
pub mod pending;
pub mod receive;
pub mod record;

use jiff::Timestamp;
use oauth2::AuthorizationCode;
use url::Url;

use crate::domain::debt::DebtSummary;
use crate::domain::nin::Nin;
use crate::domain::reference::Reference;
use crate::domain::scope::Purpose;
use crate::ngi::client::{IdTokenError, NgiClient, NgiError};
use crate::ngi::id_token::IdTokenRefusal;
use pending::{PendingAuthorization, new_state};

/// Starts a flow: the URL to send the browser to, and the pending authorization to keep. The
/// reference, when a signed link carried one, travels in the pending flow to the callback.
pub fn start(
    ngi: &NgiClient,
    now: Timestamp,
    expected_nin: Option<Nin>,
    reference: Option<Reference>,
) -> (Url, PendingAuthorization) {
    let auth = ngi.authorize(new_state);
    let pending = PendingAuthorization::new(auth.state, auth.pkce_verifier, now, expected_nin)
        .with_reference(reference)
        .with_nonce(auth.nonce);
    (auth.url, pending)
}

/// Why a granted flow did not end with debt to show.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    #[error(transparent)]
    Ngi(#[from] NgiError),
    /// The applicant named a national identity number and NGI's `ssn` is another one.
    #[error("the debt information is about another person")]
    PersonMismatch,
    /// NGI's token answer or debt answer names another purpose than the one asked for.
    #[error("NGI's {answer} is for another purpose than the one asked for")]
    PurposeMismatch { answer: &'static str },
    /// The token answer carried an ID token that did not pass, or does not agree with the
    /// debt answer.
    #[error("NGI's ID token was refused")]
    IdTokenRefused(#[source] IdTokenRefusal),
}

/// Completes a granted flow whose state has already been taken and checked: exchanges the code
/// (once), verifies the ID token if one came, fetches the debt (once) and drops the tokens. The
/// summary is only returned when it is about the person the applicant said they are and, with an
/// ID token, the person and consent the token names; it comes with the application reference
/// the flow was started with, if any. `now` is our clock, for the ID token's times.
pub async fn complete(
    ngi: &NgiClient,
    pending: PendingAuthorization,
    code: AuthorizationCode,
    trace_id: &str,
    now: Timestamp,
) -> Result<(DebtSummary, Option<Reference>), CompleteError> {
    let (_state, verifier, expected_nin, reference, nonce) = pending.into_parts();
    let asked = ngi.scope().purpose();
    let grant = ngi.exchange_code(code, verifier, trace_id).await?;
    if !granted_as_asked(asked, grant.scopes.as_deref()) {
        return Err(CompleteError::PurposeMismatch {
            answer: "token answer",
        });
    }
    // NGI's FAQ says no ID token comes, its scope reference says one does: none is normal, and
    // one that came must pass in full before the debt is even fetched.
    let verified = match &grant.id_token {
        None => {
            crate::metrics::id_token("absent");
            None
        }
        Some(token) => match ngi.verify_id_token(token, nonce.as_ref(), now).await {
            Ok(verified) => Some(verified),
            Err(IdTokenError::Refused(refusal)) => {
                crate::metrics::id_token("refused");
                return Err(CompleteError::IdTokenRefused(refusal));
            }
            Err(IdTokenError::Keys(e)) => return Err(e.into()),
        },
    };
    drop(grant.id_token);
    let summary = ngi.fetch_debt(&grant.access_token, trace_id).await?;
    if let Some(verified) = verified {
        let consent_id = summary.consent.as_ref().map(|c| c.id.as_str());
        if let Err(refusal) = verified.check_debt(&summary.ssn, consent_id) {
            crate::metrics::id_token("refused");
            return Err(CompleteError::IdTokenRefused(refusal));
        }
        crate::metrics::id_token("verified");
    }
    if summary
        .consent
        .as_ref()
        .and_then(|c| c.purpose)
        .is_some_and(|p| p != asked)
    {
        return Err(CompleteError::PurposeMismatch {
            answer: "debt answer",
        });
    }
    match expected_nin {
        Some(expected) if expected != summary.ssn => Err(CompleteError::PersonMismatch),
        _ => Ok((summary, reference)),
    }
}

/// Whether the token answer's scope grants the purpose asked for and no other. A `scope` left out
/// means the one asked for (RFC 6749 §5.1); one without any debt scope grants nothing we asked.
fn granted_as_asked(asked: Purpose, scopes: Option<&[String]>) -> bool {
    let Some(scopes) = scopes else {
        return true;
    };
    let mut purposes = scopes.iter().filter_map(|s| Purpose::from_granted_scope(s));
    let mut any = false;
    let all_asked = purposes.all(|p| {
        any = true;
        p == asked
    });
    any && all_asked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_purpose_granted_must_be_the_purpose_asked_for() {
        let asked = Purpose::Presentation;
        assert!(granted_as_asked(asked, None));
        for ok in [
            &["debt.unsecured.presentation"][..],
            &["debt.unsecured.presentation.30", "openid"],
        ] {
            assert!(granted_as_asked(asked, Some(&scopes(ok))), "{ok:?}");
        }
        for refused in [
            &["debt.unsecured.processing"][..],
            &["debt.unsecured.processing.28"],
            &["debt.unsecured.presentation", "debt.unsecured.processing"],
            &["openid"],
            &[],
        ] {
            assert!(
                !granted_as_asked(asked, Some(&scopes(refused))),
                "{refused:?}"
            );
        }
    }
}
