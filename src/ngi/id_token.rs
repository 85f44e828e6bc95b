//! NGI's ID token, when the `openid` scope brings one: read, verified in full, and then held
//! against the debt answer. NGI's FAQ says its token endpoint gives none, its scope reference
//! says one comes with `pid` and `consent_id`; so a missing token is normal, and a present one
//! must pass every check here or the flow stops (fail closed).
//!
//! The checks are pure functions of the token, the keys and `now`; the client fetches the keys
//! (`jwks_uri`) and keeps them in a [`KeyCache`]. The token itself and its `sub` are never kept:
//! only `pid` and `consent_id` live until the debt answer is checked.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::domain::nin::Nin;

/// The one signature algorithm accepted: NGI's discovery names RS256 only.
pub const ALGORITHM: &str = "RS256";
/// How far NGI's clock may be from ours, either way, for `exp` and `iat`.
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(30);
/// A `kid` not in the cached keys fetches them again, but at most this often.
pub const REFETCH_AFTER: SignedDuration = SignedDuration::from_mins(1);
/// Random bytes in a nonce: 256 bits.
const NONCE_BYTES: u32 = 32;

/// An ID token as NGI sent it, unverified. Never logged, never stored.
pub struct IdToken(String);

impl IdToken {
    pub fn new(token: String) -> Self {
        Self(token)
    }
}

impl std::fmt::Debug for IdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdToken([redacted])")
    }
}

/// The nonce sent with one flow's authorization request, kept in the pending flow (the
/// server-side session) and compared with the ID token's.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Nonce(String);

impl Nonce {
    /// A fresh nonce from the CSPRNG, base64url.
    pub fn new_random() -> Self {
        Self(oauth2::CsrfToken::new_random_len(NONCE_BYTES).into_secret())
    }

    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// For the authorization URL only.
    pub fn secret(&self) -> &str {
        &self.0
    }

    fn matches(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl std::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonce([redacted])")
    }
}

/// Why an ID token was refused. Each is NGI's failure (or someone posing as NGI), never the
/// person's; the text names the check, never a value from the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenRefusal {
    #[error("the ID token is not a signed JWT we can read")]
    Malformed,
    #[error("the ID token is signed with {0}, and only RS256 is accepted")]
    Algorithm(String),
    #[error("the ID token's header names no key (kid)")]
    NoKeyId,
    #[error("the ID token's key (kid) is not among NGI's published keys")]
    UnknownKey,
    #[error("the ID token's signature does not verify with NGI's key")]
    Signature,
    #[error("the ID token's iss is not NGI's issuer")]
    Issuer,
    #[error("the ID token's aud is not our client id alone")]
    Audience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token was issued in the future")]
    IssuedInTheFuture,
    #[error("the ID token's nonce is missing or not the one this flow sent")]
    Nonce,
    #[error("the ID token has no {0}")]
    MissingClaim(&'static str),
    #[error("the ID token's pid is not the person in the debt answer")]
    OtherPerson,
    #[error("the ID token's consent_id is not the consent in the debt answer")]
    OtherConsent,
}

/// What the token must say to be NGI's, for us, for this flow, now.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The flow's nonce; a flow without one (started before `openid` was configured) cannot
    /// accept an ID token.
    pub nonce: Option<&'a Nonce>,
    pub now: Timestamp,
}

/// What a verified token says that the debt answer must agree with.
pub struct Verified {
    pid: String,
    consent_id: String,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("pid", &"[redacted]")
            .field("consent_id", &self.consent_id)
            .finish()
    }
}

impl Verified {
    /// After the debt fetch: `pid` must be the debt answer's `ssn`, and `consent_id` its
    /// `consent.id` (a debt answer without a consent id cannot agree).
    pub fn check_debt(&self, ssn: &Nin, consent_id: Option<&str>) -> Result<(), IdTokenRefusal> {
        let same_person: bool = self
            .pid
            .as_bytes()
            .ct_eq(ssn.expose_secret().as_bytes())
            .into();
        if !same_person {
            return Err(IdTokenRefusal::OtherPerson);
        }
        if consent_id != Some(self.consent_id.as_str()) {
            return Err(IdTokenRefusal::OtherConsent);
        }
        Ok(())
    }
}

/// The JOSE header, read before any key is chosen.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    pub kid: String,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

/// Reads the header: RS256 and a `kid`, or a refusal. `none`, HS256 and every other `alg` stop
/// here, before any key or signature is looked at.
pub fn read_header(token: &IdToken) -> Result<Header, IdTokenRefusal> {
    let mut parts = token.0.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenRefusal::Malformed);
    };
    let raw: RawHeader = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(IdTokenRefusal::Malformed)?;
    if raw.alg != ALGORITHM {
        // A short plain name only: an attacker's header is not copied into logs as it came.
        let plain = !raw.alg.is_empty()
            && raw.alg.len() <= 16
            && raw.alg.bytes().all(|b| b.is_ascii_alphanumeric());
        let alg = if plain { raw.alg } else { "other".into() };
        return Err(IdTokenRefusal::Algorithm(alg));
    }
    match raw.kid {
        Some(kid) if !kid.is_empty() => Ok(Header { kid }),
        _ => Err(IdTokenRefusal::NoKeyId),
    }
}

/// The claims we read. `sub` is not among them: it is neither checked nor kept.
#[derive(Debug, Deserialize)]
pub struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    iat: Option<i64>,
    nonce: Option<String>,
    pid: Option<String>,
    consent_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Checks the signature with `key` (RS256 only) and reads the claims; the claims' values are
/// checked by [`check_claims`].
pub fn decode_verified(token: &IdToken, key: &DecodingKey) -> Result<Claims, IdTokenRefusal> {
    let mut validation = Validation::new(Algorithm::RS256);
    // Time, audience and issuer are checked by `check_claims`, on our clock and to our rules.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    match jsonwebtoken::decode::<Claims>(&token.0, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => IdTokenRefusal::Signature,
            // Anything else (an unreadable payload, claims of the wrong type) is unreadable.
            _ => IdTokenRefusal::Malformed,
        }),
    }
}

/// The claims' values: `iss` equal, `aud` our client id and nothing else, `exp` not passed and
/// `iat` not ahead on our clock (with [`CLOCK_SKEW`]), the nonce this flow sent, and `pid` and
/// `consent_id` present for the debt answer's check.
pub fn check_claims(claims: Claims, expected: &Expected<'_>) -> Result<Verified, IdTokenRefusal> {
    if claims.iss.as_deref() != Some(expected.issuer) {
        return Err(IdTokenRefusal::Issuer);
    }
    let ours = match &claims.aud {
        Some(Audience::One(aud)) => aud == expected.client_id,
        Some(Audience::Many(auds)) => {
            matches!(auds.as_slice(), [aud] if aud == expected.client_id)
        }
        None => false,
    };
    if !ours {
        return Err(IdTokenRefusal::Audience);
    }
    let now = expected.now.as_second();
    let skew = CLOCK_SKEW.as_secs();
    let exp = claims.exp.ok_or(IdTokenRefusal::MissingClaim("exp"))?;
    if now >= exp.saturating_add(skew) {
        return Err(IdTokenRefusal::Expired);
    }
    let iat = claims.iat.ok_or(IdTokenRefusal::MissingClaim("iat"))?;
    if iat > now.saturating_add(skew) {
        return Err(IdTokenRefusal::IssuedInTheFuture);
    }
    let nonce_ok = match (expected.nonce, claims.nonce.as_deref()) {
        (Some(sent), Some(got)) => sent.matches(got),
        _ => false,
    };
    if !nonce_ok {
        return Err(IdTokenRefusal::Nonce);
    }
    Ok(Verified {
        pid: claims.pid.ok_or(IdTokenRefusal::MissingClaim("pid"))?,
        consent_id: claims
            .consent_id
            .ok_or(IdTokenRefusal::MissingClaim("consent_id"))?,
    })
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Reads a JWKS: the RSA signing keys with a `kid` that may be used with RS256, by `kid`.
/// Other keys (other types, encryption keys, other algorithms) are left out, not refused.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, DecodingKey>, serde_json::Error> {
    let set: KeySet = serde_json::from_slice(body)?;
    Ok(set
        .keys
        .into_iter()
        .filter(|k| k.kty == "RSA")
        .filter(|k| k.usage.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == ALGORITHM))
        .filter_map(|k| {
            let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
            Some((k.kid?, key))
        })
        .collect())
}

/// NGI's ID-token keys as last fetched, and when.
#[derive(Default)]
pub struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Timestamp>,
}

impl KeyCache {
    /// The key for `kid`, if the cache has it.
    pub fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid)
    }

    /// Whether to fetch the keys before looking for `kid`: never fetched, or `kid` unknown and
    /// the last fetch at least [`REFETCH_AFTER`] ago (an unknown `kid` cannot make us ask NGI
    /// more than once a minute).
    pub fn should_fetch(&self, kid: &str, now: Timestamp) -> bool {
        match self.fetched_at {
            None => true,
            Some(at) => !self.keys.contains_key(kid) && now.duration_since(at) >= REFETCH_AFTER,
        }
    }

    /// Replaces the keys with a fresh fetch.
    pub fn replace(&mut self, keys: HashMap<String, DecodingKey>, now: Timestamp) {
        self.keys = keys;
        self.fetched_at = Some(now);
    }
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("fetched_at", &self.fetched_at)
            .finish()
    }
}

#[cfg(test)]
mod tests;
