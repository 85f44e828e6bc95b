//! Client-credentials tokens from the simulator over real sockets: one request for many callers,
//! a new one only after expiry, NGI's refusals as typed errors, and the retry on "token refused".

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jiff::SignedDuration;
use ngi_consent::ngi::client::{NgiClient, NgiConfig};
use ngi_consent::ngi::credentials::{
    Audience, AuthorizedError, CallError, ClientCredentials, TokenError, refuses_token,
};
use ngi_consent::simulator::{self, Endpoint, Fault, SimulatorHandle};
use oauth2::{AccessToken, ClientId, ClientSecret};
use tokio::task::JoinSet;
use url::Url;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, TestClock, spawn_simulator};

const CALLERS: usize = 50;
const TRACE: &str = "5f0c6a8e-1d2b-4c3a-9e8f-0a1b2c3d4e5f";

struct Setup {
    sim: SimulatorHandle,
    creds: Arc<ClientCredentials>,
    clock: TestClock,
    http: reqwest::Client,
}

async fn setup_with_secret(secret: &str) -> Setup {
    let site = Url::parse("http://127.0.0.1:9/").unwrap();
    let sim = spawn_simulator(&site, CLIENT_SECRET, false).await;
    let ngi = NgiClient::new(NgiConfig {
        access: sim.base_url().clone(),
        api: sim.base_url().clone(),
        client_id: ClientId::new(CLIENT_ID.into()),
        client_secret: ClientSecret::new(secret.into()),
        redirect_uri: site.join("/v1/callback").unwrap(),
        scope: "debt.unsecured.presentation".parse().unwrap(),
        pkce: true,
        issuer: Some(sim.issuer()),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
    })
    .unwrap();
    let clock = TestClock::new();
    let creds = ClientCredentials::new(Arc::new(ngi), clock.as_clock()).unwrap();
    Setup {
        sim,
        creds: Arc::new(creds),
        clock,
        http: reqwest::Client::new(),
    }
}

async fn setup() -> Setup {
    setup_with_secret(CLIENT_SECRET).await
}

impl Setup {
    fn requests(&self, audience: simulator::Audience) -> usize {
        self.sim.client_credentials_requests(audience)
    }

    /// Makes the token endpoint slow, so that callers started together are all waiting at once.
    fn slow_token_endpoint(&self) {
        self.sim.set_fault(
            Endpoint::Token,
            Some(Fault::Delay(Duration::from_millis(300))),
        );
    }

    /// `CALLERS` callers asking for a token for `audience` at once.
    async fn concurrent(&self, audience: Audience) -> Vec<Result<AccessToken, Arc<TokenError>>> {
        let mut set = JoinSet::new();
        for _ in 0..CALLERS {
            let creds = Arc::clone(&self.creds);
            set.spawn(async move { creds.token(audience, TRACE).await });
        }
        set.join_all().await
    }

    /// `GET /v1/debt` with `token`, read as a call that can report "token refused".
    async fn protected_call(&self, token: &AccessToken) -> Result<String, CallError<ApiError>> {
        let response = self
            .http
            .get(self.sim.base_url().join("/v1/debt").unwrap())
            .bearer_auth(token.secret())
            .send()
            .await
            .map_err(|_| CallError::Failed(ApiError(0)))?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let error = body["error"].as_str();
        if refuses_token(status, error) {
            return Err(CallError::TokenRefused);
        }
        if status != 200 {
            return Err(CallError::Failed(ApiError(status)));
        }
        Ok(token.secret().clone())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the API answered {0}")]
struct ApiError(u16);

fn secrets(results: &[Result<AccessToken, Arc<TokenError>>]) -> Vec<String> {
    results
        .iter()
        .map(|r| r.as_ref().unwrap().secret().clone())
        .collect()
}

#[tokio::test]
async fn fifty_concurrent_callers_cause_one_token_request_and_later_callers_none() {
    let s = setup().await;
    s.slow_token_endpoint();
    let tokens = secrets(&s.concurrent(Audience::Debt).await);
    assert_eq!(s.requests(simulator::Audience::Debt), 1);
    assert!(tokens.iter().all(|t| *t == tokens[0]));

    s.sim.set_fault(Endpoint::Token, None);
    for _ in 0..10 {
        let later = s.creds.token(Audience::Debt, TRACE).await.unwrap();
        assert_eq!(later.secret(), &tokens[0]);
    }
    assert_eq!(s.requests(simulator::Audience::Debt), 1);
    assert_eq!(s.sim.token_requests(), 1);
}

#[tokio::test]
async fn the_token_request_carries_the_audience_url_and_its_scope_with_basic_auth() {
    let s = setup().await;
    let token = s.creds.token(Audience::Debt, TRACE).await.unwrap();
    let seen = s.sim.last_token_request().unwrap();
    let audience = format!("{}v1/debt", s.sim.base_url());
    assert_eq!(seen.grant_type.as_deref(), Some("client_credentials"));
    assert_eq!(seen.client_id_from_basic.as_deref(), Some(CLIENT_ID));
    assert_eq!(seen.audience.as_deref(), Some(audience.as_str()));
    assert_eq!(
        seen.scope.as_deref(),
        Some("debt.unsecured.presentation debt.unsecured.processing")
    );
    let grant = s.sim.client_token(token.secret()).unwrap();
    assert_eq!(grant.client_id, CLIENT_ID);
    assert_eq!(grant.audiences, [simulator::Audience::Debt]);

    for (audience, sim_audience, scope) in [
        (
            Audience::Agreement,
            simulator::Audience::Agreement,
            "consent.create",
        ),
        (
            Audience::Feed,
            simulator::Audience::Feed,
            "client.access.consent.events",
        ),
    ] {
        let token = s.creds.token(audience, TRACE).await.unwrap();
        assert_eq!(s.requests(sim_audience), 1);
        let grant = s.sim.client_token(token.secret()).unwrap();
        assert_eq!(grant.audiences, [sim_audience]);
        assert_eq!(grant.scope, [scope]);
    }
}

#[tokio::test]
async fn after_expiry_exactly_one_new_token_request() {
    let s = setup().await;
    let first = s.creds.token(Audience::Debt, TRACE).await.unwrap();
    // NGI grants 3599 s; the token is used until 60 s before that.
    s.clock.advance(SignedDuration::from_secs(3538));
    let still = s.creds.token(Audience::Debt, TRACE).await.unwrap();
    assert_eq!(still.secret(), first.secret());
    assert_eq!(s.requests(simulator::Audience::Debt), 1);

    s.clock.advance(SignedDuration::from_secs(1));
    s.slow_token_endpoint();
    let renewed = secrets(&s.concurrent(Audience::Debt).await);
    assert_eq!(s.requests(simulator::Audience::Debt), 2);
    assert!(renewed.iter().all(|t| *t == renewed[0]));
    assert_ne!(&renewed[0], first.secret());
}

#[tokio::test]
async fn a_refused_audience_gives_the_typed_error_with_ngis_code() {
    let s = setup().await;
    s.sim
        .set_client_audiences(CLIENT_ID, &[simulator::Audience::Debt]);
    let error = s.creds.token(Audience::Agreement, TRACE).await.unwrap_err();
    match &*error {
        TokenError::Refused { audience, error } => {
            assert_eq!(*audience, Audience::Agreement);
            assert_eq!(error, "invalid_scope");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The audience it is granted still works.
    assert!(s.creds.token(Audience::Debt, TRACE).await.is_ok());
}

#[tokio::test]
async fn a_wrong_client_secret_gives_invalid_client() {
    let s = setup_with_secret("not the registered secret").await;
    let error = s.creds.token(Audience::Debt, TRACE).await.unwrap_err();
    assert!(
        matches!(&*error, TokenError::Refused { error, .. } if error == "invalid_client"),
        "{error:?}"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_error_and_the_error_is_not_cached() {
    let s = setup().await;
    s.sim.set_client_audiences(CLIENT_ID, &[]);
    s.slow_token_endpoint();
    let results = s.concurrent(Audience::Feed).await;
    assert_eq!(s.requests(simulator::Audience::Feed), 1);
    let errors: Vec<_> = results.into_iter().map(Result::unwrap_err).collect();
    assert!(errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])));
    assert!(matches!(&*errors[0], TokenError::Refused { error, .. } if error == "invalid_scope"));

    s.sim.set_fault(Endpoint::Token, None);
    s.sim
        .set_client_audiences(CLIENT_ID, &[simulator::Audience::Feed]);
    assert!(s.creds.token(Audience::Feed, TRACE).await.is_ok());
    assert_eq!(s.requests(simulator::Audience::Feed), 2);
}

#[tokio::test]
async fn a_failing_token_endpoint_is_an_ngi_error_not_a_refusal() {
    let s = setup().await;
    s.sim.set_fault(Endpoint::Token, Some(Fault::status(503)));
    let error = s.creds.token(Audience::Debt, TRACE).await.unwrap_err();
    assert!(matches!(&*error, TokenError::Ngi(_)), "{error:?}");
    assert_eq!(error.kind(), "failed");
}

#[tokio::test]
async fn a_401_drops_the_token_and_the_call_is_retried_once_with_a_fresh_one() {
    let s = setup().await;
    s.sim.set_fault(Endpoint::Debt, Some(Fault::status(401)));
    let calls = AtomicUsize::new(0);
    let seen = std::sync::Mutex::new(Vec::new());
    let result = s
        .creds
        .with_token(Audience::Debt, TRACE, |token| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            seen.lock().unwrap().push(token.secret().clone());
            let s = &s;
            async move {
                if n == 1 {
                    let refused = s.protected_call(&token).await;
                    s.sim.set_fault(Endpoint::Debt, None);
                    refused
                } else {
                    Ok(token.secret().clone())
                }
            }
        })
        .await;
    let seen = seen.into_inner().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(s.requests(simulator::Audience::Debt), 2);
    assert_ne!(seen[0], seen[1]);
    assert_eq!(result.unwrap(), seen[1]);
    // The fresh token is the cached one now.
    let next = s.creds.token(Audience::Debt, TRACE).await.unwrap();
    assert_eq!(next.secret(), &seen[1]);
    assert_eq!(s.requests(simulator::Audience::Debt), 2);
}

#[tokio::test]
async fn a_403_invalid_access_token_twice_is_retried_once_then_surfaces() {
    let s = setup().await;
    s.sim.set_fault(
        Endpoint::Debt,
        Some(Fault::Respond {
            status: 403,
            content_type: "application/json".into(),
            body: r#"{"error":"Invalid Access Token","trace_id":"t"}"#.into(),
        }),
    );
    let calls = AtomicUsize::new(0);
    let result = s
        .creds
        .with_token(Audience::Debt, TRACE, |token| {
            calls.fetch_add(1, Ordering::SeqCst);
            let s = &s;
            async move { s.protected_call(&token).await }
        })
        .await;
    assert!(
        matches!(
            result,
            Err(AuthorizedError::TokenRefused {
                audience: Audience::Debt
            })
        ),
        "{result:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(s.requests(simulator::Audience::Debt), 2);
    assert_eq!(s.sim.debt_requests(), 2);
}

#[tokio::test]
async fn the_simulators_own_refusal_of_a_client_token_at_the_person_api_is_a_token_refusal() {
    let s = setup().await;
    let result = s
        .creds
        .with_token(Audience::Debt, TRACE, |token| {
            let s = &s;
            async move { s.protected_call(&token).await }
        })
        .await;
    assert!(
        matches!(result, Err(AuthorizedError::TokenRefused { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn another_failure_of_the_call_is_not_retried() {
    let s = setup().await;
    s.sim.set_fault(Endpoint::Debt, Some(Fault::status(500)));
    let calls = AtomicUsize::new(0);
    let result = s
        .creds
        .with_token(Audience::Debt, TRACE, |token| {
            calls.fetch_add(1, Ordering::SeqCst);
            let s = &s;
            async move { s.protected_call(&token).await }
        })
        .await;
    assert!(
        matches!(result, Err(AuthorizedError::Call(ApiError(500)))),
        "{result:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(s.requests(simulator::Audience::Debt), 1);
}

#[tokio::test]
async fn no_token_shows_in_debug_output() {
    let s = setup().await;
    let token = s.creds.token(Audience::Debt, TRACE).await.unwrap();
    let secret = token.secret().clone();
    let shown = [
        format!("{:?}", s.creds),
        format!("{token:?}"),
        format!(
            "{:?}",
            AuthorizedError::<ApiError>::TokenRefused {
                audience: Audience::Debt
            }
        ),
    ];
    for text in shown {
        assert!(!text.contains(&secret), "{text}");
        // The signature half alone must not show either.
        let (_, signature) = secret.split_once('.').unwrap();
        assert!(!text.contains(signature), "{text}");
    }
}

#[tokio::test]
async fn token_requests_are_counted_by_audience_and_outcome() {
    let metrics = ngi_consent::metrics::handle().expect("the Prometheus recorder");
    ngi_consent::ngi::credentials::register_metrics();
    let rendered = metrics.render();
    for audience in ["debt", "agreement", "feed"] {
        for outcome in ["granted", "refused", "failed"] {
            let series = format!(
                "ngi_consent_client_credentials_requests_total{{audience=\"{audience}\",outcome=\"{outcome}\"}}"
            );
            assert!(rendered.contains(&series), "{series} in {rendered}");
        }
    }
    let s = setup().await;
    s.sim.set_client_audiences(CLIENT_ID, &[]);
    let _ = s.creds.token(Audience::Feed, TRACE).await;
    let value = metrics
        .render()
        .lines()
        .find_map(|line| {
            line.strip_prefix(
                "ngi_consent_client_credentials_requests_total{audience=\"feed\",outcome=\"refused\"} ",
            )
            .map(|v| v.parse::<f64>().unwrap())
        })
        .unwrap();
    assert!(value >= 1.0, "{value}");
}
