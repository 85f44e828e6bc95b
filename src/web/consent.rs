//! Starting a consent flow (`/consent/start`) and NGI's redirect back (`/v1/callback`).
//!
//! The callback's checks and their order are `flow::receive`'s; this handler loads what they
//! need, calls them, completes a granted flow, rotates the session id, saves and answers. It
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

use crate::domain::consent::ConsentId;
use crate::domain::debt::DebtSummary;
use crate::domain::nin::Nin;
use crate::domain::reference::Reference;
use crate::error::{AppError, ErrorKind};
use crate::flow::callback::{Callback, CallbackQuery};
use crate::flow::link::{LinkError, LinkParts};
use crate::flow::pending;
use crate::flow::receive::{Refusal, SessionFlows, Verdict};
use crate::flow::{self, CompleteError};
use crate::ngi::client::NgiError;
use crate::paths;
use crate::session::data::{ConsentSession, DebtSession, FlowSession};
use crate::web::AppState;
use crate::web::context::PageContext;
use crate::web::pages::{LandingPage, render};
use crate::web::ratelimit::{self, RateLimit};

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

/// A partner's signed start link: `?ref=&exp=&sig=` (see `flow::link`). All absent is a plain
/// start.
#[derive(Deserialize, Default)]
struct LinkQuery {
    #[serde(rename = "ref")]
    reference: Option<String>,
    exp: Option<String>,
    sig: Option<String>,
}

/// The application reference a start link carries, checked; a link that fails any check starts
/// nothing. Without a partner token no link can be checked, so any reference is refused.
fn linked_reference(
    app: &AppState,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Option<Reference>, AppError> {
    let Query(query) =
        query.map_err(|_| AppError::with_cause(ErrorKind::BadLink, "malformed start link"))?;
    let parts = LinkParts {
        reference: query.reference.as_deref(),
        expires: query.exp.as_deref(),
        signature: query.sig.as_deref(),
    };
    let checked = match &app.link_key {
        Some(key) => key.verify(parts, app.now()),
        None if query.reference.is_none() && query.exp.is_none() && query.sig.is_none() => Ok(None),
        None => Err(LinkError::BadSignature),
    };
    checked.map_err(|e| AppError::caused_by(ErrorKind::BadLink, "start link refused", e))
}

async fn start_from_link(
    State(app): State<AppState>,
    ctx: PageContext,
    session: Session,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let reference = linked_reference(&app, query)?;
    start(&app, &ctx, &session, None, reference).await
}

/// The landing form posts to the bare start path; a link's parameters, should a form ever carry
/// them in its action, are checked the same way.
async fn start_from_form(
    State(app): State<AppState>,
    ctx: PageContext,
    session: Session,
    query: Result<Query<LinkQuery>, QueryRejection>,
    form: Result<Form<StartForm>, FormRejection>,
) -> Result<Response, AppError> {
    let reference = linked_reference(&app, query)?;
    let Form(form) =
        form.map_err(|_| AppError::with_cause(ErrorKind::BadRequest, "malformed start form"))?;
    let nin = match form.nin.trim() {
        "" => None,
        typed => match Nin::parse(typed) {
            Ok(nin) => Some(nin),
            Err(_) => {
                let page = render(&LandingPage::new(
                    ctx.chrome(paths::LANDING),
                    &app.scope,
                    true,
                ))?;
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        },
    };
    start(&app, &ctx, &session, nin, reference).await
}

async fn start(
    app: &AppState,
    ctx: &PageContext,
    session: &Session,
    nin: Option<Nin>,
    reference: Option<Reference>,
) -> Result<Response, AppError> {
    // While NGI's issuer is not known, no callback could be checked: send no one to NGI.
    if app.ngi.issuer_rule().is_none() {
        return Err(AppError::with_cause(
            ErrorKind::NgiUnavailable,
            "NGI's issuer is not known yet: no flow is started",
        ));
    }
    let now = app.now();
    // A new flow fetches anew: debt shown before is not kept beside it.
    DebtSession(session)
        .clear()
        .await
        .map_err(AppError::session)?;
    ConsentSession(session)
        .clear()
        .await
        .map_err(AppError::session)?;
    let (authorize_url, pending) = flow::start(&app.ngi, now, nin, reference);
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

/// Every outcome label the callback counter can carry: success, a replay, each refusal of the
/// flow's rules, and each error that can follow a grant (ours or NGI's).
pub fn callback_outcomes() -> impl Iterator<Item = &'static str> {
    const AFTER_A_GRANT: &[ErrorKind] = &[
        ErrorKind::BadRequest,
        ErrorKind::TokenRefused,
        ErrorKind::ClientRefused,
        ErrorKind::ConsentNotValid,
        ErrorKind::PurposeMismatch,
        ErrorKind::PersonMismatch,
        ErrorKind::NgiUnavailable,
        ErrorKind::NgiTimeout,
        ErrorKind::NgiBadAnswer,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];
    ["success", "replayed"]
        .into_iter()
        .chain(Refusal::LABELS.iter().copied())
        .chain(AFTER_A_GRANT.iter().map(|k| k.as_str()))
}

/// How a callback that did not fail ended.
enum Completed {
    /// The flow completed now.
    Now,
    /// Back or reload onto a flow completed before.
    Before,
}

/// How a callback failed: refused by the flow's rules (each with its own metric label), or an
/// error on the way (ours or NGI's).
enum Failed {
    Refused(Refusal),
    Error(AppError),
}

impl From<Refusal> for Failed {
    fn from(refusal: Refusal) -> Self {
        Failed::Refused(refusal)
    }
}

impl From<AppError> for Failed {
    fn from(e: AppError) -> Self {
        Failed::Error(e)
    }
}

impl From<NgiError> for Failed {
    fn from(e: NgiError) -> Self {
        Failed::Error(e.into())
    }
}

impl From<CompleteError> for Failed {
    fn from(e: CompleteError) -> Self {
        Failed::Error(e.into())
    }
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
        Err(Failed::Refused(refusal)) => refusal.metric_label(),
        Err(Failed::Error(e)) => e.kind.as_str(),
    };
    crate::metrics::callback(outcome);
    match result {
        Ok(_) => Ok(Redirect::to(paths::DEBT).into_response()),
        Err(Failed::Refused(refusal)) => Err(refusal.into()),
        Err(Failed::Error(e)) => Err(e),
    }
}

/// Records the flow's consent in the ledger. Nothing here stops the person from seeing their
/// debt: the consent exists at NGI whatever we failed to write, and a later feed of NGI's
/// consent events will tell us of it, so a ledger failure is logged and counted, not shown.
async fn record_consent(
    app: &AppState,
    ctx: &PageContext,
    summary: &DebtSummary,
    reference: Option<String>,
    now: jiff::Timestamp,
) {
    let granted = match flow::record::granted_consent(summary, app.ngi.scope(), reference) {
        Ok(granted) => granted,
        Err(e) => {
            tracing::warn!(
                error = %crate::error::chain(&e),
                "the flow's consent is not recorded in the ledger"
            );
            return;
        }
    };
    match app.ledger.record_granted(granted, now).await {
        // Said on the request's line: `consent.status` is there only when the write succeeded.
        Ok(consent) => {
            ctx.span.record("consent.status", consent.status.as_str());
        }
        Err(e) => {
            crate::metrics::ledger_write_failed("record_granted");
            tracing::error!(
                error = %crate::error::chain(&e),
                "the flow's consent could not be recorded in the ledger"
            );
        }
    }
}

/// Loads what the flow's rules need, applies them, and on a grant completes the flow: exchange,
/// fetch, a new session id (the session now holds personal data), the result kept.
async fn handle_callback(
    app: &AppState,
    ctx: &PageContext,
    session: &Session,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Result<Completed, Failed> {
    // The rejection's text is not logged: it could quote the query, which holds the code.
    let Query(query) = query
        .map_err(|_| AppError::with_cause(ErrorKind::BadRequest, "malformed callback query"))?;
    let callback = Callback::parse(query).map_err(Refusal::from)?;
    ctx.record_flow(&pending::flow_id(&callback.state));

    // The issuer is pinned, or read from discovery at start-up (retried in the background): a
    // callback asks nobody, and while it is not known no callback can be checked.
    let Some(issuer) = app.ngi.issuer_rule() else {
        return Err(AppError::with_cause(
            ErrorKind::NgiUnavailable,
            "NGI's issuer is not known yet: its discovery document has not been read",
        )
        .into());
    };
    let now = app.now();
    let flows = FlowSession(session);
    let mut pending_flows = flows.pending().await.map_err(AppError::session)?;
    let pending_before = pending_flows.len();
    let completed = flows.completed().await.map_err(AppError::session)?;
    let result_shown = DebtSession(session)
        .has_current(now)
        .await
        .map_err(AppError::session)?;
    let verdict = flow::receive::receive(
        callback,
        SessionFlows {
            pending: &mut pending_flows,
            completed: &completed,
            result_shown,
        },
        &app.sessions,
        issuer,
        now,
    )
    .await
    .map_err(|e| {
        AppError::caused_by(
            ErrorKind::Unavailable,
            "session store: claiming the state",
            e,
        )
    })?;
    if pending_flows.len() != pending_before {
        flows
            .set_pending(&pending_flows)
            .await
            .map_err(AppError::session)?;
    }
    let (code, pending) = match verdict {
        Verdict::Granted { code, pending } => (code, pending),
        Verdict::Revisited => return Ok(Completed::Before),
        Verdict::Refused(refusal) => return Err(refusal.into()),
    };

    // Exchange once, fetch once; the token is dropped when `complete` returns.
    let state_digest = pending::digest(pending.state());
    let (summary, reference) =
        flow::complete(&app.ngi, pending, code, &ctx.request_id, app.now()).await?;
    let application_reference = reference.as_ref().map(|r| r.as_str().to_owned());
    record_consent(app, ctx, &summary, application_reference, now).await;

    // An extended consent (the site asked for days) can be withdrawn from the debt page: the
    // session keeps its id, so the withdrawal never takes one from the browser.
    let withdrawable = app
        .scope
        .days()
        .and(summary.consent.as_ref())
        .and_then(|consent| consent.id.parse::<ConsentId>().ok());
    session.cycle_id().await.map_err(AppError::session)?;
    if let Some(id) = &withdrawable {
        ConsentSession(session)
            .keep(id)
            .await
            .map_err(AppError::session)?;
    }
    DebtSession(session)
        .store(summary, now)
        .await
        .map_err(AppError::session)?;
    let mut completed = completed;
    completed.record_digest(state_digest);
    flows
        .set_completed(&completed)
        .await
        .map_err(AppError::session)?;
    // The request's own log line (route /v1/callback, its flow id, 303) records the outcome.
    ctx.record_outcome("success");
    ctx.span.record("flow.with_reference", reference.is_some());
    Ok(Completed::Now)
}
