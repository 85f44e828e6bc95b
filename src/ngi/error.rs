//! What can go wrong talking to NGI: which endpoint, what kind of failure (each with a fixed
//! label for logs and metrics), and why the client or the issuer could not be set up.

use url::Url;

/// Which NGI endpoint a failure came from, for logs and pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Debt,
    Discovery,
    /// `GET /v1/debt/{id}`: debt again by consent id.
    DebtByConsent,
    /// `GET /v1/debt/{id}/status`.
    ConsentStatus,
    /// `DELETE /v1/debt/{id}`.
    Revoke,
    /// `PUT /v1/consent/agreement`: registering an integrated consent.
    Agreement,
    /// The consent feed: `/feed/v1/consent` and its first and last sequence numbers.
    Feed,
    /// The JWKS named by discovery's `jwks_uri`: the keys of NGI's ID tokens.
    Jwks,
}

impl Endpoint {
    /// Every endpoint's label, for the metrics.
    pub const LABELS: &'static [&'static str] = &[
        "token",
        "debt",
        "discovery",
        "debt_by_consent",
        "consent_status",
        "revoke",
        "agreement",
        "feed",
        "jwks",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Debt => "debt",
            Endpoint::Discovery => "discovery",
            Endpoint::DebtByConsent => "debt_by_consent",
            Endpoint::ConsentStatus => "consent_status",
            Endpoint::Revoke => "revoke",
            Endpoint::Agreement => "agreement",
            Endpoint::Feed => "feed",
            Endpoint::Jwks => "jwks",
        }
    }
}

/// Everything that can go wrong talking to NGI, by what the person should be told.
#[derive(Debug, thiserror::Error)]
pub enum NgiError {
    /// The token endpoint answered with an OAuth error (`invalid_grant`, `invalid_client` …).
    #[error("NGI refused the code exchange: {code}")]
    TokenRefused { code: String },
    /// The debt API answered 403: no valid consent (used, expired or revoked).
    #[error("NGI says the consent is not valid ({error}, trace id {trace_id:?})")]
    ConsentNotValid {
        error: String,
        trace_id: Option<String>,
    },
    /// An answer with a status we cannot use (5xx, or an unexpected 4xx).
    #[error("NGI {} answered HTTP {status} (trace id {trace_id:?})", endpoint.as_str())]
    Status {
        endpoint: Endpoint,
        status: u16,
        trace_id: Option<String>,
    },
    #[error("NGI {} did not answer in time", endpoint.as_str())]
    Timeout { endpoint: Endpoint },
    /// The transport failed; the source is reqwest's error without the URL, so the log's cause
    /// chain says what happened (refused, reset, TLS) and nothing request-specific.
    #[error("NGI {} could not be reached or closed the connection", endpoint.as_str())]
    Unreachable {
        endpoint: Endpoint,
        #[source]
        source: reqwest::Error,
    },
    /// A 200 whose body is not what the spec says (garbage, wrong content type, bad values).
    #[error("NGI {} sent an answer we cannot read: {detail}", endpoint.as_str())]
    BadAnswer { endpoint: Endpoint, detail: String },
}

impl NgiError {
    /// Every label `kind` can give, for the metrics.
    pub const KINDS: &'static [&'static str] = &[
        "token_refused",
        "consent_not_valid",
        "status",
        "timeout",
        "unreachable",
        "bad_answer",
    ];

    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            NgiError::TokenRefused { .. } => "token_refused",
            NgiError::ConsentNotValid { .. } => "consent_not_valid",
            NgiError::Status { .. } => "status",
            NgiError::Timeout { .. } => "timeout",
            NgiError::Unreachable { .. } => "unreachable",
            NgiError::BadAnswer { .. } => "bad_answer",
        }
    }

    pub(crate) fn from_reqwest(endpoint: Endpoint, e: reqwest::Error) -> Self {
        if e.is_timeout() {
            NgiError::Timeout { endpoint }
        } else {
            // Without the URL: it is NGI's host, known from the configuration, and on the
            // token endpoint nothing else, but keep error text free of anything request-specific.
            NgiError::Unreachable {
                endpoint,
                source: e.without_url(),
            }
        }
    }
}

/// Why the NGI client could not be built (a URL or TLS set-up that cannot work).
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error("cannot build the NGI URL {path}")]
    Url {
        path: &'static str,
        #[source]
        source: url::ParseError,
    },
    #[error("cannot build the HTTP client for NGI")]
    Http(#[source] reqwest::Error),
}

/// Why NGI's discovery document named no issuer.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The host answered, but not with a discovery document naming itself (a 4xx, something
    /// else than discovery, another issuer): asking again will not help.
    #[error("the discovery document at {url} cannot be used")]
    Unusable {
        url: Url,
        #[source]
        source: NgiError,
    },
    /// The host could not be reached, did not answer in time, or failed (5xx, 429): worth
    /// asking again.
    #[error("the discovery document at {url} could not be read")]
    Unavailable {
        url: Url,
        #[source]
        source: NgiError,
    },
}

impl DiscoveryError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DiscoveryError::Unavailable { .. })
    }

    pub(crate) fn classify(url: Url, source: NgiError) -> Self {
        let retryable = match &source {
            NgiError::Timeout { .. } | NgiError::Unreachable { .. } => true,
            NgiError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        };
        if retryable {
            DiscoveryError::Unavailable { url, source }
        } else {
            DiscoveryError::Unusable { url, source }
        }
    }
}
