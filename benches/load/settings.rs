//! Every setting name (environment variable) the bench gives, clears or mentions, in one place.
//!
//! The names are the site's and the simulator's own, from `ngi_consent::config::vars`; the one
//! kept here (`RUST_LOG`) is read by the log filter rather than the settings parser.

pub use ngi_consent::config::vars::*;

/// The log filter's variable (tracing's), not one of the site's settings.
pub const RUST_LOG: &str = "RUST_LOG";

/// Every setting the site and the simulator read from the environment, and the log filter's:
/// cleared for the children, so that only what the bench gives them (and `--site-env`) reaches
/// them.
pub fn server_settings() -> impl Iterator<Item = &'static str> {
    ALL.iter().copied().chain([RUST_LOG])
}

/// The settings a server's `--help` lists (`[env: NAME=…]`) that `server_settings()` does not
/// clear: a setting added to the site must be added here too, or this process's environment
/// would reach the servers through it.
pub fn uncleared(help: &str) -> Vec<String> {
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .next()
        })
        .filter(|name| !name.is_empty() && !server_settings().any(|s| s == *name))
        .map(str::to_owned)
        .collect()
}
