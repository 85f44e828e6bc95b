//! What the simulator remembers between requests: login transactions, codes, access tokens, consents,
//! and the consent feed their changes are published to. Every operation takes `now`, so expiry is
//! tested without waiting. Every map is pruned and bounded.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use super::feed::{EventKind, FeedLog};
use super::nin::Nin;
use super::pkce;
use super::random;
use super::scope::{Purpose, Scope};

/// How long a person has to log in and decide.
pub(crate) const TRANSACTION_TTL: SignedDuration = SignedDuration::from_mins(10);
/// Authorization codes are short-lived (RFC 6749 §4.1.2 recommends at most 10 minutes; NGI's are short).
pub(crate) const CODE_TTL: SignedDuration = SignedDuration::from_secs(60);
/// NGI answers `expires_in: 3599`.
pub(crate) const ACCESS_TOKEN_TTL: SignedDuration = SignedDuration::from_secs(3599);
/// A consent without day suffix may be used once, "within about 10 minutes".
pub(crate) const SINGLE_USE_CONSENT_TTL: SignedDuration = SignedDuration::from_mins(10);
/// How long a redeemed code is remembered, to refuse a replay and revoke what it bought.
const SPENT_CODE_TTL: SignedDuration = SignedDuration::from_mins(10);
/// Upper bound for each map; the oldest entry goes when it is full.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// A validated `/oauth2/auth` request.
#[derive(Clone, Debug)]
pub(crate) struct AuthorizationRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) scope: Scope,
    pub(crate) code_challenge: Option<String>,
    /// OpenID Connect's `nonce`, echoed in the ID token.
    pub(crate) nonce: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct LoginTransaction {
    pub(crate) request: AuthorizationRequest,
    pub(crate) nin: Option<Nin>,
    created_at: Timestamp,
}

#[derive(Debug)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    debt_scope: String,
    consent_id: String,
    /// Whether `openid` was asked for, and the authorization request's `nonce`.
    openid: bool,
    nonce: Option<String>,
    issued_at: Timestamp,
}

#[derive(Debug)]
struct SpentCode {
    access_token: Option<String>,
    spent_at: Timestamp,
}

#[derive(Debug)]
struct AccessTokenGrant {
    consent_id: String,
    client_id: String,
    issued_at: Timestamp,
}

#[derive(Clone, Debug)]
pub(crate) struct Consent {
    pub(crate) id: String,
    /// The client the person consented to; only it may use the consent by id.
    pub(crate) client_id: String,
    pub(crate) nin: Nin,
    pub(crate) purpose: Purpose,
    pub(crate) single_use: bool,
    pub(crate) used: bool,
    /// Revoked by the client (`DELETE /v1/debt/{id}`) or by the person at Min gjeld.
    pub(crate) revoked: bool,
    pub(crate) created_at: Timestamp,
    pub(crate) expires_at: Timestamp,
    /// The client's own reference, in the feed's `externalConsentId` and (as NGI's example has
    /// it) the ARKIVERT block's inner `consentId`: the agreement's `client_consent_id`, or a
    /// UUID of its own for a consent given through the redirect flow.
    pub(crate) external_id: String,
    /// `SAMTYKKE_ARKIVERT` has been published: the consent has ended and the feed said so.
    pub(crate) archived: bool,
}

impl Consent {
    /// Whether it can still be used (and so revoked).
    pub(crate) fn is_active(&self, now: Timestamp) -> bool {
        !(self.revoked || (self.single_use && self.used)) && now < self.expires_at
    }
}

/// The client the handle makes act, so that the sequence numbers a registered client sees have
/// gaps. It is not registered: no one can log in as it or ask its tokens.
pub(crate) const HIDDEN_CLIENT_ID: &str = "5f0c9d2e-8a4b-4c1d-9e7f-hidden000001";
/// The test person the hidden client's consents are for.
const HIDDEN_CLIENT_PERSON: &str = "15058000032";

/// The test person whose consents [`Store::grant`] makes (one of the two with fixture debt).
pub(crate) const GRANTED_PERSON: &str = "14842249091";

/// Why a person's revocation at Min gjeld was not done.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PersonRevokeError {
    /// Not one of this person's consents.
    Unknown,
    /// It has ended already.
    Ended,
}

/// What `/oauth2/token` hands out.
#[derive(Debug)]
pub(crate) struct IssuedToken {
    pub(crate) access_token: String,
    pub(crate) scope: String,
    /// What an ID token is made of, when `openid` was asked for with the code.
    pub(crate) identity: Option<Identity>,
}

/// The person and consent behind a code, for the ID token.
#[derive(Clone)]
pub(crate) struct Identity {
    pub(crate) client_id: String,
    pub(crate) pid: String,
    pub(crate) consent_id: String,
    pub(crate) nonce: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("client_id", &self.client_id)
            .field("pid", &"[redacted]")
            .field("consent_id", &self.consent_id)
            .field("nonce", &self.nonce.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// What a token request must match.
pub(crate) struct TokenExchange<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) code: &'a str,
    pub(crate) redirect_uri: &'a str,
    pub(crate) code_verifier: Option<&'a str>,
}

/// Why a code was refused; all are `invalid_grant` on the wire.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GrantError {
    #[error("The authorization code is unknown")]
    UnknownCode,
    #[error("The authorization code has already been used")]
    AlreadyUsed,
    #[error("The authorization code has expired")]
    Expired,
    #[error("The authorization code was issued to another client")]
    OtherClient,
    #[error("redirect_uri does not match the one used in the authorization request")]
    RedirectUriMismatch,
    #[error("code_verifier is required: a code_challenge was sent in the authorization request")]
    MissingVerifier,
    #[error("code_verifier was sent but the authorization request had no code_challenge")]
    UnexpectedVerifier,
    #[error("The code_verifier does not match the code_challenge")]
    VerifierMismatch,
}

/// Why `/v1/debt` refused a token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DebtRefusal {
    UnknownToken,
    ExpiredToken,
    /// A single-use consent that was used, or a consent the simulator no longer holds.
    NoValidConsent,
    ConsentExpired(Timestamp),
}

/// A successful debt lookup: whose debt and under which consent.
#[derive(Debug)]
pub(crate) struct DebtGrant {
    pub(crate) consent: Consent,
}

/// The person accepted: the code to send back and the request it answers.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) code: String,
    pub(crate) request: AuthorizationRequest,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransactionError {
    UnknownOrExpired,
    NotLoggedIn,
}

/// What a client registered through `PUT /v1/consent/agreement`: the data NGI compares when the
/// same `client_consent_id` comes again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Agreement {
    pub(crate) nin: Nin,
    pub(crate) purpose: Purpose,
    pub(crate) days: u32,
}

/// A registered agreement and the consent it made.
#[derive(Debug)]
struct RegisteredAgreement {
    agreement: Agreement,
    consent_id: String,
    created_at: Timestamp,
}

/// The same `client_consent_id` with other data.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AgreementConflict;

#[derive(Debug, Default)]
pub(crate) struct Store {
    transactions: HashMap<String, LoginTransaction>,
    codes: HashMap<String, CodeGrant>,
    spent_codes: HashMap<String, SpentCode>,
    tokens: HashMap<String, AccessTokenGrant>,
    consents: HashMap<String, Consent>,
    /// Keyed by client id and `client_consent_id` (see [`agreement_key`]).
    agreements: HashMap<String, RegisteredAgreement>,
    pub(crate) feed: FeedLog,
}

/// One map key for a client's `client_consent_id`: the client id's length first, so no pair of
/// ids can run together into another pair's key.
fn agreement_key(client_id: &str, client_consent_id: &str) -> String {
    format!("{}:{client_id}:{client_consent_id}", client_id.len())
}

pub(crate) fn later(t: Timestamp, by: SignedDuration) -> Timestamp {
    t.saturating_add(by).unwrap_or(Timestamp::MAX)
}

fn expired(created: Timestamp, ttl: SignedDuration, now: Timestamp) -> bool {
    now >= later(created, ttl)
}

/// Before an insert into a full map: drops expired entries, then the oldest ones until there is room.
/// (Lookups check expiry themselves, so expired entries may wait here until the map fills.)
pub(crate) fn make_room<V>(
    map: &mut HashMap<String, V>,
    created: impl Fn(&V) -> Timestamp,
    ttl: SignedDuration,
    now: Timestamp,
) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, v| !expired(created(v), ttl, now));
    while map.len() >= MAX_ENTRIES {
        let oldest = map
            .iter()
            .min_by_key(|(_, v)| created(v))
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => map.remove(&k),
            None => break,
        };
    }
}

impl Store {
    /// Keeps a valid authorization request under a new login-transaction id.
    pub(crate) fn begin(&mut self, request: AuthorizationRequest, now: Timestamp) -> String {
        make_room(
            &mut self.transactions,
            |t| t.created_at,
            TRANSACTION_TTL,
            now,
        );
        let tx = random::token();
        self.transactions.insert(
            tx.clone(),
            LoginTransaction {
                request,
                nin: None,
                created_at: now,
            },
        );
        tx
    }

    /// A live transaction; an expired one is removed on sight.
    pub(crate) fn transaction(&mut self, tx: &str, now: Timestamp) -> Option<&LoginTransaction> {
        if self
            .transactions
            .get(tx)
            .is_some_and(|t| expired(t.created_at, TRANSACTION_TTL, now))
        {
            self.transactions.remove(tx);
        }
        self.transactions.get(tx)
    }

    pub(crate) fn log_in(
        &mut self,
        tx: &str,
        nin: Nin,
        now: Timestamp,
    ) -> Result<(), TransactionError> {
        self.transaction(tx, now)
            .ok_or(TransactionError::UnknownOrExpired)?;
        if let Some(t) = self.transactions.get_mut(tx) {
            t.nin = Some(nin);
        }
        Ok(())
    }

    /// Removes the transaction: each one ends exactly once (cancel, decline or accept).
    pub(crate) fn take_transaction(
        &mut self,
        tx: &str,
        now: Timestamp,
    ) -> Option<LoginTransaction> {
        self.transaction(tx, now)?;
        self.transactions.remove(tx)
    }

    /// The person accepted: records the consent and issues a code for it. Ends the transaction.
    pub(crate) fn accept(
        &mut self,
        tx: &str,
        now: Timestamp,
    ) -> Result<Accepted, TransactionError> {
        let logged_in = self
            .transaction(tx, now)
            .ok_or(TransactionError::UnknownOrExpired)?
            .nin
            .is_some();
        if !logged_in {
            return Err(TransactionError::NotLoggedIn);
        }
        let Some(LoginTransaction {
            request,
            nin: Some(nin),
            ..
        }) = self.transactions.remove(tx)
        else {
            return Err(TransactionError::UnknownOrExpired);
        };

        let consent_ttl = match request.scope.days {
            None => SINGLE_USE_CONSENT_TTL,
            Some(days) => SignedDuration::from_hours(24 * i64::from(days)),
        };
        let consent = Consent {
            id: random::uuid(),
            client_id: request.client_id.clone(),
            nin,
            purpose: request.scope.purpose,
            single_use: request.scope.days.is_none(),
            used: false,
            revoked: false,
            created_at: now,
            expires_at: later(now, consent_ttl),
            external_id: random::uuid(),
            archived: false,
        };
        self.make_room_for_consent(now);

        make_room(&mut self.codes, |c| c.issued_at, CODE_TTL, now);
        let code = random::token();
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                debt_scope: request.scope.debt_scope.clone(),
                consent_id: consent.id.clone(),
                openid: request.scope.openid,
                nonce: request.nonce.clone(),
                issued_at: now,
            },
        );
        self.publish_created(&consent, now);
        self.consents.insert(consent.id.clone(), consent);
        Ok(Accepted { code, request })
    }

    /// Before a consent is added: drops ended ones when the map is full, then the oldest.
    fn make_room_for_consent(&mut self, now: Timestamp) {
        if self.consents.len() >= MAX_ENTRIES {
            // Their ends reach the feed before they are forgotten.
            self.notice_expired(now);
            self.consents
                .retain(|_, c| c.expires_at > now && !(c.single_use && c.used));
        }
        make_room(
            &mut self.consents,
            |c| c.created_at,
            SignedDuration::MAX,
            now,
        );
    }

    /// `PUT /v1/consent/agreement`: the consent for `client_consent_id`, made now with `days`,
    /// or the one made before for the same data (whatever became of it since). The same id with
    /// other data is a conflict, and changes nothing.
    pub(crate) fn register_agreement(
        &mut self,
        client_id: &str,
        client_consent_id: &str,
        agreement: Agreement,
        now: Timestamp,
    ) -> Result<Consent, AgreementConflict> {
        let key = agreement_key(client_id, client_consent_id);
        if let Some(known) = self.agreements.get(&key) {
            if known.agreement != agreement {
                return Err(AgreementConflict);
            }
            if let Some(consent) = self.consents.get(&known.consent_id) {
                return Ok(consent.clone());
            }
            // The consent itself was pruned: a new one is made below, as NGI would after
            // forgetting it.
        }
        let consent = Consent {
            id: random::uuid(),
            client_id: client_id.to_owned(),
            nin: agreement.nin.clone(),
            purpose: agreement.purpose,
            single_use: false,
            used: false,
            revoked: false,
            created_at: now,
            expires_at: later(
                now,
                SignedDuration::from_hours(24 * i64::from(agreement.days)),
            ),
            external_id: client_consent_id.to_owned(),
            archived: false,
        };
        self.make_room_for_consent(now);
        make_room(
            &mut self.agreements,
            |a| a.created_at,
            SignedDuration::MAX,
            now,
        );
        self.agreements.insert(
            key,
            RegisteredAgreement {
                agreement,
                consent_id: consent.id.clone(),
                created_at: now,
            },
        );
        self.publish_created(&consent, now);
        self.consents.insert(consent.id.clone(), consent.clone());
        Ok(consent)
    }

    /// Redeems a code for an access token. A presented code is spent whatever the outcome;
    /// presenting it again is refused and revokes the token it bought (RFC 6749 §4.1.2).
    pub(crate) fn redeem(
        &mut self,
        exchange: &TokenExchange<'_>,
        now: Timestamp,
    ) -> Result<IssuedToken, GrantError> {
        let Some(grant) = self.codes.remove(exchange.code) else {
            if let Some(spent) = self.spent_codes.get_mut(exchange.code)
                && !expired(spent.spent_at, SPENT_CODE_TTL, now)
            {
                if let Some(token) = spent.access_token.take() {
                    self.tokens.remove(&token);
                }
                return Err(GrantError::AlreadyUsed);
            }
            return Err(GrantError::UnknownCode);
        };
        make_room(&mut self.spent_codes, |s| s.spent_at, SPENT_CODE_TTL, now);
        self.spent_codes.insert(
            exchange.code.to_owned(),
            SpentCode {
                access_token: None,
                spent_at: now,
            },
        );

        check_grant(&grant, exchange, now)?;

        let identity = match (grant.openid, self.consents.get(&grant.consent_id)) {
            (true, Some(consent)) => Some(Identity {
                client_id: grant.client_id.clone(),
                pid: consent.nin.as_str().to_owned(),
                consent_id: grant.consent_id.clone(),
                nonce: grant.nonce.clone(),
            }),
            _ => None,
        };
        make_room(&mut self.tokens, |t| t.issued_at, ACCESS_TOKEN_TTL, now);
        let access_token = random::access_token();
        self.tokens.insert(
            access_token.clone(),
            AccessTokenGrant {
                consent_id: grant.consent_id,
                client_id: grant.client_id,
                issued_at: now,
            },
        );
        if let Some(spent) = self.spent_codes.get_mut(exchange.code) {
            spent.access_token = Some(access_token.clone());
        }
        Ok(IssuedToken {
            access_token,
            scope: grant.debt_scope,
            identity,
        })
    }

    /// `/v1/debt`: checks token and consent, and uses up a single-use consent.
    pub(crate) fn use_token(
        &mut self,
        access_token: &str,
        now: Timestamp,
    ) -> Result<DebtGrant, DebtRefusal> {
        let grant = self
            .tokens
            .get(access_token)
            .ok_or(DebtRefusal::UnknownToken)?;
        if expired(grant.issued_at, ACCESS_TOKEN_TTL, now) {
            self.tokens.remove(access_token);
            return Err(DebtRefusal::ExpiredToken);
        }
        let consent = self
            .consents
            .get_mut(&grant.consent_id)
            .ok_or(DebtRefusal::NoValidConsent)?;
        if (consent.single_use && consent.used) || consent.revoked {
            return Err(DebtRefusal::NoValidConsent);
        }
        if now >= consent.expires_at {
            return Err(DebtRefusal::ConsentExpired(consent.expires_at));
        }
        consent.used = true;
        let consent = consent.clone();
        if consent.single_use {
            // Spent: it ends at NGI, and the feed says so.
            self.archive(&consent.id, now, now);
        }
        Ok(DebtGrant { consent })
    }

    /// RFC 7009: revokes an access token if this client holds it; unknown tokens are no error.
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

fn check_grant(
    grant: &CodeGrant,
    exchange: &TokenExchange<'_>,
    now: Timestamp,
) -> Result<(), GrantError> {
    if expired(grant.issued_at, CODE_TTL, now) {
        return Err(GrantError::Expired);
    }
    if grant.client_id != exchange.client_id {
        return Err(GrantError::OtherClient);
    }
    if grant.redirect_uri != exchange.redirect_uri {
        return Err(GrantError::RedirectUriMismatch);
    }
    match (&grant.code_challenge, exchange.code_verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(GrantError::UnexpectedVerifier),
        (Some(_), None) => Err(GrantError::MissingVerifier),
        (Some(challenge), Some(verifier)) if pkce::verifier_matches(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(GrantError::VerifierMismatch),
    }
}

/// A consent's life after it is granted, each change published to the feed.
mod consents;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
