//! The ledger's tables: the SQL files in `migrations/` (portable SQL, the same on both
//! databases), compiled into the binary and run by sqlx's migrator, which records each by
//! version and checksum and refuses a changed one.
//!
//! Listed here by hand rather than by `sqlx::migrate!()`: that macro lives in sqlx's proc-macro
//! crate, which builds a second copy of both database drivers (SQLite's C source included) for
//! the compiler — a large part of a first build. The checksums are sqlx's own, computed from
//! the same text, so a database migrated by either way is the same to the other. A test keeps
//! this list and the directory equal.

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// Every migration, oldest first: (version, description, SQL). The version and description
/// are the file name's, as sqlx reads them.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        20_261_201_000_000,
        "consent ledger",
        include_str!("../../migrations/20261201000000_consent_ledger.sql"),
    ),
    (
        20_261_201_100_000,
        "consent feed",
        include_str!("../../migrations/20261201100000_consent_feed.sql"),
    ),
];

/// The migrations compiled into the binary.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The ledger's migrator.
pub(crate) async fn migrator() -> Result<Migrator, MigrateError> {
    Migrator::new(Embedded).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_migrations_directory_is_listed_with_its_text() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
                let (version, description) = name.split_once('_').unwrap();
                (
                    version.parse().unwrap(),
                    description.replace('_', " "),
                    std::fs::read_to_string(&path).unwrap(),
                )
            })
            .collect();
        files.sort();
        let listed: Vec<(i64, String, String)> = MIGRATIONS
            .iter()
            .map(|&(v, d, sql)| (v, d.to_owned(), sql.to_owned()))
            .collect();
        assert_eq!(listed, files);
    }

    #[tokio::test]
    async fn the_migrator_holds_every_migration_in_order_as_simple_ones() {
        let migrator = migrator().await.unwrap();
        let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        assert_eq!(versions, [20_261_201_000_000, 20_261_201_100_000]);
        assert!(
            migrator
                .iter()
                .all(|m| m.migration_type == MigrationType::Simple && !m.no_tx)
        );
    }
}
