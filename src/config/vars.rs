//! The name of every environment variable the site and the simulator read, in one place, so the
//! command line, the error messages and other code (the load bench) name settings alike. Each
//! variable's flag is the same name in kebab case (`SESSION_STORE` is `--session-store`).

/// Address the site listens on.
pub const APP_BIND: &str = "APP_BIND";
/// The site's public base URL.
pub const PUBLIC_URL: &str = "PUBLIC_URL";
/// simulator, preprod or prod.
pub const NGI_ENV: &str = "NGI_ENV";
/// NGI's authorization server, overriding the environment's.
pub const NGI_ACCESS_URL: &str = "NGI_ACCESS_URL";
/// NGI's API host, overriding the environment's.
pub const NGI_API_URL: &str = "NGI_API_URL";
/// The client id NGI issued.
pub const NGI_CLIENT_ID: &str = "NGI_CLIENT_ID";
/// The client secret NGI issued.
pub const NGI_CLIENT_SECRET: &str = "NGI_CLIENT_SECRET";
/// A file holding the client secret.
pub const NGI_CLIENT_SECRET_FILE: &str = "NGI_CLIENT_SECRET_FILE";
/// The consent scope.
pub const NGI_SCOPE: &str = "NGI_SCOPE";
/// Whether PKCE is sent.
pub const NGI_PKCE: &str = "NGI_PKCE";
/// The issuer a callback's `iss` must equal.
pub const NGI_ISSUER: &str = "NGI_ISSUER";
/// Total time for one call to NGI, in milliseconds.
pub const NGI_TIMEOUT_MS: &str = "NGI_TIMEOUT_MS";
/// Time to connect to NGI, in milliseconds.
pub const NGI_CONNECT_TIMEOUT_MS: &str = "NGI_CONNECT_TIMEOUT_MS";
/// Address of the embedded simulator (and of `ngi-consent simulator`).
pub const SIMULATOR_BIND: &str = "SIMULATOR_BIND";
/// pretty or json.
pub const LOG_FORMAT: &str = "LOG_FORMAT";
/// memory, or a redis:// or rediss:// URL.
pub const SESSION_STORE: &str = "SESSION_STORE";
/// The CA file that verifies a rediss:// server.
pub const REDIS_CA_FILE: &str = "REDIS_CA_FILE";
/// Seconds without a request after which a session ends.
pub const SESSION_IDLE_SECS: &str = "SESSION_IDLE_SECS";
/// Seconds after which a session ends however busy it is.
pub const SESSION_MAX_AGE_SECS: &str = "SESSION_MAX_AGE_SECS";
/// The key sealing session data in Redis.
pub const SESSION_KEY: &str = "SESSION_KEY";
/// A file holding the session key.
pub const SESSION_KEY_FILE: &str = "SESSION_KEY_FILE";
/// Flows one client may start per minute.
pub const RATE_LIMIT_PER_MINUTE: &str = "RATE_LIMIT_PER_MINUTE";
/// The IPv6 prefix length one client is counted by.
pub const RATE_LIMIT_IPV6_PREFIX: &str = "RATE_LIMIT_IPV6_PREFIX";
/// Flows all clients together may start per second on one instance.
pub const FLOW_STARTS_PER_SECOND: &str = "FLOW_STARTS_PER_SECOND";
/// Proxies whose X-Forwarded-For names the client.
pub const TRUSTED_PROXIES: &str = "TRUSTED_PROXIES";
/// The bearer token the partner API requires (at least 32 characters).
pub const PARTNER_TOKEN: &str = "PARTNER_TOKEN";
/// A file holding the partner token.
pub const PARTNER_TOKEN_FILE: &str = "PARTNER_TOKEN_FILE";
/// Seconds between polls of NGI's consent feed; 0 switches the follower off.
pub const FEED_POLL_SECS: &str = "FEED_POLL_SECS";
/// Events asked for per page of NGI's consent feed.
pub const FEED_PAGE_SIZE: &str = "FEED_PAGE_SIZE";
/// The directory of the SQLite consent ledger.
pub const DATA_DIR: &str = "DATA_DIR";
/// A postgres:// URL: the consent ledger in PostgreSQL instead of SQLite.
pub const DATABASE_URL: &str = "DATABASE_URL";
/// A file holding DATABASE_URL.
pub const DATABASE_URL_FILE: &str = "DATABASE_URL_FILE";
/// `ngi-consent simulator`: a redirect URI the registered client may use.
pub const SIMULATOR_REDIRECT_URI: &str = "SIMULATOR_REDIRECT_URI";
/// `ngi-consent simulator`: the registered client's id.
pub const SIMULATOR_CLIENT_ID: &str = "SIMULATOR_CLIENT_ID";
/// `ngi-consent simulator`: the registered client's secret.
pub const SIMULATOR_CLIENT_SECRET: &str = "SIMULATOR_CLIENT_SECRET";
/// `ngi-consent simulator`: send `iss` on the redirect back.
pub const SIMULATOR_SEND_ISS: &str = "SIMULATOR_SEND_ISS";

/// Every setting above, for whoever must clear or list them all (the load bench clears them for
/// the servers it starts).
pub const ALL: &[&str] = &[
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
    LOG_FORMAT,
    SESSION_STORE,
    REDIS_CA_FILE,
    SESSION_IDLE_SECS,
    SESSION_MAX_AGE_SECS,
    SESSION_KEY,
    SESSION_KEY_FILE,
    RATE_LIMIT_PER_MINUTE,
    RATE_LIMIT_IPV6_PREFIX,
    FLOW_STARTS_PER_SECOND,
    TRUSTED_PROXIES,
    PARTNER_TOKEN,
    PARTNER_TOKEN_FILE,
    FEED_POLL_SECS,
    FEED_PAGE_SIZE,
    DATA_DIR,
    DATABASE_URL,
    DATABASE_URL_FILE,
    SIMULATOR_REDIRECT_URI,
    SIMULATOR_CLIENT_ID,
    SIMULATOR_CLIENT_SECRET,
    SIMULATOR_SEND_ISS,
];

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::ALL;
    use crate::config::{ServeArgs, SimulatorArgs};

    #[derive(clap::Parser)]
    struct Site {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[derive(clap::Parser)]
    struct Simulator {
        #[command(flatten)]
        simulator: SimulatorArgs,
    }

    /// A setting added to the command line and not here would escape whoever clears them all.
    #[test]
    fn all_lists_exactly_the_variables_the_command_line_reads() {
        let mut read: Vec<String> = Site::command()
            .get_arguments()
            .chain(Simulator::command().get_arguments())
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        read.sort();
        read.dedup();
        let mut all: Vec<String> = ALL.iter().map(|s| (*s).to_owned()).collect();
        all.sort();
        assert_eq!(read, all);
    }
}
