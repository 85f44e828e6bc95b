//! Sessions as persistence, apart from HTTP: where they live (this process, or Redis shared by
//! every instance), how they are sealed at rest and keyed there (never by the session id itself),
//! the record of states already used, and one typed owner for each key a session holds. `web`
//! reads and writes sessions only through this module.

pub mod backend;
mod claims;
pub mod connection;
pub mod data;
pub mod keys;
pub mod memory;
pub mod redis;
pub mod sealed;

pub use backend::{ClaimError, PingError, RedisSetupError, SessionBackend};
pub use connection::CommandError;
pub use keys::REDIS_KEY_PREFIX;
