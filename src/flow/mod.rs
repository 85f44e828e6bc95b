//! The consent flow's rules: what is kept while the person is at NGI, what a callback says, and
//! what completing a flow means (exchange once, fetch once, check it is the expected person).

pub mod callback;
pub mod pending;

use jiff::Timestamp;
use oauth2::AuthorizationCode;
use url::Url;

use crate::domain::debt::DebtSummary;
use crate::domain::nin::Nin;
use crate::ngi::client::{NgiClient, NgiError};
use pending::{PendingAuthorization, new_state};

/// Starts a flow: the URL to send the browser to, and the pending authorization to keep.
pub fn start(
    ngi: &NgiClient,
    now: Timestamp,
    expected_nin: Option<Nin>,
) -> (Url, PendingAuthorization) {
    let auth = ngi.authorize(new_state);
    let pending = PendingAuthorization::new(auth.state, auth.pkce_verifier, now, expected_nin);
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
}

/// Completes a granted flow whose state has already been taken and checked: exchanges the code
/// (once), fetches the debt (once) and drops the token. The summary is only returned when it is
/// about the person the applicant said they are.
pub async fn complete(
    ngi: &NgiClient,
    pending: PendingAuthorization,
    code: AuthorizationCode,
    trace_id: &str,
) -> Result<DebtSummary, CompleteError> {
    let (_state, verifier, expected_nin) = pending.into_parts();
    let token = ngi.exchange_code(code, verifier, trace_id).await?;
    let summary = ngi.fetch_debt(&token, trace_id).await?;
    match expected_nin {
        Some(expected) if expected != summary.ssn => Err(CompleteError::PersonMismatch),
        _ => Ok(summary),
    }
}
