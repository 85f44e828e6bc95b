//! The console's ledger: the consents with filters and paging, each consent's page with its
//! history, and the actions (the debt again, status, revoke), registration of an integrated
//! consent and signed start links. Input is read by `partner::input`, as the API reads it; the
//! work is done by the same functions the API's handlers call.

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::pages::{
    ConsentPage, ConsentsPage, DebtAgainPage, LinksPage, Nav, Notice, NoticePage, RegisterPage,
    Row, StatusOption, purpose_label, status_label,
};
use super::{Staff, chrome, page, texts, unreadable_form};
use crate::consents::register::{RegisterError, Registered};
use crate::consents::{Revocation, UseError};
use crate::domain::consent::{ConsentId, Status};
use crate::domain::nin::{Nin, mask_identity_numbers};
use crate::domain::time;
use crate::error::{AppError, ErrorKind};
use crate::i18n::ConsoleTexts;
use crate::ledger::{Consent, LedgerError};
use crate::paths;
use crate::web::AppState;
use crate::web::context::PageContext;
use crate::web::pages::{DebtPage, render};
use crate::web::partner::consents::REVOKED_BY_PARTNER;
use crate::web::partner::input::{self, FieldError, ListInput, encode_cursor};
use crate::web::partner::links::start_link;

/// Consents on one page of the console's ledger.
pub const PAGE_SIZE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::CONSOLE_CONSENTS, get(consents))
        .route(paths::CONSOLE_CONSENT, get(consent))
        .route(paths::CONSOLE_CONSENT_DEBT, post(debt_again))
        .route(paths::CONSOLE_CONSENT_STATUS, post(refresh_status))
        .route(paths::CONSOLE_CONSENT_REVOKE, post(revoke))
        .route(paths::CONSOLE_REGISTER, get(register_form).post(register))
        .route(paths::CONSOLE_LINKS, get(links_form).post(make_link))
}

/// The ledger's filters as a form sends them: an empty field is no filter.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    status: Option<String>,
    reference: Option<String>,
    /// Consents on a page: [`PAGE_SIZE`] unless a link asks for another (1 to 1000).
    limit: Option<String>,
    after: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

async fn consents(
    _: Staff,
    State(app): State<AppState>,
    ctx: PageContext,
    filters: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, AppError> {
    // Every filter is optional text: only a query string that is not form-encoded fails here.
    let filters = filters.map(|Query(f)| f).unwrap_or_default();
    let c = texts(&ctx);
    let now = app.now();
    let status = given(&filters.status);
    let reference = given(&filters.reference);
    let page_size = PAGE_SIZE.to_string();
    let limit = given(&filters.limit);
    let asked = input::list_query(
        ListInput {
            status,
            reference,
            limit: Some(limit.unwrap_or(&page_size)),
            after: given(&filters.after),
        },
        now,
    );
    let mut listing = ConsentsPage {
        chrome: chrome(&ctx, paths::CONSOLE_CONSENTS),
        c,
        nav: Nav::at("consents"),
        action: paths::CONSOLE_CONSENTS,
        statuses: Status::ALL
            .into_iter()
            .map(|s| StatusOption {
                value: s.as_str(),
                label: status_label(c, s),
                selected: status == Some(s.as_str()),
            })
            .collect(),
        reference: reference.map(mask_identity_numbers).unwrap_or_default(),
        status_error: false,
        reference_error: false,
        other_error: false,
        rows: Vec::new(),
        next_href: None,
        first_href: None,
    };
    let query = match asked {
        Ok(query) => query,
        Err(FieldError { field, .. }) => {
            match field {
                "status" => listing.status_error = true,
                "reference" => listing.reference_error = true,
                _ => listing.other_error = true,
            }
            let html = render(&listing)?;
            return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, html));
        }
    };
    let paged = query.after.is_some();
    let listed = app.ledger.list(query).await.map_err(ledger_error)?;
    let href = |after: Option<String>| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        if let Some(status) = status {
            pairs.append_pair("status", status);
        }
        if let Some(reference) = reference {
            pairs.append_pair("reference", reference);
        }
        if let Some(limit) = limit {
            pairs.append_pair("limit", limit);
        }
        if let Some(after) = after {
            pairs.append_pair("after", &after);
        }
        let query = pairs.finish();
        if query.is_empty() {
            paths::CONSOLE_CONSENTS.to_owned()
        } else {
            format!("{}?{query}", paths::CONSOLE_CONSENTS)
        }
    };
    listing.next_href = listed.next.map(|next| href(Some(encode_cursor(next))));
    listing.first_href = paged.then(|| href(None));
    listing.rows = listed
        .consents
        .iter()
        .map(|consent| row(c, consent, now))
        .collect();
    Ok(page(StatusCode::OK, render(&listing)?))
}

fn row(c: &'static ConsoleTexts, consent: &Consent, now: jiff::Timestamp) -> Row {
    let id = consent.id.as_ref().map(|id| id.as_str().to_owned());
    Row {
        created: time::oslo_date_time(consent.created_at),
        reference: consent
            .reference
            .as_deref()
            .map(mask_identity_numbers)
            .unwrap_or_default(),
        person: super::pages::person(consent),
        purpose: purpose_label(c, consent.purpose),
        status: status_label(c, consent.status_at(now)),
        href: id
            .as_deref()
            .map(|id| paths::console_consent(paths::CONSOLE_CONSENT, id)),
        id: id.unwrap_or_default(),
    }
}

async fn consent(
    _: Staff,
    State(app): State<AppState>,
    ctx: PageContext,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Ok(id) = input::consent_id(&raw) else {
        return unknown_consent(&ctx);
    };
    match app.ledger.get(&id).await.map_err(ledger_error)? {
        Some(consent) => consent_page(&app, &ctx, &consent, None, StatusCode::OK),
        None => unknown_consent(&ctx),
    }
}

fn consent_page(
    app: &AppState,
    ctx: &PageContext,
    consent: &Consent,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let path = consent.id.as_ref().map_or_else(
        || paths::CONSOLE_CONSENTS.to_owned(),
        |id| paths::console_consent(paths::CONSOLE_CONSENT, id.as_str()),
    );
    let mut consent_page = ConsentPage::new(chrome(ctx, &path), texts(ctx), consent, app.now());
    if let Some(notice) = notice {
        consent_page = consent_page.with_notice(notice);
    }
    Ok(page(status, render(&consent_page)?))
}

async fn debt_again(
    _: Staff,
    State(app): State<AppState>,
    ctx: PageContext,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Ok(id) = input::consent_id(&raw) else {
        return unknown_consent(&ctx);
    };
    match app
        .lifecycle
        .debt_again(&id, app.now(), &ctx.request_id)
        .await
    {
        Ok(summary) => {
            let back_href = paths::console_consent(paths::CONSOLE_CONSENT, id.as_str());
            let debt = DebtPage::new(ctx.chrome(paths::CONSOLE), &summary);
            let html = render(&DebtAgainPage {
                chrome: chrome(&ctx, &back_href),
                c: texts(&ctx),
                nav: Nav::at("consents"),
                debt,
                back_href,
            })?;
            Ok(page(StatusCode::OK, html))
        }
        Err(e) => use_failed(&app, &ctx, &id, e).await,
    }
}

async fn refresh_status(
    _: Staff,
    State(app): State<AppState>,
    ctx: PageContext,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Ok(id) = input::consent_id(&raw) else {
        return unknown_consent(&ctx);
    };
    match app
        .lifecycle
        .refresh_status(&id, app.now(), &ctx.request_id)
        .await
    {
        Ok(consent) => {
            let notice = Notice::ok(texts(&ctx).status_checked);
            consent_page(&app, &ctx, &consent, Some(notice), StatusCode::OK)
        }
        Err(e) => use_failed(&app, &ctx, &id, e).await,
    }
}

async fn revoke(
    _: Staff,
    State(app): State<AppState>,
    ctx: PageContext,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Ok(id) = input::consent_id(&raw) else {
        return unknown_consent(&ctx);
    };
    let c = texts(&ctx);
    match app
        .lifecycle
        .revoke(&id, REVOKED_BY_PARTNER, app.now(), &ctx.request_id)
        .await
    {
        Ok(revocation) => {
            let (status, text) = match &revocation {
                Revocation::Revoked(_) => (StatusCode::OK, c.revoked),
                Revocation::AlreadyEnded(_) => (StatusCode::OK, c.revoke_already_ended),
                Revocation::Pending(_) => (StatusCode::ACCEPTED, c.revoke_pending),
            };
            let notice = Notice::ok(text);
            consent_page(&app, &ctx, revocation.consent(), Some(notice), status)
        }
        Err(e) => use_failed(&app, &ctx, &id, e).await,
    }
}

/// An action the lifecycle refused or could not finish: the consent's page with what happened.
async fn use_failed(
    app: &AppState,
    ctx: &PageContext,
    id: &ConsentId,
    e: UseError,
) -> Result<Response, AppError> {
    let c = texts(ctx);
    let (status, notice) = match e {
        UseError::Unknown => return unknown_consent(ctx),
        UseError::SingleUse { .. } => (StatusCode::CONFLICT, Notice::error(c.err_single_use)),
        UseError::NotActive { .. } => (StatusCode::CONFLICT, Notice::error(c.err_not_active)),
        UseError::Ngi(e) => {
            tracing::warn!(error = %crate::error::chain(&e), "NGI could not answer for a consent");
            (StatusCode::BAD_GATEWAY, Notice::error(c.err_ngi))
        }
        UseError::Ledger(e) => return Err(ledger_error(e)),
    };
    match app.ledger.get(id).await.map_err(ledger_error)? {
        Some(consent) => consent_page(app, ctx, &consent, Some(notice), status),
        None => unknown_consent(ctx),
    }
}

fn unknown_consent(ctx: &PageContext) -> Result<Response, AppError> {
    let c = texts(ctx);
    let html = render(&NoticePage {
        chrome: chrome(ctx, paths::CONSOLE_CONSENTS),
        c,
        nav: Nav::at("consents"),
        title: c.consent_title,
        notice: Notice::error(c.err_unknown_consent),
        back_href: paths::CONSOLE_CONSENTS,
        back_label: c.back_to_consents,
    })?;
    Ok(page(StatusCode::NOT_FOUND, html))
}

fn ledger_error(e: LedgerError) -> AppError {
    AppError::caused_by(ErrorKind::Unavailable, "consent ledger", e)
}

async fn register_form(_: Staff, ctx: PageContext) -> Result<Html<String>, AppError> {
    render(&RegisterPage::new(
        chrome(&ctx, paths::CONSOLE_REGISTER),
        texts(&ctx),
    ))
}

/// The registration form. No `Debug`: it holds a full identity number.
#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    nin: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    duration_days: String,
    #[serde(default)]
    reference: String,
}

async fn register(
    _: Staff,
    State(app): State<AppState>,
    ctx: PageContext,
    form: Result<Form<RegisterForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(form) = form.map_err(unreadable_form)?;
    let c = texts(&ctx);
    let mut again = RegisterPage::new(chrome(&ctx, paths::CONSOLE_REGISTER), c);
    again.purpose = match form.purpose.as_str() {
        "processing" => "processing",
        _ => "presentation",
    };
    again.days = mask_identity_numbers(form.duration_days.trim());
    again.reference = mask_identity_numbers(form.reference.trim());
    let reference = Some(form.reference.trim()).filter(|r| !r.is_empty());
    // Not a number at all is the days' own error, named before the other fields are read.
    let Ok(days) = form.duration_days.trim().parse::<i64>() else {
        again.days_error = true;
        again.nin_error = Nin::parse(&form.nin).is_err();
        return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, render(&again)?));
    };
    let consent = match input::integrated_consent(&form.nin, &form.purpose, days, reference) {
        Ok(consent) => consent,
        Err(FieldError { field, .. }) => {
            match field {
                "nin" => again.nin_error = true,
                "purpose" => again.purpose_error = true,
                "reference" => again.reference_error = Some(c.reference_invalid),
                _ => again.days_error = true,
            }
            return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, render(&again)?));
        }
    };
    let Some(registrations) = &app.registrations else {
        // Not reachable: the console is only mounted with a token, which gives this.
        return Err(AppError::with_cause(
            ErrorKind::Internal,
            "registrations without a partner token",
        ));
    };
    let outcome = registrations
        .register(&consent, app.now(), &ctx.request_id)
        .await;
    let (status, notice) = match outcome {
        Ok(Registered::Same(row)) if row.status == Status::Refused => (
            StatusCode::CONFLICT,
            Notice::error(c.register_refused_before),
        ),
        Ok(Registered::Created(row) | Registered::Same(row)) => {
            return consent_page(
                &app,
                &ctx,
                &row,
                Some(Notice::ok(c.registered)),
                StatusCode::OK,
            );
        }
        Err(RegisterError::ReferenceTaken(_)) => {
            again.reference_error = Some(c.register_taken);
            return Ok(page(StatusCode::CONFLICT, render(&again)?));
        }
        Err(RegisterError::ConflictAtNgi { message, .. }) => {
            again.reference_error = Some(c.register_conflict_at_ngi);
            again.notice = Some(Notice::error(c.register_conflict_at_ngi).with_detail(&message));
            return Ok(page(StatusCode::CONFLICT, render(&again)?));
        }
        Err(RegisterError::RefusedByNgi {
            status: 400,
            message,
            ..
        }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Notice::error(c.register_refused).with_detail(&message),
        ),
        Err(RegisterError::RefusedByNgi { error, .. }) => {
            tracing::error!(%error, "NGI refused this client an integrated consent");
            (StatusCode::BAD_GATEWAY, Notice::error(c.register_failed))
        }
        Err(RegisterError::Pending { source, .. }) => {
            tracing::warn!(error = %crate::error::chain(&source), "NGI did not confirm a registration");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Notice::error(c.register_pending),
            )
        }
        Err(RegisterError::Failed { source, .. }) => {
            tracing::error!(error = %crate::error::chain(&source), "an integrated consent could not be registered");
            (StatusCode::BAD_GATEWAY, Notice::error(c.register_failed))
        }
        Err(RegisterError::Ledger(e)) => return Err(ledger_error(e)),
    };
    again.notice = Some(notice);
    Ok(page(status, render(&again)?))
}

async fn links_form(_: Staff, ctx: PageContext) -> Result<Html<String>, AppError> {
    render(&links_page(&ctx))
}

fn links_page(ctx: &PageContext) -> LinksPage {
    LinksPage {
        chrome: chrome(ctx, paths::CONSOLE_LINKS),
        c: texts(ctx),
        nav: Nav::at("links"),
        action: paths::CONSOLE_LINKS,
        reference: String::new(),
        error: false,
        link: None,
    }
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    reference: String,
}

async fn make_link(
    _: Staff,
    State(app): State<AppState>,
    ctx: PageContext,
    form: Result<Form<LinkForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(form) = form.map_err(unreadable_form)?;
    let mut links = links_page(&ctx);
    let raw = form.reference.trim();
    links.reference = mask_identity_numbers(raw);
    let Ok(reference) = input::link_reference(raw) else {
        links.error = true;
        return Ok(page(StatusCode::UNPROCESSABLE_ENTITY, render(&links)?));
    };
    let link = start_link(&app, &reference).ok_or_else(|| {
        AppError::with_cause(ErrorKind::Internal, "a start link without a link key")
    })?;
    links.link = Some((link.url.to_string(), time::oslo_date_time(link.expires_at)));
    Ok((StatusCode::CREATED, render(&links)?).into_response())
}
