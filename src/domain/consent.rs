//! A consent's life as the ledger records it: where it came from, its status, and which status
//! changes are allowed. Pure rules: the ledger and the lifecycle code both ask here.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The longest consent id accepted: NGI's are UUIDs (36 characters).
const MAX_ID_CHARS: usize = 64;

/// NGI's id for a consent: 1 to 64 ASCII letters, digits and `-` (NGI's are UUIDs). Nothing else
/// gets into a request path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConsentId(String);

/// Why a string is not a consent id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConsentId {
    #[error("a consent id is not empty")]
    Empty,
    #[error("a consent id has at most {MAX_ID_CHARS} characters")]
    TooLong,
    #[error("a consent id has only ASCII letters, digits and '-'")]
    BadCharacter,
}

impl std::str::FromStr for ConsentId {
    type Err = InvalidConsentId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(InvalidConsentId::Empty);
        }
        if s.len() > MAX_ID_CHARS {
            return Err(InvalidConsentId::TooLong);
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(InvalidConsentId::BadCharacter);
        }
        Ok(Self(s.to_owned()))
    }
}

impl ConsentId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConsentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the consent was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The person gave it at NGI through the redirect flow.
    Redirect,
    /// The partner collected it and registered it (`PUT /v1/consent/agreement`).
    Integrated,
}

impl Source {
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Redirect => "redirect",
            Source::Integrated => "integrated",
        }
    }
}

impl FromStr for Source {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "redirect" => Ok(Source::Redirect),
            "integrated" => Ok(Source::Integrated),
            _ => Err(UnknownName),
        }
    }
}

/// Where a consent stands. `Expired` is stored when NGI or the feed says so, and is also what an
/// `Active` consent past its expiry reads as ([`Status::at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// An integrated consent whose registration at NGI has not been confirmed yet.
    Registering,
    /// Valid at NGI for more use.
    Active,
    /// A single-use consent whose one use is done.
    Used,
    /// We asked NGI to revoke it and have no confirmation yet (retried).
    Revoking,
    /// NGI confirmed the revocation.
    Revoked,
    /// Ended at NGI for a reason NGI did not tell (used, expired, or withdrawn at norskgjeld.no).
    EndedAtNgi,
    /// NGI refused to register it.
    Refused,
    /// Past its expiry.
    Expired,
}

/// A name that is not one of the known ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a known name")]
pub struct UnknownName;

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Registering,
        Status::Active,
        Status::Used,
        Status::Revoking,
        Status::Revoked,
        Status::EndedAtNgi,
        Status::Refused,
        Status::Expired,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Registering => "registering",
            Status::Active => "active",
            Status::Used => "used",
            Status::Revoking => "revoking",
            Status::Revoked => "revoked",
            Status::EndedAtNgi => "ended_at_ngi",
            Status::Refused => "refused",
            Status::Expired => "expired",
        }
    }

    /// Whether the consent can no longer be used or change: terminal statuses never reopen.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Used | Status::Revoked | Status::EndedAtNgi | Status::Refused | Status::Expired
        )
    }

    /// The status as read at `now`: an `Active` consent past `expires_at` is `Expired`.
    pub fn at(self, expires_at: Option<Timestamp>, now: Timestamp) -> Status {
        match (self, expires_at) {
            (Status::Active, Some(expiry)) if now >= expiry => Status::Expired,
            (status, _) => status,
        }
    }

    /// Whether a row may move from `self` to `to`. Staying is always allowed (and changes
    /// nothing); a terminal status never moves.
    pub fn may_become(self, to: Status) -> bool {
        if self == to {
            return true;
        }
        match self {
            Status::Registering => matches!(to, Status::Active | Status::Refused),
            Status::Active => matches!(
                to,
                Status::Used
                    | Status::Revoking
                    | Status::Revoked
                    | Status::EndedAtNgi
                    | Status::Expired
            ),
            Status::Revoking => matches!(
                to,
                Status::Revoked | Status::EndedAtNgi | Status::Expired | Status::Used
            ),
            Status::Used
            | Status::Revoked
            | Status::EndedAtNgi
            | Status::Refused
            | Status::Expired => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_name() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
        assert_eq!("withdrawn".parse::<Status>(), Err(UnknownName));
        for source in [Source::Redirect, Source::Integrated] {
            assert_eq!(source.as_str().parse::<Source>(), Ok(source));
        }
    }

    #[test]
    fn terminal_statuses_never_reopen() {
        for from in Status::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in Status::ALL.into_iter().filter(|to| *to != from) {
                assert!(!from.may_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn a_revocation_goes_through_revoking_and_a_registration_through_registering() {
        assert!(Status::Active.may_become(Status::Revoking));
        assert!(Status::Revoking.may_become(Status::Revoked));
        assert!(!Status::Revoking.may_become(Status::Active));
        assert!(Status::Registering.may_become(Status::Active));
        assert!(Status::Registering.may_become(Status::Refused));
        assert!(!Status::Registering.may_become(Status::Revoked));
        assert!(!Status::Active.may_become(Status::Registering));
    }

    #[test]
    fn an_active_consent_past_its_expiry_reads_as_expired() {
        let expiry = Timestamp::from_second(1_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let before = Timestamp::from_second(999).unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(Status::Active.at(Some(expiry), before), Status::Active);
        assert_eq!(Status::Active.at(Some(expiry), expiry), Status::Expired);
        assert_eq!(Status::Active.at(None, expiry), Status::Active);
        assert_eq!(Status::Revoked.at(Some(expiry), expiry), Status::Revoked);
    }
}
