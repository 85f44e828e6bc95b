//! A person's unsecured debt as NGI reported it, and the totals the debt page shows.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::money::{Nok, Rate};
use super::nin::Nin;
use super::scope::Purpose;

/// Everything NGI answered for one consent, in NGI's order, ready to show.
///
/// Kept in the server-side session for a short time, hence `Serialize`/`Deserialize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DebtSummary {
    /// The person the answer is about (NGI's `ssn`).
    pub ssn: Nin,
    /// One entry per loan, in NGI's order; unanswered creditors appear as [`Loan::NotAnswered`].
    pub loans: Vec<CreditorLoan>,
    /// How many creditors answered.
    pub creditors_answered: u32,
    /// How many creditors did not answer in time; more than zero means the list is incomplete.
    pub creditors_missing: u32,
    /// The consent the data was fetched under, when NGI said.
    pub consent: Option<ConsentInfo>,
}

/// The consent behind an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentInfo {
    /// NGI's consent id (needed to revoke it).
    pub id: String,
    /// When the consent stops being valid.
    pub expires_at: Timestamp,
    /// What it was given for; `None` when NGI did not say.
    pub purpose: Option<Purpose>,
}

impl ConsentInfo {
    /// Whether the consent has not yet expired at `now` (passed in, so tests control the clock).
    /// NGI may still refuse it: a used single-use consent or a revoked one is inactive before expiry.
    pub fn is_unexpired_at(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// One creditor's loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditorLoan {
    /// The creditor's name as NGI gives it (often upper case). Empty if NGI left it out.
    pub creditor: String,
    /// What the creditor reported.
    pub loan: Loan,
}

/// The kinds of unsecured debt NGI reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loan {
    /// Rammekreditt: a credit line with a limit.
    CreditFacility(CreditFacility),
    /// Nedbetalingslån: a loan paid down in instalments.
    RepaymentLoan(RepaymentLoan),
    /// Kortkreditt: a charge or credit card.
    ChargeCard(ChargeCard),
    /// A loan type this version does not know; `kind` is NGI's `type` (empty if it had none).
    Unknown {
        /// NGI's `type` value.
        kind: String,
    },
    /// The creditor did not answer in time (`"loan": null`).
    NotAnswered,
}

impl Loan {
    /// What the person owes on this loan; `None` for unknown and unanswered loans.
    pub fn total(&self) -> Option<Nok> {
        match self {
            Loan::CreditFacility(loan) => Some(loan.total()),
            Loan::RepaymentLoan(loan) => Some(loan.total()),
            Loan::ChargeCard(loan) => Some(loan.total()),
            Loan::Unknown { .. } | Loan::NotAnswered => None,
        }
    }

    /// When the creditor's system produced the figures, if reported.
    pub fn timestamp(&self) -> Option<Timestamp> {
        match self {
            Loan::CreditFacility(loan) => loan.timestamp,
            Loan::RepaymentLoan(loan) => loan.timestamp,
            Loan::ChargeCard(loan) => loan.timestamp,
            Loan::Unknown { .. } | Loan::NotAnswered => None,
        }
    }

    /// The person's role on the loan, where the kind has one.
    pub fn co_borrower(&self) -> Option<CoBorrower> {
        match self {
            Loan::CreditFacility(loan) => Some(loan.co_borrower),
            Loan::RepaymentLoan(loan) => Some(loan.co_borrower),
            Loan::ChargeCard(loan) => Some(loan.co_borrower),
            Loan::Unknown { .. } | Loan::NotAnswered => None,
        }
    }
}

/// Rammekreditt. Amounts NGI left out are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditFacility {
    /// When the creditor's system produced the figures (not the last transaction).
    pub timestamp: Option<Timestamp>,
    /// Whether someone else shares the loan.
    pub co_borrower: CoBorrower,
    /// The maximum credit.
    pub credit_limit: Option<Nok>,
    /// Balance that bears interest.
    pub interest_bearing_balance: Option<Nok>,
    /// Booked balance minus the interest-bearing balance.
    pub non_interest_bearing_balance: Option<Nok>,
    /// Nominal interest rate.
    pub nominal_interest_rate: Option<Rate>,
    /// Fees, reported by NGI per month whatever the period.
    pub installment_charges: Option<Nok>,
    /// How often the creditor charges the fees.
    pub installment_charge_period: Option<ChargePeriod>,
}

impl CreditFacility {
    /// Interest-bearing plus non-interest-bearing balance; a missing part counts as zero.
    pub fn total(&self) -> Nok {
        self.interest_bearing_balance.unwrap_or(Nok::ZERO)
            + self.non_interest_bearing_balance.unwrap_or(Nok::ZERO)
    }
}

/// Nedbetalingslån. Amounts NGI left out are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepaymentLoan {
    /// When the creditor's system produced the figures (not the last transaction).
    pub timestamp: Option<Timestamp>,
    /// Whether someone else shares the loan.
    pub co_borrower: CoBorrower,
    /// The amount when the loan was granted.
    pub original_balance: Option<Nok>,
    /// What is left to pay.
    pub balance: Option<Nok>,
    /// Remaining terms, in months.
    pub terms: Option<u32>,
    /// Nominal interest rate.
    pub nominal_interest_rate: Option<Rate>,
    /// Fees, reported by NGI per month whatever the period.
    pub installment_charges: Option<Nok>,
    /// How often the creditor charges the fees.
    pub installment_charge_period: Option<ChargePeriod>,
}

impl RepaymentLoan {
    /// The balance; zero if NGI left it out.
    pub fn total(&self) -> Nok {
        self.balance.unwrap_or(Nok::ZERO)
    }
}

/// Kortkreditt. Amounts NGI left out are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeCard {
    /// When the creditor's system produced the figures (not the last transaction).
    pub timestamp: Option<Timestamp>,
    /// Whether someone else shares the loan.
    pub co_borrower: CoBorrower,
    /// Balance that bears interest.
    pub interest_bearing_balance: Option<Nok>,
    /// Booked balance minus the interest-bearing balance.
    pub non_interest_bearing_balance: Option<Nok>,
}

impl ChargeCard {
    /// Interest-bearing plus non-interest-bearing balance; a missing part counts as zero.
    pub fn total(&self) -> Nok {
        self.interest_bearing_balance.unwrap_or(Nok::ZERO)
            + self.non_interest_bearing_balance.unwrap_or(Nok::ZERO)
    }
}

/// The person's role on a loan (NGI's `coBorrower`: 2, 1, 0).
///
/// A missing or unrecognised value is [`CoBorrower::Unknown`], not [`CoBorrower::None`]: the
/// absence of data is not a statement that nobody shares the loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CoBorrower {
    /// 0: nobody shares the loan.
    None,
    /// 2: the person has a co-borrower.
    HasCoBorrower,
    /// 1: the person is the co-borrower on someone else's loan.
    IsCoBorrower,
    /// Not reported, or a value NGI does not document.
    Unknown,
}

impl CoBorrower {
    /// From NGI's code; anything but 0, 1, 2 is [`CoBorrower::Unknown`].
    pub const fn from_code(code: i64) -> Self {
        match code {
            0 => CoBorrower::None,
            1 => CoBorrower::IsCoBorrower,
            2 => CoBorrower::HasCoBorrower,
            _ => CoBorrower::Unknown,
        }
    }

    /// A stable key for the web layer's label; `None` for [`CoBorrower::Unknown`] (show nothing).
    pub const fn label_key(self) -> Option<&'static str> {
        match self {
            CoBorrower::None => Some("co_borrower.none"),
            CoBorrower::HasCoBorrower => Some("co_borrower.has"),
            CoBorrower::IsCoBorrower => Some("co_borrower.is"),
            CoBorrower::Unknown => Option::None,
        }
    }
}

/// How often a creditor charges the instalment fees (NGI still reports the amount per month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChargePeriod {
    /// `MONTHLY`
    Monthly,
    /// `QUARTERLY`
    Quarterly,
    /// `HALF-YEARLY`
    HalfYearly,
    /// `YEARLY`
    Yearly,
}

impl ChargePeriod {
    /// From NGI's value (`MONTHLY`, `QUARTERLY`, `HALF-YEARLY`, `YEARLY`); `None` for anything else.
    pub fn from_ngi(value: &str) -> Option<Self> {
        match value {
            "MONTHLY" => Some(ChargePeriod::Monthly),
            "QUARTERLY" => Some(ChargePeriod::Quarterly),
            "HALF-YEARLY" => Some(ChargePeriod::HalfYearly),
            "YEARLY" => Some(ChargePeriod::Yearly),
            _ => None,
        }
    }

    /// A stable key for the web layer's label.
    pub const fn label_key(self) -> &'static str {
        match self {
            ChargePeriod::Monthly => "charge_period.monthly",
            ChargePeriod::Quarterly => "charge_period.quarterly",
            ChargePeriod::HalfYearly => "charge_period.half_yearly",
            ChargePeriod::Yearly => "charge_period.yearly",
        }
    }
}

impl DebtSummary {
    /// Everything owed across the known loans (unknown and unanswered ones cannot be counted).
    pub fn total_debt(&self) -> Nok {
        self.loans.iter().filter_map(|l| l.loan.total()).sum()
    }

    /// The sum of the credit facilities' limits (a missing limit counts as zero).
    pub fn total_credit_limit(&self) -> Nok {
        self.credit_facilities()
            .into_iter()
            .filter_map(|(_, loan)| loan.credit_limit)
            .sum()
    }

    /// Whether some creditor did not answer, so the totals may be too low.
    pub fn is_incomplete(&self) -> bool {
        self.creditors_missing > 0 || self.loans.iter().any(|l| l.loan == Loan::NotAnswered)
    }

    /// The credit facilities with their creditor, in NGI's order.
    pub fn credit_facilities(&self) -> Vec<(&str, &CreditFacility)> {
        self.loans
            .iter()
            .filter_map(|l| match &l.loan {
                Loan::CreditFacility(loan) => Some((l.creditor.as_str(), loan)),
                _ => None,
            })
            .collect()
    }

    /// The repayment loans with their creditor, in NGI's order.
    pub fn repayment_loans(&self) -> Vec<(&str, &RepaymentLoan)> {
        self.loans
            .iter()
            .filter_map(|l| match &l.loan {
                Loan::RepaymentLoan(loan) => Some((l.creditor.as_str(), loan)),
                _ => None,
            })
            .collect()
    }

    /// The charge cards with their creditor, in NGI's order.
    pub fn charge_cards(&self) -> Vec<(&str, &ChargeCard)> {
        self.loans
            .iter()
            .filter_map(|l| match &l.loan {
                Loan::ChargeCard(loan) => Some((l.creditor.as_str(), loan)),
                _ => None,
            })
            .collect()
    }

    /// The creditors whose loan is missing from the answer.
    pub fn unanswered_creditors(&self) -> Vec<&str> {
        self.loans
            .iter()
            .filter(|l| l.loan == Loan::NotAnswered)
            .map(|l| l.creditor.as_str())
            .collect()
    }

    /// Loans of a type this version does not know: `(creditor, NGI's type)`.
    pub fn unknown_loans(&self) -> Vec<(&str, &str)> {
        self.loans
            .iter()
            .filter_map(|l| match &l.loan {
                Loan::Unknown { kind } => Some((l.creditor.as_str(), kind.as_str())),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn nok(ore: i64) -> Option<Nok> {
        Some(Nok::from_ore(ore))
    }

    fn loan(creditor: &str, loan: Loan) -> CreditorLoan {
        CreditorLoan {
            creditor: creditor.to_owned(),
            loan,
        }
    }

    fn mixed() -> DebtSummary {
        DebtSummary {
            ssn: Nin::parse("14842249091").unwrap(),
            loans: vec![
                loan(
                    "RAMME BANK",
                    Loan::CreditFacility(CreditFacility {
                        timestamp: None,
                        co_borrower: CoBorrower::None,
                        credit_limit: nok(5_000_000),
                        interest_bearing_balance: nok(100_000),
                        non_interest_bearing_balance: nok(2_500),
                        nominal_interest_rate: Some(Rate::from_basis_points(2190)),
                        installment_charges: nok(4_500),
                        installment_charge_period: Some(ChargePeriod::Monthly),
                    }),
                ),
                loan(
                    "LÅN AS",
                    Loan::RepaymentLoan(RepaymentLoan {
                        timestamp: Some("2022-11-03T00:00:00Z".parse().unwrap()),
                        co_borrower: CoBorrower::HasCoBorrower,
                        original_balance: nok(20_000_000),
                        balance: nok(12_345_600),
                        terms: Some(48),
                        nominal_interest_rate: Some(Rate::from_basis_points(1020)),
                        installment_charges: None,
                        installment_charge_period: None,
                    }),
                ),
                loan(
                    "KORT AS",
                    Loan::ChargeCard(ChargeCard {
                        timestamp: None,
                        co_borrower: CoBorrower::Unknown,
                        interest_bearing_balance: None,
                        non_interest_bearing_balance: nok(641_000),
                    }),
                ),
                loan(
                    "RAMME TO",
                    Loan::CreditFacility(CreditFacility {
                        timestamp: None,
                        co_borrower: CoBorrower::IsCoBorrower,
                        credit_limit: None,
                        interest_bearing_balance: None,
                        non_interest_bearing_balance: None,
                        nominal_interest_rate: None,
                        installment_charges: None,
                        installment_charge_period: None,
                    }),
                ),
                loan("TREG BANK", Loan::NotAnswered),
                loan(
                    "NY BANK",
                    Loan::Unknown {
                        kind: "buyNowPayLater".into(),
                    },
                ),
            ],
            creditors_answered: 5,
            creditors_missing: 1,
            consent: None,
        }
    }

    #[test]
    fn total_debt_adds_balances_of_known_loans_and_treats_missing_parts_as_zero() {
        let summary = mixed();
        // 1 025,00 + 123 456,00 + 6 410,00 + 0
        assert_eq!(
            summary.total_debt(),
            Nok::from_ore(102_500 + 12_345_600 + 641_000)
        );
    }

    #[test]
    fn total_credit_limit_adds_the_facilities_limits() {
        assert_eq!(mixed().total_credit_limit(), Nok::from_ore(5_000_000));
    }

    #[test]
    fn each_known_loan_has_a_total_and_the_others_have_none() {
        let summary = mixed();
        let totals: Vec<Option<Nok>> = summary.loans.iter().map(|l| l.loan.total()).collect();
        assert_eq!(
            totals,
            [
                nok(102_500),
                nok(12_345_600),
                nok(641_000),
                nok(0),
                None,
                None
            ]
        );
    }

    #[test]
    fn loans_are_grouped_by_kind_in_ngi_order() {
        let summary = mixed();
        let facilities: Vec<&str> = summary
            .credit_facilities()
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(facilities, ["RAMME BANK", "RAMME TO"]);
        assert_eq!(summary.repayment_loans().len(), 1);
        assert_eq!(summary.repayment_loans()[0].1.terms, Some(48));
        assert_eq!(summary.charge_cards()[0].0, "KORT AS");
        assert_eq!(summary.unanswered_creditors(), ["TREG BANK"]);
        assert_eq!(summary.unknown_loans(), [("NY BANK", "buyNowPayLater")]);
    }

    #[test]
    fn an_answer_is_incomplete_when_a_creditor_is_missing_or_a_loan_is_unanswered() {
        let mut summary = mixed();
        assert!(summary.is_incomplete());
        summary.creditors_missing = 0;
        assert!(summary.is_incomplete(), "a null loan alone is enough");
        summary.loans.retain(|l| l.loan != Loan::NotAnswered);
        assert!(!summary.is_incomplete());
        summary.creditors_missing = 2;
        assert!(summary.is_incomplete(), "the count alone is enough");
    }

    #[test]
    fn an_empty_answer_owes_nothing() {
        let mut summary = mixed();
        summary.loans.clear();
        summary.creditors_missing = 0;
        assert_eq!(summary.total_debt(), Nok::ZERO);
        assert_eq!(summary.total_credit_limit(), Nok::ZERO);
        assert!(!summary.is_incomplete());
    }

    #[test]
    fn co_borrower_codes_follow_ngi_and_unknown_has_no_label() {
        assert_eq!(CoBorrower::from_code(0), CoBorrower::None);
        assert_eq!(CoBorrower::from_code(1), CoBorrower::IsCoBorrower);
        assert_eq!(CoBorrower::from_code(2), CoBorrower::HasCoBorrower);
        assert_eq!(CoBorrower::from_code(3), CoBorrower::Unknown);
        assert_eq!(CoBorrower::from_code(-1), CoBorrower::Unknown);
        assert_eq!(CoBorrower::Unknown.label_key(), None);
        assert_eq!(
            CoBorrower::HasCoBorrower.label_key(),
            Some("co_borrower.has")
        );
    }

    #[test]
    fn charge_periods_are_read_from_ngi_values_only() {
        assert_eq!(
            ChargePeriod::from_ngi("HALF-YEARLY"),
            Some(ChargePeriod::HalfYearly)
        );
        assert_eq!(
            ChargePeriod::from_ngi("MONTHLY"),
            Some(ChargePeriod::Monthly)
        );
        assert_eq!(ChargePeriod::from_ngi("monthly"), None);
        assert_eq!(ChargePeriod::from_ngi("WEEKLY"), None);
    }

    #[test]
    fn a_summary_survives_a_session_round_trip() {
        let mut summary = mixed();
        summary.consent = Some(ConsentInfo {
            id: "3649911c-a58a-4b76-9794-edd8c692e84f".into(),
            expires_at: Timestamp::from_second(1_785_312_537).unwrap(),
            purpose: Some(Purpose::Presentation),
        });
        let json = serde_json::to_string(&summary).unwrap();
        let back: DebtSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, summary);
        assert_eq!(back.total_debt(), summary.total_debt());
    }

    #[test]
    fn a_consent_is_unexpired_only_before_its_expiry() {
        let consent = ConsentInfo {
            id: "c".into(),
            expires_at: Timestamp::from_second(1_000).unwrap(),
            purpose: None,
        };
        assert!(consent.is_unexpired_at(Timestamp::from_second(999).unwrap()));
        assert!(!consent.is_unexpired_at(Timestamp::from_second(1_000).unwrap()));
    }

    #[test]
    fn a_session_entry_with_a_tampered_ssn_does_not_deserialize() {
        let json = serde_json::to_string(&mixed())
            .unwrap()
            .replace("14842249091", "14842249092");
        assert!(serde_json::from_str::<DebtSummary>(&json).is_err());
    }
}
