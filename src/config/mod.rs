//! Settings: read once at start-up from flags and environment variables, parsed into final types,
//! validated, and printed without secrets.
//!
//! `ServeArgs` is what clap reads (every setting is an env variable and a flag, named in
//! `vars`). `Settings::from_args` is pure, so tests build `ServeArgs` by hand and never touch
//! the process environment. One file per concern: `args` (the command line), `ngi` (which NGI,
//! its issuer and the client credentials), `session_store`, `ledger` (the consent ledger's database), `limits` (starting flows), and
//! `parse`, the parsers they share.

mod args;
mod ledger;
mod limits;
mod ngi;
mod parse;
mod partner;
mod session_store;
pub mod vars;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use oauth2::{ClientId, ClientSecret};
use url::Url;

use crate::domain::scope::ConsentScope;

pub use args::{ServeArgs, SimulatorArgs};
pub use ledger::{DatabaseUrl, LedgerStore};
pub use limits::StartLimits;
pub use ngi::{DEMO_CLIENT_ID, DEMO_CLIENT_NAME, DEMO_CLIENT_SECRET, NgiTarget};
pub use parse::is_loopback;
pub use partner::{MIN_TOKEN_CHARS, PartnerToken};
pub use session_store::{RedisCa, SessionStoreKind};

use parse::{parse_addr, parse_bool, parse_in_range, parse_millis, parse_public_url};

const DEFAULT_APP_BIND: &str = "127.0.0.1:3000";
const DEFAULT_SCOPE: &str = "debt.unsecured.presentation";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_FEED_POLL: Duration = Duration::from_secs(30);
const DEFAULT_FEED_PAGE_SIZE: u32 = 100;

/// A setting that cannot be used, named as the operator typed it, with what caused it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable (its flag is the same name in kebab case): one of [`vars`].
    pub variable: &'static str,
    /// What is wrong and how to fix it.
    pub problem: String,
    /// The parser's or the file system's own error, when there is one.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
            source: None,
        }
    }

    pub(crate) fn caused(
        variable: &'static str,
        problem: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            variable,
            problem: problem.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Validated settings. `Debug` leaves the secrets out (oauth2's `ClientSecret` and
/// `SessionKey` redact themselves).
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// `None` only in simulator mode without PUBLIC_URL: then it is derived from the bound address.
    pub public_url: Option<Url>,
    pub ngi: NgiTarget,
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    pub scope: ConsentScope,
    pub pkce: bool,
    /// The issuer `iss` must equal; `None` means NGI's discovery document is read at start-up.
    pub issuer: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub log_format: LogFormat,
    pub session_store: SessionStoreKind,
    pub session_idle: Duration,
    /// How long a session may live however active it is.
    pub session_max_age: Duration,
    pub start_limits: StartLimits,
    /// The partner API's token; `None` leaves the API off (in simulator mode one is made).
    pub partner_token: Option<PartnerToken>,
    /// Where the consent ledger lives.
    pub ledger: LedgerStore,
    /// How often NGI's consent feed is polled; `None`: the follower is off.
    pub feed_poll: Option<Duration>,
    /// Events asked for per page of the feed, 1..=1000.
    pub feed_page_size: u32,
}

impl Settings {
    /// Parses and validates every setting; the first problem found is returned, naming its variable.
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let bind = parse_addr(vars::APP_BIND, args.app_bind.as_deref(), DEFAULT_APP_BIND)?;
        let ngi = ngi::target(&args)?;
        let simulated = matches!(ngi, NgiTarget::Simulator { .. });

        let public_url = match args.public_url.as_deref() {
            Some(raw) => Some(parse_public_url(raw)?),
            None if simulated => None,
            None => {
                return Err(ConfigError::new(
                    vars::PUBLIC_URL,
                    "required outside simulator mode: the site's public https base URL, whose \
                     /v1/callback is registered at NGI",
                ));
            }
        };

        let (client_id, client_secret) = ngi::client_credentials(&args, simulated)?;
        ngi::check_implicit_simulator(
            &args,
            &ngi,
            bind,
            public_url.as_ref(),
            &client_id,
            &client_secret,
        )?;

        let scope = args
            .ngi_scope
            .as_deref()
            .unwrap_or(DEFAULT_SCOPE)
            .parse::<ConsentScope>()
            .map_err(|e| ConfigError::new(vars::NGI_SCOPE, e.to_string()))?;
        let pkce = parse_bool(vars::NGI_PKCE, args.ngi_pkce.as_deref(), true)?;
        let issuer = ngi::issuer(&args)?;

        let timeout = parse_millis(vars::NGI_TIMEOUT_MS, args.ngi_timeout_ms.as_deref())?
            .unwrap_or(DEFAULT_TIMEOUT);
        let connect_timeout = parse_millis(
            vars::NGI_CONNECT_TIMEOUT_MS,
            args.ngi_connect_timeout_ms.as_deref(),
        )?
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);

        let log_format = match args.log_format.as_deref().map(str::trim) {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    vars::LOG_FORMAT,
                    format!("'{other}' is not pretty or json"),
                ));
            }
        };

        Ok(Self {
            bind,
            public_url,
            ngi,
            client_id,
            client_secret,
            scope,
            pkce,
            issuer,
            timeout,
            connect_timeout,
            log_format,
            session_store: session_store::session_store(&args)?,
            session_idle: session_store::session_idle(&args)?,
            session_max_age: session_store::session_max_age(&args)?,
            start_limits: limits::start_limits(&args)?,
            partner_token: partner::partner_token(&args)?,
            ledger: ledger::ledger_store(&args)?,
            feed_poll: feed_poll(&args)?,
            feed_page_size: parse_in_range(
                vars::FEED_PAGE_SIZE,
                args.feed_page_size.as_deref(),
                1..=1000,
                " of events",
            )?
            .unwrap_or(DEFAULT_FEED_PAGE_SIZE),
        })
    }

    /// True when the site runs against the embedded simulator.
    pub fn is_simulated(&self) -> bool {
        matches!(self.ngi, NgiTarget::Simulator { .. })
    }
}

/// FEED_POLL_SECS: 0 is off, else 5..=3600 seconds.
fn feed_poll(args: &ServeArgs) -> Result<Option<Duration>, ConfigError> {
    let raw = args.feed_poll_secs.as_deref();
    if raw.map(str::trim) == Some("0") {
        return Ok(None);
    }
    Ok(Some(
        parse_in_range(
            vars::FEED_POLL_SECS,
            raw,
            5..=3600,
            " of seconds, or 0 for off",
        )?
        .map_or(DEFAULT_FEED_POLL, Duration::from_secs),
    ))
}

/// One line for the start-up log: facts, never the secret.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ngi = match &self.ngi {
            NgiTarget::Simulator { bind } => format!("embedded simulator on {bind}"),
            NgiTarget::Remote { name, access, api } => {
                format!("{name} (access {access}, api {api})")
            }
        };
        let off_or =
            |n: Option<std::num::NonZeroU32>| n.map_or("off".to_owned(), |n| n.to_string());
        let limits = &self.start_limits;
        write!(
            f,
            "bind={} public_url={} ngi={} client_id={} scope={} pkce={} timeout={:?} connect_timeout={:?} \
             session_store={} session_idle={:?} session_max_age={:?} rate_limit_per_minute={} \
             rate_limit_ipv6_prefix={} flow_starts_per_second={} trusted_proxies={} partner_api={} \
             ledger={} feed_poll={}",
            self.bind,
            self.public_url
                .as_ref()
                .map_or_else(|| "(from bind address)".to_owned(), Url::to_string),
            ngi,
            self.client_id.as_str(),
            self.scope,
            self.pkce,
            self.timeout,
            self.connect_timeout,
            self.session_store,
            self.session_idle,
            self.session_max_age,
            off_or(limits.per_client_per_minute),
            limits.ipv6_prefix,
            off_or(limits.flow_starts_per_second),
            limits.trusted_proxies.len(),
            match (&self.partner_token, self.is_simulated()) {
                (Some(_), _) => "on",
                (None, true) => "on (token made at start-up)",
                (None, false) => "off",
            },
            self.ledger,
            self.feed_poll
                .map_or_else(|| "off".to_owned(), |d| format!("{d:?}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    /// A change to the settings and the variable it should be blamed on.
    type Case = (fn(&mut ServeArgs), &'static str);

    fn preprod() -> ServeArgs {
        ServeArgs {
            ngi_env: Some("preprod".into()),
            public_url: Some("https://lan.example.no".into()),
            ngi_client_id: Some("client-1".into()),
            ngi_client_secret: Some("s3cret:with+special%chars".into()),
            ..ServeArgs::default()
        }
    }

    #[test]
    fn no_settings_at_all_run_the_simulator_demo() {
        let s = Settings::from_args(ServeArgs::default()).unwrap();
        assert_eq!(s.bind, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(
            s.ngi,
            NgiTarget::Simulator {
                bind: "127.0.0.1:3001".parse().unwrap()
            }
        );
        assert_eq!(s.client_id.as_str(), DEMO_CLIENT_ID);
        assert_eq!(s.client_secret.secret(), DEMO_CLIENT_SECRET);
        assert_eq!(s.scope.to_string(), "debt.unsecured.presentation");
        assert!(s.pkce);
        assert!(s.public_url.is_none());
    }

    #[test]
    fn preprod_fills_in_ngi_hosts() {
        let s = Settings::from_args(preprod()).unwrap();
        let NgiTarget::Remote { access, api, .. } = s.ngi else {
            panic!("expected a remote target")
        };
        assert_eq!(access.as_str(), "https://access-preprod.norskgjeld.no/");
        assert_eq!(api.as_str(), "https://api-preprod.norskgjeld.no/");
        assert_eq!(
            s.issuer.as_deref(),
            Some("https://access-preprod.norskgjeld.no/")
        );
    }

    #[test]
    fn other_hosts_leave_the_issuer_to_discovery_unless_named() {
        let mut args = preprod();
        args.ngi_access_url = Some("https://access.example".into());
        args.ngi_api_url = Some("https://api.example".into());
        assert_eq!(Settings::from_args(args.clone()).unwrap().issuer, None);
        args.ngi_issuer = Some("https://access.example/".into());
        assert_eq!(
            Settings::from_args(args).unwrap().issuer.as_deref(),
            Some("https://access.example/")
        );
    }

    #[test]
    fn explicit_hosts_replace_the_simulator() {
        let args = ServeArgs {
            ngi_access_url: Some("http://127.0.0.1:9000".into()),
            ngi_api_url: Some("http://127.0.0.1:9001".into()),
            public_url: Some("http://127.0.0.1:3000".into()),
            ngi_client_id: Some("c".into()),
            ngi_client_secret: Some("s".into()),
            ..ServeArgs::default()
        };
        let s = Settings::from_args(args).unwrap();
        assert!(!s.is_simulated());
    }

    #[test]
    fn missing_settings_outside_simulator_mode_are_named() {
        let cases: [Case; 4] = [
            (|a| a.public_url = None, "PUBLIC_URL"),
            (|a| a.ngi_client_id = None, "NGI_CLIENT_ID"),
            (|a| a.ngi_client_secret = None, "NGI_CLIENT_SECRET"),
            (
                |a| {
                    a.ngi_env = None;
                    a.ngi_access_url = Some("https://access.example".into());
                },
                "NGI_API_URL",
            ),
        ];
        for (change, variable) in cases {
            let mut args = preprod();
            change(&mut args);
            let err = Settings::from_args(args).unwrap_err();
            assert_eq!(err.variable, variable);
        }
    }

    #[test]
    fn bad_values_are_refused_naming_the_variable() {
        let cases: [Case; 9] = [
            (|a| a.app_bind = Some("localhost".into()), "APP_BIND"),
            (|a| a.ngi_env = Some("staging".into()), "NGI_ENV"),
            (
                |a| a.public_url = Some("http://lan.example.no".into()),
                "PUBLIC_URL",
            ),
            (
                |a| a.public_url = Some("https://lan.example.no/app".into()),
                "PUBLIC_URL",
            ),
            (
                |a| a.ngi_scope = Some("debt.unsecured.everything".into()),
                "NGI_SCOPE",
            ),
            (
                |a| a.ngi_scope = Some("openid debt.unsecured.presentation".into()),
                "NGI_SCOPE",
            ),
            (|a| a.ngi_pkce = Some("maybe".into()), "NGI_PKCE"),
            (|a| a.ngi_timeout_ms = Some("ten".into()), "NGI_TIMEOUT_MS"),
            (|a| a.log_format = Some("xml".into()), "LOG_FORMAT"),
        ];
        for (change, variable) in cases {
            let mut args = preprod();
            change(&mut args);
            let err = Settings::from_args(args).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid setting {variable}:"))
            );
        }
    }

    #[test]
    fn session_store_rate_limits_and_proxies_are_parsed() {
        let mut args = preprod();
        args.session_store = Some("redis://:pw@127.0.0.1:6379/2".into());
        args.session_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
        args.session_idle_secs = Some("60".into());
        args.session_max_age_secs = Some("600".into());
        args.rate_limit_per_minute = Some("0".into());
        args.rate_limit_ipv6_prefix = Some("48".into());
        args.flow_starts_per_second = Some("50".into());
        args.trusted_proxies = Some("10.0.0.0/8, 192.168.1.7".into());
        let s = Settings::from_args(args).unwrap();
        assert!(
            matches!(s.session_store, SessionStoreKind::Redis { ref url, .. } if url.port() == Some(6379))
        );
        assert_eq!(s.session_idle, Duration::from_secs(60));
        assert_eq!(s.session_max_age, Duration::from_secs(600));
        assert_eq!(s.start_limits.per_client_per_minute, None);
        assert_eq!(s.start_limits.ipv6_prefix, 48);
        assert_eq!(s.start_limits.flow_starts_per_second, NonZeroU32::new(50));
        assert_eq!(s.start_limits.trusted_proxies.len(), 2);
        let shown = format!("{s} {s:?}");
        assert!(!shown.contains("pw@"), "{shown}");
        assert!(shown.contains("session_max_age=600s"), "{shown}");
        assert!(shown.contains("flow_starts_per_second=50"), "{shown}");
        assert!(shown.contains("rate_limit_ipv6_prefix=48"), "{shown}");

        let d = Settings::from_args(preprod()).unwrap();
        assert!(matches!(d.session_store, SessionStoreKind::Memory));
        assert_eq!(d.session_max_age, Duration::from_secs(3600));
        assert_eq!(d.start_limits.per_client_per_minute, NonZeroU32::new(30));
    }

    #[test]
    fn the_session_lifetime_is_taken_from_a_minute_to_a_day() {
        for (raw, secs) in [("60", 60), ("86400", 86_400), (" 7200 ", 7_200)] {
            let mut args = preprod();
            args.session_max_age_secs = Some(raw.into());
            let s = Settings::from_args(args).unwrap();
            assert_eq!(s.session_max_age, Duration::from_secs(secs), "{raw}");
        }
        for raw in ["59", "86401", "0", "-60", "an hour", ""] {
            let mut args = preprod();
            args.session_max_age_secs = Some(raw.into());
            let err = Settings::from_args(args).unwrap_err();
            assert_eq!(err.variable, vars::SESSION_MAX_AGE_SECS, "{raw}");
            assert!(err.to_string().contains("from 60 to 86400"), "{err}");
        }
    }

    #[test]
    fn the_feed_is_polled_every_5_to_3600_seconds_or_not_at_all() {
        let d = Settings::from_args(preprod()).unwrap();
        assert_eq!(d.feed_poll, Some(Duration::from_secs(30)));
        assert_eq!(d.feed_page_size, 100);
        for (raw, poll) in [("0", None), ("5", Some(5)), ("3600", Some(3600))] {
            let mut args = preprod();
            args.feed_poll_secs = Some(raw.into());
            let s = Settings::from_args(args).unwrap();
            assert_eq!(s.feed_poll, poll.map(Duration::from_secs), "{raw}");
        }
        for raw in ["4", "3601", "-1", "soon", ""] {
            let mut args = preprod();
            args.feed_poll_secs = Some(raw.into());
            let err = Settings::from_args(args).unwrap_err();
            assert_eq!(err.variable, vars::FEED_POLL_SECS, "{raw}");
            assert!(err.to_string().contains("from 5 to 3600"), "{err}");
        }
        for (raw, ok) in [("1", true), ("1000", true), ("0", false), ("1001", false)] {
            let mut args = preprod();
            args.feed_page_size = Some(raw.into());
            match Settings::from_args(args) {
                Ok(s) => assert!(ok && s.feed_page_size.to_string() == raw, "{raw}"),
                Err(e) => assert!(!ok && e.variable == vars::FEED_PAGE_SIZE, "{raw}: {e}"),
            }
        }
    }

    #[test]
    fn without_ngi_env_the_demo_refuses_to_listen_beyond_loopback() {
        let args = ServeArgs {
            app_bind: Some("0.0.0.0:3000".into()),
            ..ServeArgs::default()
        };
        let err = Settings::from_args(args).unwrap_err();
        assert_eq!(err.variable, vars::NGI_ENV);
        assert_eq!(err.to_string().lines().count(), 1);

        let args = ServeArgs {
            app_bind: Some("0.0.0.0:3000".into()),
            ngi_env: Some("simulator".into()),
            ..ServeArgs::default()
        };
        assert!(Settings::from_args(args).unwrap().is_simulated());
    }

    #[test]
    fn bad_session_and_proxy_settings_are_named() {
        let cases: [Case; 7] = [
            (
                |a| a.session_store = Some("postgres://db".into()),
                "SESSION_STORE",
            ),
            (
                |a| a.session_store = Some("localhost:6379".into()),
                "SESSION_STORE",
            ),
            (
                |a| a.session_idle_secs = Some("0".into()),
                "SESSION_IDLE_SECS",
            ),
            (
                |a| a.rate_limit_per_minute = Some("-1".into()),
                "RATE_LIMIT_PER_MINUTE",
            ),
            (
                |a| a.trusted_proxies = Some("10.0.0.0/33".into()),
                "TRUSTED_PROXIES",
            ),
            (
                |a| a.session_store = Some("redis://127.0.0.1:6379".into()),
                "SESSION_KEY",
            ),
            (|a| a.session_key = Some("c2hvcnQ=".into()), "SESSION_KEY"),
        ];
        for (change, variable) in cases {
            let mut args = preprod();
            change(&mut args);
            assert_eq!(Settings::from_args(args).unwrap_err().variable, variable);
        }
    }

    #[test]
    fn secret_and_secret_file_together_are_refused() {
        let mut args = preprod();
        args.ngi_client_secret_file = Some("/run/secrets/ngi".into());
        let err = Settings::from_args(args).unwrap_err();
        assert_eq!(err.variable, "NGI_CLIENT_SECRET");
    }

    #[test]
    fn secret_is_read_from_a_file_without_its_newline() {
        let path = std::env::temp_dir().join(format!("ngi-secret-{}", std::process::id()));
        std::fs::write(&path, "from-a-file\n").unwrap();
        let mut args = preprod();
        args.ngi_client_secret = None;
        args.ngi_client_secret_file = Some(path.clone());
        let s = Settings::from_args(args).unwrap();
        std::fs::remove_file(path).unwrap();
        assert_eq!(s.client_secret.secret(), "from-a-file");
    }

    #[test]
    fn the_partner_token_never_appears_in_debug_or_display() {
        let mut args = preprod();
        args.partner_token = Some("partner-token-0123456789abcdef-xyz".into());
        let s = Settings::from_args(args).unwrap();
        let shown = format!("{s:?} {s}");
        assert!(!shown.contains("partner-token-0123"), "{shown}");
        assert!(shown.contains("partner_api=on"), "{shown}");
        let off = Settings::from_args(preprod()).unwrap();
        assert!(off.to_string().contains("partner_api=off"));
    }

    #[test]
    fn the_secret_never_appears_in_debug_or_display() {
        let s = Settings::from_args(preprod()).unwrap();
        let shown = format!("{s:?} {s}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("client-1"));
    }
}
