//! `GET /debt`: the debt fetched by this session's last completed flow, while it is fresh.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use tower_sessions::Session;

use crate::error::{AppError, ErrorKind};
use crate::paths;
use crate::web::AppState;
use crate::web::context::PageContext;
use crate::web::pages::{DebtPage, render};
use crate::session::data::DebtSession;

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
    render(&DebtPage::new(&ctx, &summary))
}
