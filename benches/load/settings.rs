//! Every setting name (environment variable) the bench gives, clears or mentions, in one place.
//!
//! The names are the site's and the simulator's own. When the library names them in
//! `ngi_consent::config::vars` (one `pub const` each, named like the variable), the block of
//! constants below becomes `pub use ngi_consent::config::vars::*;` and nothing else changes:
//! a constant left here (`RUST_LOG`, read by the log filter rather than the settings parser)
//! shadows a glob-imported one of the same name.

pub const APP_BIND: &str = "APP_BIND";
pub const PUBLIC_URL: &str = "PUBLIC_URL";
pub const NGI_ENV: &str = "NGI_ENV";
pub const NGI_ACCESS_URL: &str = "NGI_ACCESS_URL";
pub const NGI_API_URL: &str = "NGI_API_URL";
pub const NGI_CLIENT_ID: &str = "NGI_CLIENT_ID";
pub const NGI_CLIENT_SECRET: &str = "NGI_CLIENT_SECRET";
pub const NGI_CLIENT_SECRET_FILE: &str = "NGI_CLIENT_SECRET_FILE";
pub const NGI_SCOPE: &str = "NGI_SCOPE";
pub const NGI_PKCE: &str = "NGI_PKCE";
pub const NGI_ISSUER: &str = "NGI_ISSUER";
pub const NGI_TIMEOUT_MS: &str = "NGI_TIMEOUT_MS";
pub const NGI_CONNECT_TIMEOUT_MS: &str = "NGI_CONNECT_TIMEOUT_MS";
pub const SIMULATOR_BIND: &str = "SIMULATOR_BIND";
pub const SIMULATOR_REDIRECT_URI: &str = "SIMULATOR_REDIRECT_URI";
pub const SIMULATOR_SEND_ISS: &str = "SIMULATOR_SEND_ISS";
pub const SIMULATOR_CLIENT_ID: &str = "SIMULATOR_CLIENT_ID";
pub const SIMULATOR_CLIENT_SECRET: &str = "SIMULATOR_CLIENT_SECRET";
pub const LOG_FORMAT: &str = "LOG_FORMAT";
pub const SESSION_STORE: &str = "SESSION_STORE";
pub const SESSION_IDLE_SECS: &str = "SESSION_IDLE_SECS";
pub const SESSION_KEY: &str = "SESSION_KEY";
pub const SESSION_KEY_FILE: &str = "SESSION_KEY_FILE";
pub const REDIS_CA_FILE: &str = "REDIS_CA_FILE";
pub const RATE_LIMIT_PER_MINUTE: &str = "RATE_LIMIT_PER_MINUTE";
pub const TRUSTED_PROXIES: &str = "TRUSTED_PROXIES";

/// The log filter's variable (tracing's), not one of the site's settings.
pub const RUST_LOG: &str = "RUST_LOG";

/// Every setting the site and the simulator read from the environment: cleared for the children,
/// so that only what the bench gives them (and `--site-env`) reaches them.
pub const SERVER_SETTINGS: [&str; 27] = [
    APP_BIND,
    PUBLIC_URL,
    NGI_ENV,
    NGI_ACCESS_URL,
    NGI_API_URL,
    NGI_CLIENT_ID,
    NGI_CLIENT_SECRET,
    NGI_CLIENT_SECRET_FILE,
    NGI_SCOPE,
    NGI_PKCE,
    NGI_ISSUER,
    NGI_TIMEOUT_MS,
    NGI_CONNECT_TIMEOUT_MS,
    SIMULATOR_BIND,
    SIMULATOR_REDIRECT_URI,
    LOG_FORMAT,
    RUST_LOG,
    SESSION_STORE,
    SESSION_IDLE_SECS,
    SESSION_KEY,
    SESSION_KEY_FILE,
    REDIS_CA_FILE,
    RATE_LIMIT_PER_MINUTE,
    TRUSTED_PROXIES,
    SIMULATOR_SEND_ISS,
    SIMULATOR_CLIENT_ID,
    SIMULATOR_CLIENT_SECRET,
];

/// The settings a server's `--help` lists (`[env: NAME=…]`) that `SERVER_SETTINGS` does not
/// clear: a setting added to the site must be added here too, or this process's environment
/// would reach the servers through it.
pub fn uncleared(help: &str) -> Vec<String> {
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .next()
        })
        .filter(|name| !name.is_empty() && !SERVER_SETTINGS.contains(name))
        .map(str::to_owned)
        .collect()
}
