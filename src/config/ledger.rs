//! Where the consent ledger lives: an SQLite file in DATA_DIR (the default), or PostgreSQL at
//! DATABASE_URL (or the URL in DATABASE_URL_FILE). The URL's password is never shown.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use url::Url;

use super::args::ServeArgs;
use super::parse::secret_value;
use super::{ConfigError, vars};

const DEFAULT_DATA_DIR: &str = "./data";

/// The ledger's database.
#[derive(Clone)]
pub enum LedgerStore {
    /// `ngi-consent.db` in this directory, created on first start. One instance only: another
    /// instance has its own file.
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL database shared by every instance.
    Postgres { url: DatabaseUrl },
}

impl fmt::Debug for LedgerStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerStore::Sqlite { data_dir } => f
                .debug_struct("Sqlite")
                .field("data_dir", data_dir)
                .finish(),
            LedgerStore::Postgres { url } => f.debug_struct("Postgres").field("url", url).finish(),
        }
    }
}

/// One field for the start-up log.
impl fmt::Display for LedgerStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerStore::Sqlite { data_dir } => write!(f, "sqlite:{}", data_dir.display()),
            LedgerStore::Postgres { url } => fmt::Display::fmt(url, f),
        }
    }
}

/// A postgres:// URL. Shown without its password (in the user part or a `password` query
/// parameter); [`DatabaseUrl::connect_options`] is the only way to the whole of it.
#[derive(Clone)]
pub struct DatabaseUrl(Url);

impl DatabaseUrl {
    /// What sqlx connects with. Its `Debug` shows the password: never print it.
    pub fn connect_options(&self) -> Result<PgConnectOptions, sqlx::Error> {
        PgConnectOptions::from_str(self.0.as_str())
    }

    /// The URL as it may be shown.
    pub fn redacted(&self) -> String {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        if shown.query().is_some() {
            let pairs: Vec<(String, String)> = shown
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("password") {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            shown.query_pairs_mut().clear().extend_pairs(pairs);
        }
        shown.to_string()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

pub(crate) fn ledger_store(args: &ServeArgs) -> Result<LedgerStore, ConfigError> {
    let url = secret_value(
        vars::DATABASE_URL,
        vars::DATABASE_URL_FILE,
        args.database_url.as_deref(),
        args.database_url_file.as_deref(),
    )?;
    match url {
        Some(raw) => {
            let variable = if args.database_url.is_some() {
                vars::DATABASE_URL
            } else {
                vars::DATABASE_URL_FILE
            };
            database_url(variable, raw.trim()).map(|url| LedgerStore::Postgres { url })
        }
        None => {
            let data_dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            writable_dir(&data_dir)?;
            Ok(LedgerStore::Sqlite { data_dir })
        }
    }
}

/// A postgres:// or postgresql:// URL sqlx can connect with. The parsers' errors are not kept as
/// sources: they may quote the URL, password and all.
fn database_url(variable: &'static str, raw: &str) -> Result<DatabaseUrl, ConfigError> {
    let url = Url::parse(raw).map_err(|_| {
        ConfigError::new(
            variable,
            "not a URL such as postgres://user:password@host:5432/database",
        )
    })?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(ConfigError::new(
            variable,
            format!(
                "'{}' databases are not supported: use postgres:// or postgresql://, or leave \
                 it unset for SQLite in DATA_DIR",
                url.scheme()
            ),
        ));
    }
    let url = DatabaseUrl(url);
    url.connect_options().map_err(|_| {
        ConfigError::new(
            variable,
            format!("{} is not a PostgreSQL URL sqlx can use", url.redacted()),
        )
    })?;
    Ok(url)
}

/// Creates the directory if needed and proves a file can be written in it, so that a volume
/// mounted read-only or owned by another user stops start-up here, naming DATA_DIR.
fn writable_dir(dir: &Path) -> Result<(), ConfigError> {
    let fail = |what: &str, e: std::io::Error| {
        ConfigError::caused(
            vars::DATA_DIR,
            format!("cannot {what} {}", dir.display()),
            e,
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("create", e))?;
    let probe = dir.join(format!(".write-probe-{}", uuid::Uuid::new_v4()));
    std::fs::write(&probe, b"").map_err(|e| fail("write to", e))?;
    std::fs::remove_file(&probe).map_err(|e| fail("write to", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs {
            data_dir: Some(
                std::env::temp_dir().join(format!("ngi-ledger-{}", uuid::Uuid::new_v4())),
            ),
            ..ServeArgs::default()
        }
    }

    #[test]
    fn without_a_database_url_the_ledger_is_sqlite_in_a_data_dir_that_is_created() {
        let args = args();
        let dir = args.data_dir.clone().unwrap();
        let store = ledger_store(&args).unwrap();
        assert!(matches!(&store, LedgerStore::Sqlite { data_dir } if *data_dir == dir));
        assert!(dir.is_dir());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_postgres_url_is_shown_without_its_password() {
        for raw in [
            "postgres://ledger:hunter2-secret@db.example:5432/consents",
            "postgresql://ledger@db.example/consents?password=hunter2-secret&sslmode=require",
        ] {
            let mut args = args();
            args.database_url = Some(raw.into());
            let store = ledger_store(&args).unwrap();
            let shown = format!("{store} {store:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("db.example"), "{shown}");
        }
    }

    #[test]
    fn bad_ledger_settings_are_refused_naming_the_setting() {
        let file = std::env::temp_dir().join(format!("ngi-db-url-{}", uuid::Uuid::new_v4()));
        std::fs::write(&file, "postgres://u:p@h/d\n").unwrap();
        let not_a_dir = std::env::temp_dir().join(format!("ngi-file-{}", uuid::Uuid::new_v4()));
        std::fs::write(&not_a_dir, "").unwrap();
        let cases: Vec<(ServeArgs, &str)> = vec![
            (
                ServeArgs {
                    database_url: Some("mysql://u:secret-pw@h/d".into()),
                    ..args()
                },
                vars::DATABASE_URL,
            ),
            (
                ServeArgs {
                    database_url: Some("sqlite://ledger.db".into()),
                    ..args()
                },
                vars::DATABASE_URL,
            ),
            (
                ServeArgs {
                    database_url: Some("postgres://u:p@h/d".into()),
                    database_url_file: Some(file.clone()),
                    ..args()
                },
                vars::DATABASE_URL,
            ),
            (
                ServeArgs {
                    database_url_file: Some(file.with_extension("missing")),
                    ..args()
                },
                vars::DATABASE_URL_FILE,
            ),
            (
                ServeArgs {
                    data_dir: Some(not_a_dir.join("below-a-file")),
                    ..args()
                },
                vars::DATA_DIR,
            ),
        ];
        for (args, variable) in cases {
            let err = ledger_store(&args).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
            assert!(!err.to_string().contains("secret-pw"), "{err}");
        }
        let from_file = ledger_store(&ServeArgs {
            database_url_file: Some(file.clone()),
            ..args()
        })
        .unwrap();
        assert!(matches!(from_file, LedgerStore::Postgres { .. }));
        let _ = std::fs::remove_file(file);
        let _ = std::fs::remove_file(not_a_dir);
    }
}
