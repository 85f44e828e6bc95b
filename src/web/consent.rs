//! Starting a consent flow (`/consent/start`) and NGI's redirect back (`/v1/callback`).
//!
//! The callback checks, in this order: `iss` if present, then the state (taken out of the session
//! and claimed in the session store before anything else happens, so it is single-use across
//! instances even if what follows fails), then `error`, and only then exchanges the code. It
//! never renders the debt itself: it answers 303 to `/debt`, so reload and Back never send the
//! code again.

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;

use crate::domain::nin::Nin;
use crate::error::{AppError, ErrorKind};
use crate::flow;
use crate::flow::callback::{Callback, CallbackQuery, Outcome};
use crate::flow::pending::{self, TakeError};
use crate::paths;
use crate::web::AppState;
use crate::web::context::PageContext;
use crate::web::pages::{LandingPage, render};
use crate::web::ratelimit::{self, RateLimit};
use crate::session::data::{DebtSession, FlowSession};

pub fn router(rate_limit: Option<&RateLimit>) -> Router<AppState> {
    let start = get(start_from_link).post(start_from_form);
    let start = match rate_limit {
        Some(config) => start.layer(ratelimit::layer(config)),
        None => start,
    };
    Router::new()
        .route(paths::CONSENT_START, start)
        .route(paths::CALLBACK, get(callback))
        .route(paths::SESSION_END, post(end_session))
}

/// "Delete the information now": the session and everything in it goes, here and in the
/// store, and the browser is asked to drop its cookies for the site.
async fn end_session(session: Session) -> Result<Response, AppError> {
    session.flush().await.map_err(AppError::session)?;
    tracing::info!(flow.outcome = "ended", "session ended by the person");
    let mut response = Redirect::to(paths::LANDING).into_response();
    response.headers_mut().insert(
        axum::http::HeaderName::from_static("clear-site-data"),
        axum::http::HeaderValue::from_static("\"cookies\""),
    );
    Ok(response)
}

/// The landing form. The national identity number is posted, never put in a URL.
#[derive(Deserialize)]
struct StartForm {
    #[serde(default)]
    nin: String,
}

async fn start_from_link(
    State(app): State<AppState>,
    ctx: PageContext,
    session: Session,
) -> Result<Response, AppError> {
    start(&app, &ctx, &session, None).await
}

async fn start_from_form(
    State(app): State<AppState>,
    ctx: PageContext,
    session: Session,
    form: Result<Form<StartForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(form) =
        form.map_err(|_| AppError::with_cause(ErrorKind::BadRequest, "malformed start form"))?;
    let nin = match form.nin.trim() {
        "" => None,
        typed => match Nin::parse(typed) {
            Ok(nin) => Some(nin),
            Err(_) => {
                let page = render(&LandingPage::new(&ctx, &app.scope, true))?;
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        },
    };
    start(&app, &ctx, &session, nin).await
}

async fn start(
    app: &AppState,
    ctx: &PageContext,
    session: &Session,
    nin: Option<Nin>,
) -> Result<Response, AppError> {
    let now = app.now();
    // A new flow fetches anew: debt shown before is not kept beside it.
    DebtSession(session)
        .clear()
        .await
        .map_err(AppError::session)?;
    let (authorize_url, pending) = flow::start(&app.ngi, now, nin);
    ctx.record_flow(&pending.flow_id());
    let flows = FlowSession(session);
    let mut pending_flows = flows.pending().await.map_err(AppError::session)?;
    pending_flows.push(pending, now);
    flows
        .set_pending(&pending_flows)
        .await
        .map_err(AppError::session)?;
    crate::metrics::flow_started();
    // The request's own log line (route /consent/start, its flow id, 303) records the start.
    tracing::debug!(flow.outcome = "started", "consent flow started");
    Ok(Redirect::to(authorize_url.as_str()).into_response())
}

/// How a callback that did not fail ended.
enum Completed {
    /// The flow completed now.
    Now,
    /// Back or reload onto a flow completed before.
    Before,
}

async fn callback(
    State(app): State<AppState>,
    ctx: PageContext,
    session: Session,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let result = handle_callback(&app, &ctx, &session, query).await;
    let outcome = match &result {
        Ok(Completed::Now) => "success",
        Ok(Completed::Before) => "replayed",
        Err(e) => e.kind.as_str(),
    };
    crate::metrics::callback(outcome);
    result.map(|_| Redirect::to(paths::DEBT).into_response())
}

async fn handle_callback(
    app: &AppState,
    ctx: &PageContext,
    session: &Session,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Result<Completed, AppError> {
    // The rejection's text is not logged: it could quote the query, which holds the code.
    let Query(query) = query
        .map_err(|_| AppError::with_cause(ErrorKind::BadRequest, "malformed callback query"))?;
    let callback = Callback::parse(query).map_err(|e| {
        AppError::with_cause(
            ErrorKind::FlowUnknown,
            format!("flow.outcome=state_invalid: {e}"),
        )
    })?;

    ctx.record_flow(&pending::flow_id(&callback.state));

    // 1. The issuer (RFC 9207): when the callback names one it must be NGI's, and when NGI
    //    promised to name itself, a callback that does not is refused. The rule is pinned, or
    //    read from discovery at start-up (retried in the background): a callback asks nobody.
    let Some(rule) = app.ngi.issuer_rule() else {
        return Err(AppError::with_cause(
            ErrorKind::NgiUnavailable,
            "NGI's issuer is not known yet: its discovery document has not been read",
        ));
    };
    let refused = match &callback.iss {
        Some(iss) => *iss != rule.issuer,
        None => rule.required,
    };
    if refused {
        return Err(AppError::with_cause(
            ErrorKind::FlowUnknown,
            "flow.outcome=issuer_mismatch: the callback's iss is not NGI's issuer",
        ));
    }

    // 2. The state: taken out of this session's pending flows, and then claimed in the store
    //    (below), which is what makes it single-use: a claimed state is refused for as long as
    //    a flow could live, whether or not this request's session is ever saved.
    let now = app.now();
    let flows = FlowSession(session);
    let mut pending_flows = flows.pending().await.map_err(AppError::session)?;
    let taken = pending_flows.take(&callback.state, now);
    if !matches!(taken, Err(TakeError::Unknown)) {
        flows
            .set_pending(&pending_flows)
            .await
            .map_err(AppError::session)?;
    }
    let pending = match taken {
        Ok(pending) => pending,
        Err(TakeError::Expired) => {
            return Err(AppError::with_cause(
                ErrorKind::FlowExpired,
                "flow.outcome=expired",
            ));
        }
        Err(TakeError::Unknown) => return replayed_or_unknown(session, &callback, app).await,
    };

    // Only one request may go on with this state, whatever raced it to the session.
    let first = app
        .sessions
        .claim_state(&pending::digest(&callback.state))
        .await
        .map_err(|e| AppError::with_cause(ErrorKind::Unavailable, format!("session store: {e}")))?;
    if !first {
        return Err(AppError::with_cause(
            ErrorKind::FlowUnknown,
            "flow.outcome=state_invalid: the state was already used by another request",
        ));
    }

    // 3. NGI's answer: an error is a page of its own.
    let code = match callback.outcome {
        Outcome::Granted(code) => code,
        Outcome::Refused(error) => {
            let kind = ErrorKind::from(&error);
            return Err(AppError::with_cause(
                kind,
                format!(
                    "flow.outcome={}: NGI redirected back with an error",
                    error.as_str()
                ),
            ));
        }
    };

    // 4. Exchange once, fetch once; the token is dropped when `complete` returns.
    let summary = flow::complete(&app.ngi, pending, code, &ctx.request_id).await?;

    // 5. A new session id now that the session holds personal data (fixation), then the result.
    session.cycle_id().await.map_err(AppError::session)?;
    DebtSession(session)
        .store(summary, now)
        .await
        .map_err(AppError::session)?;
    let mut completed = flows.completed().await.map_err(AppError::session)?;
    completed.record(&callback.state);
    flows
        .set_completed(&completed)
        .await
        .map_err(AppError::session)?;
    tracing::info!(flow.outcome = "success", "consent flow completed");
    Ok(Completed::Now)
}

/// A state this session has no pending flow for: Back or reload onto a completed callback leads
/// to the result still shown; anything else is a flow we do not know.
async fn replayed_or_unknown(
    session: &Session,
    callback: &Callback,
    app: &AppState,
) -> Result<Completed, AppError> {
    let completed = FlowSession(session)
        .completed()
        .await
        .map_err(AppError::session)?;
    if completed.contains(&callback.state)
        && DebtSession(session)
            .has_current(app.now())
            .await
            .map_err(AppError::session)?
    {
        return Ok(Completed::Before);
    }
    Err(AppError::with_cause(
        ErrorKind::FlowUnknown,
        "flow.outcome=state_invalid: no pending flow with that state in this session",
    ))
}
