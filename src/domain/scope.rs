//! What a consent is for (presentation or processing), and the scope string asked of NGI.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The `openid` scope: NGI then also returns an ID token. It must come last.
const OPENID: &str = "openid";

/// Why the debt data is fetched; NGI gives each its own scope and maximum duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    /// The data is shown to the person (`debt.unsecured.presentation`, at most 365 days).
    Presentation,
    /// The data is used to assess a loan or credit application (`debt.unsecured.processing`, at most 28 days).
    Processing,
}

impl Purpose {
    /// Both purposes, for iterating.
    pub const ALL: [Purpose; 2] = [Purpose::Presentation, Purpose::Processing];

    /// The longest consent NGI grants for this purpose, in days.
    pub const fn max_days(self) -> u16 {
        match self {
            Purpose::Presentation => 365,
            Purpose::Processing => 28,
        }
    }

    /// The scope without a duration suffix, as NGI names it.
    pub const fn base_scope(self) -> &'static str {
        match self {
            Purpose::Presentation => "debt.unsecured.presentation",
            Purpose::Processing => "debt.unsecured.processing",
        }
    }

    /// The purpose whose base scope is exactly `scope` (no suffix, no surrounding text).
    pub fn from_base_scope(scope: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.base_scope() == scope)
    }

    /// The purpose of a granted scope as NGI writes it: a base scope, with or without a `.N`
    /// duration suffix (whatever N: the duration is NGI's to state, not ours to check).
    pub fn from_granted_scope(scope: &str) -> Option<Purpose> {
        let base = match scope.rsplit_once('.') {
            Some((base, days)) if !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) => {
                base
            }
            _ => scope,
        };
        Purpose::from_base_scope(base)
    }

    /// The days of a granted scope's `.N` suffix, when it has one NGI could grant (1–365).
    pub fn granted_days(scope: &str) -> Option<u16> {
        let (_, days) = scope.rsplit_once('.')?;
        days.parse::<u16>().ok().filter(|d| (1..=365).contains(d))
    }

    /// A stable key for the web layer to look up the purpose's label in the person's language.
    pub const fn label_key(self) -> &'static str {
        match self {
            Purpose::Presentation => "purpose.presentation",
            Purpose::Processing => "purpose.processing",
        }
    }
}

/// Why a scope string is not one we will send to NGI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Nothing but whitespace.
    #[error(
        "the scope is empty; it needs one of debt.unsecured.presentation or debt.unsecured.processing"
    )]
    Empty,
    /// Only `openid`, or nothing that names the debt data.
    #[error(
        "the scope has no debt scope; it needs one of debt.unsecured.presentation or debt.unsecured.processing"
    )]
    NoDebtScope,
    /// Two debt scopes (the same or different); NGI takes exactly one per request.
    #[error("the scope names more than one debt scope; NGI takes exactly one")]
    SeveralDebtScopes,
    /// `openid` before the debt scope.
    #[error("openid must come last in the scope")]
    OpenidNotLast,
    /// `openid` more than once.
    #[error("openid appears more than once in the scope")]
    RepeatedOpenid,
    /// A word that is neither a debt scope nor `openid`.
    #[error("`{0}` is not a scope we ask NGI for (expected a debt scope and optionally openid)")]
    Unknown(String),
    /// A duration suffix that is not plain digits (empty, a sign, letters, spaces…).
    #[error("the duration `.{suffix}` on {base} is not a whole number of days")]
    DaysNotANumber {
        /// The debt scope the suffix was attached to.
        base: &'static str,
        /// The text after the dot.
        suffix: String,
    },
    /// `.0`: a single-use consent is written without a suffix.
    #[error(
        "a duration of 0 days is not allowed on {base}; leave the suffix off for a single-use consent"
    )]
    ZeroDays {
        /// The debt scope the suffix was attached to.
        base: &'static str,
    },
    /// More days than NGI grants for the purpose; we refuse rather than rely on NGI clamping it.
    #[error("a duration of {days} days is more than the {max} days NGI allows for {base}")]
    TooManyDays {
        /// The debt scope the suffix was attached to.
        base: &'static str,
        /// The suffix as written (it may not even fit in a number).
        days: String,
        /// The purpose's maximum.
        max: u16,
    },
}

/// A checked scope request: exactly one debt scope, an optional duration, optionally `openid` last.
///
/// Built with [`ConsentScope::new`] or parsed (`"debt.unsecured.presentation.100 openid"`);
/// `Display` gives the space-joined string to send. Serde uses that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsentScope {
    purpose: Purpose,
    days: Option<u16>,
    openid: bool,
}

impl ConsentScope {
    /// A scope for `purpose`; `days: None` is a single-use consent, `Some(n)` must be
    /// between 1 and [`Purpose::max_days`].
    pub fn new(purpose: Purpose, days: Option<u16>, openid: bool) -> Result<Self, ScopeError> {
        let base = purpose.base_scope();
        match days {
            Some(0) => Err(ScopeError::ZeroDays { base }),
            Some(n) if n > purpose.max_days() => Err(ScopeError::TooManyDays {
                base,
                days: n.to_string(),
                max: purpose.max_days(),
            }),
            _ => Ok(ConsentScope {
                purpose,
                days,
                openid,
            }),
        }
    }

    /// Parses a space-separated scope string; see the type's documentation for what is accepted.
    pub fn parse(input: &str) -> Result<Self, ScopeError> {
        let mut debt: Option<(Purpose, Option<u16>)> = None;
        let mut openid = false;
        let mut any = false;
        for word in input.split_ascii_whitespace() {
            any = true;
            if word == OPENID {
                if openid {
                    return Err(ScopeError::RepeatedOpenid);
                }
                openid = true;
                continue;
            }
            let parsed = parse_debt_scope(word)?;
            if openid {
                return Err(ScopeError::OpenidNotLast);
            }
            if debt.is_some() {
                return Err(ScopeError::SeveralDebtScopes);
            }
            debt = Some(parsed);
        }
        if !any {
            return Err(ScopeError::Empty);
        }
        let (purpose, days) = debt.ok_or(ScopeError::NoDebtScope)?;
        ConsentScope::new(purpose, days, openid)
    }

    /// The purpose of the debt scope.
    pub const fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// The consent's duration in days; `None` for a single-use consent.
    pub const fn days(&self) -> Option<u16> {
        self.days
    }

    /// Whether `openid` is asked for (NGI then returns an ID token).
    pub const fn openid(&self) -> bool {
        self.openid
    }

    /// The debt scope with its suffix: `debt.unsecured.presentation.100`.
    pub fn debt_scope(&self) -> String {
        match self.days {
            Some(days) => format!("{}.{days}", self.purpose.base_scope()),
            None => self.purpose.base_scope().to_owned(),
        }
    }

    /// The scopes in order, one per element: `["debt.unsecured.presentation.100", "openid"]`.
    pub fn request_scopes(&self) -> Vec<String> {
        let mut scopes = vec![self.debt_scope()];
        if self.openid {
            scopes.push(OPENID.to_owned());
        }
        scopes
    }
}

/// One word that should be a debt scope, with or without a `.N` suffix.
fn parse_debt_scope(word: &str) -> Result<(Purpose, Option<u16>), ScopeError> {
    for purpose in Purpose::ALL {
        let base = purpose.base_scope();
        let Some(rest) = word.strip_prefix(base) else {
            continue;
        };
        if rest.is_empty() {
            return Ok((purpose, None));
        }
        let Some(suffix) = rest.strip_prefix('.') else {
            // `debt.unsecured.presentationX`: not ours.
            return Err(ScopeError::Unknown(word.to_owned()));
        };
        // `u16::from_str` would accept a leading `+`; only plain digits are a duration.
        if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ScopeError::DaysNotANumber {
                base,
                suffix: suffix.to_owned(),
            });
        }
        let too_many = || ScopeError::TooManyDays {
            base,
            days: suffix.to_owned(),
            max: purpose.max_days(),
        };
        // All digits, so the only possible parse failure is a number too large for u16.
        let days: u16 = suffix.parse().map_err(|_| too_many())?;
        if days == 0 {
            return Err(ScopeError::ZeroDays { base });
        }
        if days > purpose.max_days() {
            return Err(too_many());
        }
        return Ok((purpose, Some(days)));
    }
    Err(ScopeError::Unknown(word.to_owned()))
}

impl FromStr for ConsentScope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConsentScope::parse(s)
    }
}

impl TryFrom<String> for ConsentScope {
    type Error = ScopeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        ConsentScope::parse(&value)
    }
}

impl From<ConsentScope> for String {
    fn from(scope: ConsentScope) -> String {
        scope.to_string()
    }
}

/// The scope string to send: space-joined [`ConsentScope::request_scopes`].
impl fmt::Display for ConsentScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.debt_scope())?;
        if self.openid {
            write!(f, " {OPENID}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_granted_scope_gives_its_days_only_from_a_suffix_ngi_could_grant() {
        assert_eq!(
            Purpose::granted_days("debt.unsecured.presentation.30"),
            Some(30)
        );
        assert_eq!(Purpose::granted_days("debt.unsecured.presentation"), None);
        assert_eq!(Purpose::granted_days("debt.unsecured.presentation.0"), None);
        assert_eq!(
            Purpose::granted_days("debt.unsecured.presentation.366"),
            None
        );
        assert_eq!(
            Purpose::granted_days("debt.unsecured.presentation.x1"),
            None
        );
    }

    fn parse(s: &str) -> Result<ConsentScope, ScopeError> {
        s.parse()
    }

    #[test]
    fn a_bare_presentation_scope_is_a_single_use_consent() {
        let scope = parse("debt.unsecured.presentation").unwrap();
        assert_eq!(scope.purpose(), Purpose::Presentation);
        assert_eq!(scope.days(), None);
        assert!(!scope.openid());
        assert_eq!(scope.request_scopes(), ["debt.unsecured.presentation"]);
    }

    #[test]
    fn a_duration_and_openid_are_kept_in_order() {
        let scope = parse("debt.unsecured.presentation.100 openid").unwrap();
        assert_eq!(scope.days(), Some(100));
        assert!(scope.openid());
        assert_eq!(
            scope.request_scopes(),
            ["debt.unsecured.presentation.100", "openid"]
        );
        assert_eq!(scope.to_string(), "debt.unsecured.presentation.100 openid");
    }

    #[test]
    fn the_maximum_durations_are_accepted() {
        assert_eq!(
            parse("debt.unsecured.presentation.365").unwrap().days(),
            Some(365)
        );
        let processing = parse("debt.unsecured.processing.28").unwrap();
        assert_eq!(processing.purpose(), Purpose::Processing);
        assert_eq!(processing.days(), Some(28));
        assert_eq!(
            parse("debt.unsecured.processing.1").unwrap().days(),
            Some(1)
        );
    }

    #[test]
    fn surrounding_and_repeated_whitespace_is_tolerated_and_normalised() {
        let scope = parse("  debt.unsecured.processing   openid\n").unwrap();
        assert_eq!(scope.to_string(), "debt.unsecured.processing openid");
    }

    #[test]
    fn an_empty_scope_is_refused() {
        assert_eq!(parse(""), Err(ScopeError::Empty));
        assert_eq!(parse("   "), Err(ScopeError::Empty));
    }

    #[test]
    fn openid_alone_has_no_debt_scope() {
        assert_eq!(parse("openid"), Err(ScopeError::NoDebtScope));
    }

    #[test]
    fn openid_must_come_last() {
        assert_eq!(
            parse("openid debt.unsecured.presentation"),
            Err(ScopeError::OpenidNotLast)
        );
    }

    #[test]
    fn openid_twice_is_refused() {
        assert_eq!(
            parse("debt.unsecured.presentation openid openid"),
            Err(ScopeError::RepeatedOpenid)
        );
    }

    #[test]
    fn two_debt_scopes_are_refused() {
        assert_eq!(
            parse("debt.unsecured.presentation debt.unsecured.processing"),
            Err(ScopeError::SeveralDebtScopes)
        );
        assert_eq!(
            parse("debt.unsecured.presentation debt.unsecured.presentation.10"),
            Err(ScopeError::SeveralDebtScopes)
        );
    }

    #[test]
    fn other_words_are_refused_by_name() {
        assert_eq!(
            parse("debt.unsecured.presentation profile"),
            Err(ScopeError::Unknown("profile".into()))
        );
        assert_eq!(
            parse("debt.unsecured.presentationx"),
            Err(ScopeError::Unknown("debt.unsecured.presentationx".into()))
        );
        assert_eq!(
            parse("debt.secured.presentation"),
            Err(ScopeError::Unknown("debt.secured.presentation".into()))
        );
        assert_eq!(
            parse("DEBT.UNSECURED.PRESENTATION"),
            Err(ScopeError::Unknown("DEBT.UNSECURED.PRESENTATION".into()))
        );
    }

    #[test]
    fn more_than_365_days_for_presentation_is_refused() {
        assert_eq!(
            parse("debt.unsecured.presentation.366"),
            Err(ScopeError::TooManyDays {
                base: "debt.unsecured.presentation",
                days: "366".into(),
                max: 365
            })
        );
    }

    #[test]
    fn more_than_28_days_for_processing_is_refused() {
        assert_eq!(
            parse("debt.unsecured.processing.29"),
            Err(ScopeError::TooManyDays {
                base: "debt.unsecured.processing",
                days: "29".into(),
                max: 28
            })
        );
    }

    #[test]
    fn a_duration_too_large_for_any_number_is_too_many_days() {
        assert!(matches!(
            parse("debt.unsecured.presentation.99999999999999999999"),
            Err(ScopeError::TooManyDays { .. })
        ));
    }

    #[test]
    fn zero_days_is_refused() {
        assert_eq!(
            parse("debt.unsecured.presentation.0"),
            Err(ScopeError::ZeroDays {
                base: "debt.unsecured.presentation"
            })
        );
    }

    #[test]
    fn a_duration_that_is_not_plain_digits_is_refused() {
        for suffix in ["", "+5", "-5", "ten", "1e2", "10days", "١٠"] {
            let input = format!("debt.unsecured.presentation.{suffix}");
            assert_eq!(
                parse(&input),
                Err(ScopeError::DaysNotANumber {
                    base: "debt.unsecured.presentation",
                    suffix: suffix.into()
                }),
                "{input}"
            );
        }
    }

    #[test]
    fn error_messages_say_what_is_wrong() {
        let message = parse("debt.unsecured.processing.29")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "a duration of 29 days is more than the 28 days NGI allows for debt.unsecured.processing"
        );
        let message = parse("openid debt.unsecured.processing")
            .unwrap_err()
            .to_string();
        assert_eq!(message, "openid must come last in the scope");
    }

    #[test]
    fn new_checks_the_duration_like_parse() {
        assert!(ConsentScope::new(Purpose::Processing, Some(29), false).is_err());
        assert!(ConsentScope::new(Purpose::Processing, Some(0), false).is_err());
        let scope = ConsentScope::new(Purpose::Processing, Some(28), true).unwrap();
        assert_eq!(scope.to_string(), "debt.unsecured.processing.28 openid");
    }

    #[test]
    fn serde_uses_the_scope_string_and_checks_it_on_the_way_back() {
        let scope = parse("debt.unsecured.processing.14 openid").unwrap();
        let json = serde_json::to_string(&scope).unwrap();
        assert_eq!(json, "\"debt.unsecured.processing.14 openid\"");
        assert_eq!(serde_json::from_str::<ConsentScope>(&json).unwrap(), scope);
        assert!(serde_json::from_str::<ConsentScope>("\"debt.unsecured.processing.29\"").is_err());
    }

    #[test]
    fn purposes_know_their_base_scope_and_maximum() {
        assert_eq!(Purpose::Presentation.max_days(), 365);
        assert_eq!(Purpose::Processing.max_days(), 28);
        for purpose in Purpose::ALL {
            assert_eq!(
                Purpose::from_base_scope(purpose.base_scope()),
                Some(purpose)
            );
        }
        assert_eq!(
            Purpose::from_base_scope("debt.unsecured.presentation.10"),
            None
        );
        assert_eq!(Purpose::from_base_scope("openid"), None);
    }
}
