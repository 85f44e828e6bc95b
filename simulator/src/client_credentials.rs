//! The client-credentials grant at `POST /oauth2/token`: Basic auth, `audience` and `scope` checked against
//! what the client is granted, refused as NGI's authorization server (Ory Hydra) refuses: a scope the client
//! may not ask for is `invalid_scope` (checked first), an audience it is not granted `invalid_request`.
//! A token is bound to its client, audiences and scope; it carries no person, so the person-facing
//! `GET /v1/debt` does not take it.

use std::collections::HashMap;

use jiff::Timestamp;

use super::client_auth::BasicCredentials;
use super::params::Params;
use super::random;
use super::state::{Shared, lock};
use super::store::{self, ACCESS_TOKEN_TTL, IssuedToken};
use super::token::{TokenError, authenticated_form};
use axum::http::HeaderMap;

/// An NGI API a client-credentials token can be granted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    /// `/v1/debt`: debt by consent id, status, revoke.
    Debt,
    /// `/v1/consent/agreement`: integrated consent.
    Agreement,
    /// `/feed/v1/consent`: the consent feed.
    Feed,
}

impl Audience {
    pub const ALL: [Audience; 3] = [Audience::Debt, Audience::Agreement, Audience::Feed];

    /// The path on the API host; the audience is the API host's origin followed by it.
    pub fn path(self) -> &'static str {
        match self {
            Audience::Debt => "/v1/debt",
            Audience::Agreement => "/v1/consent/agreement",
            Audience::Feed => "/feed/v1/consent",
        }
    }

    /// The scopes NGI grants with this audience.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Audience::Debt => &["debt.unsecured.presentation", "debt.unsecured.processing"],
            Audience::Agreement => &["consent.create"],
            Audience::Feed => &["client.access.consent.events"],
        }
    }

    /// The audience an absolute URL names on this simulator, if any.
    pub(crate) fn from_url(shared: &Shared, url: &str) -> Option<Audience> {
        Audience::ALL
            .into_iter()
            .find(|a| shared.endpoint(a.path()) == url)
    }
}

/// A client-credentials token as the simulator remembers it.
#[derive(Clone, Debug)]
pub(crate) struct ClientToken {
    pub(crate) client_id: String,
    pub(crate) audiences: Vec<Audience>,
    pub(crate) scope: Vec<String>,
    issued_at: Timestamp,
}

/// Client-credentials tokens, apart from the person-bound ones in the store.
#[derive(Debug, Default)]
pub(crate) struct ClientTokens {
    tokens: HashMap<String, ClientToken>,
}

impl ClientTokens {
    fn issue(&mut self, token: ClientToken, now: Timestamp) -> String {
        store::make_room(&mut self.tokens, |t| t.issued_at, ACCESS_TOKEN_TTL, now);
        let access_token = random::access_token();
        self.tokens.insert(access_token.clone(), token);
        access_token
    }

    /// The token's grant while it is valid; an expired one is removed on sight.
    pub(crate) fn get(&mut self, access_token: &str, now: Timestamp) -> Option<&ClientToken> {
        if self
            .tokens
            .get(access_token)
            .is_some_and(|t| now >= store::later(t.issued_at, ACCESS_TOKEN_TTL))
        {
            self.tokens.remove(access_token);
        }
        self.tokens.get(access_token)
    }

    /// RFC 7009 for this kind of token: only the client that holds it can revoke it.
    pub(crate) fn revoke(&mut self, access_token: &str, client_id: &str) {
        if self
            .tokens
            .get(access_token)
            .is_some_and(|t| t.client_id == client_id)
        {
            self.tokens.remove(access_token);
        }
    }
}

/// The audiences named by a request's `audience` (space-separated, as Hydra reads it), known ones only.
pub(crate) fn requested_audiences(shared: &Shared, form: &Params) -> Vec<Audience> {
    form.get("audience")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|a| Audience::from_url(shared, a))
        .collect()
}

/// `grant_type=client_credentials`: checks and issues.
pub(crate) fn grant(
    shared: &Shared,
    headers: &HeaderMap,
    basic: Option<&BasicCredentials>,
    form: &Params,
) -> Result<IssuedToken, TokenError> {
    let client_id = authenticated_form(shared, headers, basic, form)?;
    if form
        .repeated(&["grant_type", "audience", "scope", "client_id"])
        .is_some()
    {
        return Err(TokenError::InvalidRequest(
            "A parameter is included more than once",
        ));
    }
    if form.get("client_id").is_some_and(|id| id != client_id) {
        return Err(TokenError::InvalidRequest(
            "client_id does not match the authenticated client",
        ));
    }
    let granted = shared.audiences_of(&client_id);
    let scope: Vec<String> = form
        .get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let may_ask = |s: &String| granted.iter().any(|a| a.scopes().contains(&s.as_str()));
    if !scope.iter().all(may_ask) {
        return Err(TokenError::InvalidScope(
            "The OAuth 2.0 Client is not allowed to request a scope it asked for",
        ));
    }
    let named: Vec<&str> = form
        .get("audience")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if named.is_empty() {
        // Hydra would grant a token for no audience, which no NGI API takes; NGI documents the parameter.
        return Err(TokenError::InvalidRequest("audience is required"));
    }
    let mut audiences = Vec::with_capacity(named.len());
    for url in named {
        match Audience::from_url(shared, url) {
            Some(a) if granted.contains(&a) => audiences.push(a),
            _ => {
                return Err(TokenError::InvalidRequest(
                    "Requested audience has not been whitelisted by the OAuth 2.0 Client",
                ));
            }
        }
    }
    let now = shared.now();
    let issued_scope = scope.join(" ");
    let access_token = lock(&shared.client_tokens).issue(
        ClientToken {
            client_id,
            audiences,
            scope,
            issued_at: now,
        },
        now,
    );
    Ok(IssuedToken {
        access_token,
        scope: issued_scope,
        identity: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn token(client_id: &str) -> ClientToken {
        ClientToken {
            client_id: client_id.into(),
            audiences: vec![Audience::Debt],
            scope: vec!["debt.unsecured.presentation".into()],
            issued_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_client_token_expires_after_3599_seconds() {
        let mut tokens = ClientTokens::default();
        let t0 = Timestamp::UNIX_EPOCH;
        let issued = tokens.issue(token("demo"), t0);
        assert!(
            tokens
                .get(
                    &issued,
                    store::later(t0, ACCESS_TOKEN_TTL - jiff::SignedDuration::from_secs(1))
                )
                .is_some()
        );
        assert!(
            tokens
                .get(&issued, store::later(t0, ACCESS_TOKEN_TTL))
                .is_none()
        );
    }

    #[test]
    fn only_the_holding_client_revokes_a_token() {
        let mut tokens = ClientTokens::default();
        let t0 = Timestamp::UNIX_EPOCH;
        let issued = tokens.issue(token("demo"), t0);
        tokens.revoke(&issued, "other");
        assert!(tokens.get(&issued, t0).is_some());
        tokens.revoke(&issued, "demo");
        assert!(tokens.get(&issued, t0).is_none());
    }
}
