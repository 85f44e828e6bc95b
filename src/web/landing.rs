//! `GET /`: the loan-application step that says what will be fetched, from whom, why and for how
//! long, and starts the flow.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::error::AppError;
use crate::paths;
use crate::web::AppState;
use crate::web::context::PageContext;
use crate::web::pages::{LandingPage, render};

pub fn router() -> Router<AppState> {
    Router::new().route(paths::LANDING, get(landing))
}

async fn landing(State(app): State<AppState>, ctx: PageContext) -> Result<Html<String>, AppError> {
    render(&LandingPage::new(
        ctx.chrome(paths::LANDING),
        &app.scope,
        false,
    ))
}
