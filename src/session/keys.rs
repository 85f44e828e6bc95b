//! `SESSION_KEY` and what is derived from it: the key sealing session data, and the key hashing
//! session ids into storage keys. A session id is the cookie's value, a bearer secret; where the
//! store is readable by others (a Redis replica, a backup, `KEYS *`) it must not be the key a
//! record is found under, or reading the store would be enough to take over a session.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tower_sessions::session::Id;

/// Every key this service writes to Redis starts with this, so it can share a Redis (and be
/// found, counted or flushed there) without touching anyone else's keys.
pub const REDIS_KEY_PREFIX: &str = "ngi-consent:";

/// Domain-separating labels: the one secret yields independent keys, so the hashing key can
/// never open a record and the sealing key never names one.
const SEALING_LABEL: &[u8] = b"ngi-consent/session-sealing/v1";
const ID_HASHING_LABEL: &[u8] = b"ngi-consent/session-id-hashing/v1";

type HmacSha256 = Hmac<Sha256>;

/// Why a `SESSION_KEY` was refused. The text says how to make a good one; it never quotes the
/// value given.
#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    #[error("not base64 (make one with: openssl rand -base64 32)")]
    NotBase64(#[source] base64::DecodeError),
    #[error("must be 32 bytes, base64-encoded, not {0} (openssl rand -base64 32)")]
    WrongLength(usize),
}

/// For settings errors, which carry the problem as text.
impl From<SessionKeyError> for String {
    fn from(error: SessionKeyError) -> Self {
        error.to_string()
    }
}

/// The session key: 32 bytes, given base64-encoded. `Debug` never shows it.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

impl SessionKey {
    pub fn from_base64(encoded: &str) -> Result<Self, SessionKeyError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(SessionKeyError::NotBase64)?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| SessionKeyError::WrongLength(bytes.len()))?;
        Ok(Self(key))
    }

    /// HMAC-SHA256 of `label` under the session key: a 32-byte key for one purpose only (the
    /// HKDF-Expand of one block, without a separate extract step, as the input is already a
    /// uniformly random key).
    fn derive(&self, label: &[u8]) -> [u8; 32] {
        let mut mac = keyed(&self.0);
        mac.update(label);
        mac.finalize().into_bytes().into()
    }

    /// The XChaCha20-Poly1305 key sealing session data.
    pub(super) fn sealing_key(&self) -> [u8; 32] {
        self.derive(SEALING_LABEL)
    }

    /// What maps session ids to the keys their records are stored under.
    pub fn storage_keys(&self) -> StorageKeys {
        StorageKeys {
            id_hashing: self.derive(ID_HASHING_LABEL),
        }
    }
}

/// An HMAC-SHA256 under a 32-byte key. HMAC pads a key shorter than its 64-byte block with
/// zeros, so the padded block is the same key, taken by the infallible constructor.
fn keyed(key: &[u8; 32]) -> HmacSha256 {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    <HmacSha256 as KeyInit>::new(&block.into())
}

/// Storage keys of sessions: `ngi-consent:session:<HMAC-SHA256(id), hex>`. Without the key, a
/// storage key says nothing about the session id, and a session id alone finds no record.
#[derive(Clone)]
pub struct StorageKeys {
    id_hashing: [u8; 32],
}

impl std::fmt::Debug for StorageKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKeys([redacted])")
    }
}

impl StorageKeys {
    pub fn session(&self, id: &Id) -> String {
        let mut mac = keyed(&self.id_hashing);
        mac.update(id.to_string().as_bytes());
        let hash = mac.finalize().into_bytes();
        let mut key = String::with_capacity(REDIS_KEY_PREFIX.len() + 8 + 64);
        key.push_str(REDIS_KEY_PREFIX);
        key.push_str("session:");
        for byte in hash {
            // Writing to a String cannot fail.
            let _ = write!(key, "{byte:02x}");
        }
        key
    }
}

/// The storage key of a used state's digest (a SHA-256 of the state, already not the state).
pub fn used_state(digest: &str) -> String {
    format!("{REDIS_KEY_PREFIX}used-state:{digest}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SessionKey {
        SessionKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn the_key_must_be_32_base64_bytes_and_never_prints() {
        assert!(matches!(
            SessionKey::from_base64("not base64!"),
            Err(SessionKeyError::NotBase64(_))
        ));
        assert!(matches!(
            SessionKey::from_base64(&STANDARD.encode([0u8; 16])),
            Err(SessionKeyError::WrongLength(16))
        ));
        let error = SessionKey::from_base64("not base64!").unwrap_err();
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(format!("{:?}", key(9)), "SessionKey([redacted])");
    }

    #[test]
    fn a_storage_key_is_a_keyed_hash_of_the_id_under_the_prefix() {
        let id = Id::default();
        let keys = key(1).storage_keys();
        let stored = keys.session(&id);
        assert!(stored.starts_with("ngi-consent:session:"));
        assert_eq!(stored.len(), "ngi-consent:session:".len() + 64);
        assert!(!stored.contains(&id.to_string()));
        // The same id under the same key finds the same record; another key, another record.
        assert_eq!(stored, keys.session(&id));
        assert_ne!(stored, key(2).storage_keys().session(&id));
        assert_ne!(stored, keys.session(&Id::default()));
    }

    #[test]
    fn the_padded_key_is_the_same_hmac_key() {
        let mut by_slice = <HmacSha256 as Mac>::new_from_slice(&[7u8; 32]).unwrap();
        let mut padded = keyed(&[7u8; 32]);
        by_slice.update(b"label");
        padded.update(b"label");
        assert_eq!(
            by_slice.finalize().into_bytes(),
            padded.finalize().into_bytes()
        );
    }

    #[test]
    fn the_sealing_and_hashing_keys_differ_from_each_other_and_from_the_session_key() {
        let session_key = key(5);
        let sealing = session_key.sealing_key();
        let hashing = session_key.storage_keys().id_hashing;
        assert_ne!(sealing, hashing);
        assert_ne!(sealing, session_key.0);
        assert_ne!(hashing, session_key.0);
    }
}
