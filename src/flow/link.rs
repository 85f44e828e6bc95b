//! Signed start links: how a partner's system ties the consent a person gives to one of its
//! applications. A bare `?ref=` would let anyone tie someone else's consent to their own
//! application, so the reference travels with an expiry and an HMAC-SHA256 over both, keyed by a
//! key derived from the partner token (never the token itself). Pure: time is passed in.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use jiff::{SignedDuration, Timestamp};

use crate::config::PartnerToken;
use crate::domain::reference::{Reference, ReferenceError};
use crate::keyed::{HmacSha256, hmac_of, new_mac};

/// How long a link lasts, and the furthest ahead an expiry may lie.
pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(1);

/// The label the link key is derived under: a key for links and nothing else, so a signature
/// made here is no use anywhere the token itself is.
const KEY_LABEL: &[u8] = b"ngi-consent signed start link key v1";

/// The key links are signed with. `Debug` never shows it.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey([redacted])")
    }
}

/// Why a start link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("a reference came without its expiry or signature")]
    Unsigned,
    #[error("an expiry or signature came without a reference")]
    NoReference,
    #[error("the reference is not one a link may carry")]
    BadReference(#[source] ReferenceError),
    #[error("the expiry is not a whole number of seconds")]
    BadExpiry,
    #[error("the signature does not match the reference and expiry")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
    #[error("the expiry lies further ahead than a link may last")]
    TooFarAhead,
}

/// What a start link carries, as the query gave it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkParts<'a> {
    pub reference: Option<&'a str>,
    pub expires: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl LinkKey {
    /// The link key: HMAC-SHA256 keyed by the partner token over a fixed label.
    pub fn derive(token: &PartnerToken) -> Self {
        Self(hmac_of(token.secret().as_bytes(), &[KEY_LABEL]))
    }

    /// The signature of a link carrying `reference` until `expires_at`: base64url, unpadded.
    pub fn sign(&self, reference: &Reference, expires_at: Timestamp) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(reference.as_str(), expires_at.as_second()))
    }

    /// Checks a start link at `now`. No reference, expiry or signature at all is a plain start
    /// (`Ok(None)`); otherwise all three must be there, the reference of the link's shape, the
    /// signature right (compared in constant time), and the expiry after `now` and no more than
    /// [`LINK_LIFETIME`] ahead.
    pub fn verify(
        &self,
        parts: LinkParts<'_>,
        now: Timestamp,
    ) -> Result<Option<Reference>, LinkError> {
        let (raw_reference, raw_expires, raw_signature) =
            match (parts.reference, parts.expires, parts.signature) {
                (None, None, None) => return Ok(None),
                (None, _, _) => return Err(LinkError::NoReference),
                (Some(r), Some(e), Some(s)) => (r, e, s),
                (Some(_), _, _) => return Err(LinkError::Unsigned),
            };
        let reference =
            Reference::parse_for_link(raw_reference).map_err(LinkError::BadReference)?;
        // Only the digits a signer writes: no sign, no spaces, nothing the parser would forgive.
        if raw_expires.is_empty() || !raw_expires.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LinkError::BadExpiry);
        }
        let expires: i64 = raw_expires.parse().map_err(|_| LinkError::BadExpiry)?;
        let signature = URL_SAFE_NO_PAD
            .decode(raw_signature)
            .map_err(|_| LinkError::BadSignature)?;
        self.mac_state(reference.as_str(), expires)
            .verify_slice(&signature)
            .map_err(|_| LinkError::BadSignature)?;
        if expires <= now.as_second() {
            return Err(LinkError::Expired);
        }
        if expires - now.as_second() > LINK_LIFETIME.as_secs() {
            return Err(LinkError::TooFarAhead);
        }
        Ok(Some(reference))
    }

    fn mac(&self, reference: &str, expires: i64) -> [u8; 32] {
        self.mac_state(reference, expires)
            .finalize()
            .into_bytes()
            .into()
    }

    /// The MAC over an unambiguous encoding: the expiry as 8 bytes (fixed length), then the
    /// reference, so no two (reference, expiry) pairs give the same message.
    fn mac_state(&self, reference: &str, expires: i64) -> HmacSha256 {
        let mut mac = new_mac(&self.0);
        mac.update(&expires.to_be_bytes());
        mac.update(reference.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkKey {
        LinkKey::derive(&test_token("0123456789abcdef0123456789abcdef"))
    }

    fn test_token(raw: &str) -> PartnerToken {
        let args = crate::config::ServeArgs {
            partner_token: Some(raw.into()),
            ..Default::default()
        };
        crate::config::Settings::from_args(args)
            .unwrap()
            .partner_token
            .unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    struct Link {
        reference: String,
        expires: String,
        signature: String,
    }

    impl Link {
        fn parts(&self) -> LinkParts<'_> {
            LinkParts {
                reference: Some(&self.reference),
                expires: Some(&self.expires),
                signature: Some(&self.signature),
            }
        }
    }

    fn signed(reference: &str, expires_at: Timestamp) -> Link {
        let r = Reference::parse(reference).unwrap();
        Link {
            reference: reference.into(),
            expires: expires_at.as_second().to_string(),
            signature: key().sign(&r, expires_at),
        }
    }

    fn in_an_hour() -> Timestamp {
        now() + LINK_LIFETIME
    }

    #[test]
    fn a_signed_link_gives_its_reference() {
        let link = signed("APP-1", in_an_hour());
        let got = key().verify(link.parts(), now()).unwrap().unwrap();
        assert_eq!(got.as_str(), "APP-1");
    }

    #[test]
    fn no_link_parameters_is_a_plain_start() {
        assert_eq!(key().verify(LinkParts::default(), now()), Ok(None));
    }

    #[test]
    fn a_bare_reference_is_refused() {
        let parts = LinkParts {
            reference: Some("APP-1"),
            ..LinkParts::default()
        };
        assert_eq!(key().verify(parts, now()), Err(LinkError::Unsigned));
    }

    #[test]
    fn a_reference_without_its_expiry_is_refused() {
        let link = signed("APP-1", in_an_hour());
        let parts = LinkParts {
            expires: None,
            ..link.parts()
        };
        assert_eq!(key().verify(parts, now()), Err(LinkError::Unsigned));
    }

    #[test]
    fn a_signature_without_a_reference_is_refused() {
        let link = signed("APP-1", in_an_hour());
        let parts = LinkParts {
            reference: None,
            ..link.parts()
        };
        assert_eq!(key().verify(parts, now()), Err(LinkError::NoReference));
    }

    #[test]
    fn an_altered_reference_is_refused() {
        let mut link = signed("APP-1", in_an_hour());
        link.reference = "APP-2".into();
        assert_eq!(
            key().verify(link.parts(), now()),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn an_altered_expiry_is_refused() {
        let mut link = signed("APP-1", in_an_hour());
        link.expires = (in_an_hour().as_second() - 1).to_string();
        assert_eq!(
            key().verify(link.parts(), now()),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn a_wrong_signature_is_refused() {
        let mut link = signed("APP-1", in_an_hour());
        link.signature = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(
            key().verify(link.parts(), now()),
            Err(LinkError::BadSignature)
        );
        link.signature = "not base64!".into();
        assert_eq!(
            key().verify(link.parts(), now()),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn a_link_signed_with_another_token_is_refused() {
        let other = LinkKey::derive(&test_token("fedcba9876543210fedcba9876543210"));
        let link = signed("APP-1", in_an_hour());
        assert_eq!(
            other.verify(link.parts(), now()),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn an_expired_link_is_refused() {
        let link = signed("APP-1", in_an_hour());
        assert_eq!(
            key().verify(link.parts(), in_an_hour()),
            Err(LinkError::Expired)
        );
        let just_before = in_an_hour() - SignedDuration::from_secs(1);
        assert!(key().verify(link.parts(), just_before).is_ok());
    }

    #[test]
    fn an_expiry_more_than_an_hour_ahead_is_refused() {
        let link = signed("APP-1", in_an_hour() + SignedDuration::from_secs(1));
        assert_eq!(
            key().verify(link.parts(), now()),
            Err(LinkError::TooFarAhead)
        );
    }

    #[test]
    fn an_expiry_that_is_not_digits_is_refused() {
        for bad in ["", "+1800003600", " 1800003600", "1.5", "soon"] {
            let mut link = signed("APP-1", in_an_hour());
            link.expires = bad.into();
            assert_eq!(
                key().verify(link.parts(), now()),
                Err(LinkError::BadExpiry),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_reference_a_link_may_not_carry_is_refused() {
        let long = "a".repeat(65);
        for bad in [long.as_str(), "APP 1", "APP/1", ""] {
            let parts = LinkParts {
                reference: Some(bad),
                expires: Some("1800003600"),
                signature: Some("x"),
            };
            assert!(
                matches!(key().verify(parts, now()), Err(LinkError::BadReference(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_key_is_not_the_token_and_is_never_shown() {
        let token = test_token("0123456789abcdef0123456789abcdef");
        let key = LinkKey::derive(&token);
        assert_ne!(&key.0[..], token.secret().as_bytes());
        assert!(!format!("{key:?}").contains("0123"));
    }
}
