//! The NGI client: the authorization URL and code exchange through the `oauth2` crate, the debt
//! API, the discovery document that names NGI's issuer, and the keys of NGI's ID tokens. One
//! outbound HTTP client serves all of them: built once, redirects off (the oauth2 crate's SSRF
//! advice), connect and total timeouts.

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use reqwest::header::{self, HeaderValue};
use std::sync::OnceLock;

use jiff::Timestamp;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::debt::DebtSummary;
use crate::domain::scope::ConsentScope;
use crate::ngi::id_token::{self, IdToken, KeyCache, Nonce};

pub(crate) use super::answer::{
    error_answer, is_json, json_error, loggable, read_body, read_debt_answer,
};
pub use super::error::{ClientSetupError, DiscoveryError, Endpoint, NgiError};

/// The header NGI echoes as `trace_id` in its error answers; we send our own request id in it.
pub const TRACE_HEADER: &str = "x-trace-id";

/// The token answer's one field beyond OAuth's: OpenID Connect's `id_token`, kept as text until
/// it is verified (and never after).
#[derive(Clone, Default, Deserialize, Serialize)]
pub(crate) struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenField")
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ExtraTokenFields for IdTokenField {}

/// NGI's token answer: OAuth's fields and, with `openid`, perhaps an ID token.
pub(crate) type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;

pub(crate) type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Where NGI is and how this site is registered there.
#[derive(Debug, Clone)]
pub struct NgiConfig {
    pub access: Url,
    pub api: Url,
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    pub redirect_uri: Url,
    pub scope: ConsentScope,
    pub pkce: bool,
    /// The issuer `iss` must equal; `None` means: read NGI's discovery document
    /// (`discover_issuer_once`) before callbacks can be checked.
    pub issuer: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

/// What the token endpoint granted: the access token (used once, then dropped), the scope
/// NGI says it granted (`None` when it left `scope` out: then it is the one asked for, RFC 6749
/// §5.1), and the ID token if one came (unverified).
pub struct Grant {
    pub access_token: AccessToken,
    pub scopes: Option<Vec<String>>,
    pub id_token: Option<IdToken>,
}

/// A started flow: where to send the browser, and what to keep server-side.
pub struct Authorization {
    pub url: Url,
    pub state: CsrfToken,
    pub pkce_verifier: Option<PkceCodeVerifier>,
    /// Sent with `openid` only: the ID token must carry it back.
    pub nonce: Option<Nonce>,
}

/// The one client for everything NGI.
#[derive(Debug)]
pub struct NgiClient {
    oauth: OAuthClient,
    /// NGI's authorization endpoint with the parameters every flow sends alike
    /// (`response_type`, `client_id`, `redirect_uri`, `scope`), encoded once here rather than
    /// by oauth2's builder on every start; a flow appends only its own.
    authorize_base: Url,
    http: reqwest::Client,
    client_id: ClientId,
    access: Url,
    api: Url,
    debt_url: Url,
    scope: ConsentScope,
    pkce: bool,
    /// Pinned at construction, or set once by discovery; never cleared.
    issuer: OnceLock<IssuerRule>,
    discovery_url: Url,
    /// Discovery's `jwks_uri`, once read.
    jwks_uri: OnceLock<Url>,
    /// NGI's ID-token keys. The lock is held across a fetch, so flows that find the same
    /// unknown `kid` fetch once between them.
    keys: tokio::sync::Mutex<KeyCache>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    jwks_uri: Option<String>,
}

/// Why an ID token did not pass: refused by a check, or NGI's keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error(transparent)]
    Refused(#[from] id_token::IdTokenRefusal),
    #[error("NGI's ID-token keys could not be read")]
    Keys(#[source] NgiError),
}

/// What an `iss` callback parameter must be (RFC 9207).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRule {
    /// The issuer `iss` must equal, compared as plain strings.
    pub issuer: String,
    /// The server promised to send `iss`, so a callback without it is refused.
    pub required: bool,
}

impl NgiClient {
    pub fn new(config: NgiConfig) -> Result<Self, ClientSetupError> {
        let join = |base: &Url, path: &'static str| {
            base.join(path)
                .map_err(|source| ClientSetupError::Url { path, source })
        };
        let auth_url = join(&config.access, "oauth2/auth")?;
        let mut authorize_base = auth_url.clone();
        authorize_base
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", config.client_id.as_str())
            .append_pair("redirect_uri", config.redirect_uri.as_str())
            .append_pair("scope", &config.scope.request_scopes().join(" "));
        let oauth: OAuthClient = oauth2::Client::new(config.client_id.clone())
            .set_client_secret(config.client_secret)
            .set_auth_uri(AuthUrl::from_url(auth_url))
            .set_token_uri(TokenUrl::from_url(join(&config.access, "oauth2/token")?))
            .set_redirect_uri(RedirectUrl::from_url(config.redirect_uri));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("ngi-consent/", env!("CARGO_PKG_VERSION")))
            .https_only(!is_loopback(&config.access) || !is_loopback(&config.api))
            .build()
            .map_err(ClientSetupError::Http)?;
        let issuer = OnceLock::new();
        if let Some(issuer_name) = config.issuer {
            let _ = issuer.set(IssuerRule {
                issuer: issuer_name,
                required: false,
            });
        }
        Ok(Self {
            oauth,
            authorize_base,
            http,
            client_id: config.client_id,
            debt_url: join(&config.api, "v1/debt")?,
            discovery_url: join(&config.access, ".well-known/openid-configuration")?,
            api: config.api,
            access: config.access,
            scope: config.scope,
            pkce: config.pkce,
            issuer,
            jwks_uri: OnceLock::new(),
            keys: tokio::sync::Mutex::default(),
        })
    }

    /// What the client-credentials grant shares with the rest: the oauth2 client (token URL and
    /// Basic credentials), the one outbound HTTP client, and the API host the audiences are on.
    pub(crate) fn oauth(&self) -> &OAuthClient {
        &self.oauth
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn api(&self) -> &Url {
        &self.api
    }

    /// The scope every flow asks for.
    pub fn scope(&self) -> ConsentScope {
        self.scope
    }

    /// A fresh authorization request: `state` from `new_state`, PKCE S256 when enabled. The
    /// same parameters oauth2's `authorize_url` would send, on the prefix built once.
    pub fn authorize(&self, new_state: impl FnOnce() -> CsrfToken) -> Authorization {
        let state = new_state();
        let mut url = self.authorize_base.clone();
        let mut query = url.query_pairs_mut();
        query.append_pair("state", state.secret());
        let pkce_verifier = if self.pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            query
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", challenge.method().as_str());
            Some(verifier)
        } else {
            None
        };
        // OpenID Connect's nonce: the ID token must carry it back, which ties the token to this
        // flow (a token replayed from another flow has another nonce).
        let nonce = self.scope.openid().then(Nonce::new_random);
        if let Some(nonce) = &nonce {
            query.append_pair("nonce", nonce.secret());
        }
        drop(query);
        Authorization {
            url,
            state,
            pkce_verifier,
            nonce,
        }
    }

    /// Exchanges the code once. No retry: a code is single-use, and a retried exchange after a
    /// timeout could only fail with `invalid_grant` (RFC 6749 §4.1.2).
    pub async fn exchange_code(
        &self,
        code: AuthorizationCode,
        pkce_verifier: Option<PkceCodeVerifier>,
        trace_id: &str,
    ) -> Result<Grant, NgiError> {
        measured(
            Endpoint::Token,
            self.exchange_once(code, pkce_verifier, trace_id),
        )
        .await
    }

    async fn exchange_once(
        &self,
        code: AuthorizationCode,
        pkce_verifier: Option<PkceCodeVerifier>,
        trace_id: &str,
    ) -> Result<Grant, NgiError> {
        // The hook owns what it uses: oauth2 asks for a client that outlives the borrow.
        let http = self.http.clone();
        let trace_id = trace_id.to_owned();
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            let trace_id = trace_id.clone();
            async move { send_token_request(&http, &trace_id, request).await }
        };
        let mut exchange = self
            .oauth
            .exchange_code(code)
            // NGI's documentation lists client_id in the form as well as in the Basic header.
            .add_extra_param("client_id", self.client_id.as_str());
        if let Some(verifier) = pkce_verifier {
            exchange = exchange.set_pkce_verifier(verifier);
        }
        match exchange.request_async(&send).await {
            Ok(answer) => Ok(Grant {
                access_token: answer.access_token().clone(),
                scopes: answer
                    .scopes()
                    .map(|scopes| scopes.iter().map(|s| s.to_string()).collect()),
                id_token: answer.extra_fields().id_token.clone().map(IdToken::new),
            }),
            Err(RequestTokenError::ServerResponse(e)) => Err(NgiError::TokenRefused {
                code: loggable(e.error().as_ref()),
            }),
            Err(RequestTokenError::Request(e)) => Err(e),
            Err(RequestTokenError::Parse(e, _body)) => Err(NgiError::BadAnswer {
                endpoint: Endpoint::Token,
                detail: format!("not a token answer: {}", e.path()),
            }),
            Err(RequestTokenError::Other(detail)) => Err(NgiError::BadAnswer {
                endpoint: Endpoint::Token,
                detail,
            }),
        }
    }

    /// `GET /v1/debt` with the bearer token (in the header only, never in a URL). Not retried:
    /// a single-use consent may already be spent by a request whose answer was lost.
    pub async fn fetch_debt(
        &self,
        token: &AccessToken,
        trace_id: &str,
    ) -> Result<DebtSummary, NgiError> {
        measured(Endpoint::Debt, self.fetch_debt_once(token, trace_id)).await
    }

    async fn fetch_debt_once(
        &self,
        token: &AccessToken,
        trace_id: &str,
    ) -> Result<DebtSummary, NgiError> {
        let endpoint = Endpoint::Debt;
        let response = self
            .http
            .get(self.debt_url.clone())
            .bearer_auth(token.secret())
            .header(TRACE_HEADER, trace_id)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| NgiError::from_reqwest(endpoint, e))?;
        read_debt_answer(endpoint, response).await
    }

    /// The rule for `iss`, when known: the configured issuer (pinned: NGI's own for preprod and
    /// prod, the simulator's in the demo, or `NGI_ISSUER`), or what NGI's discovery document
    /// said. Never calls the network: `None` means discovery has not succeeded yet.
    pub fn issuer_rule(&self) -> Option<&IssuerRule> {
        self.issuer.get()
    }

    /// Reads NGI's discovery document once, unless the rule is already known; on success the
    /// rule is kept for good. Start-up calls it, and a background loop while it fails with an
    /// error worth retrying; callbacks never do.
    pub async fn discover_issuer_once(&self) -> Result<&IssuerRule, DiscoveryError> {
        if let Some(rule) = self.issuer.get() {
            return Ok(rule);
        }
        let (rule, jwks_uri) = measured(Endpoint::Discovery, self.fetch_discovery())
            .await
            .map_err(|e| DiscoveryError::classify(self.discovery_url.clone(), e))?;
        if let Some(uri) = jwks_uri {
            let _ = self.jwks_uri.set(uri);
        }
        // Another caller may have set it meanwhile: the same document, so either is right.
        Ok(self.issuer.get_or_init(|| rule))
    }

    /// Verifies an ID token in full for this flow (see [`id_token`]): RS256 with NGI's key by
    /// `kid`, `iss`, `aud`, `exp`/`iat` at `now`, the nonce. What it returns is checked against
    /// the debt answer next.
    pub async fn verify_id_token(
        &self,
        token: &IdToken,
        nonce: Option<&Nonce>,
        now: Timestamp,
    ) -> Result<id_token::Verified, IdTokenError> {
        let header = id_token::read_header(token)?;
        // The callback was only let through once the issuer was known.
        let issuer = self
            .issuer_rule()
            .ok_or(id_token::IdTokenRefusal::Issuer)?
            .issuer
            .clone();
        let key = self
            .id_token_key(&header.kid, now)
            .await
            .map_err(IdTokenError::Keys)?
            .ok_or(id_token::IdTokenRefusal::UnknownKey)?;
        let claims = id_token::decode_verified(token, &key)?;
        let expected = id_token::Expected {
            issuer: &issuer,
            client_id: self.client_id.as_str(),
            nonce,
            now,
        };
        Ok(id_token::check_claims(claims, &expected)?)
    }

    /// The key for `kid`: from the cache, or fetched when the cache is empty or (at most once a
    /// minute) does not know `kid`.
    async fn id_token_key(
        &self,
        kid: &str,
        now: Timestamp,
    ) -> Result<Option<DecodingKey>, NgiError> {
        let mut cache = self.keys.lock().await;
        if cache.should_fetch(kid, now) {
            let keys = measured(Endpoint::Jwks, self.fetch_jwks()).await?;
            cache.replace(keys, now);
        }
        Ok(cache.get(kid).cloned())
    }

    async fn fetch_jwks(&self) -> Result<std::collections::HashMap<String, DecodingKey>, NgiError> {
        let endpoint = Endpoint::Jwks;
        let jwks_uri = match self.jwks_uri.get() {
            Some(uri) => uri.clone(),
            None => {
                // The issuer was pinned, so discovery was never read: read it for `jwks_uri`.
                let (_, uri) = measured(Endpoint::Discovery, self.fetch_discovery()).await?;
                let uri = uri.ok_or_else(|| NgiError::BadAnswer {
                    endpoint: Endpoint::Discovery,
                    detail: "the discovery document names no usable jwks_uri".into(),
                })?;
                self.jwks_uri.get_or_init(|| uri).clone()
            }
        };
        let response = self
            .http
            .get(jwks_uri)
            .header(TRACE_HEADER, uuid::Uuid::new_v4().to_string())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| NgiError::from_reqwest(endpoint, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(NgiError::Status {
                endpoint,
                status: status.as_u16(),
                trace_id: None,
            });
        }
        let body = read_body(endpoint, response).await?;
        id_token::parse_jwks(&body).map_err(|e| NgiError::BadAnswer {
            endpoint,
            detail: format!("not a JWKS: {}", json_error(&e)),
        })
    }

    async fn fetch_discovery(&self) -> Result<(IssuerRule, Option<Url>), NgiError> {
        let endpoint = Endpoint::Discovery;
        let response = self
            .http
            .get(self.discovery_url.clone())
            .header(TRACE_HEADER, uuid::Uuid::new_v4().to_string())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| NgiError::from_reqwest(endpoint, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(NgiError::Status {
                endpoint,
                status: status.as_u16(),
                trace_id: None,
            });
        }
        let body = read_body(endpoint, response).await?;
        let discovery =
            serde_json::from_slice::<Discovery>(&body).map_err(|e| NgiError::BadAnswer {
                endpoint,
                detail: format!("not a discovery document: {}", json_error(&e)),
            })?;
        // RFC 8414 §3.3: the issuer named must be the one whose well-known URL was asked.
        if discovery.issuer.trim_end_matches('/') != self.access.as_str().trim_end_matches('/') {
            return Err(NgiError::BadAnswer {
                endpoint,
                detail: "the discovery document names another issuer than the one asked".into(),
            });
        }
        let jwks_uri = discovery
            .jwks_uri
            .as_deref()
            .and_then(|uri| Url::parse(uri).ok());
        Ok((
            IssuerRule {
                issuer: discovery.issuer,
                required: discovery.authorization_response_iss_parameter_supported,
            },
            jwks_uri,
        ))
    }
}

/// Times one call to NGI and counts its failure by kind, for `/metrics`.
pub(crate) async fn measured<T>(
    endpoint: Endpoint,
    call: impl std::future::Future<Output = Result<T, NgiError>>,
) -> Result<T, NgiError> {
    let started = std::time::Instant::now();
    let result = call.await;
    crate::metrics::ngi_request(endpoint.as_str(), started.elapsed());
    if let Err(e) = &result {
        crate::metrics::ngi_error(endpoint.as_str(), e.kind());
    }
    result
}

/// The oauth2 crate's HTTP hook: our shared client, our trace id, and 5xx answers turned into
/// errors before oauth2 tries to read them as OAuth error bodies.
pub(crate) async fn send_token_request(
    http: &reqwest::Client,
    trace_id: &str,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, NgiError> {
    let endpoint = Endpoint::Token;
    let mut request = reqwest::Request::try_from(request).map_err(|e| NgiError::BadAnswer {
        endpoint,
        detail: format!("cannot build the token request: {e}"),
    })?;
    if let Ok(value) = HeaderValue::from_str(trace_id) {
        request.headers_mut().insert(TRACE_HEADER, value);
    }
    let response = http
        .execute(request)
        .await
        .map_err(|e| NgiError::from_reqwest(endpoint, e))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(NgiError::Status {
            endpoint,
            status: status.as_u16(),
            trace_id: None,
        });
    }
    let mut answer = oauth2::http::Response::builder().status(status);
    if let Some(headers) = answer.headers_mut() {
        headers.extend(response.headers().clone());
    }
    let body = read_body(endpoint, response).await?;
    answer.body(body).map_err(|e| NgiError::BadAnswer {
        endpoint,
        detail: e.to_string(),
    })
}

fn is_loopback(url: &Url) -> bool {
    crate::config::is_loopback(url)
}

#[cfg(test)]
mod tests;
