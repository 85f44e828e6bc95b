//! Named points in one step of the feed follower where a hidden subcommand aborts the process,
//! so tests can prove a crash anywhere in a page leaves the ledger as if the page never ran, or
//! as if it ran once. Armed only by that subcommand; in the site every point is one atomic read.

use std::sync::OnceLock;

/// Where one step of the follower may be stopped dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CrashPoint {
    /// The page has been read from NGI; nothing written.
    AfterFetch,
    /// The page's events are inserted in the open transaction, none applied.
    AfterInsert,
    /// The events are applied to the consents, the cursor not yet moved.
    AfterApply,
    /// The cursor is moved; the transaction not yet committed.
    BeforeCommit,
    /// The transaction is committed.
    AfterCommit,
}

impl CrashPoint {
    pub const ALL: [CrashPoint; 5] = [
        CrashPoint::AfterFetch,
        CrashPoint::AfterInsert,
        CrashPoint::AfterApply,
        CrashPoint::BeforeCommit,
        CrashPoint::AfterCommit,
    ];

    /// The name the subcommand takes (`--crash-at after-insert`).
    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::AfterFetch => "after-fetch",
            CrashPoint::AfterInsert => "after-insert",
            CrashPoint::AfterApply => "after-apply",
            CrashPoint::BeforeCommit => "before-commit",
            CrashPoint::AfterCommit => "after-commit",
        }
    }
}

static ARMED: OnceLock<CrashPoint> = OnceLock::new();

/// From now on, reaching `point` aborts the process. Once per process.
pub fn arm(point: CrashPoint) {
    let _ = ARMED.set(point);
}

/// Aborts the process here if the process was armed at `point`: no destructor runs, no
/// rollback is sent, the database sees a connection drop (SQLite: a half-written WAL).
pub(crate) fn point(point: CrashPoint) {
    if ARMED.get() == Some(&point) {
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_point_is_named_as_the_subcommand_takes_it() {
        for point in CrashPoint::ALL {
            assert_eq!(
                CrashPoint::from_str(point.name(), false).ok(),
                Some(point),
                "{point:?}"
            );
        }
    }
}
