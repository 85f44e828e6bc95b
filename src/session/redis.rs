//! Session records in Redis, under keyed hashes of their ids.
//!
//! A small store over redis-rs rather than tower-sessions-redis-store: that store keys each record
//! by `id.to_string()`, the cookie's value, with no prefix, and keeps the id inside the value
//! too. Wrapping it (handing it a derived id) would still leave the derived id in the value and
//! no prefix on the key, and its collision loop would pick derived ids no cookie maps to. Four
//! commands (SET NX/XX with PXAT, GET, DEL) are less than that wrapper.
//!
//! Only ever used under `SealedStore`: what it writes is the record's data as given, which
//! `SealedStore` has already sealed, and its expiry; never the id.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::ExistenceCheck;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::connection::{COMMAND_TIMEOUT, CommandError, RedisConnection};
use super::keys::StorageKeys;
use super::memory::expiry_of;
use crate::domain::time::Clock;

/// What one Redis value holds: the (sealed) data and when it expires, in Unix milliseconds.
#[derive(Deserialize)]
struct Stored {
    expires_ms: i64,
    data: HashMap<String, Value>,
}

#[derive(Serialize)]
struct StoredRef<'a> {
    expires_ms: i64,
    data: &'a HashMap<String, Value>,
}

#[derive(Clone)]
pub struct RedisStore {
    redis: RedisConnection,
    keys: StorageKeys,
    clock: Clock,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

impl RedisStore {
    pub(super) fn new(redis: RedisConnection, keys: StorageKeys, clock: Clock) -> Self {
        Self { redis, keys, clock }
    }

    /// Writes the record; false when `check` forbade it (NX: the key exists; XX: it does not).
    async fn set(&self, record: &Record, check: ExistenceCheck) -> session_store::Result<bool> {
        let expiry = expiry_of(record);
        let stored = StoredRef {
            expires_ms: expiry.as_millisecond(),
            data: &record.data,
        };
        let value =
            serde_json::to_vec(&stored).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        self.redis
            .set_until(self.keys.session(&record.id), value, check, expiry)
            .await
            .map_err(backend)
    }
}

fn backend(e: CommandError) -> session_store::Error {
    session_store::Error::Backend(format!("Redis: {e}"))
}

#[async_trait]
impl SessionStore for RedisStore {
    /// `SET NX`: a new session never overwrites one that exists; on the (all but impossible)
    /// collision the new session takes another id.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.set(record, ExistenceCheck::NX).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    /// `SET XX`: a save does not bring back a session that ended (logged out, or its id cycled)
    /// while this request was running.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.set(record, ExistenceCheck::XX).await.map(|_| ())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let mut get = redis::cmd("GET");
        get.arg(self.keys.session(session_id));
        let value: Option<Vec<u8>> = self
            .redis
            .query(&get, COMMAND_TIMEOUT)
            .await
            .map_err(backend)?;
        let Some(value) = value else {
            return Ok(None);
        };
        // Not serde's text: it could quote the value.
        let stored: Stored = serde_json::from_slice(&value).map_err(|e| {
            session_store::Error::Decode(format!("a Redis session record: {:?}", e.classify()))
        })?;
        let expiry_date =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(stored.expires_ms) * 1_000_000)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let record = Record {
            id: *session_id,
            data: stored.data,
            expiry_date,
        };
        // Redis expires by its own clock; the application's clock decides as well, so both
        // stores end a session at the same instant.
        Ok((expiry_of(&record) > (self.clock)()).then_some(record))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let mut del = redis::cmd("DEL");
        del.arg(self.keys.session(session_id));
        let _: i64 = self
            .redis
            .query(&del, COMMAND_TIMEOUT)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
