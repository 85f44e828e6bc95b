//! What clap reads: every setting is an environment variable and a flag, kept as typed so that
//! `Settings::from_args` can parse, validate and name each one. Tests build these by hand.

use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

use super::ngi::{DEMO_CLIENT_ID, DEMO_CLIENT_NAME, DEMO_CLIENT_SECRET};
use super::parse::parse_addr;
use super::{ConfigError, vars};

pub(crate) const DEFAULT_SIMULATOR_BIND: &str = "127.0.0.1:3001";

/// The raw settings as flags and environment variables give them. Not `Debug`: it holds the secret.
#[derive(clap::Args, Clone, Default)]
pub struct ServeArgs {
    /// Address the site listens on [default: 127.0.0.1:3000]
    #[arg(long, env = vars::APP_BIND)]
    pub app_bind: Option<String>,
    /// The site's public base URL; the redirect URI is {PUBLIC_URL}/v1/callback
    /// [default in simulator mode: http://<APP_BIND>]
    #[arg(long, env = vars::PUBLIC_URL)]
    pub public_url: Option<String>,
    /// simulator, preprod or prod: which NGI to talk to. Unset means the local demo, which
    /// refuses a non-loopback address or real client credentials
    #[arg(long, env = vars::NGI_ENV)]
    pub ngi_env: Option<String>,
    /// Override NGI's authorization server (setting it means no simulator)
    #[arg(long, env = vars::NGI_ACCESS_URL)]
    pub ngi_access_url: Option<String>,
    /// Override NGI's API host (setting it means no simulator)
    #[arg(long, env = vars::NGI_API_URL)]
    pub ngi_api_url: Option<String>,
    /// The client id NGI issued [default in simulator mode: the demo client]
    #[arg(long, env = vars::NGI_CLIENT_ID)]
    pub ngi_client_id: Option<String>,
    /// The client secret NGI issued (or use NGI_CLIENT_SECRET_FILE)
    #[arg(long, env = vars::NGI_CLIENT_SECRET, hide_env_values = true)]
    pub ngi_client_secret: Option<String>,
    /// A file holding the client secret (Docker/Kubernetes secrets)
    #[arg(long, env = vars::NGI_CLIENT_SECRET_FILE)]
    pub ngi_client_secret_file: Option<PathBuf>,
    /// The consent scope [default: debt.unsecured.presentation]
    #[arg(long, env = vars::NGI_SCOPE)]
    pub ngi_scope: Option<String>,
    /// Send PKCE (S256): true or false [default: true]
    #[arg(long, env = vars::NGI_PKCE)]
    pub ngi_pkce: Option<String>,
    /// The issuer an `iss` callback parameter must equal [default: NGI's own, or for other
    /// hosts read from their discovery document at start-up]
    #[arg(long, env = vars::NGI_ISSUER)]
    pub ngi_issuer: Option<String>,
    /// Total time allowed for one call to NGI, in milliseconds [default: 10000]
    #[arg(long, env = vars::NGI_TIMEOUT_MS)]
    pub ngi_timeout_ms: Option<String>,
    /// Time allowed to connect to NGI, in milliseconds [default: 3000]
    #[arg(long, env = vars::NGI_CONNECT_TIMEOUT_MS)]
    pub ngi_connect_timeout_ms: Option<String>,
    /// Address of the embedded simulator in simulator mode [default: 127.0.0.1:3001]
    #[arg(long, env = vars::SIMULATOR_BIND)]
    pub simulator_bind: Option<String>,
    /// Log format: pretty or json [default: pretty]
    #[arg(long, env = vars::LOG_FORMAT)]
    pub log_format: Option<String>,
    /// Where sessions live: memory, or redis://host:port/db (rediss:// for TLS) for several
    /// instances [default: memory]
    #[arg(long, env = vars::SESSION_STORE)]
    pub session_store: Option<String>,
    /// PEM file of the CA(s) that sign the Redis server's certificate, trusted instead of the
    /// system's roots (rediss:// only) [default: the system's roots]
    #[arg(long, env = vars::REDIS_CA_FILE)]
    pub redis_ca_file: Option<PathBuf>,
    /// Seconds without a request after which a session ends [default: 1800]
    #[arg(long, env = vars::SESSION_IDLE_SECS)]
    pub session_idle_secs: Option<String>,
    /// Seconds after which a session ends however active it is, 60 to 86400 [default: 3600]
    #[arg(long, env = vars::SESSION_MAX_AGE_SECS)]
    pub session_max_age_secs: Option<String>,
    /// Flows one client IP may start per minute; 0 switches the limit off [default: 30]
    #[arg(long, env = vars::RATE_LIMIT_PER_MINUTE)]
    pub rate_limit_per_minute: Option<String>,
    /// IPv6 clients are counted per block of this prefix length, 32 to 64 [default: 56]
    #[arg(long, env = vars::RATE_LIMIT_IPV6_PREFIX)]
    pub rate_limit_ipv6_prefix: Option<String>,
    /// Flows all clients together may start per second on this instance; 0 switches the cap
    /// off [default: 200]
    #[arg(long, env = vars::FLOW_STARTS_PER_SECOND)]
    pub flow_starts_per_second: Option<String>,
    /// Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client [default: none]
    #[arg(long, env = vars::TRUSTED_PROXIES)]
    pub trusted_proxies: Option<String>,
    /// 32 random bytes, base64 (openssl rand -base64 32), sealing session data in Redis
    #[arg(long, env = vars::SESSION_KEY, hide_env_values = true)]
    pub session_key: Option<String>,
    /// A file holding SESSION_KEY
    #[arg(long, env = vars::SESSION_KEY_FILE)]
    pub session_key_file: Option<PathBuf>,
    /// Bearer token (at least 32 characters) for the partner API under /partner/api; without
    /// one the partner API is off [default in simulator mode: a token made and printed at start-up]
    #[arg(long, env = vars::PARTNER_TOKEN, hide_env_values = true)]
    pub partner_token: Option<String>,
    /// A file holding PARTNER_TOKEN
    #[arg(long, env = vars::PARTNER_TOKEN_FILE)]
    pub partner_token_file: Option<PathBuf>,
    /// Seconds between polls of NGI's consent feed, 5 to 3600; 0 switches the follower off
    /// [default: 30]
    #[arg(long, env = vars::FEED_POLL_SECS)]
    pub feed_poll_secs: Option<String>,
    /// Events asked for per page of NGI's consent feed, 1 to 1000 [default: 100]
    #[arg(long, env = vars::FEED_PAGE_SIZE)]
    pub feed_page_size: Option<String>,
    /// Directory of the SQLite consent ledger (ngi-consent.db), created on first start; unused
    /// with DATABASE_URL [default: ./data]
    #[arg(long, env = vars::DATA_DIR)]
    pub data_dir: Option<PathBuf>,
    /// postgres://user:password@host:5432/database: the consent ledger in PostgreSQL, shared by
    /// every instance, instead of SQLite in DATA_DIR (or use DATABASE_URL_FILE)
    #[arg(long, env = vars::DATABASE_URL, hide_env_values = true)]
    pub database_url: Option<String>,
    /// A file holding DATABASE_URL
    #[arg(long, env = vars::DATABASE_URL_FILE)]
    pub database_url_file: Option<PathBuf>,
}

/// The command line of `ngi-consent simulator`: the simulator alone, for another client.
#[derive(clap::Args, Clone)]
pub struct SimulatorArgs {
    /// Address the simulator listens on
    #[arg(long, env = vars::SIMULATOR_BIND, default_value = DEFAULT_SIMULATOR_BIND)]
    pub bind: String,
    /// A redirect URI the registered client may use (repeat, or separate with commas)
    #[arg(
        long,
        env = vars::SIMULATOR_REDIRECT_URI,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:3000/v1/callback"
    )]
    pub redirect_uri: Vec<String>,
    /// The registered client's id
    #[arg(long, env = vars::SIMULATOR_CLIENT_ID, default_value = DEMO_CLIENT_ID)]
    pub client_id: String,
    /// The registered client's secret
    #[arg(long, env = vars::SIMULATOR_CLIENT_SECRET, hide_env_values = true,
          default_value = DEMO_CLIENT_SECRET, hide_default_value = true)]
    pub client_secret: String,
    /// Send `iss` on the redirect back (RFC 9207), as some servers do
    #[arg(long, env = vars::SIMULATOR_SEND_ISS)]
    pub send_iss: bool,
}

impl SimulatorArgs {
    pub fn into_config(
        self,
    ) -> Result<(SocketAddr, crate::simulator::SimulatorConfig), ConfigError> {
        let addr = parse_addr(
            vars::SIMULATOR_BIND,
            Some(&self.bind),
            DEFAULT_SIMULATOR_BIND,
        )?;
        for uri in &self.redirect_uri {
            Url::parse(uri).map_err(|e| {
                ConfigError::caused(
                    vars::SIMULATOR_REDIRECT_URI,
                    format!("'{uri}' is not an absolute URL"),
                    e,
                )
            })?;
        }
        let config = crate::simulator::SimulatorConfig {
            clients: vec![crate::simulator::ClientRegistration {
                client_id: self.client_id,
                client_secret: self.client_secret,
                name: DEMO_CLIENT_NAME.to_owned(),
                redirect_uris: self.redirect_uri,
            }],
            send_iss: self.send_iss,
        };
        Ok((addr, config))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn every_setting_has_a_flag_named_after_its_variable() {
        let cli = Cli::try_parse_from([
            "ngi-consent",
            "--session-max-age-secs",
            "120",
            "--rate-limit-ipv6-prefix",
            "48",
            "--flow-starts-per-second",
            "5",
        ])
        .unwrap();
        assert_eq!(cli.serve.session_max_age_secs.as_deref(), Some("120"));
        assert_eq!(cli.serve.rate_limit_ipv6_prefix.as_deref(), Some("48"));
        assert_eq!(cli.serve.flow_starts_per_second.as_deref(), Some("5"));
    }

    #[test]
    fn a_simulator_redirect_uri_that_is_not_a_url_is_named() {
        let args = SimulatorArgs {
            bind: "127.0.0.1:0".into(),
            redirect_uri: vec!["/v1/callback".into()],
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.into(),
            send_iss: false,
        };
        let err = args.into_config().unwrap_err();
        assert_eq!(err.variable, vars::SIMULATOR_REDIRECT_URI);
        assert!(std::error::Error::source(&err).is_some());
    }
}
