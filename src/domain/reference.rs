//! A partner's reference: the name its own systems give a loan application or a consent.
//! 1 to 100 characters of `[A-Za-z0-9._:-]` (NGI's `client_consent_id` allows 100); a reference
//! carried by a signed start link is at most 64, so the link stays short.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest reference a partner may give (an integrated consent's `client_consent_id`).
pub const MAX_CHARS: usize = 100;
/// The longest reference a signed start link may carry.
pub const MAX_LINK_CHARS: usize = 64;

/// Why a reference was refused, naming the rule it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("the reference is empty")]
    Empty,
    #[error("the reference is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the reference may only hold the letters A-Z and a-z, digits, '.', '_', ':' and '-'")]
    BadCharacter,
}

/// A partner's reference, checked. Not secret: it names an application, not a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reference(String);

impl Reference {
    /// A reference of up to [`MAX_CHARS`] characters.
    pub fn parse(raw: &str) -> Result<Self, ReferenceError> {
        check(raw, MAX_CHARS)?;
        Ok(Self(raw.to_owned()))
    }

    /// A reference a start link may carry: up to [`MAX_LINK_CHARS`] characters.
    pub fn parse_for_link(raw: &str) -> Result<Self, ReferenceError> {
        check(raw, MAX_LINK_CHARS)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check(raw: &str, max: usize) -> Result<(), ReferenceError> {
    if raw.is_empty() {
        return Err(ReferenceError::Empty);
    }
    // Every allowed character is one byte, so bytes are characters once the set is checked.
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        return Err(ReferenceError::BadCharacter);
    }
    if raw.len() > max {
        return Err(ReferenceError::TooLong { max });
    }
    Ok(())
}

impl TryFrom<String> for Reference {
    type Error = ReferenceError;

    fn try_from(raw: String) -> Result<Self, ReferenceError> {
        check(&raw, MAX_CHARS)?;
        Ok(Self(raw))
    }
}

impl From<Reference> for String {
    fn from(reference: Reference) -> String {
        reference.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reference a start link may carry (at most [`MAX_LINK_CHARS`]), as a request field: a
/// longer one is refused while the body is read, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct LinkReference(pub Reference);

impl TryFrom<String> for LinkReference {
    type Error = ReferenceError;

    fn try_from(raw: String) -> Result<Self, ReferenceError> {
        check(&raw, MAX_LINK_CHARS)?;
        Ok(Self(Reference(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_of_the_allowed_characters_are_taken() {
        for ok in ["A", "APP-1", "loan:2026.0001_b", &"x".repeat(MAX_CHARS)] {
            assert_eq!(Reference::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn an_empty_reference_is_refused() {
        assert_eq!(Reference::parse(""), Err(ReferenceError::Empty));
    }

    #[test]
    fn a_reference_over_100_characters_is_refused() {
        assert_eq!(
            Reference::parse(&"x".repeat(MAX_CHARS + 1)),
            Err(ReferenceError::TooLong { max: MAX_CHARS })
        );
    }

    #[test]
    fn characters_outside_the_set_are_refused() {
        for bad in ["APP 1", "APP/1", "søknad", "a&b=c", "<x>", "a\n", "ﬀ"] {
            assert_eq!(
                Reference::parse(bad),
                Err(ReferenceError::BadCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_link_allows_64_characters_and_no_more() {
        assert!(Reference::parse_for_link(&"a".repeat(MAX_LINK_CHARS)).is_ok());
        assert_eq!(
            Reference::parse_for_link(&"a".repeat(MAX_LINK_CHARS + 1)),
            Err(ReferenceError::TooLong {
                max: MAX_LINK_CHARS
            })
        );
        assert!(Reference::parse(&"a".repeat(MAX_LINK_CHARS + 1)).is_ok());
    }

    #[test]
    fn deserializing_checks_the_rules() {
        let ok: Reference = serde_json::from_str("\"APP-1\"").unwrap();
        assert_eq!(ok.as_str(), "APP-1");
        assert!(serde_json::from_str::<Reference>("\"APP 1\"").is_err());
        let long = format!("\"{}\"", "a".repeat(MAX_LINK_CHARS + 1));
        assert!(serde_json::from_str::<Reference>(&long).is_ok());
        let err = serde_json::from_str::<LinkReference>(&long).unwrap_err();
        assert!(err.to_string().contains("longer than 64"), "{err}");
    }
}
