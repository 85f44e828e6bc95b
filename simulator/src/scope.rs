//! NGI's scope rule: exactly one debt scope, an optional day suffix, an optional trailing `openid`.

/// What the debt data may be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The debt is shown to the person.
    Presentation,
    /// The debt is used to assess a loan or credit application.
    Processing,
}

impl Purpose {
    pub(crate) fn base_scope(self) -> &'static str {
        match self {
            Purpose::Presentation => "debt.unsecured.presentation",
            Purpose::Processing => "debt.unsecured.processing",
        }
    }

    /// Longest consent NGI grants; a larger day suffix is clamped to this.
    pub(crate) fn max_days(self) -> u32 {
        match self {
            Purpose::Presentation => 365,
            Purpose::Processing => 28,
        }
    }
}

/// A scope NGI accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) purpose: Purpose,
    /// `None`: single-use consent. `Some(n)`: extended consent for `n` days, already clamped.
    pub(crate) days: Option<u32>,
    /// The debt scope exactly as requested, suffix included (what the token answer echoes).
    pub(crate) debt_scope: String,
    pub(crate) openid: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidScope(pub(crate) &'static str);

impl Scope {
    pub(crate) fn parse(scope: &str) -> Result<Scope, InvalidScope> {
        // RFC 6749 §3.3: scope tokens separated by single spaces; an empty token is malformed.
        let mut tokens: Vec<&str> = scope.split(' ').collect();
        if tokens.iter().any(|t| t.is_empty()) {
            return Err(InvalidScope("scope is empty or has empty tokens"));
        }
        let openid = tokens.last() == Some(&"openid");
        if openid {
            tokens.pop();
        }
        if tokens.contains(&"openid") {
            return Err(InvalidScope("openid must be the last scope"));
        }
        let [debt_scope] = tokens.as_slice() else {
            return Err(InvalidScope("exactly one debt scope is required"));
        };
        let (purpose, days) = parse_debt_scope(debt_scope)?;
        Ok(Scope {
            purpose,
            days,
            debt_scope: (*debt_scope).to_owned(),
            openid,
        })
    }
}

fn parse_debt_scope(token: &str) -> Result<(Purpose, Option<u32>), InvalidScope> {
    for purpose in [Purpose::Presentation, Purpose::Processing] {
        let Some(rest) = token.strip_prefix(purpose.base_scope()) else {
            continue;
        };
        if rest.is_empty() {
            return Ok((purpose, None));
        }
        let Some(days) = rest.strip_prefix('.') else {
            continue;
        };
        return parse_days(days, purpose.max_days()).map(|d| (purpose, Some(d)));
    }
    Err(InvalidScope("unknown scope"))
}

/// A positive integer without sign or leading zero; anything above `max` (however large) becomes `max`.
fn parse_days(days: &str, max: u32) -> Result<u32, InvalidScope> {
    let well_formed =
        !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) && !days.starts_with('0');
    if !well_formed {
        return Err(InvalidScope("the day suffix must be a positive integer"));
    }
    Ok(days.parse::<u32>().map_or(max, |d| d.min(max)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ok(scope: &str) -> Scope {
        Scope::parse(scope).expect(scope)
    }

    #[test]
    fn each_debt_scope_alone_is_a_single_use_consent() {
        let s = ok("debt.unsecured.presentation");
        assert_eq!(
            (s.purpose, s.days, s.openid),
            (Purpose::Presentation, None, false)
        );
        let s = ok("debt.unsecured.processing");
        assert_eq!((s.purpose, s.days), (Purpose::Processing, None));
    }

    #[test]
    fn a_day_suffix_makes_an_extended_consent() {
        let s = ok("debt.unsecured.presentation.30");
        assert_eq!(s.days, Some(30));
        assert_eq!(s.debt_scope, "debt.unsecured.presentation.30");
        assert_eq!(ok("debt.unsecured.processing.1").days, Some(1));
    }

    #[test]
    fn too_many_days_are_clamped_not_refused() {
        assert_eq!(ok("debt.unsecured.presentation.366").days, Some(365));
        assert_eq!(ok("debt.unsecured.presentation.365").days, Some(365));
        assert_eq!(ok("debt.unsecured.processing.29").days, Some(28));
        assert_eq!(
            ok("debt.unsecured.processing.99999999999999999999").days,
            Some(28)
        );
        // The token answer echoes what was asked for.
        assert_eq!(
            ok("debt.unsecured.processing.100").debt_scope,
            "debt.unsecured.processing.100"
        );
    }

    #[test]
    fn openid_is_allowed_only_last() {
        let s = ok("debt.unsecured.presentation openid");
        assert!(s.openid);
        assert_eq!(s.debt_scope, "debt.unsecured.presentation");
        assert!(Scope::parse("openid debt.unsecured.presentation").is_err());
        assert!(Scope::parse("debt.unsecured.presentation openid openid").is_err());
        assert!(Scope::parse("openid").is_err());
    }

    #[test]
    fn scopes_that_break_the_rule_are_refused() {
        for bad in [
            "",
            " ",
            "debt.unsecured.presentation  openid",
            "debt.unsecured.presentation ",
            "debt.unsecured.presentation debt.unsecured.processing",
            "debt.unsecured.presentation debt.unsecured.presentation",
            "debt.unsecured.presentation.0",
            "debt.unsecured.presentation.030",
            "debt.unsecured.presentation.-5",
            "debt.unsecured.presentation.+5",
            "debt.unsecured.presentation.",
            "debt.unsecured.presentation.30.2",
            "debt.unsecured.presentation.3a",
            "debt.unsecured.presentationx",
            "debt.unsecured",
            "debt.secured.presentation",
            "DEBT.UNSECURED.PRESENTATION",
            "profile",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
