//! Pending authorizations: what a session remembers between sending the person to NGI and their
//! return, and the rules for taking one back (single use, ten minutes, a few per session).

use jiff::{SignedDuration, Timestamp};
use oauth2::{CsrfToken, PkceCodeVerifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::nin::Nin;
use crate::domain::reference::Reference;
use crate::ngi::id_token::Nonce;

/// How long a person may take at NGI (login with BankID, consent) before the flow expires.
pub const FLOW_LIFETIME: SignedDuration = SignedDuration::from_mins(10);
/// Flows kept per session: enough for a few tabs, too few to fill the session store.
pub const MAX_PENDING_PER_SESSION: usize = 5;
/// Completed flows remembered per session, so the back button finds the result instead of an error.
const MAX_COMPLETED_PER_SESSION: usize = 5;
/// Random bytes in a `state` value: 256 bits (RFC 6749 §10.10 asks for at least 128).
pub const STATE_BYTES: u32 = 32;

/// One flow sent to NGI and not yet back. Lives only in the server-side session.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingAuthorization {
    state: CsrfToken,
    pkce_verifier: Option<PkceCodeVerifier>,
    created_at: Timestamp,
    expected_nin: Option<Nin>,
    /// The partner's application reference, from a signed start link (checked before the flow
    /// started). Absent in sessions written before references existed.
    #[serde(default)]
    reference: Option<Reference>,
    /// The OpenID Connect nonce sent with this flow (only with `openid`); the ID token must
    /// carry it back. Absent in sessions written before ID tokens were checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<Nonce>,
}

impl PendingAuthorization {
    pub fn new(
        state: CsrfToken,
        pkce_verifier: Option<PkceCodeVerifier>,
        created_at: Timestamp,
        expected_nin: Option<Nin>,
    ) -> Self {
        Self {
            state,
            pkce_verifier,
            created_at,
            expected_nin,
            reference: None,
            nonce: None,
        }
    }

    /// The same flow, with the nonce its authorization request carried.
    pub fn with_nonce(mut self, nonce: Option<Nonce>) -> Self {
        self.nonce = nonce;
        self
    }

    /// The same flow, carrying the application reference a signed link gave.
    pub fn with_reference(mut self, reference: Option<Reference>) -> Self {
        self.reference = reference;
        self
    }

    /// The application reference this flow was started with, if any.
    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        now.duration_since(self.created_at) >= FLOW_LIFETIME
    }

    /// The state this flow was sent to NGI with.
    pub fn state(&self) -> &CsrfToken {
        &self.state
    }

    pub fn flow_id(&self) -> String {
        flow_id(&self.state)
    }

    /// The PKCE verifier, for the code exchange (it never leaves the server otherwise), the
    /// expected person, the application reference and the nonce.
    pub fn into_parts(
        self,
    ) -> (
        CsrfToken,
        Option<PkceCodeVerifier>,
        Option<Nin>,
        Option<Reference>,
        Option<Nonce>,
    ) {
        (
            self.state,
            self.pkce_verifier,
            self.expected_nin,
            self.reference,
            self.nonce,
        )
    }
}

/// Why a returning `state` could not be matched to a pending flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TakeError {
    #[error("no pending flow in this session has that state")]
    Unknown,
    #[error("the pending flow with that state has expired")]
    Expired,
}

/// The pending flows of one session, oldest first, at most `MAX_PENDING_PER_SESSION`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PendingFlows {
    flows: Vec<PendingAuthorization>,
}

impl PendingFlows {
    /// Adds a flow, dropping expired ones and, when full, the oldest.
    pub fn push(&mut self, flow: PendingAuthorization, now: Timestamp) {
        self.flows.retain(|f| !f.is_expired(now));
        while self.flows.len() >= MAX_PENDING_PER_SESSION {
            self.flows.remove(0);
        }
        self.flows.push(flow);
    }

    /// Removes and returns the flow with this state. The comparison is oauth2's timing-resistant
    /// `CsrfToken` equality. Expired flows are removed on the way, whatever the outcome.
    pub fn take(
        &mut self,
        state: &CsrfToken,
        now: Timestamp,
    ) -> Result<PendingAuthorization, TakeError> {
        let found = self
            .flows
            .iter()
            .position(|f| &f.state == state)
            .map(|i| self.flows.remove(i));
        self.flows.retain(|f| !f.is_expired(now));
        match found {
            Some(flow) if flow.is_expired(now) => Err(TakeError::Expired),
            Some(flow) => Ok(flow),
            None => Err(TakeError::Unknown),
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

/// Digests of the states of flows this session completed, so a replayed callback (Back, reload)
/// can be told apart from a forged one without keeping the state itself.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CompletedFlows {
    digests: Vec<String>,
}

impl CompletedFlows {
    pub fn record(&mut self, state: &CsrfToken) {
        self.record_digest(digest(state));
    }

    /// Records a completed flow by its state's digest (see [`digest`]).
    pub fn record_digest(&mut self, state_digest: String) {
        while self.digests.len() >= MAX_COMPLETED_PER_SESSION {
            self.digests.remove(0);
        }
        self.digests.push(state_digest);
    }

    pub fn contains(&self, state: &CsrfToken) -> bool {
        let wanted = digest(state);
        self.digests.contains(&wanted)
    }
}

/// A SHA-256 digest of a state, to remember it without keeping it.
pub fn digest(state: &CsrfToken) -> String {
    use std::fmt::Write;
    let hash = Sha256::digest(state.secret().as_bytes());
    let mut hex = String::with_capacity(2 * hash.len());
    for byte in hash {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A short name for a flow in logs: the first 12 hex digits of its state's digest. It joins the
/// "started" line to the outcome line without putting the state in the log.
pub fn flow_id(state: &CsrfToken) -> String {
    let mut id = digest(state);
    id.truncate(12);
    id
}

/// A fresh state value from the CSPRNG.
pub fn new_state() -> CsrfToken {
    CsrfToken::new_random_len(STATE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + minutes * 60).unwrap()
    }

    fn flow(state: &str, created: Timestamp) -> PendingAuthorization {
        PendingAuthorization::new(CsrfToken::new(state.to_owned()), None, created, None)
    }

    #[test]
    fn a_pending_flow_is_taken_once() {
        let mut flows = PendingFlows::default();
        flows.push(flow("a", at(0)), at(0));
        let state = CsrfToken::new("a".into());
        assert!(flows.take(&state, at(1)).is_ok());
        assert_eq!(flows.take(&state, at(1)).unwrap_err(), TakeError::Unknown);
    }

    #[test]
    fn an_unknown_state_is_refused() {
        let mut flows = PendingFlows::default();
        flows.push(flow("a", at(0)), at(0));
        let err = flows.take(&CsrfToken::new("b".into()), at(1)).unwrap_err();
        assert_eq!(err, TakeError::Unknown);
        assert_eq!(flows.len(), 1);
    }

    #[test]
    fn a_flow_expires_after_ten_minutes_and_is_removed() {
        let mut flows = PendingFlows::default();
        flows.push(flow("a", at(0)), at(0));
        let state = CsrfToken::new("a".into());
        assert_eq!(flows.take(&state, at(10)).unwrap_err(), TakeError::Expired);
        assert!(flows.is_empty());
    }

    #[test]
    fn a_flow_is_still_good_just_before_ten_minutes() {
        let mut flows = PendingFlows::default();
        flows.push(flow("a", at(0)), at(0));
        let just_before = at(10).checked_sub(SignedDuration::from_secs(1)).unwrap();
        assert!(flows.take(&CsrfToken::new("a".into()), just_before).is_ok());
    }

    #[test]
    fn two_tabs_complete_in_either_order() {
        let mut flows = PendingFlows::default();
        flows.push(flow("tab1", at(0)), at(0));
        flows.push(flow("tab2", at(1)), at(1));
        assert!(flows.take(&CsrfToken::new("tab2".into()), at(2)).is_ok());
        assert!(flows.take(&CsrfToken::new("tab1".into()), at(3)).is_ok());
    }

    #[test]
    fn pending_flows_per_session_are_bounded_dropping_the_oldest() {
        let mut flows = PendingFlows::default();
        for i in 0..(MAX_PENDING_PER_SESSION + 3) {
            flows.push(flow(&format!("s{i}"), at(0)), at(0));
        }
        assert_eq!(flows.len(), MAX_PENDING_PER_SESSION);
        assert_eq!(
            flows.take(&CsrfToken::new("s0".into()), at(0)).unwrap_err(),
            TakeError::Unknown
        );
        let newest = format!("s{}", MAX_PENDING_PER_SESSION + 2);
        assert!(flows.take(&CsrfToken::new(newest), at(0)).is_ok());
    }

    #[test]
    fn pushing_drops_expired_flows() {
        let mut flows = PendingFlows::default();
        flows.push(flow("old", at(0)), at(0));
        flows.push(flow("new", at(30)), at(30));
        assert_eq!(flows.len(), 1);
    }

    #[test]
    fn states_are_256_bit_and_unique() {
        let states: std::collections::HashSet<String> =
            (0..1000).map(|_| new_state().secret().clone()).collect();
        assert_eq!(states.len(), 1000);
        for s in &states {
            // 32 bytes in unpadded base64url are 43 characters.
            assert_eq!(s.len(), 43);
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
    }

    #[test]
    fn a_reference_travels_through_the_session_and_out_of_the_flow() {
        let reference = Reference::parse("APP-1").unwrap();
        let pending = flow("a", at(0)).with_reference(Some(reference.clone()));
        let stored = serde_json::to_string(&pending).unwrap();
        let back: PendingAuthorization = serde_json::from_str(&stored).unwrap();
        assert_eq!(back.reference(), Some(&reference));
        assert_eq!(back.into_parts().3, Some(reference));
    }

    #[test]
    fn a_flow_stored_before_references_existed_has_none() {
        let stored = serde_json::to_value(flow("a", at(0))).unwrap();
        let mut old = stored.as_object().unwrap().clone();
        old.remove("reference");
        let back: PendingAuthorization =
            serde_json::from_value(serde_json::Value::Object(old)).unwrap();
        assert_eq!(back.reference(), None);
    }

    #[test]
    fn a_nonce_travels_through_the_session_and_out_of_the_flow() {
        let nonce = Nonce::new("the-nonce-value".into());
        let pending = flow("a", at(0)).with_nonce(Some(nonce));
        assert!(!format!("{pending:?}").contains("the-nonce-value"));
        let stored = serde_json::to_string(&pending).unwrap();
        let back: PendingAuthorization = serde_json::from_str(&stored).unwrap();
        let kept = back.into_parts().4.map(|n| n.secret().to_owned());
        assert_eq!(kept.as_deref(), Some("the-nonce-value"));
        let without: PendingAuthorization =
            serde_json::from_str(&serde_json::to_string(&flow("b", at(0))).unwrap()).unwrap();
        assert!(without.into_parts().4.is_none());
    }

    #[test]
    fn completed_flows_remember_digests_not_states() {
        let mut done = CompletedFlows::default();
        let state = CsrfToken::new("the-state-value".into());
        done.record(&state);
        assert!(done.contains(&state));
        assert!(!done.contains(&CsrfToken::new("other".into())));
        let stored = serde_json::to_string(&done).unwrap();
        assert!(!stored.contains("the-state-value"));
    }
}
