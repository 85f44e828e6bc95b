//! The NGI client: the authorization URL and code exchange through the `oauth2` crate, the debt
//! API, and the discovery document that names NGI's issuer. One outbound HTTP client serves all
//! of them: built once, redirects off (the oauth2 crate's SSRF advice), connect and total timeouts.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use reqwest::header::{self, HeaderValue};
use std::sync::OnceLock;

use serde::Deserialize;
use url::Url;

use crate::domain::debt::DebtSummary;
use crate::domain::scope::ConsentScope;

pub(crate) use super::answer::{
    error_answer, is_json, json_error, loggable, read_body, read_debt_answer,
};
pub use super::error::{ClientSetupError, DiscoveryError, Endpoint, NgiError};

/// The header NGI echoes as `trace_id` in its error answers; we send our own request id in it.
pub const TRACE_HEADER: &str = "x-trace-id";

pub(crate) type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

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

/// What the token endpoint granted: the access token (used once, then dropped) and the scope
/// NGI says it granted (`None` when it left `scope` out: then it is the one asked for, RFC 6749
/// §5.1).
pub struct Grant {
    pub access_token: AccessToken,
    pub scopes: Option<Vec<String>>,
}

/// A started flow: where to send the browser, and what to keep server-side.
pub struct Authorization {
    pub url: Url,
    pub state: CsrfToken,
    pub pkce_verifier: Option<PkceCodeVerifier>,
}

/// The one client for everything NGI.
#[derive(Debug)]
pub struct NgiClient {
    oauth: OAuthClient,
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
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
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
        let oauth = BasicClient::new(config.client_id.clone())
            .set_client_secret(config.client_secret)
            .set_auth_uri(AuthUrl::from_url(join(&config.access, "oauth2/auth")?))
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
            http,
            client_id: config.client_id,
            debt_url: join(&config.api, "v1/debt")?,
            discovery_url: join(&config.access, ".well-known/openid-configuration")?,
            api: config.api,
            access: config.access,
            scope: config.scope,
            pkce: config.pkce,
            issuer,
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

    /// A fresh authorization request: `state` from `new_state`, PKCE S256 when enabled.
    pub fn authorize(&self, new_state: impl FnOnce() -> CsrfToken) -> Authorization {
        let mut request = self.oauth.authorize_url(new_state);
        for scope in self.scope.request_scopes() {
            request = request.add_scope(Scope::new(scope));
        }
        let pkce_verifier = if self.pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            Some(verifier)
        } else {
            None
        };
        let (url, state) = request.url();
        Authorization {
            url,
            state,
            pkce_verifier,
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
        let rule = measured(Endpoint::Discovery, self.fetch_discovery())
            .await
            .map_err(|e| DiscoveryError::classify(self.discovery_url.clone(), e))?;
        // Another caller may have set it meanwhile: the same document, so either is right.
        Ok(self.issuer.get_or_init(|| rule))
    }

    async fn fetch_discovery(&self) -> Result<IssuerRule, NgiError> {
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
        Ok(IssuerRule {
            issuer: discovery.issuer,
            required: discovery.authorization_response_iss_parameter_supported,
        })
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
