//! `POST /consent/withdraw`: the person withdraws, on our site, the lasting consent behind the
//! debt shown. The consent id comes from the session only (a form could name anyone's); the
//! page context has already refused a form posted from another site. Posting again is harmless:
//! a revoked consent stays revoked, and one not yet confirmed is tried again.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tower_sessions::Session;

use crate::consents::{Revocation, UseError};
use crate::error::{AppError, ErrorKind};
use crate::paths;
use crate::session::data::ConsentSession;
use crate::web::AppState;
use crate::web::context::PageContext;
use crate::web::pages::{WithdrawnPage, render};

/// The history reason of a withdrawal made here.
pub const WITHDRAWN_BY_THE_PERSON: &str = "withdrawn by the person on the partner's site";

pub fn router() -> Router<AppState> {
    Router::new().route(paths::CONSENT_WITHDRAW, post(withdraw))
}

async fn withdraw(
    State(app): State<AppState>,
    ctx: PageContext,
    session: Session,
) -> Result<Response, AppError> {
    let id = ConsentSession(&session)
        .current()
        .await
        .map_err(AppError::session)?
        .ok_or_else(|| {
            AppError::with_cause(ErrorKind::NoConsent, "no lasting consent in the session")
        })?;
    let revocation = app
        .lifecycle
        .revoke(&id, WITHDRAWN_BY_THE_PERSON, app.now(), &ctx.request_id)
        .await
        .map_err(|e| match e {
            UseError::Ledger(e) => AppError::caused_by(ErrorKind::Unavailable, "consent ledger", e),
            UseError::Ngi(e) => AppError::caused_by(ErrorKind::NgiUnavailable, "withdrawal", e),
            // The ledger does not hold it (its write after the fetch failed), or it is not a
            // lasting one: nothing this person can withdraw here.
            other => AppError::caused_by(ErrorKind::NoConsent, "withdrawal", other),
        })?;
    let t = ctx.lang.texts();
    let (status, outcome, title, body, retry) = match revocation {
        Revocation::Revoked(_) => (
            StatusCode::OK,
            "withdrawn",
            t.withdrawn_title,
            t.withdrawn_body,
            None,
        ),
        Revocation::AlreadyEnded(_) => (
            StatusCode::OK,
            "ended",
            t.withdraw_ended_title,
            t.withdraw_ended_body,
            None,
        ),
        // Accepted, not done: housekeeping retries until NGI confirms.
        Revocation::Pending(_) => (
            StatusCode::ACCEPTED,
            "pending",
            t.withdraw_pending_title,
            t.withdraw_pending_body,
            Some(paths::CONSENT_WITHDRAW),
        ),
    };
    tracing::info!(
        consent.withdrawal = outcome,
        "consent withdrawal by the person"
    );
    let page = render(&WithdrawnPage {
        chrome: ctx.chrome(paths::LANDING),
        outcome,
        title,
        body,
        retry_action: retry,
        home_href: paths::LANDING,
    })?;
    Ok((status, page).into_response())
}
