//! What the ledger is told of a completed redirect flow: the consent NGI named in the debt
//! answer, with the duration the site asked for.

use crate::domain::consent::{ConsentId, InvalidConsentId};
use crate::domain::debt::DebtSummary;
use crate::domain::scope::ConsentScope;
use crate::ledger::GrantedConsent;

/// Why a completed flow leaves no ledger row.
#[derive(Debug, thiserror::Error)]
pub enum NotRecorded {
    #[error("NGI's debt answer names no consent")]
    NoConsent,
    #[error("NGI's debt answer names a consent id the ledger cannot hold")]
    BadId(#[source] InvalidConsentId),
}

/// The consent to record after a successful debt fetch. `asked` is the scope the site asked
/// for: without days the consent was single use (the ledger stores it `used`), with days it
/// stays `active` until its expiry. The purpose is NGI's word when it gave one.
pub fn granted_consent(
    summary: &DebtSummary,
    asked: ConsentScope,
    reference: Option<String>,
) -> Result<GrantedConsent, NotRecorded> {
    let consent = summary.consent.as_ref().ok_or(NotRecorded::NoConsent)?;
    let id = consent
        .id
        .parse::<ConsentId>()
        .map_err(NotRecorded::BadId)?;
    Ok(GrantedConsent {
        id,
        reference,
        purpose: consent.purpose.unwrap_or(asked.purpose()),
        duration_days: asked.days(),
        expires_at: Some(consent.expires_at),
        nin_masked: summary.ssn.masked(),
    })
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::domain::debt::ConsentInfo;
    use crate::domain::nin::Nin;
    use crate::domain::scope::Purpose;

    fn summary(consent: Option<ConsentInfo>) -> DebtSummary {
        DebtSummary {
            ssn: Nin::parse("14842249091").unwrap(),
            loans: Vec::new(),
            creditors_answered: 0,
            creditors_missing: 0,
            consent,
        }
    }

    fn info(id: &str) -> ConsentInfo {
        ConsentInfo {
            id: id.into(),
            expires_at: Timestamp::from_second(2_000_000_000).unwrap(),
            purpose: None,
        }
    }

    #[test]
    fn the_recorded_consent_has_the_asked_duration_and_only_the_masked_number() {
        let asked: ConsentScope = "debt.unsecured.presentation.30".parse().unwrap();
        let granted =
            granted_consent(&summary(Some(info("c-1"))), asked, Some("APP-1".into())).unwrap();
        assert_eq!(granted.id.as_str(), "c-1");
        assert_eq!(granted.duration_days, Some(30));
        assert_eq!(granted.purpose, Purpose::Presentation);
        assert_eq!(granted.nin_masked, "148422*****");
        assert_eq!(granted.reference.as_deref(), Some("APP-1"));
        assert_eq!(
            granted.expires_at,
            Some(Timestamp::from_second(2_000_000_000).unwrap())
        );

        let single: ConsentScope = "debt.unsecured.processing".parse().unwrap();
        let granted = granted_consent(&summary(Some(info("c-2"))), single, None).unwrap();
        assert_eq!(granted.duration_days, None);
        assert_eq!(granted.purpose, Purpose::Processing);
    }

    #[test]
    fn an_answer_without_a_usable_consent_records_nothing() {
        let asked: ConsentScope = "debt.unsecured.presentation".parse().unwrap();
        assert!(matches!(
            granted_consent(&summary(None), asked, None),
            Err(NotRecorded::NoConsent)
        ));
        assert!(matches!(
            granted_consent(&summary(Some(info("../other"))), asked, None),
            Err(NotRecorded::BadId(_))
        ));
    }
}
