//! RS256 ID tokens, as NGI's scope reference describes them for `openid` (`pid`, `consent_id`,
//! the authorization request's `nonce`), and the JWKS that publishes their key. Signed with ring
//! from test keys kept in the source tree: anyone can read them, so these tokens prove nothing
//! outside a test.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};

use super::store::{Identity, later};

/// How long an ID token is valid (NGI's access tokens live an hour; an ID token is read at once).
pub(crate) const ID_TOKEN_TTL: SignedDuration = SignedDuration::from_mins(5);

const KEY_1: &str = include_str!("fixtures/id_token_key.pem");
const KEY_2: &str = include_str!("fixtures/id_token_key_2.pem");

/// Ways the simulator can make a bad ID token on purpose, so the site's refusals can be tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdTokenFault {
    /// Signed with a key the JWKS does not hold, under the published key's `kid`.
    WrongKey,
    /// A `kid` the JWKS never names.
    UnknownKid,
    /// `alg: none` and no signature.
    AlgNone,
    /// HS256, keyed with the client secret as some servers do.
    Hs256,
    /// Another `iss`.
    WrongIssuer,
    /// Another `aud`.
    WrongAudience,
    /// Our client id and another audience beside it.
    ExtraAudience,
    /// Issued and expired an hour ago.
    Expired,
    /// Issued an hour from now.
    IssuedInTheFuture,
    /// Another `nonce` than the authorization request's.
    WrongNonce,
    /// No `nonce`.
    NoNonce,
    /// Another person's number in `pid`.
    OtherPid,
    /// Another consent's id in `consent_id`.
    OtherConsentId,
}

/// One signing key and the `kid` it is published under.
struct SigningKey {
    kid: &'static str,
    pair: RsaKeyPair,
}

/// The simulator's ID-token keys: the first is published from the start; `rotate` publishes
/// the second beside it and signs with it from then on.
pub(crate) struct Signer {
    keys: [SigningKey; 2],
    rng: SystemRandom,
}

/// The embedded test keys could not be read (a broken fixture).
#[derive(Debug, thiserror::Error)]
#[error("the simulator's ID-token test key is unusable: {0}")]
pub(crate) struct KeyError(&'static str);

fn load(pem: &str, kid: &'static str) -> Result<SigningKey, KeyError> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = STANDARD
        .decode(body.trim())
        .map_err(|_| KeyError("not base64"))?;
    let pair = RsaKeyPair::from_pkcs8(&der).map_err(|_| KeyError("not an RSA PKCS#8 key"))?;
    Ok(SigningKey { kid, pair })
}

/// What one ID token is made of.
pub(crate) struct Issue<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) identity: &'a Identity,
    pub(crate) client_secret: &'a str,
    pub(crate) now: Timestamp,
    /// Whether the second key is the one in use.
    pub(crate) rotated: bool,
    pub(crate) fault: Option<IdTokenFault>,
}

impl Signer {
    pub(crate) fn new() -> Result<Self, KeyError> {
        Ok(Self {
            keys: [load(KEY_1, "sim-2026-1")?, load(KEY_2, "sim-2026-2")?],
            rng: SystemRandom::new(),
        })
    }

    /// The JWKS: the first key, and the second once keys were rotated.
    pub(crate) fn jwks(&self, rotated: bool) -> Value {
        let published = if rotated { 2 } else { 1 };
        let keys: Vec<Value> = self.keys[..published]
            .iter()
            .map(|key| {
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(key.pair.public());
                json!({
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": key.kid,
                    "n": URL_SAFE_NO_PAD.encode(&public.n),
                    "e": URL_SAFE_NO_PAD.encode(&public.e),
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    /// A compact JWS: the claims NGI's scope reference names, bent by `fault` when one is set.
    pub(crate) fn issue(&self, issue: &Issue<'_>) -> Result<String, KeyError> {
        let Issue {
            issuer,
            identity,
            now,
            fault,
            ..
        } = *issue;
        let (current, other) = if issue.rotated {
            (&self.keys[1], &self.keys[0])
        } else {
            (&self.keys[0], &self.keys[1])
        };
        let issued_at = match fault {
            Some(IdTokenFault::Expired) => later(now, SignedDuration::from_hours(-1)),
            Some(IdTokenFault::IssuedInTheFuture) => later(now, SignedDuration::from_hours(1)),
            _ => now,
        };
        let expires_at = match fault {
            Some(IdTokenFault::Expired) => later(now, SignedDuration::from_mins(-55)),
            _ => later(issued_at, ID_TOKEN_TTL),
        };
        let audience = match fault {
            Some(IdTokenFault::WrongAudience) => json!("another-client"),
            Some(IdTokenFault::ExtraAudience) => json!([identity.client_id, "another-client"]),
            _ => json!(identity.client_id),
        };
        let iss = match fault {
            Some(IdTokenFault::WrongIssuer) => "https://issuer.invalid/",
            _ => issuer,
        };
        let pid = match fault {
            Some(IdTokenFault::OtherPid) => "29868099311",
            _ => identity.pid.as_str(),
        };
        let consent_id = match fault {
            Some(IdTokenFault::OtherConsentId) => "00000000-0000-4000-8000-000000000000",
            _ => identity.consent_id.as_str(),
        };
        let mut claims = json!({
            "iss": iss,
            "sub": format!("sub-{}", identity.consent_id),
            "aud": audience,
            "iat": issued_at.as_second(),
            "exp": expires_at.as_second(),
            "auth_time": issued_at.as_second(),
            "pid": pid,
            "consent_id": consent_id,
        });
        let nonce = match fault {
            Some(IdTokenFault::WrongNonce) => Some("another-nonce"),
            Some(IdTokenFault::NoNonce) => None,
            _ => identity.nonce.as_deref(),
        };
        if let (Some(nonce), Some(map)) = (nonce, claims.as_object_mut()) {
            map.insert("nonce".into(), Value::String(nonce.to_owned()));
        }
        let (alg, kid, key) = match fault {
            Some(IdTokenFault::AlgNone) => ("none", current.kid, None),
            Some(IdTokenFault::Hs256) => ("HS256", current.kid, None),
            Some(IdTokenFault::WrongKey) => ("RS256", current.kid, Some(other)),
            Some(IdTokenFault::UnknownKid) => ("RS256", "sim-unknown", Some(other)),
            _ => ("RS256", current.kid, Some(current)),
        };
        let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match (alg, key) {
            ("HS256", _) => hs256(issue.client_secret, &signing_input),
            (_, Some(key)) => {
                let mut signature = vec![0; key.pair.public().modulus_len()];
                key.pair
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &self.rng,
                        signing_input.as_bytes(),
                        &mut signature,
                    )
                    .map_err(|_| KeyError("signing failed"))?;
                signature
            }
            _ => Vec::new(),
        };
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

fn hs256(secret: &str, input: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            client_id: "client".into(),
            pid: "14842249091".into(),
            consent_id: "c0ffee00-0000-4000-8000-000000000001".into(),
            nonce: Some("n-1".into()),
        }
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn token(rotated: bool, fault: Option<IdTokenFault>) -> Vec<String> {
        let signer = Signer::new().unwrap();
        let identity = identity();
        let jwt = signer
            .issue(&Issue {
                issuer: "http://127.0.0.1:1/",
                identity: &identity,
                client_secret: "secret",
                now: Timestamp::from_second(1_800_000_000).unwrap(),
                rotated,
                fault,
            })
            .unwrap();
        jwt.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn an_id_token_verifies_with_the_published_key() {
        let signer = Signer::new().unwrap();
        let parts = token(false, None);
        let header = decode(&parts[0]);
        assert_eq!(header["alg"], "RS256");
        let jwks = signer.jwks(false);
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        let key = &jwks["keys"][0];
        assert_eq!(key["kid"], header["kid"]);
        let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
        let public = ring::signature::RsaPublicKeyComponents { n: &n, e: &e };
        let input = format!("{}.{}", parts[0], parts[1]);
        let signature = URL_SAFE_NO_PAD.decode(&parts[2]).unwrap();
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &signature,
            )
            .unwrap();
        let claims = decode(&parts[1]);
        assert_eq!(claims["pid"], "14842249091");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["aud"], "client");
        assert_eq!(claims["exp"], 1_800_000_000 + ID_TOKEN_TTL.as_secs());
    }

    #[test]
    fn a_rotation_publishes_a_second_key_and_signs_with_it() {
        let signer = Signer::new().unwrap();
        let before = decode(&token(false, None)[0])["kid"].clone();
        let after = decode(&token(true, None)[0])["kid"].clone();
        assert_ne!(before, after);
        let kids: Vec<Value> = signer.jwks(true)["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].clone())
            .collect();
        assert_eq!(kids, vec![before, after]);
    }

    #[test]
    fn faults_bend_the_claims_they_name() {
        assert_eq!(
            decode(&token(false, Some(IdTokenFault::AlgNone))[0])["alg"],
            "none"
        );
        assert!(token(false, Some(IdTokenFault::AlgNone))[2].is_empty());
        assert_eq!(
            decode(&token(false, Some(IdTokenFault::Hs256))[0])["alg"],
            "HS256"
        );
        let claims = decode(&token(false, Some(IdTokenFault::NoNonce))[1]);
        assert!(claims.get("nonce").is_none());
        let claims = decode(&token(false, Some(IdTokenFault::OtherPid))[1]);
        assert_ne!(claims["pid"], "14842249091");
        let claims = decode(&token(false, Some(IdTokenFault::Expired))[1]);
        assert!(claims["exp"].as_i64().unwrap() < 1_800_000_000);
    }
}
