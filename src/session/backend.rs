//! Where sessions live: in this process (a bounded moka cache), or in Redis, shared by every
//! instance behind the load balancer, sealed and under keyed hashes of the session ids. This
//! chooses between them, keeps the record of used states beside them, and tells readiness
//! whether the store answers.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use redis::ExistenceCheck;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use url::Url;

use super::connection::{COMMAND_TIMEOUT, CommandError, ConnectionSetupError, RedisConnection};
use super::keys::{self, SessionKey};
use super::memory::{MemoryClaims, MemoryStore};
use super::redis::RedisStore;
use super::sealed::SealedStore;
use crate::domain::time::Clock;
use crate::flow::pending::FLOW_LIFETIME;

/// How long readiness waits for Redis's answer.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a state could not be claimed: the store did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("Redis did not record the used state")]
    Redis(#[source] CommandError),
}

/// Why the Redis session store could not be set up (start-up stops).
pub type RedisSetupError = ConnectionSetupError;

/// Why the session store is not ready.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("Redis did not answer the ping")]
    Redis(#[source] CommandError),
}

/// The session store chosen by `SESSION_STORE`, and beside it the record of states already
/// used, shared the same way (in this process, or in Redis for every instance). `Debug` names
/// the kind and a count, never a session.
#[derive(Clone)]
pub enum SessionBackend {
    Memory {
        store: MemoryStore,
        claimed: MemoryClaims,
    },
    Redis {
        store: SealedStore<RedisStore>,
        redis: RedisConnection,
        clock: Clock,
    },
}

impl std::fmt::Debug for SessionBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionBackend::Memory { store, .. } => f
                .debug_struct("SessionBackend::Memory")
                .field("sessions", &store.len())
                .finish_non_exhaustive(),
            SessionBackend::Redis { .. } => f
                .debug_struct("SessionBackend::Redis")
                .finish_non_exhaustive(),
        }
    }
}

impl SessionBackend {
    /// Sessions in this process, expiring by `clock`.
    pub fn memory(clock: Clock) -> Self {
        SessionBackend::Memory {
            store: MemoryStore::new(clock.clone()),
            claimed: MemoryClaims::new(clock),
        }
    }

    /// Records that a flow's state is being used; true only the first time, across every
    /// instance sharing the store, for as long as a pending flow can live. Two callbacks racing
    /// with the same state (a double click, a replayed request) both find the flow in the
    /// session they loaded, but only one may exchange the code.
    pub async fn claim_state(&self, digest: &str) -> Result<bool, ClaimError> {
        match self {
            SessionBackend::Memory { claimed, .. } => Ok(claimed.claim(digest).await),
            SessionBackend::Redis { redis, clock, .. } => {
                let until = clock().checked_add(FLOW_LIFETIME).unwrap_or(Timestamp::MAX);
                redis
                    .set_until(keys::used_state(digest), "1", ExistenceCheck::NX, until)
                    .await
                    .map_err(ClaimError::Redis)
            }
        }
    }

    /// Connects to Redis, and again whenever a command fails. A Redis that is down at
    /// start-up does not stop the site: pages say the service is unavailable and `/readyz`
    /// fails until it is back. A `rediss` URL verifies the server against the system's roots,
    /// or against `ca` alone when given (REDIS_CA_FILE, its PEM text).
    pub async fn redis(
        url: &Url,
        ca: Option<&[u8]>,
        key: &SessionKey,
        clock: Clock,
    ) -> Result<Self, RedisSetupError> {
        let redis = RedisConnection::open(url, ca)?;
        if let Err(e) = redis.ping(COMMAND_TIMEOUT).await {
            // A refused certificate fails within the wait rather than timing out: its reason
            // is the clue.
            tracing::error!(
                error = %e,
                "the Redis session store is not reachable yet; retrying while the site runs"
            );
        }
        let store = RedisStore::new(redis.clone(), key.storage_keys(), clock.clone());
        Ok(SessionBackend::Redis {
            store: SealedStore::new(store, key),
            redis,
            clock,
        })
    }

    /// Whether the store answers now (readiness).
    pub async fn ping(&self) -> Result<(), PingError> {
        match self {
            SessionBackend::Memory { .. } => Ok(()),
            SessionBackend::Redis { redis, .. } => {
                redis.ping(PING_TIMEOUT).await.map_err(PingError::Redis)
            }
        }
    }

    /// One round of housekeeping at `now`: the memory store frees the sessions and claims
    /// expired by then (moka runs no thread of its own, so an idle site would otherwise keep
    /// abandoned sessions until the next visitor). Redis expires its keys itself.
    pub async fn evict_expired_once(&self, now: Timestamp) {
        if let SessionBackend::Memory { store, claimed } = self {
            store.evict_expired_once(now).await;
            claimed.evict_expired_once(now).await;
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SessionBackend::Memory { .. } => "memory",
            SessionBackend::Redis { .. } => "redis",
        }
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Memory { store, .. } => store.create(record).await,
            SessionBackend::Redis { store, .. } => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Memory { store, .. } => store.save(record).await,
            SessionBackend::Redis { store, .. } => store.save(record).await,
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SessionBackend::Memory { store, .. } => store.load(session_id).await,
            SessionBackend::Redis { store, .. } => store.load(session_id).await,
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            SessionBackend::Memory { store, .. } => store.delete(session_id).await,
            SessionBackend::Redis { store, .. } => store.delete(session_id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tower_sessions::cookie::time::{Duration as CookieDuration, OffsetDateTime};

    use super::*;
    use crate::domain::time::system_clock;

    const SECRETS: [&str; 6] = [
        "state-5ecret-9f8e7d",
        "pkce-verifier-5ecret-a1b2c3",
        "14842249091",
        "FJORDKREDITT ASA",
        "access-token-5ecret-d4e5f6",
        "hunter2-redis-password",
    ];

    fn secret_record() -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([
                (
                    "ngi.flow.pending".to_owned(),
                    serde_json::json!(SECRETS[..2]),
                ),
                (
                    "ngi.debt.shown".to_owned(),
                    serde_json::json!(SECRETS[2..5]),
                ),
            ]),
            expiry_date: OffsetDateTime::now_utc() + CookieDuration::minutes(5),
        }
    }

    /// None of the secrets, nor the session id in any form (the cookie's base64, or the
    /// number `Id`'s own `Debug` prints).
    fn assert_no_secret(what: &str, shown: &str, id: &Id) {
        let id_forms = [id.to_string(), id.0.to_string()];
        for secret in SECRETS
            .iter()
            .copied()
            .chain(id_forms.iter().map(String::as_str))
        {
            assert!(!shown.contains(secret), "{what} shows {secret:?}: {shown}");
        }
    }

    #[tokio::test]
    async fn no_session_type_shows_a_secret_in_its_debug_output() {
        let clock = system_clock();
        let memory = SessionBackend::memory(clock.clone());
        let mut record = secret_record();
        memory.create(&mut record).await.unwrap();
        assert!(memory.claim_state(SECRETS[0]).await.unwrap());
        let SessionBackend::Memory { store, claimed } = &memory else {
            unreachable!()
        };
        memory.evict_expired_once(clock()).await;

        let key = SessionKey::from_base64(&base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            [4u8; 32],
        ))
        .unwrap();
        let sealed = SealedStore::new(MemoryStore::new(clock.clone()), &key);
        let mut sealed_record = secret_record();
        sealed.create(&mut sealed_record).await.unwrap();

        let url = Url::parse(&format!("redis://:{}@127.0.0.1:1/0", SECRETS[5])).unwrap();
        let connection = RedisConnection::open(&url, None).unwrap();
        let redis = SessionBackend::Redis {
            store: SealedStore::new(
                RedisStore::new(connection.clone(), key.storage_keys(), clock.clone()),
                &key,
            ),
            redis: connection,
            clock,
        };

        let shown = |value: &dyn std::fmt::Debug| [format!("{value:?}"), format!("{value:#?}")];
        let all = [
            ("the memory backend", shown(&memory)),
            ("the memory store", shown(store)),
            ("the memory claims", shown(claimed)),
            ("the sealed store", shown(&sealed)),
            ("the Redis backend", shown(&redis)),
            ("the storage keys", shown(&key.storage_keys())),
            ("the session key", shown(&key)),
        ];
        for (what, texts) in &all {
            for text in texts {
                assert_no_secret(what, text, &record.id);
                assert_no_secret(what, text, &sealed_record.id);
            }
        }
        // The kind and the count are what it does show.
        assert_eq!(all[0].1[0], "SessionBackend::Memory { sessions: 1, .. }");
    }
}
