//! `client_secret_basic` (RFC 6749 §2.3.1): id and secret are form-urlencoded, joined by `:`, then Base64.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

#[derive(PartialEq, Eq)]
pub(crate) struct BasicCredentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// Reads an `Authorization` header value. `None` unless it is well-formed Basic credentials.
pub(crate) fn parse_basic(header: &str) -> Option<BasicCredentials> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let encoded = encoded.trim();
    let decoded = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    // The encoded parts cannot contain ':', so the first one separates them.
    let (id, secret) = decoded.split_once(':')?;
    Some(BasicCredentials {
        client_id: form_urldecode(id)?,
        client_secret: form_urldecode(secret)?,
    })
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
/// A `%` not followed by two hex digits means the client did not encode, so it is refused.
fn form_urldecode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Compares secrets without stopping at the first differing byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn header(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn plain_credentials_are_read() {
        let c = parse_basic(&header("demo-client:s3cret"));
        assert_eq!(
            c,
            Some(BasicCredentials {
                client_id: "demo-client".into(),
                client_secret: "s3cret".into()
            })
        );
    }

    #[test]
    fn a_secret_with_colon_plus_and_percent_is_form_urldecoded() {
        // The client encodes "a:b+c%d e" as "a%3Ab%2Bc%25d+e" before Base64.
        let c = parse_basic(&header("my%20client:a%3Ab%2Bc%25d+e"));
        assert_eq!(
            c.map(|c| (c.client_id, c.client_secret)),
            Some(("my client".into(), "a:b+c%d e".into()))
        );
    }

    #[test]
    fn an_unencoded_plus_is_a_space_as_the_rfc_says() {
        let c = parse_basic(&header("id:a+b"));
        assert_eq!(c.map(|c| c.client_secret), Some("a b".into()));
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_padding_optional() {
        let unpadded = STANDARD_NO_PAD.encode("id:x");
        assert!(parse_basic(&format!("basic {unpadded}")).is_some());
        assert!(parse_basic(&format!("BASIC {}", STANDARD.encode("id:x"))).is_some());
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert_eq!(parse_basic(""), None);
        assert_eq!(parse_basic("Basic"), None);
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!notbase64"), None);
        assert_eq!(parse_basic(&header("no-colon")), None);
        assert_eq!(parse_basic(&header("id:bad%zzescape")), None);
        assert_eq!(parse_basic(&header("id:truncated%2")), None);
        assert_eq!(parse_basic(&header("id:%ff%fe")), None);
        assert_eq!(
            parse_basic(&format!("Basic {}", STANDARD.encode([0xff, b':', b'x']))),
            None
        );
    }

    #[test]
    fn secrets_are_compared_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        let c = parse_basic(&header("id:hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
