//! NGI's debt answer and error body exactly as they arrive (serde), and their conversion into the domain.
//!
//! These types are the edge: nothing past `TryFrom<DebtInformation> for DebtSummary` should see them.
//! Every field is optional because the OpenAPI spec marks none as required; unknown fields are
//! ignored; a loan `type` this version does not know becomes [`domain::Loan::Unknown`] rather than
//! failing the whole answer.
//!
//! What the conversion refuses, and what it lets through:
//! - refused: a missing or invalid `ssn`; a negative (or absurdly large) creditor count; a consent
//!   block without `id` or `exp`, with an `exp` outside jiff's range, or with a `scope` that is
//!   neither debt scope;
//! - let through: a missing count (read as 0; unanswered loans still mark the answer incomplete),
//!   a missing `creditorName` (empty), a loan `timestamp` that is not an RFC 3339 instant (read as
//!   absent: it only says when the creditor produced the figures, and should not cost the person
//!   their whole overview), an unknown `installmentChargePeriod` (absent), a negative or oversized
//!   `terms` (absent), a `coBorrower` outside 0–2 (`CoBorrower::Unknown`).
//!
//! An amount of the wrong JSON type (a string, a fraction) fails deserialization: that is a broken
//! answer, not a newer one.

use std::fmt;

use jiff::Timestamp;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::domain::{self, Nin, NinError, Nok, Purpose, Rate};

const CREDIT_FACILITY: &str = "creditFacility";
const REPAYMENT_LOAN: &str = "repaymentLoan";
const CHARGE_CARD: &str = "chargeCard";

/// `debt_information`: the answer of `GET /v1/debt` and `GET /v1/debt/{consentId}`.
///
/// `Debug` hides `ssn` (it is a full national identity number).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebtInformation {
    /// The person's national identity number.
    pub ssn: Option<String>,
    /// One entry per loan.
    pub loans: Option<Vec<CreditorLoan>>,
    /// How many creditors answered.
    pub number_of_creditors_answered: Option<i64>,
    /// How many creditors did not answer (NGI spells it with a lower-case c).
    #[serde(rename = "numberOfcreditorsMissing")]
    pub number_of_creditors_missing: Option<i64>,
    /// The consent the data was fetched under.
    pub consent: Option<ConsentMetadata>,
}

impl fmt::Debug for DebtInformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DebtInformation")
            .field("ssn", &self.ssn.as_ref().map(|_| "<redacted>"))
            .field("loans", &self.loans)
            .field(
                "number_of_creditors_answered",
                &self.number_of_creditors_answered,
            )
            .field(
                "number_of_creditors_missing",
                &self.number_of_creditors_missing,
            )
            .field("consent", &self.consent)
            .finish()
    }
}

/// One element of `loans`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditorLoan {
    /// The creditor's name.
    pub creditor_name: Option<String>,
    /// The loan; `null` (or absent) when the creditor did not answer in time.
    pub loan: Option<Loan>,
}

/// A loan, chosen by its `type` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loan {
    /// `"type": "creditFacility"`
    CreditFacility(CreditFacility),
    /// `"type": "repaymentLoan"`
    RepaymentLoan(RepaymentLoan),
    /// `"type": "chargeCard"`
    ChargeCard(ChargeCard),
    /// Any other `type`, or none (`kind: None`); the rest of the object is not read.
    Other {
        /// The `type` value, if it was a string.
        kind: Option<String>,
    },
}

/// Reads the object once, looks at `type`, then reads the matching struct. An internally tagged
/// serde enum would either fail on an unknown `type` or (with `#[serde(other)]`) lose its name.
impl<'de> Deserialize<'de> for Loan {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if !value.is_object() {
            return Err(D::Error::custom("a loan must be a JSON object or null"));
        }
        let kind = value
            .get("type")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let loan = match kind.as_deref() {
            Some(CREDIT_FACILITY) => serde_json::from_value(value).map(Loan::CreditFacility),
            Some(REPAYMENT_LOAN) => serde_json::from_value(value).map(Loan::RepaymentLoan),
            Some(CHARGE_CARD) => serde_json::from_value(value).map(Loan::ChargeCard),
            _ => Ok(Loan::Other { kind }),
        };
        loan.map_err(D::Error::custom)
    }
}

/// `credit_facility` (rammekreditt). Amounts are NOK × 100, the rate percent × 100.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditFacility {
    /// ISO 8601 instant the figures were produced.
    pub timestamp: Option<String>,
    /// 2 = has a co-borrower, 1 = is a co-borrower, 0 = none.
    pub co_borrower: Option<i64>,
    /// The maximum credit.
    pub credit_limit: Option<i64>,
    /// Interest-bearing balance.
    pub interest_bearing_balance: Option<i64>,
    /// Non-interest-bearing balance.
    pub non_interest_bearing_balance: Option<i64>,
    /// Nominal interest rate.
    pub nominal_interest_rate: Option<i64>,
    /// Monthly fees.
    pub installment_charges: Option<i64>,
    /// `MONTHLY`, `QUARTERLY`, `HALF-YEARLY` or `YEARLY`.
    pub installment_charge_period: Option<String>,
}

/// `repayment_loan` (nedbetalingslån). Amounts are NOK × 100, the rate percent × 100.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepaymentLoan {
    /// ISO 8601 instant the figures were produced.
    pub timestamp: Option<String>,
    /// 2 = has a co-borrower, 1 = is a co-borrower, 0 = none.
    pub co_borrower: Option<i64>,
    /// The amount when granted.
    pub original_balance: Option<i64>,
    /// What is left.
    pub balance: Option<i64>,
    /// Remaining terms in months.
    pub terms: Option<i64>,
    /// Nominal interest rate.
    pub nominal_interest_rate: Option<i64>,
    /// Monthly fees.
    pub installment_charges: Option<i64>,
    /// `MONTHLY`, `QUARTERLY`, `HALF-YEARLY` or `YEARLY`.
    pub installment_charge_period: Option<String>,
}

/// `charge_cards` (kortkreditt). Amounts are NOK × 100.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeCard {
    /// ISO 8601 instant the figures were produced.
    pub timestamp: Option<String>,
    /// 2 = has a co-borrower, 1 = is a co-borrower, 0 = none.
    pub co_borrower: Option<i64>,
    /// Interest-bearing balance.
    pub interest_bearing_balance: Option<i64>,
    /// Non-interest-bearing balance.
    pub non_interest_bearing_balance: Option<i64>,
}

/// `consent_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConsentMetadata {
    /// Expiry in seconds since the Unix epoch.
    pub exp: Option<i64>,
    /// The consent id.
    pub id: Option<String>,
    /// `debt.unsecured.presentation` or `debt.unsecured.processing`.
    pub scope: Option<String>,
}

/// NGI's error body (`error` in the spec), e.g. 403 `no valid consent`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ErrorBody {
    /// Short error, e.g. `invalid access token`.
    pub error: Option<String>,
    /// Optional longer description.
    pub error_description: Option<String>,
    /// When NGI handled the error (ISO 8601).
    pub timestamp: Option<String>,
    /// NGI's trace id (echoes our `X-Trace-ID` when sent); quote it to NGI support.
    pub trace_id: Option<String>,
}

/// One line for a log: `no valid consent: description (trace id …)`.
impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error.as_deref().unwrap_or("unspecified error"))?;
        if let Some(description) = self.error_description.as_deref().filter(|d| !d.is_empty()) {
            write!(f, ": {description}")?;
        }
        if let Some(trace_id) = &self.trace_id {
            write!(f, " (trace id {trace_id})")?;
        }
        Ok(())
    }
}

/// What makes a debt answer unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebtInformationError {
    /// No `ssn`.
    #[error("the debt answer has no ssn")]
    MissingSsn,
    /// `ssn` is not a national identity number (the message does not repeat it).
    #[error("the debt answer's ssn is not a valid national identity number: {0}")]
    InvalidSsn(#[source] NinError),
    /// A creditor count below zero or beyond `u32`.
    #[error("{field} is {value}, which is not a count")]
    InvalidCount {
        /// NGI's field name.
        field: &'static str,
        /// The value sent.
        value: i64,
    },
    /// A consent block without an `id`.
    #[error("the consent in the debt answer has no id")]
    ConsentWithoutId,
    /// A consent block without `exp`.
    #[error("the consent in the debt answer has no expiry")]
    ConsentWithoutExpiry,
    /// `exp` outside the range of instants.
    #[error("the consent expiry {0} is not a representable instant")]
    InvalidConsentExpiry(i64),
    /// A `scope` that is neither debt scope.
    #[error(
        "the consent scope `{0}` is neither debt.unsecured.presentation nor debt.unsecured.processing"
    )]
    UnknownConsentScope(String),
}

impl TryFrom<DebtInformation> for domain::DebtSummary {
    type Error = DebtInformationError;

    fn try_from(answer: DebtInformation) -> Result<Self, Self::Error> {
        let ssn = answer.ssn.ok_or(DebtInformationError::MissingSsn)?;
        let ssn = Nin::parse(&ssn).map_err(DebtInformationError::InvalidSsn)?;
        let creditors_answered = count(
            "numberOfCreditorsAnswered",
            answer.number_of_creditors_answered,
        )?;
        let creditors_missing = count(
            "numberOfcreditorsMissing",
            answer.number_of_creditors_missing,
        )?;
        let consent = answer.consent.map(consent_info).transpose()?;
        let loans = answer
            .loans
            .unwrap_or_default()
            .into_iter()
            .map(creditor_loan)
            .collect();
        Ok(domain::DebtSummary {
            ssn,
            loans,
            creditors_answered,
            creditors_missing,
            consent,
        })
    }
}

fn count(field: &'static str, value: Option<i64>) -> Result<u32, DebtInformationError> {
    let value = value.unwrap_or(0);
    u32::try_from(value).map_err(|_| DebtInformationError::InvalidCount { field, value })
}

fn consent_info(consent: ConsentMetadata) -> Result<domain::ConsentInfo, DebtInformationError> {
    let id = consent.id.ok_or(DebtInformationError::ConsentWithoutId)?;
    let exp = consent
        .exp
        .ok_or(DebtInformationError::ConsentWithoutExpiry)?;
    let expires_at =
        Timestamp::from_second(exp).map_err(|_| DebtInformationError::InvalidConsentExpiry(exp))?;
    let purpose = consent.scope.map(|s| consent_purpose(&s)).transpose()?;
    Ok(domain::ConsentInfo {
        id,
        expires_at,
        purpose,
    })
}

/// The spec lists the bare scopes; a `.N` duration suffix is tolerated too.
fn consent_purpose(scope: &str) -> Result<Purpose, DebtInformationError> {
    Purpose::from_granted_scope(scope)
        .ok_or_else(|| DebtInformationError::UnknownConsentScope(scope.to_owned()))
}

fn creditor_loan(entry: CreditorLoan) -> domain::CreditorLoan {
    let loan = match entry.loan {
        None => domain::Loan::NotAnswered,
        Some(Loan::CreditFacility(l)) => domain::Loan::CreditFacility(domain::CreditFacility {
            timestamp: timestamp(l.timestamp.as_deref()),
            co_borrower: co_borrower(l.co_borrower),
            credit_limit: l.credit_limit.map(Nok::from_ore),
            interest_bearing_balance: l.interest_bearing_balance.map(Nok::from_ore),
            non_interest_bearing_balance: l.non_interest_bearing_balance.map(Nok::from_ore),
            nominal_interest_rate: l.nominal_interest_rate.map(Rate::from_basis_points),
            installment_charges: l.installment_charges.map(Nok::from_ore),
            installment_charge_period: charge_period(l.installment_charge_period.as_deref()),
        }),
        Some(Loan::RepaymentLoan(l)) => domain::Loan::RepaymentLoan(domain::RepaymentLoan {
            timestamp: timestamp(l.timestamp.as_deref()),
            co_borrower: co_borrower(l.co_borrower),
            original_balance: l.original_balance.map(Nok::from_ore),
            balance: l.balance.map(Nok::from_ore),
            terms: l.terms.and_then(|t| u32::try_from(t).ok()),
            nominal_interest_rate: l.nominal_interest_rate.map(Rate::from_basis_points),
            installment_charges: l.installment_charges.map(Nok::from_ore),
            installment_charge_period: charge_period(l.installment_charge_period.as_deref()),
        }),
        Some(Loan::ChargeCard(l)) => domain::Loan::ChargeCard(domain::ChargeCard {
            timestamp: timestamp(l.timestamp.as_deref()),
            co_borrower: co_borrower(l.co_borrower),
            interest_bearing_balance: l.interest_bearing_balance.map(Nok::from_ore),
            non_interest_bearing_balance: l.non_interest_bearing_balance.map(Nok::from_ore),
        }),
        Some(Loan::Other { kind }) => domain::Loan::Unknown {
            kind: kind.unwrap_or_default(),
        },
    };
    domain::CreditorLoan {
        creditor: entry.creditor_name.unwrap_or_default(),
        loan,
    }
}

fn timestamp(value: Option<&str>) -> Option<Timestamp> {
    value.and_then(|s| s.parse().ok())
}

fn co_borrower(code: Option<i64>) -> domain::CoBorrower {
    code.map_or(domain::CoBorrower::Unknown, domain::CoBorrower::from_code)
}

fn charge_period(value: Option<&str>) -> Option<domain::ChargePeriod> {
    value.and_then(domain::ChargePeriod::from_ngi)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::{ChargePeriod, CoBorrower, DebtSummary};

    fn summary(json: &str) -> Result<DebtSummary, DebtInformationError> {
        let answer: DebtInformation = serde_json::from_str(json).unwrap();
        DebtSummary::try_from(answer)
    }

    const README_EXAMPLE: &str = r#"{
      "ssn": "14842249091",
      "loans": [
        { "creditorName": "EXAMPLE LENDER",
          "loan": { "type": "chargeCard", "timestamp": "2022-11-03T00:00:00Z", "coBorrower": 2,
                    "interestBearingBalance": 6069400, "nonInterestBearingBalance": 641000 } }
      ],
      "numberOfCreditorsAnswered": 1,
      "numberOfcreditorsMissing": 0,
      "consent": { "exp": 1785312537, "id": "3649911c-a58a-4b76-9794-edd8c692e84f", "scope": "debt.unsecured.presentation" }
    }"#;

    #[test]
    fn the_readme_example_becomes_a_complete_summary() {
        let summary = summary(README_EXAMPLE).unwrap();
        assert_eq!(summary.ssn.expose_secret(), "14842249091");
        assert_eq!(summary.creditors_answered, 1);
        assert_eq!(summary.creditors_missing, 0);
        assert!(!summary.is_incomplete());
        let cards = summary.charge_cards();
        assert_eq!(cards.len(), 1);
        let (creditor, card) = cards[0];
        assert_eq!(creditor, "EXAMPLE LENDER");
        assert_eq!(
            card,
            &domain::ChargeCard {
                timestamp: Some("2022-11-03T00:00:00Z".parse().unwrap()),
                co_borrower: CoBorrower::HasCoBorrower,
                interest_bearing_balance: Some(Nok::from_ore(6_069_400)),
                non_interest_bearing_balance: Some(Nok::from_ore(641_000)),
            }
        );
        assert_eq!(summary.total_debt(), Nok::from_ore(6_710_400));
        assert_eq!(summary.total_debt().to_string(), "67\u{a0}104,00\u{a0}kr");
        let consent = summary.consent.unwrap();
        assert_eq!(consent.id, "3649911c-a58a-4b76-9794-edd8c692e84f");
        assert_eq!(
            consent.expires_at,
            Timestamp::from_second(1_785_312_537).unwrap()
        );
        assert_eq!(consent.purpose, Some(Purpose::Presentation));
    }

    #[test]
    fn a_null_loan_is_an_unanswered_creditor_and_the_answer_is_incomplete() {
        let summary = summary(
            r#"{"ssn": "29868099311",
                "loans": [
                  {"creditorName": "SLOW BANK", "loan": null},
                  {"creditorName": "FAST BANK", "loan": {"type": "repaymentLoan", "balance": 10000}}
                ],
                "numberOfCreditorsAnswered": 1, "numberOfcreditorsMissing": 1}"#,
        )
        .unwrap();
        assert_eq!(summary.creditors_missing, 1);
        assert!(summary.is_incomplete());
        assert_eq!(summary.unanswered_creditors(), ["SLOW BANK"]);
        assert_eq!(summary.loans[0].loan, domain::Loan::NotAnswered);
        assert_eq!(summary.total_debt(), Nok::from_ore(10000));
        assert_eq!(summary.consent, None);
    }

    #[test]
    fn an_unknown_loan_type_is_kept_by_name_without_failing_the_answer() {
        let summary = summary(
            r#"{"ssn": "14842249091",
                "loans": [
                  {"creditorName": "NEW KIND AS", "loan": {"type": "buyNowPayLater", "amount": "lots"}},
                  {"creditorName": "NO TYPE AS", "loan": {"balance": 5}},
                  {"creditorName": "CARD AS", "loan": {"type": "chargeCard", "interestBearingBalance": 100}}
                ],
                "numberOfCreditorsAnswered": 3, "numberOfcreditorsMissing": 0}"#,
        )
        .unwrap();
        assert_eq!(
            summary.unknown_loans(),
            [("NEW KIND AS", "buyNowPayLater"), ("NO TYPE AS", "")]
        );
        assert_eq!(summary.total_debt(), Nok::from_ore(100));
        assert!(!summary.is_incomplete());
    }

    #[test]
    fn missing_optional_fields_are_absent_not_errors() {
        let summary = summary(
            r#"{"ssn": "14842249091",
                "loans": [
                  {"creditorName": "BARE RAMME", "loan": {"type": "creditFacility"}},
                  {"creditorName": "BARE LÅN", "loan": {"type": "repaymentLoan"}},
                  {"creditorName": "BARE KORT", "loan": {"type": "chargeCard"}},
                  {"loan": {"type": "chargeCard", "nonInterestBearingBalance": 7}}
                ]}"#,
        )
        .unwrap();
        assert_eq!(summary.creditors_answered, 0);
        assert_eq!(summary.creditors_missing, 0);
        let (_, facility) = summary.credit_facilities()[0];
        assert_eq!(facility.credit_limit, None);
        assert_eq!(facility.co_borrower, CoBorrower::Unknown);
        assert_eq!(facility.timestamp, None);
        let (_, repayment) = summary.repayment_loans()[0];
        assert_eq!(repayment.balance, None);
        assert_eq!(repayment.terms, None);
        assert_eq!(summary.loans[3].creditor, "");
        assert_eq!(summary.total_debt(), Nok::from_ore(7));
    }

    #[test]
    fn an_answer_without_loans_owes_nothing() {
        let summary = summary(
            r#"{"ssn": "14842249091", "loans": [], "numberOfCreditorsAnswered": 0, "numberOfcreditorsMissing": 0}"#,
        )
        .unwrap();
        assert!(summary.loans.is_empty());
        assert_eq!(summary.total_debt(), Nok::ZERO);
        let with_null_list = self::summary(r#"{"ssn": "14842249091", "loans": null}"#).unwrap();
        assert!(with_null_list.loans.is_empty());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let summary = summary(
            r#"{"ssn": "14842249091", "newTopLevel": {"x": 1},
                "loans": [{"creditorName": "A", "extra": true,
                           "loan": {"type": "chargeCard", "interestBearingBalance": 1, "currency": "NOK"}}],
                "consent": {"exp": 1785312537, "id": "c", "scope": "debt.unsecured.processing", "aud": "x"}}"#,
        )
        .unwrap();
        assert_eq!(summary.total_debt(), Nok::from_ore(1));
        assert_eq!(summary.consent.unwrap().purpose, Some(Purpose::Processing));
    }

    #[test]
    fn totals_are_computed_from_a_mixed_answer() {
        let summary = summary(
            r#"{"ssn": "14842249091",
                "loans": [
                  {"creditorName": "RAMME BANK", "loan": {"type": "creditFacility", "timestamp": "2018-02-05T12:54:12Z",
                    "coBorrower": 0, "creditLimit": 1200000, "interestBearingBalance": 123100,
                    "nonInterestBearingBalance": 1453900, "nominalInterestRate": 1000,
                    "installmentCharges": 10000, "installmentChargePeriod": "MONTHLY"}},
                  {"creditorName": "LÅN BANK", "loan": {"type": "repaymentLoan", "timestamp": "2018-02-05T12:54:12Z",
                    "coBorrower": 1, "originalBalance": 1200000, "balance": 123100, "terms": 3,
                    "nominalInterestRate": 1020, "installmentCharges": 10000, "installmentChargePeriod": "HALF-YEARLY"}},
                  {"creditorName": "KORT BANK", "loan": {"type": "chargeCard", "coBorrower": 1,
                    "interestBearingBalance": 123100, "nonInterestBearingBalance": 145390}},
                  {"creditorName": "RAMME TO", "loan": {"type": "creditFacility", "creditLimit": 500000}},
                  {"creditorName": "TREG", "loan": null}
                ],
                "numberOfCreditorsAnswered": 4, "numberOfcreditorsMissing": 1}"#,
        )
        .unwrap();
        // 15 770,00 + 1 231,00 + 2 684,90
        assert_eq!(
            summary.total_debt(),
            Nok::from_ore(123_100 + 1_453_900 + 123_100 + 123_100 + 145_390)
        );
        assert_eq!(summary.total_debt().to_string(), "19\u{a0}685,90\u{a0}kr");
        assert_eq!(summary.total_credit_limit(), Nok::from_ore(1_700_000));
        let (_, repayment) = summary.repayment_loans()[0];
        assert_eq!(repayment.terms, Some(3));
        assert_eq!(repayment.co_borrower, CoBorrower::IsCoBorrower);
        assert_eq!(
            repayment.installment_charge_period,
            Some(ChargePeriod::HalfYearly)
        );
        assert_eq!(
            repayment.nominal_interest_rate.unwrap().to_string(),
            "10,20\u{a0}%"
        );
        let (_, facility) = summary.credit_facilities()[0];
        assert_eq!(facility.co_borrower, CoBorrower::None);
        assert_eq!(
            facility.installment_charge_period,
            Some(ChargePeriod::Monthly)
        );
        assert!(summary.is_incomplete());
    }

    #[test]
    fn a_converted_summary_survives_a_session_round_trip() {
        let summary = summary(README_EXAMPLE).unwrap();
        let json = serde_json::to_string(&summary).unwrap();
        assert_eq!(serde_json::from_str::<DebtSummary>(&json).unwrap(), summary);
    }

    #[test]
    fn a_missing_ssn_is_refused() {
        assert_eq!(
            summary(r#"{"loans": []}"#),
            Err(DebtInformationError::MissingSsn)
        );
    }

    #[test]
    fn an_invalid_ssn_is_refused() {
        assert_eq!(
            summary(r#"{"ssn": "01017012345"}"#),
            Err(DebtInformationError::InvalidSsn(NinError::CheckDigits))
        );
    }

    #[test]
    fn a_negative_count_is_refused() {
        assert_eq!(
            summary(r#"{"ssn": "14842249091", "numberOfcreditorsMissing": -1}"#),
            Err(DebtInformationError::InvalidCount {
                field: "numberOfcreditorsMissing",
                value: -1
            })
        );
        assert!(summary(r#"{"ssn": "14842249091", "numberOfCreditorsAnswered": -3}"#).is_err());
    }

    #[test]
    fn a_consent_scope_that_is_not_a_debt_scope_is_refused() {
        assert_eq!(
            summary(
                r#"{"ssn": "14842249091", "consent": {"exp": 1, "id": "c", "scope": "openid"}}"#
            ),
            Err(DebtInformationError::UnknownConsentScope("openid".into()))
        );
    }

    #[test]
    fn a_consent_scope_with_a_duration_suffix_still_names_its_purpose() {
        let summary = summary(
            r#"{"ssn": "14842249091", "consent": {"exp": 1, "id": "c", "scope": "debt.unsecured.processing.28"}}"#,
        )
        .unwrap();
        assert_eq!(summary.consent.unwrap().purpose, Some(Purpose::Processing));
    }

    #[test]
    fn a_consent_without_scope_has_no_purpose() {
        let summary =
            summary(r#"{"ssn": "14842249091", "consent": {"exp": 1, "id": "c"}}"#).unwrap();
        assert_eq!(summary.consent.unwrap().purpose, None);
    }

    #[test]
    fn a_consent_without_id_or_expiry_or_with_an_impossible_expiry_is_refused() {
        assert_eq!(
            summary(r#"{"ssn": "14842249091", "consent": {"exp": 1}}"#),
            Err(DebtInformationError::ConsentWithoutId)
        );
        assert_eq!(
            summary(r#"{"ssn": "14842249091", "consent": {"id": "c"}}"#),
            Err(DebtInformationError::ConsentWithoutExpiry)
        );
        assert_eq!(
            summary(
                r#"{"ssn": "14842249091", "consent": {"id": "c", "exp": 9223372036854775807}}"#
            ),
            Err(DebtInformationError::InvalidConsentExpiry(i64::MAX))
        );
    }

    #[test]
    fn a_bad_loan_timestamp_is_treated_as_absent() {
        let summary = summary(
            r#"{"ssn": "14842249091", "loans": [{"creditorName": "A",
                "loan": {"type": "chargeCard", "timestamp": "yesterday", "interestBearingBalance": 5}}]}"#,
        )
        .unwrap();
        assert_eq!(summary.loans[0].loan.timestamp(), None);
        assert_eq!(summary.total_debt(), Nok::from_ore(5));
    }

    #[test]
    fn odd_codes_become_unknown_or_absent() {
        let summary = summary(
            r#"{"ssn": "14842249091", "loans": [{"creditorName": "A",
                "loan": {"type": "repaymentLoan", "coBorrower": 7, "terms": -2,
                         "installmentChargePeriod": "WEEKLY", "balance": 1}}]}"#,
        )
        .unwrap();
        let (_, loan) = summary.repayment_loans()[0];
        assert_eq!(loan.co_borrower, CoBorrower::Unknown);
        assert_eq!(loan.terms, None);
        assert_eq!(loan.installment_charge_period, None);
    }

    #[test]
    fn an_amount_of_the_wrong_json_type_fails_the_answer() {
        let result = serde_json::from_str::<DebtInformation>(
            r#"{"ssn": "14842249091", "loans": [{"creditorName": "A",
                "loan": {"type": "chargeCard", "interestBearingBalance": "100"}}]}"#,
        );
        assert!(result.is_err());
        let result = serde_json::from_str::<DebtInformation>(
            r#"{"ssn": "14842249091", "loans": [{"creditorName": "A", "loan": 3}]}"#,
        );
        assert!(result.is_err());
    }

    #[test]
    fn debug_of_the_wire_answer_hides_the_ssn() {
        let answer: DebtInformation = serde_json::from_str(README_EXAMPLE).unwrap();
        let shown = format!("{answer:?}");
        assert!(!shown.contains("14842249091"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn ngi_error_bodies_parse_with_any_field_missing() {
        let full: ErrorBody = serde_json::from_str(
            r#"{"error": "no valid consent", "error_description": "Consent already used",
                "timestamp": "2021-02-26T09:27:47.852005Z", "trace_id": "06ce1bf6", "status": 403}"#,
        )
        .unwrap();
        assert_eq!(full.error.as_deref(), Some("no valid consent"));
        assert_eq!(
            full.to_string(),
            "no valid consent: Consent already used (trace id 06ce1bf6)"
        );
        let empty: ErrorBody = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, ErrorBody::default());
        assert_eq!(empty.to_string(), "unspecified error");
    }
}
