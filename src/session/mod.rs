//! Sessions as persistence, apart from HTTP: where they live (this process, or Redis shared by
//! every instance), how they are sealed at rest and keyed there (never by the session id itself),
//! the record of states already used, and one typed owner for each key a session holds. `web`
//! reads and writes sessions only through this module.

pub mod backend;
mod claims;
pub mod data;
pub mod keys;
pub mod memory;
pub mod redis;
pub mod sealed;

pub use backend::{ClaimError, PingError, RedisSetupError, SessionBackend};
pub use keys::REDIS_KEY_PREFIX;

/// An error's text followed by its sources', `: `-separated, for the one log line or message
/// that reports it.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
