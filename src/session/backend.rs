//! Where sessions live: in this process (moka, which evicts a session when its expiry passes), or in
//! Redis, shared by every instance behind the load balancer. Both are maintained tower-sessions
//! stores; this chooses between them, keeps the record of used states beside them, and tells
//! readiness whether the store answers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rustls::{ClientConfig, RootCertStore};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{
    ClientLike, Config, Expiration, KeysInterface, Pool, ReconnectPolicy, TlsConnector,
};
use tower_sessions_redis_store::fred::types::{Builder, SetOptions};
use url::Url;

use super::sealed::{SealedStore, SessionKey};

/// Sessions kept in memory at most; past it the least recently used go first. At a few hundred
/// bytes a session this bounds the store to a few hundred MB even under a flood the rate limit
/// lets through.
const MAX_MEMORY_SESSIONS: u64 = 500_000;
/// How long one Redis command may take before the page says the service is unavailable.
const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Redis connections per instance.
const REDIS_POOL_SIZE: usize = 4;

/// How long a used state is remembered: as long as a pending flow can live.
const CLAIM_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The session store chosen by `SESSION_STORE`, and beside it the record of states already
/// used, shared the same way (in this process, or in Redis for every instance).
#[derive(Debug, Clone)]
pub enum SessionBackend {
    Memory {
        store: MokaStore,
        claimed: moka::future::Cache<String, ()>,
    },
    Redis {
        store: SealedStore<RedisStore<Pool>>,
        pool: Pool,
    },
}

impl SessionBackend {
    pub fn memory() -> Self {
        SessionBackend::Memory {
            store: MokaStore::new(Some(MAX_MEMORY_SESSIONS)),
            claimed: moka::future::Cache::builder()
                .max_capacity(MAX_MEMORY_SESSIONS)
                .time_to_live(CLAIM_LIFETIME)
                .build(),
        }
    }

    /// Records that a flow's state is being used; true only the first time, across every
    /// instance sharing the store. Two callbacks racing with the same state (a double click, a
    /// replayed request) both find the flow in the session they loaded, but only one may
    /// exchange the code.
    pub async fn claim_state(&self, digest: &str) -> Result<bool, String> {
        match self {
            SessionBackend::Memory { claimed, .. } => Ok(claimed
                .entry(digest.to_owned())
                .or_insert(())
                .await
                .is_fresh()),
            SessionBackend::Redis { pool, .. } => {
                let set: Option<String> = pool
                    .set(
                        format!("ngi-consent:used-state:{digest}"),
                        "1",
                        Some(Expiration::EX(CLAIM_LIFETIME.as_secs().cast_signed())),
                        Some(SetOptions::NX),
                        false,
                    )
                    .await
                    .map_err(|e| format!("Redis: {e}"))?;
                Ok(set.is_some())
            }
        }
    }

    /// Connects to Redis, reconnecting for ever in the background. A Redis that is down at
    /// start-up does not stop the site: pages say the service is unavailable and `/readyz`
    /// fails until it is back. A `rediss` URL verifies the server against the system's roots,
    /// or against `ca` alone when given (REDIS_CA_FILE).
    pub async fn redis(
        url: &Url,
        ca: Option<&RootCertStore>,
        key: &SessionKey,
    ) -> Result<Self, String> {
        let mut config = Config::from_url(url.as_str())
            .map_err(|e| format!("invalid setting SESSION_STORE: {e}"))?;
        if let Some(roots) = ca {
            // ring named here, not taken from the process default: no second provider can
            // make the choice ambiguous.
            let tls = ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS to Redis: {e}"))?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
            config.tls = Some(TlsConnector::from(tls).into());
        }
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
        match tokio::time::timeout(REDIS_COMMAND_TIMEOUT, pool.wait_for_connect()).await {
            Ok(Ok(())) => {}
            // A refused certificate fails at once rather than timing out: its reason is the clue.
            Ok(Err(e)) => tracing::error!(
                error = %e,
                "the Redis session store is not reachable yet; retrying in the background"
            ),
            Err(_) => tracing::error!(
                "the Redis session store is not reachable yet; retrying in the background"
            ),
        }
        Ok(SessionBackend::Redis {
            store: SealedStore::new(RedisStore::new(pool.clone()), key),
            pool,
        })
    }

    /// Whether the store answers now (readiness).
    pub async fn ping(&self) -> Result<(), String> {
        match self {
            SessionBackend::Memory { .. } => Ok(()),
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

    /// Lets the memory store evict expired sessions even when no request comes: moka does its
    /// housekeeping on access and runs no thread of its own, so an idle site would otherwise
    /// keep abandoned sessions in memory until the next visitor.
    pub async fn evict_expired(&self) {
        if let SessionBackend::Memory { store, claimed } = self {
            let _ = store.load(&Id::default()).await;
            claimed.run_pending_tasks().await;
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
