use base64::engine::general_purpose::STANDARD;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};

use super::*;

const ISSUER: &str = "https://access.example.no/";
const CLIENT: &str = "our-client";
const PID: &str = "14842249091";
const CONSENT: &str = "c0ffee00-0000-4000-8000-000000000001";
const NOW: i64 = 1_800_000_000;

/// A test key pair from the fixtures (the simulator's published test keys).
fn key_pair(pem: &str) -> RsaKeyPair {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    RsaKeyPair::from_pkcs8(&STANDARD.decode(body).unwrap()).unwrap()
}

fn ours() -> RsaKeyPair {
    key_pair(include_str!(
        "../../../simulator/src/fixtures/id_token_key.pem"
    ))
}

fn theirs() -> RsaKeyPair {
    key_pair(include_str!(
        "../../../simulator/src/fixtures/id_token_key_2.pem"
    ))
}

/// The public key's `n` and `e`, base64url, as a JWKS carries them.
fn components(pair: &RsaKeyPair) -> (String, String) {
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    (
        URL_SAFE_NO_PAD.encode(&public.n),
        URL_SAFE_NO_PAD.encode(&public.e),
    )
}

fn public_key(pair: &RsaKeyPair) -> DecodingKey {
    let (n, e) = components(pair);
    DecodingKey::from_rsa_components(&n, &e).unwrap()
}

fn sign(header: &Value, claims: &Value, pair: &RsaKeyPair) -> IdToken {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    IdToken::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

fn header() -> Value {
    json!({ "alg": "RS256", "typ": "JWT", "kid": "k1" })
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "someone",
        "aud": CLIENT,
        "iat": NOW,
        "exp": NOW + 300,
        "nonce": "the-nonce",
        "pid": PID,
        "consent_id": CONSENT,
    })
}

fn with(mut value: Value, key: &str, v: Value) -> Value {
    value[key] = v;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

/// Every check in order, as the client runs them, with our key under `k1`.
fn verify(token: &IdToken, now: Timestamp) -> Result<Verified, IdTokenRefusal> {
    let header = read_header(token)?;
    let mut cache = KeyCache::default();
    cache.replace(
        HashMap::from([("k1".to_owned(), public_key(&ours()))]),
        at(NOW),
    );
    let key = cache.get(&header.kid).ok_or(IdTokenRefusal::UnknownKey)?;
    let claims = decode_verified(token, key)?;
    let nonce = Nonce::new("the-nonce".into());
    check_claims(
        claims,
        &Expected {
            issuer: ISSUER,
            client_id: CLIENT,
            nonce: Some(&nonce),
            now,
        },
    )
}

fn refusal(header: Value, claims: Value) -> IdTokenRefusal {
    verify(&sign(&header, &claims, &ours()), at(NOW + 1)).unwrap_err()
}

#[test]
fn a_token_signed_by_ngi_s_key_with_every_claim_right_is_verified() {
    let verified = verify(&sign(&header(), &claims(), &ours()), at(NOW + 1)).unwrap();
    let ssn = Nin::parse(PID).unwrap();
    assert_eq!(verified.check_debt(&ssn, Some(CONSENT)), Ok(()));
    assert!(!format!("{verified:?}").contains(PID));
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let token = sign(&header(), &claims(), &theirs());
    assert_eq!(
        verify(&token, at(NOW)).unwrap_err(),
        IdTokenRefusal::Signature
    );
}

#[test]
fn a_changed_payload_no_longer_verifies() {
    let token = sign(&header(), &claims(), &ours());
    let parts: Vec<&str> = token.0.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(with(claims(), "pid", json!("29868099311")).to_string());
    let forged = IdToken::new(format!("{}.{forged}.{}", parts[0], parts[2]));
    assert_eq!(
        verify(&forged, at(NOW)).unwrap_err(),
        IdTokenRefusal::Signature
    );
}

#[test]
fn only_rs256_is_accepted_whatever_the_signature() {
    for alg in ["none", "HS256", "RS512", "PS256", "ES256"] {
        let header = with(header(), "alg", json!(alg));
        assert_eq!(
            refusal(header, claims()),
            IdTokenRefusal::Algorithm(alg.into()),
            "{alg}"
        );
    }
    for odd in ["RS256\nforged log line", "", "a-very-long-algorithm-name"] {
        assert_eq!(
            refusal(with(header(), "alg", json!(odd)), claims()),
            IdTokenRefusal::Algorithm("other".into()),
            "{odd:?}"
        );
    }
    assert_eq!(
        refusal(with(header(), "alg", json!(256)), claims()),
        IdTokenRefusal::Malformed
    );
    // An unsigned token, the classic way: alg none and an empty signature.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(with(header(), "alg", json!("none")).to_string()),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    assert!(matches!(
        verify(&IdToken::new(unsigned), at(NOW)),
        Err(IdTokenRefusal::Algorithm(_))
    ));
}

#[test]
fn a_header_without_a_kid_or_with_an_unknown_one_is_refused() {
    assert_eq!(
        refusal(without(header(), "kid"), claims()),
        IdTokenRefusal::NoKeyId
    );
    assert_eq!(
        refusal(with(header(), "kid", json!("k2")), claims()),
        IdTokenRefusal::UnknownKey
    );
}

#[test]
fn what_is_not_a_jwt_is_malformed() {
    for text in ["", "a.b", "a.b.c.d", "!!.e30.sig", "e30.e30.sig"] {
        assert!(
            matches!(
                verify(&IdToken::new(text.into()), at(NOW)),
                Err(IdTokenRefusal::Malformed | IdTokenRefusal::Algorithm(_))
            ),
            "{text}"
        );
    }
}

#[test]
fn another_issuer_is_refused() {
    for iss in [
        json!("https://evil.example/"),
        json!("https://access.example.no"),
    ] {
        assert_eq!(
            refusal(header(), with(claims(), "iss", iss)),
            IdTokenRefusal::Issuer
        );
    }
    assert_eq!(
        refusal(header(), without(claims(), "iss")),
        IdTokenRefusal::Issuer
    );
}

#[test]
fn the_audience_must_be_our_client_id_alone() {
    let ok = verify(
        &sign(&header(), &with(claims(), "aud", json!([CLIENT])), &ours()),
        at(NOW),
    );
    assert!(ok.is_ok());
    for aud in [
        json!("another-client"),
        json!([CLIENT, "another-client"]),
        json!([]),
    ] {
        assert_eq!(
            refusal(header(), with(claims(), "aud", aud.clone())),
            IdTokenRefusal::Audience,
            "{aud}"
        );
    }
    assert_eq!(
        refusal(header(), without(claims(), "aud")),
        IdTokenRefusal::Audience
    );
    // Not a string or a list of strings: the claims cannot be read at all.
    assert_eq!(
        refusal(header(), with(claims(), "aud", json!(7))),
        IdTokenRefusal::Malformed
    );
}

#[test]
fn expiry_and_issue_time_are_read_on_our_clock() {
    let token = sign(&header(), &claims(), &ours());
    let skew = CLOCK_SKEW.as_secs();
    assert!(verify(&token, at(NOW + 300 + skew - 1)).is_ok());
    assert_eq!(
        verify(&token, at(NOW + 300 + skew)).unwrap_err(),
        IdTokenRefusal::Expired
    );
    assert!(verify(&token, at(NOW - skew)).is_ok());
    assert_eq!(
        verify(&token, at(NOW - skew - 1)).unwrap_err(),
        IdTokenRefusal::IssuedInTheFuture
    );
    assert_eq!(
        refusal(header(), without(claims(), "exp")),
        IdTokenRefusal::MissingClaim("exp")
    );
}

#[test]
fn the_nonce_must_be_the_one_this_flow_sent() {
    assert_eq!(
        refusal(header(), with(claims(), "nonce", json!("another"))),
        IdTokenRefusal::Nonce
    );
    assert_eq!(
        refusal(header(), without(claims(), "nonce")),
        IdTokenRefusal::Nonce
    );
    // A flow without a nonce of its own accepts no ID token.
    let token = sign(&header(), &claims(), &ours());
    let claims = decode_verified(&token, &public_key(&ours())).unwrap();
    let expected = Expected {
        issuer: ISSUER,
        client_id: CLIENT,
        nonce: None,
        now: at(NOW),
    };
    assert_eq!(
        check_claims(claims, &expected).unwrap_err(),
        IdTokenRefusal::Nonce
    );
}

#[test]
fn pid_and_consent_id_must_agree_with_the_debt_answer() {
    let verified = verify(&sign(&header(), &claims(), &ours()), at(NOW)).unwrap();
    let other = Nin::parse("29868099311").unwrap();
    assert_eq!(
        verified.check_debt(&other, Some(CONSENT)),
        Err(IdTokenRefusal::OtherPerson)
    );
    let ssn = Nin::parse(PID).unwrap();
    assert_eq!(
        verified.check_debt(&ssn, Some("another-consent")),
        Err(IdTokenRefusal::OtherConsent)
    );
    assert_eq!(
        verified.check_debt(&ssn, None),
        Err(IdTokenRefusal::OtherConsent)
    );
    for claim in ["pid", "consent_id"] {
        assert_eq!(
            refusal(header(), without(claims(), claim)),
            IdTokenRefusal::MissingClaim(claim)
        );
    }
}

#[test]
fn the_jwks_keeps_rsa_signing_keys_by_kid() {
    let (n, e) = components(&ours());
    let jwks = json!({ "keys": [
        { "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1", "n": n, "e": e },
        { "kty": "RSA", "kid": "plain", "n": n, "e": e },
        { "kty": "RSA", "use": "enc", "kid": "enc", "n": n, "e": e },
        { "kty": "RSA", "alg": "RS512", "kid": "rs512", "n": n, "e": e },
        { "kty": "RSA", "use": "sig", "n": n, "e": e },
        { "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA" },
    ]});
    let keys = parse_jwks(jwks.to_string().as_bytes()).unwrap();
    let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
    kids.sort_unstable();
    assert_eq!(kids, ["k1", "plain"]);
    assert!(parse_jwks(b"not json").is_err());
}

#[test]
fn an_unknown_kid_fetches_again_at_most_once_a_minute() {
    let mut cache = KeyCache::default();
    assert!(cache.should_fetch("k1", at(NOW)), "nothing fetched yet");
    cache.replace(
        HashMap::from([("k1".to_owned(), public_key(&ours()))]),
        at(NOW),
    );
    assert!(!cache.should_fetch("k1", at(NOW + 3600)), "a known kid");
    assert!(!cache.should_fetch("k2", at(NOW + 59)));
    assert!(cache.should_fetch("k2", at(NOW + 60)));
}

#[test]
fn nonces_are_random_and_hidden_from_debug() {
    let (a, b) = (Nonce::new_random(), Nonce::new_random());
    assert_ne!(a.secret(), b.secret());
    assert_eq!(a.secret().len(), 43);
    assert!(!format!("{a:?}").contains(a.secret()));
    let token = IdToken::new("header.payload.signature".into());
    assert!(!format!("{token:?}").contains("payload"));
}
