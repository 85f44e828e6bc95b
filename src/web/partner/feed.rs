//! The consent feed as the partner sees it, for `GET /partner/api/feed` and the console's
//! `/partner/feed`: what this instance's follower last did (read from it, never driving it) and
//! the events the ledger recorded last.

use axum::Json;
use axum::extract::State;

use super::consents::ledger_problem;
use super::problem::{Problem, ProblemBody};
use super::views::FeedView;
use crate::domain::nin::mask_long_numbers;
use crate::feed::FeedState;
use crate::ledger::{FeedEventRecord, LedgerError};
use crate::paths;
use crate::web::AppState;

/// The events shown, newest first.
pub const EVENTS_SHOWN: u32 = 50;

/// The follower's state and the last events, as both the API and the console show them.
#[derive(Debug, Clone)]
pub struct FeedSnapshot {
    /// As [`crate::feed::Follower::state`] gives it, but its error with long numbers masked.
    pub state: FeedState,
    /// At most [`EVENTS_SHOWN`], newest first.
    pub events: Vec<FeedEventRecord>,
}

impl FeedSnapshot {
    /// `state` made fit to show: an error's chain of causes may quote what NGI sent (a body
    /// that could not be read), so every run of six or more digits in it is masked, as the
    /// partner API's problems mask them.
    pub fn new(mut state: FeedState, events: Vec<FeedEventRecord>) -> Self {
        state.last_error = state.last_error.as_deref().map(mask_long_numbers);
        Self { state, events }
    }
}

/// Reads the follower's state and the ledger's last events.
pub async fn snapshot(app: &AppState) -> Result<FeedSnapshot, LedgerError> {
    let state = app.follower.state();
    let events = app.ledger.recent_feed_events(EVENTS_SHOWN).await?;
    Ok(FeedSnapshot::new(state, events))
}

/// The consent feed's state on this instance, and the last 50 events the ledger recorded.
#[utoipa::path(
    get,
    path = paths::PARTNER_FEED,
    tag = "feed",
    responses(
        (status = 200, description = "The follower's state and the last events, newest first", body = FeedView),
        (status = 401, description = "No token, or not the right one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The consent ledger could not be read", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn feed_state(State(app): State<AppState>) -> Result<Json<FeedView>, Problem> {
    let snapshot = snapshot(&app).await.map_err(ledger_problem)?;
    Ok(Json(FeedView::new(&snapshot)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_in_the_last_error_is_masked_and_the_rest_kept() {
        let state = FeedState {
            last_error: Some(
                "NGI's consent feed could not be read: not JSON: 14842249091 at line 1".into(),
            ),
            ..FeedState::default()
        };
        let shown = FeedSnapshot::new(state, Vec::new());
        assert_eq!(
            shown.state.last_error.as_deref(),
            Some("NGI's consent feed could not be read: not JSON: *********** at line 1")
        );
        assert_eq!(
            FeedSnapshot::new(FeedState::default(), Vec::new())
                .state
                .last_error,
            None
        );
    }
}
