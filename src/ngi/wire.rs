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
mod tests;
