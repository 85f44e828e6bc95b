//! Settings: read once at start-up from flags and environment variables, parsed into final types,
//! validated, and printed without secrets.
//!
//! `ServeArgs` is what clap reads (every setting is an env variable and a flag). `Settings::from_args`
//! is pure, so tests build `ServeArgs` by hand and never touch the process environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oauth2::{ClientId, ClientSecret};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use url::Url;

use crate::domain::scope::ConsentScope;
use crate::session::sealed::SessionKey;

/// The client the embedded simulator registers, so the demo runs with nothing configured.
pub const DEMO_CLIENT_ID: &str = "ngi-consent-demo";
/// The demo client's secret. It only opens the local simulator; NGI issues real ones.
pub const DEMO_CLIENT_SECRET: &str = "demo-secret-for-the-local-simulator";
/// The demo client's name as the simulator's consent page shows it.
pub const DEMO_CLIENT_NAME: &str = "Demobanken (ngi-consent)";

const DEFAULT_APP_BIND: &str = "127.0.0.1:3000";
const DEFAULT_SIMULATOR_BIND: &str = "127.0.0.1:3001";
const DEFAULT_SCOPE: &str = "debt.unsecured.presentation";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The raw settings as flags and environment variables give them. Not `Debug`: it holds the secret.
#[derive(clap::Args, Clone, Default)]
pub struct ServeArgs {
    /// Address the site listens on [default: 127.0.0.1:3000]
    #[arg(long, env = "APP_BIND")]
    pub app_bind: Option<String>,
    /// The site's public base URL; the redirect URI is {PUBLIC_URL}/v1/callback
    /// [default in simulator mode: http://<APP_BIND>]
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// simulator (default), preprod or prod: which NGI to talk to
    #[arg(long, env = "NGI_ENV")]
    pub ngi_env: Option<String>,
    /// Override NGI's authorization server (setting it means no simulator)
    #[arg(long, env = "NGI_ACCESS_URL")]
    pub ngi_access_url: Option<String>,
    /// Override NGI's API host (setting it means no simulator)
    #[arg(long, env = "NGI_API_URL")]
    pub ngi_api_url: Option<String>,
    /// The client id NGI issued [default in simulator mode: the demo client]
    #[arg(long, env = "NGI_CLIENT_ID")]
    pub ngi_client_id: Option<String>,
    /// The client secret NGI issued (or use NGI_CLIENT_SECRET_FILE)
    #[arg(long, env = "NGI_CLIENT_SECRET", hide_env_values = true)]
    pub ngi_client_secret: Option<String>,
    /// A file holding the client secret (Docker/Kubernetes secrets)
    #[arg(long, env = "NGI_CLIENT_SECRET_FILE")]
    pub ngi_client_secret_file: Option<PathBuf>,
    /// The consent scope [default: debt.unsecured.presentation]
    #[arg(long, env = "NGI_SCOPE")]
    pub ngi_scope: Option<String>,
    /// Send PKCE (S256): true or false [default: true]
    #[arg(long, env = "NGI_PKCE")]
    pub ngi_pkce: Option<String>,
    /// The issuer an `iss` callback parameter must equal [default: from NGI's discovery document]
    #[arg(long, env = "NGI_ISSUER")]
    pub ngi_issuer: Option<String>,
    /// Total time allowed for one call to NGI, in milliseconds [default: 10000]
    #[arg(long, env = "NGI_TIMEOUT_MS")]
    pub ngi_timeout_ms: Option<String>,
    /// Time allowed to connect to NGI, in milliseconds [default: 3000]
    #[arg(long, env = "NGI_CONNECT_TIMEOUT_MS")]
    pub ngi_connect_timeout_ms: Option<String>,
    /// Address of the embedded simulator in simulator mode [default: 127.0.0.1:3001]
    #[arg(long, env = "SIMULATOR_BIND")]
    pub simulator_bind: Option<String>,
    /// Log format: pretty or json [default: pretty]
    #[arg(long, env = "LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Where sessions live: memory, or redis://host:port/db (rediss:// for TLS) for several
    /// instances [default: memory]
    #[arg(long, env = "SESSION_STORE")]
    pub session_store: Option<String>,
    /// PEM file of the CA(s) that sign the Redis server's certificate, trusted instead of the
    /// system's roots (rediss:// only) [default: the system's roots]
    #[arg(long, env = "REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
    /// Seconds without a request after which a session ends [default: 1800]
    #[arg(long, env = "SESSION_IDLE_SECS")]
    pub session_idle_secs: Option<String>,
    /// Flows one client IP may start per minute; 0 switches the limit off [default: 30]
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE")]
    pub rate_limit_per_minute: Option<String>,
    /// Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client [default: none]
    #[arg(long, env = "TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// 32 random bytes, base64 (openssl rand -base64 32), sealing session data in Redis
    #[arg(long, env = "SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,
    /// A file holding SESSION_KEY
    #[arg(long, env = "SESSION_KEY_FILE")]
    pub session_key_file: Option<PathBuf>,
}

/// A setting that cannot be used, named as the operator typed it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid setting {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable (its flag is the same name in kebab case).
    pub variable: &'static str,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// Which NGI the site talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NgiTarget {
    /// The embedded simulator, started beside the site on this address.
    Simulator { bind: SocketAddr },
    /// A real NGI environment (or any server at the given hosts).
    Remote { name: String, access: Url, api: Url },
}

/// Where sessions are kept.
#[derive(Clone, PartialEq, Eq)]
pub enum SessionStoreKind {
    /// In this process; expired sessions are evicted on their own. One instance only.
    Memory,
    /// A Redis server shared by every instance, over TLS with `rediss`. The URL may hold a
    /// password: shown redacted.
    Redis(Url),
}

impl fmt::Debug for SessionStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionStoreKind::Memory => f.write_str("Memory"),
            SessionStoreKind::Redis(url) => write!(f, "Redis({})", redacted(url)),
        }
    }
}

/// The CAs of REDIS_CA_FILE: the Redis server's certificate must chain to one of them, and the
/// system's roots are not consulted.
#[derive(Clone)]
pub struct RedisCa {
    pub file: PathBuf,
    pub roots: RootCertStore,
}

impl fmt::Debug for RedisCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RedisCa({}, {} certificates)",
            self.file.display(),
            self.roots.len()
        )
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Validated settings. `Debug` leaves the secret out (oauth2's `ClientSecret` redacts itself).
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
    pub issuer: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub log_format: LogFormat,
    pub session_store: SessionStoreKind,
    /// Set only with a `rediss` store; without it the system's roots verify the server.
    pub redis_ca: Option<RedisCa>,
    pub session_idle: Duration,
    /// Flows one client may start per minute; `None` means no limit.
    pub rate_limit_per_minute: Option<u32>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Seals session data in Redis; required with a Redis store.
    pub session_key: Option<SessionKey>,
}

impl Settings {
    /// Parses and validates every setting; the first problem found is returned, naming its variable.
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let bind = parse_addr("APP_BIND", args.app_bind.as_deref(), DEFAULT_APP_BIND)?;
        let ngi = ngi_target(&args)?;
        let simulated = matches!(ngi, NgiTarget::Simulator { .. });

        let public_url = match args.public_url.as_deref() {
            Some(raw) => Some(parse_public_url(raw)?),
            None if simulated => None,
            None => {
                return Err(ConfigError::new(
                    "PUBLIC_URL",
                    "required outside simulator mode: the site's public https base URL, whose \
                     /v1/callback is registered at NGI",
                ));
            }
        };

        let (client_id, client_secret) = client_credentials(&args, simulated)?;

        let scope = args
            .ngi_scope
            .as_deref()
            .unwrap_or(DEFAULT_SCOPE)
            .parse::<ConsentScope>()
            .map_err(|e| ConfigError::new("NGI_SCOPE", e.to_string()))?;

        let pkce = match args.ngi_pkce.as_deref().map(str::trim) {
            None => true,
            Some("true" | "1" | "on" | "yes") => true,
            Some("false" | "0" | "off" | "no") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "NGI_PKCE",
                    format!("'{other}' is not true or false"),
                ));
            }
        };

        let issuer = match args.ngi_issuer.as_deref().map(str::trim) {
            // NGI's own hosts have a known issuer; other hosts are asked (discovery).
            None | Some("") => default_issuer(&args),
            Some(raw) => {
                Url::parse(raw).map_err(|e| {
                    ConfigError::new("NGI_ISSUER", format!("not an absolute URL: {e}"))
                })?;
                // Kept as typed: RFC 9207 compares issuers as plain strings, trailing slash included.
                Some(raw.to_owned())
            }
        };

        let timeout = parse_millis("NGI_TIMEOUT_MS", args.ngi_timeout_ms.as_deref())?
            .unwrap_or(DEFAULT_TIMEOUT);
        let connect_timeout = parse_millis(
            "NGI_CONNECT_TIMEOUT_MS",
            args.ngi_connect_timeout_ms.as_deref(),
        )?
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);

        let log_format = match args.log_format.as_deref().map(str::trim) {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("'{other}' is not pretty or json"),
                ));
            }
        };

        let session_store = match args.session_store.as_deref().map(str::trim) {
            None | Some("" | "memory") => SessionStoreKind::Memory,
            Some(raw) => {
                let url = Url::parse(raw).map_err(|_| {
                    ConfigError::new(
                        "SESSION_STORE",
                        "memory, or a URL such as redis://127.0.0.1:6379/0",
                    )
                })?;
                if !matches!(url.scheme(), "redis" | "rediss") {
                    return Err(ConfigError::new(
                        "SESSION_STORE",
                        format!(
                            "'{}' stores are not supported: use memory, redis:// or rediss://",
                            url.scheme()
                        ),
                    ));
                }
                SessionStoreKind::Redis(url)
            }
        };
        let tls =
            matches!(&session_store, SessionStoreKind::Redis(url) if url.scheme() == "rediss");
        let redis_ca = match args.redis_ca_file.as_deref() {
            None => None,
            Some(path) if tls => Some(load_redis_ca(path)?),
            // Refused rather than ignored: whoever set it expects a verified TLS connection.
            Some(_) => {
                return Err(ConfigError::new(
                    "REDIS_CA_FILE",
                    "only used with TLS to Redis: set SESSION_STORE=rediss://host:port/db, or \
                     leave REDIS_CA_FILE unset",
                ));
            }
        };
        let session_idle = match args.session_idle_secs.as_deref().map(str::trim) {
            None => Duration::from_secs(30 * 60),
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if (1..=86_400).contains(&secs) => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::new(
                        "SESSION_IDLE_SECS",
                        "a whole number of seconds from 1 to 86400",
                    ));
                }
            },
        };
        let rate_limit_per_minute = match args.rate_limit_per_minute.as_deref().map(str::trim) {
            None => Some(30),
            Some(raw) => match raw.parse::<u32>() {
                Ok(0) => None,
                Ok(n) if n <= 100_000 => Some(n),
                _ => {
                    return Err(ConfigError::new(
                        "RATE_LIMIT_PER_MINUTE",
                        "a whole number from 0 (no limit) to 100000",
                    ));
                }
            },
        };
        let trusted_proxies = args
            .trusted_proxies
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::new(
                            "TRUSTED_PROXIES",
                            format!("'{s}' is not an IP address or a CIDR range"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let session_key = match secret_value(
            "SESSION_KEY",
            args.session_key.as_deref(),
            args.session_key_file.as_deref(),
        )? {
            Some(encoded) => Some(
                SessionKey::from_base64(&encoded)
                    .map_err(|e| ConfigError::new("SESSION_KEY", e))?,
            ),
            None => None,
        };
        if matches!(session_store, SessionStoreKind::Redis(_)) && session_key.is_none() {
            return Err(ConfigError::new(
                "SESSION_KEY",
                "required with a Redis session store: sessions hold personal data and are sealed \
                 before they leave the process (make one with: openssl rand -base64 32)",
            ));
        }

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
            session_store,
            redis_ca,
            session_idle,
            rate_limit_per_minute,
            trusted_proxies,
            session_key,
        })
    }

    /// True when the site runs against the embedded simulator.
    pub fn is_simulated(&self) -> bool {
        matches!(self.ngi, NgiTarget::Simulator { .. })
    }
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
        write!(
            f,
            "bind={} public_url={} ngi={} client_id={} scope={} pkce={} timeout={:?} connect_timeout={:?} \
             session_store={} session_idle={:?} rate_limit_per_minute={} trusted_proxies={}",
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
            match (&self.session_store, &self.redis_ca) {
                (SessionStoreKind::Memory, _) => "memory".to_owned(),
                // Without a password, should the URL carry one.
                (SessionStoreKind::Redis(url), None) => redacted(url),
                (SessionStoreKind::Redis(url), Some(ca)) => {
                    format!("{} redis_ca_file={}", redacted(url), ca.file.display())
                }
            },
            self.session_idle,
            self.rate_limit_per_minute
                .map_or_else(|| "off".to_owned(), |n| n.to_string()),
            self.trusted_proxies.len(),
        )
    }
}

/// Reads REDIS_CA_FILE at start-up, so a wrong file stops the site instead of every connection.
fn load_redis_ca(path: &Path) -> Result<RedisCa, ConfigError> {
    let unreadable = |e: rustls::pki_types::pem::Error| {
        ConfigError::new(
            "REDIS_CA_FILE",
            format!("cannot read {}: {e}", path.display()),
        )
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(unreadable)? {
        roots.add(cert.map_err(unreadable)?).map_err(|e| {
            ConfigError::new(
                "REDIS_CA_FILE",
                format!(
                    "{} holds a certificate that cannot be used: {e}",
                    path.display()
                ),
            )
        })?;
    }
    if roots.is_empty() {
        return Err(ConfigError::new(
            "REDIS_CA_FILE",
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(RedisCa {
        file: path.to_owned(),
        roots,
    })
}

fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// The issuer of NGI's preprod or prod authorization server, when that is the one in use.
fn default_issuer(args: &ServeArgs) -> Option<String> {
    if args.ngi_access_url.is_some() {
        return None;
    }
    match args.ngi_env.as_deref().map(str::trim) {
        Some("preprod") => Some("https://access-preprod.norskgjeld.no/".to_owned()),
        Some("prod") => Some("https://access.norskgjeld.no/".to_owned()),
        _ => None,
    }
}

fn ngi_target(args: &ServeArgs) -> Result<NgiTarget, ConfigError> {
    let env = args
        .ngi_env
        .as_deref()
        .map(str::trim)
        .unwrap_or("simulator");
    let (name, default_access, default_api) = match env {
        "simulator" => ("custom", None, None),
        "preprod" => (
            "preprod",
            Some("https://access-preprod.norskgjeld.no"),
            Some("https://api-preprod.norskgjeld.no"),
        ),
        "prod" => (
            "prod",
            Some("https://access.norskgjeld.no"),
            Some("https://api.norskgjeld.no"),
        ),
        other => {
            return Err(ConfigError::new(
                "NGI_ENV",
                format!("'{other}' is not simulator, preprod or prod"),
            ));
        }
    };
    let access = args.ngi_access_url.as_deref().or(default_access);
    let api = args.ngi_api_url.as_deref().or(default_api);
    match (access, api) {
        (None, None) => Ok(NgiTarget::Simulator {
            bind: parse_addr(
                "SIMULATOR_BIND",
                args.simulator_bind.as_deref(),
                DEFAULT_SIMULATOR_BIND,
            )?,
        }),
        (Some(_), None) => Err(ConfigError::new(
            "NGI_API_URL",
            "required when NGI_ACCESS_URL is set",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "NGI_ACCESS_URL",
            "required when NGI_API_URL is set",
        )),
        (Some(access), Some(api)) => Ok(NgiTarget::Remote {
            name: name.to_owned(),
            access: parse_base_url("NGI_ACCESS_URL", access)?,
            api: parse_base_url("NGI_API_URL", api)?,
        }),
    }
}

fn client_credentials(
    args: &ServeArgs,
    simulated: bool,
) -> Result<(ClientId, ClientSecret), ConfigError> {
    let id = match args.ngi_client_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ if simulated => DEMO_CLIENT_ID.to_owned(),
        _ => {
            return Err(ConfigError::new(
                "NGI_CLIENT_ID",
                "required outside simulator mode: the client id NGI issued",
            ));
        }
    };
    let secret = match (&args.ngi_client_secret, &args.ngi_client_secret_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "NGI_CLIENT_SECRET",
                "set either NGI_CLIENT_SECRET or NGI_CLIENT_SECRET_FILE, not both",
            ));
        }
        (Some(secret), None) if !secret.is_empty() => secret.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
            .map_err(|e| {
                ConfigError::new(
                    "NGI_CLIENT_SECRET_FILE",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?,
        _ if simulated => DEMO_CLIENT_SECRET.to_owned(),
        _ => {
            return Err(ConfigError::new(
                "NGI_CLIENT_SECRET",
                "required outside simulator mode: the client secret NGI issued \
                 (or NGI_CLIENT_SECRET_FILE)",
            ));
        }
    };
    if secret.is_empty() {
        return Err(ConfigError::new("NGI_CLIENT_SECRET", "is empty"));
    }
    Ok((ClientId::new(id), ClientSecret::new(secret)))
}

/// A secret from its variable or from the file `<VARIABLE>_FILE` names, never both.
fn secret_value(
    variable: &'static str,
    value: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<Option<String>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            variable,
            format!("set either {variable} or {variable}_FILE, not both"),
        )),
        (Some(value), None) => Ok(Some(value.to_owned())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|e| {
                ConfigError::new(variable, format!("cannot read {}: {e}", path.display()))
            }),
        (None, None) => Ok(None),
    }
}

fn parse_addr(
    variable: &'static str,
    raw: Option<&str>,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    raw.unwrap_or(default).trim().parse().map_err(|_| {
        ConfigError::new(
            variable,
            "not a socket address such as 127.0.0.1:3000 or 0.0.0.0:8080",
        )
    })
}

fn parse_millis(
    variable: &'static str,
    raw: Option<&str>,
) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.trim().parse::<u64>() {
        Ok(ms) if (1..=600_000).contains(&ms) => Ok(Some(Duration::from_millis(ms))),
        _ => Err(ConfigError::new(
            variable,
            "a whole number of milliseconds from 1 to 600000",
        )),
    }
}

/// An http(s) URL with a host and nothing after the path: NGI's hosts.
fn parse_base_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let mut url = Url::parse(raw.trim())
        .map_err(|e| ConfigError::new(variable, format!("not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            variable,
            "must be an http(s) URL with a host",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            variable,
            "must not have a query or a fragment",
        ));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(ConfigError::new(
            variable,
            "must be https (plain http is only allowed for localhost)",
        ));
    }
    // NGI's paths are joined onto it: a base without a trailing slash would lose its last segment.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The site's own base URL: https, or http on localhost for development (RFC 9700 §2.6).
fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let url = parse_base_url("PUBLIC_URL", raw)?;
    if url.path() != "/" {
        return Err(ConfigError::new(
            "PUBLIC_URL",
            "must be the site's origin without a path, such as https://lan.example.no",
        ));
    }
    Ok(url)
}

/// Loopback hosts, where plain http is acceptable for a local run.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The command line of `ngi-consent simulator`: the simulator alone, for another client.
#[derive(clap::Args, Clone)]
pub struct SimulatorArgs {
    /// Address the simulator listens on
    #[arg(long, env = "SIMULATOR_BIND", default_value = DEFAULT_SIMULATOR_BIND)]
    pub bind: String,
    /// A redirect URI the registered client may use (repeat, or separate with commas)
    #[arg(
        long,
        env = "SIMULATOR_REDIRECT_URI",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:3000/v1/callback"
    )]
    pub redirect_uri: Vec<String>,
    /// The registered client's id
    #[arg(long, env = "SIMULATOR_CLIENT_ID", default_value = DEMO_CLIENT_ID)]
    pub client_id: String,
    /// The registered client's secret
    #[arg(long, env = "SIMULATOR_CLIENT_SECRET", hide_env_values = true,
          default_value = DEMO_CLIENT_SECRET, hide_default_value = true)]
    pub client_secret: String,
    /// Send `iss` on the redirect back (RFC 9207), as some servers do
    #[arg(long, env = "SIMULATOR_SEND_ISS")]
    pub send_iss: bool,
}

impl SimulatorArgs {
    pub fn into_config(
        self,
    ) -> Result<(SocketAddr, crate::simulator::SimulatorConfig), ConfigError> {
        let addr = parse_addr("SIMULATOR_BIND", Some(&self.bind), DEFAULT_SIMULATOR_BIND)?;
        for uri in &self.redirect_uri {
            Url::parse(uri).map_err(|e| {
                ConfigError::new(
                    "SIMULATOR_REDIRECT_URI",
                    format!("'{uri}' is not an absolute URL: {e}"),
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
    fn session_store_rate_limit_and_proxies_are_parsed() {
        let mut args = preprod();
        args.session_store = Some("redis://:pw@127.0.0.1:6379/2".into());
        args.session_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
        args.session_idle_secs = Some("60".into());
        args.rate_limit_per_minute = Some("0".into());
        args.trusted_proxies = Some("10.0.0.0/8, 192.168.1.7".into());
        let s = Settings::from_args(args).unwrap();
        assert!(
            matches!(s.session_store, SessionStoreKind::Redis(ref u) if u.port() == Some(6379))
        );
        assert_eq!(s.session_idle, Duration::from_secs(60));
        assert_eq!(s.rate_limit_per_minute, None);
        assert_eq!(s.trusted_proxies.len(), 2);
        assert!(!s.to_string().contains("pw@"), "{s}");
        assert!(!format!("{s:?}").contains("pw@"), "{s:?}");

        let d = Settings::from_args(preprod()).unwrap();
        assert_eq!(d.session_store, SessionStoreKind::Memory);
        assert_eq!(d.rate_limit_per_minute, Some(30));
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

    /// A file of the test's own in the temp dir, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &str) -> Self {
            let path = std::env::temp_dir().join(format!("ngi-{name}-{}", std::process::id()));
            std::fs::write(&path, contents).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn a_ca_pem() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .pem()
    }

    fn with_tls_redis(args: &mut ServeArgs) {
        args.session_store = Some("rediss://:pw@redis.internal:6380/1".into());
        args.session_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
    }

    #[test]
    fn rediss_is_accepted_with_the_system_roots_or_a_ca_file() {
        let mut args = preprod();
        with_tls_redis(&mut args);
        let s = Settings::from_args(args.clone()).unwrap();
        assert!(
            matches!(s.session_store, SessionStoreKind::Redis(ref u) if u.scheme() == "rediss")
        );
        assert!(s.redis_ca.is_none());

        let ca = TempFile::new("redis-ca.pem", &a_ca_pem());
        args.redis_ca_file = Some(ca.0.clone());
        let s = Settings::from_args(args).unwrap();
        assert_eq!(s.redis_ca.as_ref().unwrap().roots.len(), 1);
        let shown = format!("{s} {s:?}");
        assert!(shown.contains("session_store=rediss://"), "{shown}");
        assert!(
            shown.contains(&format!("redis_ca_file={}", ca.0.display())),
            "{shown}"
        );
        assert!(!shown.contains("pw@"), "{shown}");
    }

    #[test]
    fn a_redis_ca_file_without_rediss_is_refused() {
        let ca = TempFile::new("redis-ca-plain.pem", &a_ca_pem());
        for store in [None, Some("memory"), Some("redis://127.0.0.1:6379/0")] {
            let mut args = preprod();
            with_tls_redis(&mut args);
            args.session_store = store.map(Into::into);
            args.redis_ca_file = Some(ca.0.clone());
            let err = Settings::from_args(args).unwrap_err();
            assert_eq!(err.variable, "REDIS_CA_FILE", "{store:?}");
            assert!(err.to_string().contains("rediss://"), "{err}");
        }
    }

    #[test]
    fn a_missing_redis_ca_file_is_refused() {
        let mut args = preprod();
        with_tls_redis(&mut args);
        args.redis_ca_file = Some("/nonexistent/redis-ca.pem".into());
        let err = Settings::from_args(args).unwrap_err();
        assert_eq!(err.variable, "REDIS_CA_FILE");
        assert!(
            err.to_string().starts_with(
                "invalid setting REDIS_CA_FILE: cannot read /nonexistent/redis-ca.pem"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_redis_ca_file_without_a_usable_certificate_is_refused() {
        let key_only = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let not_a_certificate =
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
        let cases = [
            ("empty", "", "holds no PEM certificate"),
            ("key-only", key_only.as_str(), "holds no PEM certificate"),
            ("garbage", not_a_certificate, "cannot be used"),
        ];
        for (name, contents, problem) in cases {
            let file = TempFile::new(&format!("redis-ca-{name}.pem"), contents);
            let mut args = preprod();
            with_tls_redis(&mut args);
            args.redis_ca_file = Some(file.0.clone());
            let err = Settings::from_args(args).unwrap_err();
            assert_eq!(err.variable, "REDIS_CA_FILE", "{name}");
            assert!(err.to_string().contains(problem), "{name}: {err}");
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
    fn the_secret_never_appears_in_debug_or_display() {
        let s = Settings::from_args(preprod()).unwrap();
        let shown = format!("{s:?} {s}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("client-1"));
    }
}
