//! Where sessions live and for how long: in memory, or in Redis with the key that seals them and
//! the CA that verifies the server. A Redis store without a key cannot be built.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use url::Url;

use super::args::ServeArgs;
use super::parse::{parse_in_range, redacted, secret_value};
use super::{ConfigError, vars};
use crate::session::sealed::SessionKey;

const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// The session module's default, as a `Duration`: one constant, not two that agree.
const DEFAULT_SESSION_MAX_AGE: Duration = Duration::from_secs(
    crate::session::data::DEFAULT_SESSION_MAX_AGE
        .as_secs()
        .unsigned_abs(),
);

/// Where sessions are kept.
#[derive(Clone)]
pub enum SessionStoreKind {
    /// In this process; expired sessions are evicted on their own. One instance only.
    Memory,
    /// A Redis server shared by every instance, over TLS with `rediss`. Sessions are sealed
    /// with `key` before they leave the process; `ca`, set only with `rediss`, replaces the
    /// system's roots. The URL may hold a password: shown redacted.
    Redis {
        url: Url,
        key: SessionKey,
        ca: Option<RedisCa>,
    },
}

impl fmt::Debug for SessionStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionStoreKind::Memory => f.write_str("Memory"),
            SessionStoreKind::Redis { url, key, ca } => f
                .debug_struct("Redis")
                .field("url", &redacted(url))
                .field("key", key)
                .field("ca", ca)
                .finish(),
        }
    }
}

/// One line for the start-up log: the URL without its password, and the CA file if any.
impl fmt::Display for SessionStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionStoreKind::Memory => f.write_str("memory"),
            SessionStoreKind::Redis { url, ca: None, .. } => f.write_str(&redacted(url)),
            SessionStoreKind::Redis {
                url, ca: Some(ca), ..
            } => write!(f, "{} redis_ca_file={}", redacted(url), ca.file.display()),
        }
    }
}

/// The CAs of REDIS_CA_FILE: the Redis server's certificate must chain to one of them, and the
/// system's roots are not consulted.
#[derive(Clone)]
pub struct RedisCa {
    pub file: PathBuf,
    /// The file's text, as the Redis client takes it.
    pub pem: Vec<u8>,
    /// How many certificates it holds, each checked to be usable as a trust anchor.
    pub certificates: usize,
}

impl fmt::Debug for RedisCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RedisCa({}, {} certificates)",
            self.file.display(),
            self.certificates
        )
    }
}

pub(crate) fn session_store(args: &ServeArgs) -> Result<SessionStoreKind, ConfigError> {
    let url = match args.session_store.as_deref().map(str::trim) {
        None | Some("" | "memory") => None,
        Some(raw) => {
            let url = Url::parse(raw).map_err(|e| {
                ConfigError::caused(
                    vars::SESSION_STORE,
                    "memory, or a URL such as redis://127.0.0.1:6379/0",
                    e,
                )
            })?;
            if !matches!(url.scheme(), "redis" | "rediss") {
                return Err(ConfigError::new(
                    vars::SESSION_STORE,
                    format!(
                        "'{}' stores are not supported: use memory, redis:// or rediss://",
                        url.scheme()
                    ),
                ));
            }
            // The Redis client reads `#insecure` as "verify no certificate", and `?protocol=`
            // changes how it logs in; neither means anything to this site, so none is taken.
            if url.fragment().is_some() || url.query().is_some() {
                return Err(ConfigError::new(
                    vars::SESSION_STORE,
                    "a Redis URL takes no ?query or #fragment: use redis://host:port/db or \
                     rediss://host:port/db",
                ));
            }
            Some(url)
        }
    };
    let tls = url.as_ref().is_some_and(|url| url.scheme() == "rediss");
    let ca = match args.redis_ca_file.as_deref() {
        None => None,
        Some(path) if tls => Some(load_redis_ca(path)?),
        // Refused rather than ignored: whoever set it expects a verified TLS connection.
        Some(_) => {
            return Err(ConfigError::new(
                vars::REDIS_CA_FILE,
                "only used with TLS to Redis: set SESSION_STORE=rediss://host:port/db, or \
                 leave REDIS_CA_FILE unset",
            ));
        }
    };
    // Read even for the memory store, so a bad key is found before it is needed.
    let key = match secret_value(
        vars::SESSION_KEY,
        vars::SESSION_KEY_FILE,
        args.session_key.as_deref(),
        args.session_key_file.as_deref(),
    )? {
        Some(encoded) => Some(
            SessionKey::from_base64(&encoded)
                .map_err(|problem| ConfigError::new(vars::SESSION_KEY, problem))?,
        ),
        None => None,
    };
    match (url, key) {
        (None, _) => Ok(SessionStoreKind::Memory),
        (Some(url), Some(key)) => Ok(SessionStoreKind::Redis { url, key, ca }),
        (Some(_), None) => Err(ConfigError::new(
            vars::SESSION_KEY,
            "required with a Redis session store: sessions hold personal data and are sealed \
             before they leave the process (make one with: openssl rand -base64 32)",
        )),
    }
}

pub(crate) fn session_idle(args: &ServeArgs) -> Result<Duration, ConfigError> {
    Ok(parse_in_range(
        vars::SESSION_IDLE_SECS,
        args.session_idle_secs.as_deref(),
        1..=86_400,
        " of seconds",
    )?
    .map_or(DEFAULT_SESSION_IDLE, Duration::from_secs))
}

/// The absolute lifetime: a session ends this long after it began, however active it is.
pub(crate) fn session_max_age(args: &ServeArgs) -> Result<Duration, ConfigError> {
    Ok(parse_in_range(
        vars::SESSION_MAX_AGE_SECS,
        args.session_max_age_secs.as_deref(),
        60..=86_400,
        " of seconds",
    )?
    .map_or(DEFAULT_SESSION_MAX_AGE, Duration::from_secs))
}

/// Reads REDIS_CA_FILE at start-up, so a wrong file stops the site instead of every connection.
fn load_redis_ca(path: &Path) -> Result<RedisCa, ConfigError> {
    let pem = std::fs::read(path).map_err(|e| {
        ConfigError::caused(
            vars::REDIS_CA_FILE,
            format!("cannot read {}", path.display()),
            e,
        )
    })?;
    // Checked here as the Redis client will read them, so a wrong file stops the site at once.
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            ConfigError::caused(
                vars::REDIS_CA_FILE,
                format!("cannot read {}", path.display()),
                e,
            )
        })?;
        roots.add(cert).map_err(|e| {
            ConfigError::caused(
                vars::REDIS_CA_FILE,
                format!("{} holds a certificate that cannot be used", path.display()),
                e,
            )
        })?;
    }
    if roots.is_empty() {
        return Err(ConfigError::new(
            vars::REDIS_CA_FILE,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(RedisCa {
        file: path.to_owned(),
        pem,
        certificates: roots.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut args = ServeArgs::default();
        with_tls_redis(&mut args);
        let store = session_store(&args).unwrap();
        assert!(matches!(
            store,
            SessionStoreKind::Redis { ref url, ca: None, .. } if url.scheme() == "rediss"
        ));

        let ca = TempFile::new("redis-ca.pem", &a_ca_pem());
        args.redis_ca_file = Some(ca.0.clone());
        let store = session_store(&args).unwrap();
        let SessionStoreKind::Redis {
            ca: Some(ref read), ..
        } = store
        else {
            panic!("no CA read")
        };
        assert_eq!(read.certificates, 1);
        let shown = format!("session_store={store} {store:?}");
        assert!(shown.contains("session_store=rediss://"), "{shown}");
        assert!(
            shown.contains(&format!("redis_ca_file={}", ca.0.display())),
            "{shown}"
        );
        assert!(!shown.contains("pw@"), "{shown}");
    }

    #[test]
    fn a_redis_url_with_a_query_or_fragment_is_refused_so_tls_cannot_be_made_insecure() {
        for store in [
            "rediss://redis.internal:6380/0#insecure",
            "redis://127.0.0.1:6379/0#",
            "redis://127.0.0.1:6379/0?protocol=resp3",
            "rediss://redis.internal:6380/0?",
        ] {
            let mut args = ServeArgs::default();
            with_tls_redis(&mut args);
            args.session_store = Some(store.into());
            let err = session_store(&args).unwrap_err();
            assert_eq!(err.variable, "SESSION_STORE", "{store}");
            assert!(
                err.to_string().contains("no ?query or #fragment"),
                "{store}: {err}"
            );
        }
    }

    #[test]
    fn a_redis_ca_file_without_rediss_is_refused() {
        let ca = TempFile::new("redis-ca-plain.pem", &a_ca_pem());
        for store in [None, Some("memory"), Some("redis://127.0.0.1:6379/0")] {
            let mut args = ServeArgs::default();
            with_tls_redis(&mut args);
            args.session_store = store.map(Into::into);
            args.redis_ca_file = Some(ca.0.clone());
            let err = session_store(&args).unwrap_err();
            assert_eq!(err.variable, "REDIS_CA_FILE", "{store:?}");
            assert!(err.to_string().contains("rediss://"), "{err}");
        }
    }

    #[test]
    fn a_missing_redis_ca_file_is_refused() {
        let mut args = ServeArgs::default();
        with_tls_redis(&mut args);
        args.redis_ca_file = Some("/nonexistent/redis-ca.pem".into());
        let err = session_store(&args).unwrap_err();
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
            let mut args = ServeArgs::default();
            with_tls_redis(&mut args);
            args.redis_ca_file = Some(file.0.clone());
            let err = session_store(&args).unwrap_err();
            assert_eq!(err.variable, "REDIS_CA_FILE", "{name}");
            assert!(err.to_string().contains(problem), "{name}: {err}");
        }
    }

    #[test]
    fn redis_without_a_session_key_cannot_be_built() {
        for store in ["redis://127.0.0.1:6379", "rediss://redis.internal:6380/0"] {
            let args = ServeArgs {
                session_store: Some(store.into()),
                ..ServeArgs::default()
            };
            let err = session_store(&args).unwrap_err();
            assert_eq!(err.variable, vars::SESSION_KEY, "{store}");
        }
    }

    #[test]
    fn a_session_key_that_is_not_32_bytes_is_refused_even_for_memory() {
        let args = ServeArgs {
            session_key: Some("c2hvcnQ=".into()),
            ..ServeArgs::default()
        };
        assert_eq!(
            session_store(&args).unwrap_err().variable,
            vars::SESSION_KEY
        );
    }

    #[test]
    fn the_session_key_never_appears_in_debug_or_display() {
        let mut args = ServeArgs::default();
        with_tls_redis(&mut args);
        let store = session_store(&args).unwrap();
        let shown = format!("{store} {store:?}");
        assert!(!shown.contains("MDEyMzQ1Njc4"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}
