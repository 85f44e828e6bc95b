//! Client-credentials tokens for NGI's machine-to-machine APIs (debt by consent id, status,
//! revoke, integrated consent, the consent feed): `POST {access}/oauth2/token` with HTTP Basic,
//! `grant_type=client_credentials`, an `audience` on the API host and that audience's scope.
//!
//! One token per audience is kept in memory (never logged, never stored elsewhere) until shortly
//! before NGI says it expires. Callers that ask at the same time share one request and its
//! error. A call NGI answers with "token refused" drops the token and is retried once with a
//! fresh one.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use moka::future::Cache;
use moka::ops::compute::Op;
use oauth2::{AccessToken, RequestTokenError, Scope, TokenResponse};
use url::Url;

use crate::domain::time::Clock;
use crate::ngi::client::{
    ClientSetupError, Endpoint, NgiClient, NgiError, loggable, send_token_request,
};

/// An NGI API a client-credentials token is asked for, with the scope NGI documents for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// `{api}/v1/debt`: debt by consent id, status and revoke.
    Debt,
    /// `{api}/v1/consent/agreement`: registering an integrated consent.
    Agreement,
    /// `{api}/feed/v1/consent`: the consent event feed.
    Feed,
}

impl Audience {
    pub const ALL: [Audience; 3] = [Audience::Debt, Audience::Agreement, Audience::Feed];

    /// Every audience's label, for the metrics.
    pub const LABELS: &'static [&'static str] = &["debt", "agreement", "feed"];

    pub fn label(self) -> &'static str {
        match self {
            Audience::Debt => "debt",
            Audience::Agreement => "agreement",
            Audience::Feed => "feed",
        }
    }

    /// The audience's path on the API host, relative, joined as the debt URL is.
    pub fn path(self) -> &'static str {
        match self {
            Audience::Debt => "v1/debt",
            Audience::Agreement => "v1/consent/agreement",
            Audience::Feed => "feed/v1/consent",
        }
    }

    /// The scope asked for with this audience (one audience, one scope: the cache key is both).
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Audience::Debt => &["debt.unsecured.presentation", "debt.unsecured.processing"],
            Audience::Agreement => &["consent.create"],
            Audience::Feed => &["client.access.consent.events"],
        }
    }

    fn index(self) -> usize {
        match self {
            Audience::Debt => 0,
            Audience::Agreement => 1,
            Audience::Feed => 2,
        }
    }
}

impl std::fmt::Display for Audience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Why no client-credentials token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// NGI answered with an OAuth error: `invalid_client`, `invalid_scope`, or (`invalid_request`)
    /// an audience this client is not granted. `error` is NGI's code, cut to a loggable length.
    #[error("NGI refused a client-credentials token for the {audience} audience: {error}")]
    Refused { audience: Audience, error: String },
    /// The token endpoint failed: unreachable, too slow, 5xx, or an answer we cannot read.
    #[error(transparent)]
    Ngi(NgiError),
}

impl TokenError {
    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            TokenError::Refused { .. } => "refused",
            TokenError::Ngi(_) => "failed",
        }
    }
}

/// Every outcome label of a token request, for the metrics.
pub const OUTCOMES: &[&str] = &["granted", "refused", "failed"];

/// Puts every (audience, outcome) series on `/metrics` at 0.
pub fn register_metrics() {
    crate::metrics::register_client_credentials(Audience::LABELS, OUTCOMES);
}

/// What a call made with a client-credentials token reports.
#[derive(Debug)]
pub enum CallError<E> {
    /// NGI did not accept the token (see [`refuses_token`]): a fresh one may succeed.
    TokenRefused,
    /// Anything else; not retried here.
    Failed(E),
}

/// What [`ClientCredentials::with_token`] reports.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizedError<E: std::error::Error + 'static> {
    /// No token: NGI refused the grant, or the token endpoint failed. Shared by every caller
    /// that waited on the same request.
    #[error(transparent)]
    Token(Arc<TokenError>),
    /// NGI refused a freshly granted token as well.
    #[error("NGI refused a fresh client-credentials token for the {audience} audience as well")]
    TokenRefused { audience: Audience },
    #[error(transparent)]
    Call(E),
}

/// Whether an API answer means "this token is not accepted": a 401, or a 403 whose `error` is
/// `invalid access token` (NGI writes it in more than one letter case).
pub fn refuses_token(status: u16, error: Option<&str>) -> bool {
    status == 401
        || (status == 403
            && error.is_some_and(|e| e.trim().eq_ignore_ascii_case("invalid access token")))
}

/// How long before NGI's `expires_in` a cached token is replaced, so it does not expire in flight.
const MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// How long a token granted without `expires_in` is kept. RFC 6749 §5.1 leaves the lifetime
/// then to documentation (NGI's says 3599 s), but an answer without it is not the documented
/// one; a few minutes costs only a few requests an hour, and a token that ends sooner is
/// caught by the retry on "token refused" anyway.
const LIFETIME_WITHOUT_EXPIRES_IN: SignedDuration = SignedDuration::from_mins(5);

/// Until when a token granted at `granted_at` is used. With `expires_in` over 120 s that is
/// 60 s before it expires; a shorter one is kept for half its life rather than not at all, so a
/// short-lived token still serves the callers that waited for it and the next few.
fn fresh_until(granted_at: Timestamp, expires_in: Option<Duration>) -> Timestamp {
    let keep = match expires_in {
        None => LIFETIME_WITHOUT_EXPIRES_IN,
        Some(lifetime) => {
            let lifetime = SignedDuration::try_from(lifetime).unwrap_or(SignedDuration::MAX);
            if lifetime > MARGIN.saturating_mul(2) {
                lifetime.saturating_sub(MARGIN)
            } else {
                lifetime / 2
            }
        }
    };
    granted_at.saturating_add(keep).unwrap_or(Timestamp::MAX)
}

/// One granted token. `generation` tells it apart from a later one for the same audience, so a
/// caller drops only the token it saw refused, never one another caller just fetched.
struct Cached {
    token: AccessToken,
    fresh_until: Timestamp,
    generation: u64,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("token", &"[redacted]")
            .field("fresh_until", &self.fresh_until)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Client-credentials tokens for one NGI client, cached per audience.
pub struct ClientCredentials {
    ngi: Arc<NgiClient>,
    audiences: [Url; 3],
    cache: Cache<Audience, Arc<Cached>>,
    clock: Clock,
    generations: AtomicU64,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("cached_tokens", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// Uses `ngi`'s token endpoint, credentials and outbound HTTP client; `clock` decides when a
    /// cached token is too old.
    pub fn new(ngi: Arc<NgiClient>, clock: Clock) -> Result<Self, ClientSetupError> {
        let url = |audience: Audience| {
            ngi.api()
                .join(audience.path())
                .map_err(|source| ClientSetupError::Url {
                    path: audience.path(),
                    source,
                })
        };
        let audiences = [
            url(Audience::Debt)?,
            url(Audience::Agreement)?,
            url(Audience::Feed)?,
        ];
        Ok(Self {
            audiences,
            ngi,
            cache: Cache::builder()
                .max_capacity(Audience::ALL.len() as u64)
                .build(),
            clock,
            generations: AtomicU64::new(0),
        })
    }

    /// The audience URL sent to NGI, e.g. `https://api.norskgjeld.no/v1/debt`.
    pub fn audience_url(&self, audience: Audience) -> &Url {
        &self.audiences[audience.index()]
    }

    /// A token for `audience`: the cached one while fresh, else one asked for now (once, for
    /// every caller waiting at the same time).
    pub async fn token(
        &self,
        audience: Audience,
        trace_id: &str,
    ) -> Result<AccessToken, Arc<TokenError>> {
        Ok(self.cached(audience, trace_id).await?.token.clone())
    }

    /// Runs `call` with a token for `audience`. When `call` reports [`CallError::TokenRefused`],
    /// the token is dropped and `call` runs once more with a fresh one; a second refusal is
    /// reported as [`AuthorizedError::TokenRefused`].
    pub async fn with_token<T, E, F, Fut>(
        &self,
        audience: Audience,
        trace_id: &str,
        mut call: F,
    ) -> Result<T, AuthorizedError<E>>
    where
        E: std::error::Error + 'static,
        F: FnMut(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, CallError<E>>>,
    {
        for attempt in 1..=2 {
            let cached = self
                .cached(audience, trace_id)
                .await
                .map_err(AuthorizedError::Token)?;
            match call(cached.token.clone()).await {
                Ok(value) => return Ok(value),
                Err(CallError::Failed(e)) => return Err(AuthorizedError::Call(e)),
                Err(CallError::TokenRefused) => {
                    tracing::info!(
                        audience = audience.label(),
                        attempt,
                        "NGI refused a client-credentials token; it is dropped"
                    );
                    self.drop_if_current(audience, cached.generation).await;
                }
            }
        }
        Err(AuthorizedError::TokenRefused { audience })
    }

    async fn cached(
        &self,
        audience: Audience,
        trace_id: &str,
    ) -> Result<Arc<Cached>, Arc<TokenError>> {
        let cached = self
            .cache
            .try_get_with(audience, self.fetch(audience, trace_id))
            .await?;
        if (self.clock)() < cached.fresh_until {
            return Ok(cached);
        }
        self.drop_if_current(audience, cached.generation).await;
        // What this gives was granted just now, for this caller or one it waited on, so it is
        // not judged again: a token granted for a very short time is still used, not re-asked
        // for in a loop.
        self.cache
            .try_get_with(audience, self.fetch(audience, trace_id))
            .await
    }

    /// Drops the cached token for `audience` if it is still the one with `generation`.
    async fn drop_if_current(&self, audience: Audience, generation: u64) {
        self.cache
            .entry(audience)
            .and_compute_with(|current| {
                let op = match current {
                    Some(entry) if entry.value().generation == generation => Op::Remove,
                    _ => Op::Nop,
                };
                std::future::ready(op)
            })
            .await;
    }

    async fn fetch(&self, audience: Audience, trace_id: &str) -> Result<Arc<Cached>, TokenError> {
        // The lifetime counts from before the request: NGI's clock started no earlier.
        let asked_at = (self.clock)();
        let result = self.request(audience, trace_id).await;
        let outcome = match &result {
            Ok(_) => "granted",
            Err(e) => e.kind(),
        };
        crate::metrics::client_credentials(audience.label(), outcome);
        match result {
            Ok((token, expires_in)) => {
                tracing::debug!(
                    audience = audience.label(),
                    "NGI granted a client-credentials token"
                );
                Ok(Arc::new(Cached {
                    token,
                    fresh_until: fresh_until(asked_at, expires_in),
                    generation: self.generations.fetch_add(1, Ordering::Relaxed),
                }))
            }
            Err(error) => {
                tracing::warn!(
                    audience = audience.label(),
                    %error,
                    "no client-credentials token from NGI"
                );
                Err(error)
            }
        }
    }

    async fn request(
        &self,
        audience: Audience,
        trace_id: &str,
    ) -> Result<(AccessToken, Option<Duration>), TokenError> {
        // The hook owns what it uses: oauth2 asks for a client that outlives the borrow.
        let http = self.ngi.http().clone();
        let trace_id = trace_id.to_owned();
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            let trace_id = trace_id.clone();
            async move { send_token_request(&http, &trace_id, request).await }
        };
        let mut request = self
            .ngi
            .oauth()
            .exchange_client_credentials()
            .add_extra_param("audience", self.audience_url(audience).as_str());
        for scope in audience.scopes() {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let bad_answer = |detail| {
            TokenError::Ngi(NgiError::BadAnswer {
                endpoint: Endpoint::Token,
                detail,
            })
        };
        match request.request_async(&send).await {
            Ok(answer) => Ok((answer.access_token().clone(), answer.expires_in())),
            Err(RequestTokenError::ServerResponse(e)) => Err(TokenError::Refused {
                audience,
                error: loggable(e.error().as_ref()),
            }),
            Err(RequestTokenError::Request(e)) => Err(TokenError::Ngi(e)),
            Err(RequestTokenError::Parse(e, _body)) => {
                Err(bad_answer(format!("not a token answer: {}", e.path())))
            }
            Err(RequestTokenError::Other(detail)) => Err(bad_answer(detail)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_token_is_used_until_a_minute_before_ngi_says_it_expires() {
        let t = at("2026-01-01T12:00:00Z");
        assert_eq!(
            fresh_until(t, Some(Duration::from_secs(3599))),
            at("2026-01-01T12:58:59Z")
        );
    }

    #[test]
    fn a_short_lived_token_is_used_for_half_its_life() {
        let t = at("2026-01-01T12:00:00Z");
        assert_eq!(
            fresh_until(t, Some(Duration::from_secs(60))),
            at("2026-01-01T12:00:30Z")
        );
        assert_eq!(
            fresh_until(t, Some(Duration::from_secs(120))),
            at("2026-01-01T12:01:00Z")
        );
        assert_eq!(fresh_until(t, Some(Duration::ZERO)), t);
    }

    #[test]
    fn a_token_without_expires_in_is_kept_five_minutes() {
        let t = at("2026-01-01T12:00:00Z");
        assert_eq!(fresh_until(t, None), at("2026-01-01T12:05:00Z"));
    }

    #[test]
    fn an_absurd_lifetime_does_not_overflow() {
        let t = at("2026-01-01T12:00:00Z");
        assert_eq!(fresh_until(t, Some(Duration::MAX)), Timestamp::MAX);
    }

    #[test]
    fn a_401_or_a_403_invalid_access_token_in_any_case_refuses_the_token() {
        assert!(refuses_token(401, None));
        assert!(refuses_token(403, Some("invalid access token")));
        assert!(refuses_token(403, Some("Invalid Access Token")));
        assert!(refuses_token(403, Some("INVALID ACCESS TOKEN")));
        assert!(!refuses_token(403, Some("invalid consent")));
        assert!(!refuses_token(403, None));
        assert!(!refuses_token(500, Some("invalid access token")));
        assert!(!refuses_token(400, None));
    }

    #[test]
    fn each_audience_has_the_path_and_scope_ngi_documents() {
        let table: Vec<_> = Audience::ALL
            .iter()
            .map(|a| (a.path(), a.scopes().join(" ")))
            .collect();
        assert_eq!(
            table,
            [
                (
                    "v1/debt",
                    "debt.unsecured.presentation debt.unsecured.processing".to_owned()
                ),
                ("v1/consent/agreement", "consent.create".to_owned()),
                ("feed/v1/consent", "client.access.consent.events".to_owned()),
            ]
        );
        let labels: Vec<_> = Audience::ALL.iter().map(|a| a.label()).collect();
        assert_eq!(labels, Audience::LABELS);
        for (i, a) in Audience::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
        }
    }

    #[test]
    fn every_token_error_kind_is_a_metrics_outcome() {
        let errors = [
            TokenError::Refused {
                audience: Audience::Debt,
                error: "invalid_scope".into(),
            },
            TokenError::Ngi(NgiError::Timeout {
                endpoint: Endpoint::Token,
            }),
        ];
        for e in &errors {
            assert!(OUTCOMES.contains(&e.kind()), "{}", e.kind());
        }
    }

    #[test]
    fn a_cached_token_never_shows_in_debug() {
        let cached = Cached {
            token: AccessToken::new("tok.secret-value".into()),
            fresh_until: Timestamp::UNIX_EPOCH,
            generation: 7,
        };
        let shown = format!("{cached:?}");
        assert!(!shown.contains("secret-value"), "{shown}");
        assert!(shown.contains("generation: 7"), "{shown}");
    }
}
