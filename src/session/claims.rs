//! The session store keeps the record of states already used, for the callback's rules.

use crate::flow::receive::StateClaims;

use super::SessionBackend;
use super::backend::ClaimError;

impl StateClaims for SessionBackend {
    type Error = ClaimError;

    async fn claim(&self, state_digest: &str) -> Result<bool, ClaimError> {
        self.claim_state(state_digest).await
    }
}
