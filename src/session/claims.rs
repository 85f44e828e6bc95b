//! The session store keeps the record of states already used, for the callback's rules.

use crate::flow::receive::StateClaims;

use super::SessionBackend;

/// The claim set could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("the record of used states: {0}")]
pub struct ClaimFailed(String);

impl StateClaims for SessionBackend {
    type Error = ClaimFailed;

    async fn claim(&self, state_digest: &str) -> Result<bool, ClaimFailed> {
        self.claim_state(state_digest).await.map_err(ClaimFailed)
    }
}
