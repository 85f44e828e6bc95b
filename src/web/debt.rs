//! `GET /debt`: the debt fetched by this session's last completed flow, while it is fresh.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use tower_sessions::Session;

use crate::error::{AppError, ErrorKind};
use crate::paths;
use crate::session::data::{ConsentSession, DebtSession};
use crate::web::AppState;
use crate::web::context::PageContext;
use crate::web::pages::{DebtPage, render};

pub fn router() -> Router<AppState> {
    Router::new().route(paths::DEBT, get(show_debt))
}

async fn show_debt(
    State(app): State<AppState>,
    ctx: PageContext,
    session: Session,
) -> Result<Html<String>, AppError> {
    let summary = DebtSession(&session)
        .current(app.now())
        .await
        .map_err(AppError::session)?
        .ok_or_else(|| AppError::new(ErrorKind::NoDebt))?;
    let withdrawable = ConsentSession(&session)
        .current()
        .await
        .map_err(AppError::session)?;
    let page = DebtPage::new(ctx.chrome(paths::DEBT), &summary);
    // The form only for the consent this page shows, and only when the session kept it.
    let page = match (&withdrawable, &summary.consent) {
        (Some(id), Some(shown)) if shown.id == id.as_str() => page.with_withdrawal(),
        _ => page,
    };
    render(&page)
}
