//! The connection to Redis that each instance keeps: one multiplexed connection (redis-rs's
//! `ConnectionManager`) carrying every request's commands, each command bounded in time, and a
//! new connection when the old one fails.
//!
//! Why a new connection rather than the manager's own reconnecting: the manager reconnects only
//! after an I/O error on its socket. A Redis host that vanished without closing the connection (a
//! lost VM, a network partition, a failover to another address) gives no error, only silence,
//! until the kernel gives up on the socket, about 15 minutes later; and a connection attempt that
//! Redis itself refused (AUTH refused, too many clients) is kept as the answer to every later
//! command. Either way the site would say "unavailable" long after Redis was back. So any command
//! that fails or times out replaces the manager, at most once a second: the next command connects
//! afresh. Every failure counts, not only I/O errors: Redis's refusals while a connection is made
//! (AUTH, SELECT, too many clients) come back as error replies like any command's, and a Redis
//! that keeps answering errors costs one new connection a second.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{
    Client, Cmd, ExistenceCheck, FromRedisValue, SetExpiry, SetOptions, TlsCertificates,
    ToRedisArgs,
};
use url::Url;

/// How long one Redis command may take, waiting for a connection included, before the page
/// says the service is unavailable.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// A failed connection is replaced at most this often.
const REPLACE_AT_MOST_EVERY: Duration = Duration::from_secs(1);
/// Connection attempts of one connection, at most 100, 200 and 400 ms apart, before it gives up
/// with the last attempt's reason (a refused certificate, say): short enough that the start-up
/// wait sees that reason.
const CONNECT_ATTEMPTS: usize = 3;
const CONNECT_FIRST_DELAY: Duration = Duration::from_millis(100);
const CONNECT_LONGEST_DELAY: Duration = Duration::from_secs(1);

/// A Redis command that failed, or did not answer in time.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// The Redis URL (and CA) could not make a client; start-up stops.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionSetupError {
    #[error("invalid setting SESSION_STORE")]
    Url(#[source] redis::RedisError),
    #[error("cannot set up the connection to Redis")]
    Manager(#[source] redis::RedisError),
}

/// Cheap to clone: every clone shares the one connection. `Debug` shows nothing of the URL.
#[derive(Clone)]
pub struct RedisConnection {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    config: ConnectionManagerConfig,
    current: RwLock<Current>,
}

#[derive(Clone)]
struct Current {
    manager: ConnectionManager,
    /// Counts replacements, so that of many commands failing on one connection only the first
    /// replaces it.
    generation: u64,
    since: Instant,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection").finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Made lazily: the first command (or the start-up ping) connects. A `rediss` URL verifies
    /// the server against the system's roots, or against `ca` alone when given (its PEM text).
    pub(super) fn open(url: &Url, ca: Option<&[u8]>) -> Result<Self, ConnectionSetupError> {
        // redis-rs builds its TLS configuration with rustls's process-wide provider: ring is
        // named here, as the site's other TLS clients name it, so that a second provider entering
        // the tree could not make the choice ambiguous (rustls would panic in a connection
        // attempt). Already installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = match ca {
            None => Client::open(url.clone()),
            Some(pem) => Client::build_with_tls(
                url.clone(),
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                },
            ),
        }
        .map_err(ConnectionSetupError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(CONNECT_ATTEMPTS)
            .set_min_delay(CONNECT_FIRST_DELAY)
            .set_max_delay(CONNECT_LONGEST_DELAY);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(ConnectionSetupError::Manager)?;
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                config,
                current: RwLock::new(Current {
                    manager,
                    generation: 0,
                    since: Instant::now(),
                }),
            }),
        })
    }

    /// Sends `command` and reads its answer as a `T`, given up after `limit`: waiting for a
    /// connection counts, so a Redis that is away costs a visitor at most `limit`.
    pub(super) async fn query<T: FromRedisValue>(
        &self,
        command: &Cmd,
        limit: Duration,
    ) -> Result<T, CommandError> {
        let used = self.current();
        let mut manager = used.manager.clone();
        let error = match tokio::time::timeout(limit, command.query_async(&mut manager)).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(e)) => CommandError::Redis(e),
            Err(_) => CommandError::Timeout(limit),
        };
        self.replace(&used);
        Err(error)
    }

    /// `SET key value NX|XX PXAT until`, within COMMAND_TIMEOUT: true when written, false when
    /// `check` forbade it (NX: the key exists; XX: it does not).
    pub(super) async fn set_until(
        &self,
        key: String,
        value: impl ToRedisArgs,
        check: ExistenceCheck,
        until: Timestamp,
    ) -> Result<bool, CommandError> {
        // Unix milliseconds as Redis takes them; an instant before 1970 is not one a key has.
        let until_ms = u64::try_from(until.as_millisecond()).unwrap_or(0);
        let options = SetOptions::default()
            .conditional_set(check)
            .with_expiration(SetExpiry::PXAT(until_ms));
        let mut set = redis::cmd("SET");
        set.arg(key).arg(value).arg(options);
        let written: Option<String> = self.query(&set, COMMAND_TIMEOUT).await?;
        Ok(written.is_some())
    }

    /// Whether Redis answers a PING within `limit`.
    pub(super) async fn ping(&self, limit: Duration) -> Result<(), CommandError> {
        self.query::<String>(&redis::cmd("PING"), limit)
            .await
            .map(|_| ())
    }

    fn current(&self) -> Current {
        self.shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A new manager in place of `failed`, unless another command replaced it already or it is
    /// less than REPLACE_AT_MOST_EVERY old.
    fn replace(&self, failed: &Current) {
        let mut current = self
            .shared
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if current.generation != failed.generation
            || current.since.elapsed() < REPLACE_AT_MOST_EVERY
        {
            return;
        }
        match ConnectionManager::new_lazy_with_config(
            self.shared.client.clone(),
            self.shared.config.clone(),
        ) {
            Ok(manager) => {
                *current = Current {
                    manager,
                    generation: failed.generation.wrapping_add(1),
                    since: Instant::now(),
                };
                tracing::warn!("a command to Redis failed: the next one uses a new connection");
            }
            // Only a configuration the first manager accepted can get here; keep it.
            Err(e) => tracing::error!(error = %e, "cannot make a new connection to Redis"),
        }
    }
}
