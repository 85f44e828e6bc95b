//! Session data sealed before it leaves the process. A session may hold a person's debt and
//! national identity number; in a shared Redis (and its backups) that is personal data at rest,
//! so the store only ever sees XChaCha20-Poly1305 ciphertext under a key derived from `SESSION_KEY`.
//! Each ciphertext is bound (as its associated data) to the storage key of its session, a keyed
//! hash of the session id: a blob copied under another session's key, by someone who can write
//! to the store, does not open there.

use std::collections::HashMap;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::Value;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

pub use super::keys::SessionKey;
use super::keys::StorageKeys;

/// The one key a sealed record carries in place of its data.
const SEALED: &str = "sealed";
const NONCE_BYTES: usize = 24;

/// A session store whose records' data is sealed on the way in and opened on the way out.
#[derive(Clone)]
pub struct SealedStore<S> {
    inner: S,
    cipher: XChaCha20Poly1305,
    keys: StorageKeys,
}

impl<S: std::fmt::Debug> std::fmt::Debug for SealedStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> SealedStore<S> {
    pub fn new(inner: S, key: &SessionKey) -> Self {
        Self {
            inner,
            cipher: XChaCha20Poly1305::new(&key.sealing_key().into()),
            keys: key.storage_keys(),
        }
    }

    fn seal(&self, record: &Record) -> session_store::Result<Record> {
        let plain = serde_json::to_vec(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let aad = self.keys.session(&record.id);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| session_store::Error::Encode("sealing failed".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        let mut out = record.clone();
        out.data = HashMap::from([(SEALED.to_owned(), Value::String(STANDARD.encode(blob)))]);
        Ok(out)
    }

    fn open(&self, mut record: Record) -> Option<Record> {
        let blob = STANDARD.decode(record.data.get(SEALED)?.as_str()?).ok()?;
        if blob.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = blob.split_at(NONCE_BYTES);
        let aad = self.keys.session(&record.id);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        record.data = serde_json::from_slice(&plain).ok()?;
        Some(record)
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for SealedStore<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut sealed = self.seal(record)?;
        self.inner.create(&mut sealed).await?;
        if sealed.id != record.id {
            // The store chose another id to avoid a collision: seal again for that id.
            record.id = sealed.id;
            self.inner.save(&self.seal(record)?).await?;
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.inner.save(&self.seal(record)?).await
    }

    /// A record that does not open (another key, tampering) is no session at all: the person
    /// starts afresh rather than meeting an error on every page.
    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let Some(record) = self.inner.load(session_id).await? else {
            return Ok(None);
        };
        let opened = self.open(record);
        if opened.is_none() {
            tracing::warn!("a session record could not be opened with the session key; ignored");
        }
        Ok(opened)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.inner.delete(session_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::MemoryStore;
    use tower_sessions::cookie::time::OffsetDateTime;

    fn key(byte: u8) -> SessionKey {
        SessionKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    fn record() -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([(
                "ngi.debt.shown".to_owned(),
                serde_json::json!({"ssn": "14842249091", "creditor": "FJORDKREDITT ASA"}),
            )]),
            expiry_date: OffsetDateTime::now_utc()
                + tower_sessions::cookie::time::Duration::minutes(5),
        }
    }

    #[tokio::test]
    async fn what_the_store_holds_is_ciphertext_that_opens_to_the_same_data() {
        let inner = MemoryStore::default();
        let store = SealedStore::new(inner.clone(), &key(7));
        let mut original = record();
        store.create(&mut original).await.unwrap();

        let raw = inner.load(&original.id).await.unwrap().unwrap();
        let raw_text = serde_json::to_string(&raw.data).unwrap();
        assert!(!raw_text.contains("14842249091") && !raw_text.contains("FJORDKREDITT"));
        assert_eq!(raw.data.len(), 1);

        let opened = store.load(&original.id).await.unwrap().unwrap();
        assert_eq!(opened.data, original.data);
    }

    #[tokio::test]
    async fn a_record_sealed_with_another_key_or_tampered_with_is_no_session() {
        let inner = MemoryStore::default();
        let mut original = record();
        SealedStore::new(inner.clone(), &key(1))
            .create(&mut original)
            .await
            .unwrap();
        assert!(
            SealedStore::new(inner.clone(), &key(2))
                .load(&original.id)
                .await
                .unwrap()
                .is_none()
        );

        let mut raw = inner.load(&original.id).await.unwrap().unwrap();
        let mut blob = STANDARD.decode(raw.data[SEALED].as_str().unwrap()).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        raw.data
            .insert(SEALED.into(), Value::String(STANDARD.encode(blob)));
        inner.save(&raw).await.unwrap();
        assert!(
            SealedStore::new(inner, &key(1))
                .load(&original.id)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_record_copied_under_another_session_id_does_not_open() {
        let inner = MemoryStore::default();
        let store = SealedStore::new(inner.clone(), &key(3));
        let mut victim = record();
        store.create(&mut victim).await.unwrap();

        let mut copied = inner.load(&victim.id).await.unwrap().unwrap();
        copied.id = Id::default();
        inner.save(&copied).await.unwrap();

        assert!(store.load(&copied.id).await.unwrap().is_none());
        assert!(store.load(&victim.id).await.unwrap().is_some());
    }
}
