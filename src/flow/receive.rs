//! The callback's rules, in their order: the issuer first, then the state (taken out of the
//! session's pending flows, then claimed so it is single-use across instances), then NGI's
//! error, and only then a grant to exchange. The web layer loads what this needs, calls
//! [`receive`], and acts on the verdict; the order itself is proven here without a server.

use std::future::Future;

use jiff::Timestamp;
use oauth2::AuthorizationCode;

use crate::flow::callback::{Callback, CallbackError, NgiErrorCode, Outcome};
use crate::flow::pending::{CompletedFlows, PendingAuthorization, PendingFlows, TakeError, digest};
use crate::ngi::client::IssuerRule;

/// The record of states already used, shared by every instance (the session store keeps it).
/// A state is claimed once the flow it belongs to has been taken out of the session, so that
/// two requests racing with one callback (a double click, a replay) exchange the code once.
pub trait StateClaims {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Records that the state with this digest is being used: `true` only the first time.
    fn claim(&self, state_digest: &str) -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

/// What the session holds of its flows, as the callback needs it.
pub struct SessionFlows<'a> {
    /// The flows sent to NGI and not yet back; the returning one is taken out.
    pub pending: &'a mut PendingFlows,
    /// The flows this session completed before (digests of their states).
    pub completed: &'a CompletedFlows,
    /// Whether the result of a completed flow is still shown (the debt page's 15 minutes).
    pub result_shown: bool,
}

/// What a callback leads to.
#[derive(Debug)]
pub enum Verdict {
    /// NGI granted: exchange this code for this pending authorization, once.
    Granted {
        code: AuthorizationCode,
        pending: PendingAuthorization,
    },
    /// Back or reload onto a flow this session completed, whose result is still shown.
    Revisited,
    /// Nothing is exchanged; the person gets the refusal's page.
    Refused(Refusal),
}

/// Why a callback ends without an exchange. Each knows its metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("malformed callback: {0}")]
    Malformed(#[from] CallbackError),
    #[error("the callback's iss is not NGI's issuer")]
    IssuerMismatch,
    #[error("no pending flow with that state in this session")]
    Unknown,
    #[error("the pending flow with that state has expired")]
    Expired,
    #[error("the state was already used by another request")]
    AlreadyClaimed,
    #[error("NGI redirected back with the error {}", .0.as_str())]
    Ngi(NgiErrorCode),
}

impl Refusal {
    /// Every label `metric_label` can give, so the callback counter starts at 0 for each.
    pub const LABELS: &'static [&'static str] = &[
        "malformed",
        "issuer_mismatch",
        "state_unknown",
        "state_expired",
        "state_claimed",
        "consent_denied",
        "login_cancelled",
        "ngi_server_error",
        "invalid_scopes",
        "ngi_other_error",
    ];

    /// A fixed label for the callback counter (an unknown NGI code is one label, not its text).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::IssuerMismatch => "issuer_mismatch",
            Refusal::Unknown => "state_unknown",
            Refusal::Expired => "state_expired",
            Refusal::AlreadyClaimed => "state_claimed",
            Refusal::Ngi(code) => match code {
                NgiErrorCode::ConsentDenied => "consent_denied",
                NgiErrorCode::LoginCancelled => "login_cancelled",
                NgiErrorCode::ServerError => "ngi_server_error",
                NgiErrorCode::InvalidScopes => "invalid_scopes",
                NgiErrorCode::Other(_) => "ngi_other_error",
            },
        }
    }
}

/// Applies the callback's checks in order. `Err` only when the claim set cannot be reached (our
/// store failed); every refusal is a verdict. `flows.pending` loses the returning flow (and any
/// expired ones) whatever the verdict, and the caller saves it.
pub async fn receive<C: StateClaims>(
    callback: Callback,
    flows: SessionFlows<'_>,
    claims: &C,
    issuer: &IssuerRule,
    now: Timestamp,
) -> Result<Verdict, C::Error> {
    // 1. The issuer (RFC 9207): when the callback names one it must be NGI's; when NGI promised
    //    to name itself, a callback that does not is refused.
    let issuer_ok = match &callback.iss {
        Some(iss) => *iss == issuer.issuer,
        None => !issuer.required,
    };
    if !issuer_ok {
        return Ok(Verdict::Refused(Refusal::IssuerMismatch));
    }

    // 2. The state: taken out of this session's pending flows …
    let pending = match flows.pending.take(&callback.state, now) {
        Ok(pending) => pending,
        Err(TakeError::Expired) => return Ok(Verdict::Refused(Refusal::Expired)),
        Err(TakeError::Unknown) => {
            let revisit = flows.completed.contains(&callback.state) && flows.result_shown;
            return Ok(if revisit {
                Verdict::Revisited
            } else {
                Verdict::Refused(Refusal::Unknown)
            });
        }
    };
    // … and claimed, which is what makes it single-use: a claimed state is refused for as long
    // as a flow could live, whether or not this request's session is ever saved.
    if !claims.claim(&digest(&callback.state)).await? {
        return Ok(Verdict::Refused(Refusal::AlreadyClaimed));
    }

    // 3. NGI's answer: an error is a refusal of its own, after the state is spent.
    match callback.outcome {
        Outcome::Refused(code) => Ok(Verdict::Refused(Refusal::Ngi(code))),
        Outcome::Granted(code) => Ok(Verdict::Granted { code, pending }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use oauth2::CsrfToken;

    use super::*;
    use crate::flow::callback::CallbackQuery;
    use crate::flow::pending::FLOW_LIFETIME;

    /// A claim set in memory that can also fail, and counts what it was asked.
    #[derive(Default)]
    struct Claims {
        used: Mutex<HashSet<String>>,
        down: bool,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the claim store is down")]
    struct Down;

    impl StateClaims for Claims {
        type Error = Down;

        async fn claim(&self, state_digest: &str) -> Result<bool, Down> {
            if self.down {
                return Err(Down);
            }
            let mut used = self.used.lock().map_err(|_| Down)?;
            Ok(used.insert(state_digest.to_owned()))
        }
    }

    const ISSUER: &str = "https://access.example.no/";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    /// One session with a flow pending under state `s` since `at(0)`, NGI's issuer rule, and a
    /// claim set shared by whatever requests the test sends.
    struct Session {
        pending: PendingFlows,
        completed: CompletedFlows,
        result_shown: bool,
        issuer: IssuerRule,
    }

    impl Session {
        fn new() -> Self {
            let mut pending = PendingFlows::default();
            pending.push(
                PendingAuthorization::new(CsrfToken::new("s".into()), None, at(0), None),
                at(0),
            );
            Self {
                pending,
                completed: CompletedFlows::default(),
                result_shown: false,
                issuer: IssuerRule {
                    issuer: ISSUER.into(),
                    required: false,
                },
            }
        }

        async fn callback(
            &mut self,
            pairs: &[(&str, &str)],
            claims: &Claims,
            now: Timestamp,
        ) -> Result<Verdict, Down> {
            let encoded = serde_urlencoded::to_string(pairs).unwrap();
            let query: CallbackQuery = serde_urlencoded::from_str(&encoded).unwrap();
            let flows = SessionFlows {
                pending: &mut self.pending,
                completed: &self.completed,
                result_shown: self.result_shown,
            };
            receive(
                Callback::parse(query).unwrap(),
                flows,
                claims,
                &self.issuer,
                now,
            )
            .await
        }

        async fn refused(&mut self, pairs: &[(&str, &str)], claims: &Claims) -> Refusal {
            match self.callback(pairs, claims, at(5)).await.unwrap() {
                Verdict::Refused(r) => r,
                other => panic!("expected a refusal, got {other:?}"),
            }
        }

        async fn granted(&mut self, pairs: &[(&str, &str)], claims: &Claims) -> bool {
            matches!(
                self.callback(pairs, claims, at(5)).await.unwrap(),
                Verdict::Granted { .. }
            )
        }
    }

    fn asked(claims: &Claims) -> usize {
        claims.used.lock().map(|u| u.len()).unwrap_or(0)
    }

    const GRANT: &[(&str, &str)] = &[("code", "c0de"), ("state", "s")];

    #[tokio::test]
    async fn a_code_with_a_pending_state_is_granted_and_the_state_spent() {
        let (mut session, claims) = (Session::new(), Claims::default());
        let verdict = session.callback(GRANT, &claims, at(5)).await.unwrap();
        assert!(matches!(verdict, Verdict::Granted { ref code, .. } if code.secret() == "c0de"));
        assert!(session.pending.is_empty());
        assert_eq!(asked(&claims), 1);
    }

    #[tokio::test]
    async fn the_issuer_is_checked_before_the_state_is_touched() {
        let (mut session, claims) = (Session::new(), Claims::default());
        let forged = [
            ("code", "c"),
            ("state", "s"),
            ("iss", "https://evil.example/"),
        ];
        assert_eq!(
            session.refused(&forged, &claims).await,
            Refusal::IssuerMismatch
        );
        assert_eq!(
            session.pending.len(),
            1,
            "a forged issuer must not spend the flow"
        );
        assert_eq!(asked(&claims), 0);
    }

    #[tokio::test]
    async fn a_missing_iss_is_refused_only_when_ngi_promised_it() {
        for (required, granted) in [(false, true), (true, false)] {
            let mut session = Session::new();
            session.issuer.required = required;
            assert_eq!(session.granted(GRANT, &Claims::default()).await, granted);
        }
        let mut session = Session::new();
        session.issuer.required = true;
        let named = [("code", "c"), ("state", "s"), ("iss", ISSUER)];
        assert!(session.granted(&named, &Claims::default()).await);
    }

    #[tokio::test]
    async fn an_expired_flow_is_refused_and_removed_without_a_claim() {
        let (mut session, claims) = (Session::new(), Claims::default());
        let late = at(FLOW_LIFETIME.as_secs());
        let verdict = session.callback(GRANT, &claims, late).await.unwrap();
        assert!(matches!(verdict, Verdict::Refused(Refusal::Expired)));
        assert!(session.pending.is_empty());
        assert_eq!(asked(&claims), 0);
    }

    #[tokio::test]
    async fn an_unknown_state_is_refused_unless_it_completed_here_and_its_result_is_shown() {
        let claims = Claims::default();
        for (state, shown, revisited) in [
            ("done", true, true),
            ("done", false, false),
            ("other", true, false),
        ] {
            let mut session = Session::new();
            session.completed.record(&CsrfToken::new("done".into()));
            session.result_shown = shown;
            let verdict = session
                .callback(&[("code", "c"), ("state", state)], &claims, at(5))
                .await
                .unwrap();
            match verdict {
                Verdict::Revisited => assert!(revisited, "{state} {shown}"),
                Verdict::Refused(Refusal::Unknown) => assert!(!revisited, "{state} {shown}"),
                other => panic!("{state} {shown}: {other:?}"),
            }
            assert_eq!(session.pending.len(), 1);
        }
        assert_eq!(asked(&claims), 0);
    }

    #[tokio::test]
    async fn a_state_claimed_by_another_request_is_refused() {
        let claims = Claims::default();
        // Two requests that each loaded the session before either saved it.
        assert!(Session::new().granted(GRANT, &claims).await);
        let second = Session::new().refused(GRANT, &claims).await;
        assert_eq!(second, Refusal::AlreadyClaimed);
    }

    #[tokio::test]
    async fn ngi_s_error_is_a_refusal_after_the_state_is_spent() {
        let (mut session, claims) = (Session::new(), Claims::default());
        let denied = [("error", "consent_denied"), ("state", "s")];
        let refusal = session.refused(&denied, &claims).await;
        assert_eq!(refusal, Refusal::Ngi(NgiErrorCode::ConsentDenied));
        assert!(session.pending.is_empty());
        assert_eq!(
            asked(&claims),
            1,
            "the state is single-use even when NGI refused"
        );
    }

    #[tokio::test]
    async fn a_claim_store_that_is_down_is_our_failure_not_a_refusal() {
        let claims = Claims {
            down: true,
            ..Claims::default()
        };
        assert!(
            Session::new()
                .callback(GRANT, &claims, at(5))
                .await
                .is_err()
        );
    }

    #[test]
    fn every_refusal_label_is_listed_for_the_metrics() {
        let refusals = [
            Refusal::Malformed(CallbackError::MissingState),
            Refusal::IssuerMismatch,
            Refusal::Unknown,
            Refusal::Expired,
            Refusal::AlreadyClaimed,
            Refusal::Ngi(NgiErrorCode::ConsentDenied),
            Refusal::Ngi(NgiErrorCode::LoginCancelled),
            Refusal::Ngi(NgiErrorCode::ServerError),
            Refusal::Ngi(NgiErrorCode::InvalidScopes),
            Refusal::Ngi(NgiErrorCode::Other("whatever_else".into())),
        ];
        let labels: HashSet<_> = refusals.iter().map(Refusal::metric_label).collect();
        assert_eq!(labels, Refusal::LABELS.iter().copied().collect());
    }
}
