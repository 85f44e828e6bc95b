//! Where sessions live: in this process (moka, which evicts a session when its expiry passes), or in
//! Redis, shared by every instance behind the load balancer. Both are maintained tower-sessions
//! stores; this only chooses between them and tells readiness whether the store answers.

use std::time::Duration;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool, ReconnectPolicy};
use tower_sessions_redis_store::fred::types::Builder;
use url::Url;

/// Sessions kept in memory at most; past it the least recently used go first. At a few hundred
/// bytes a session this bounds the store to a few hundred MB even under a flood the rate limit
/// lets through.
const MAX_MEMORY_SESSIONS: u64 = 500_000;
/// How long one Redis command may take before the page says the service is unavailable.
const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Redis connections per instance.
const REDIS_POOL_SIZE: usize = 4;

/// The session store chosen by `SESSION_STORE`.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    Memory(MokaStore),
    Redis { store: RedisStore<Pool>, pool: Pool },
}

impl SessionBackend {
    pub fn memory() -> Self {
        SessionBackend::Memory(MokaStore::new(Some(MAX_MEMORY_SESSIONS)))
    }

    /// Connects to Redis, reconnecting for ever in the background. A Redis that is down at
    /// start-up does not stop the site: pages say the service is unavailable and `/readyz`
    /// fails until it is back.
    pub async fn redis(url: &Url) -> Result<Self, String> {
        let config = Config::from_url(url.as_str())
            .map_err(|e| format!("invalid setting SESSION_STORE: {e}"))?;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = REDIS_COMMAND_TIMEOUT;
                c.internal_command_timeout = REDIS_COMMAND_TIMEOUT;
            })
            .with_performance_config(|p| p.default_command_timeout = REDIS_COMMAND_TIMEOUT)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(REDIS_POOL_SIZE)
            .map_err(|e| format!("cannot set up the Redis session store: {e}"))?;
        pool.connect();
        if tokio::time::timeout(REDIS_COMMAND_TIMEOUT, pool.wait_for_connect())
            .await
            .is_err()
        {
            tracing::error!(
                "the Redis session store is not reachable yet; retrying in the background"
            );
        }
        Ok(SessionBackend::Redis {
            store: RedisStore::new(pool.clone()),
            pool,
        })
    }

    /// Whether the store answers now (readiness).
    pub async fn ping(&self) -> Result<(), String> {
        match self {
            SessionBackend::Memory(_) => Ok(()),
            SessionBackend::Redis { pool, .. } => {
                match tokio::time::timeout(Duration::from_secs(1), pool.ping::<String>(None)).await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!("Redis: {e}")),
                    Err(_) => Err("Redis did not answer in time".to_owned()),
                }
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SessionBackend::Memory(_) => "memory",
            SessionBackend::Redis { .. } => "redis",
        }
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Memory(store) => store.create(record).await,
            SessionBackend::Redis { store, .. } => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Memory(store) => store.save(record).await,
            SessionBackend::Redis { store, .. } => store.save(record).await,
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SessionBackend::Memory(store) => store.load(session_id).await,
            SessionBackend::Redis { store, .. } => store.load(session_id).await,
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            SessionBackend::Memory(store) => store.delete(session_id).await,
            SessionBackend::Redis { store, .. } => store.delete(session_id).await,
        }
    }
}
