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
        summary(r#"{"ssn": "14842249091", "consent": {"exp": 1, "id": "c", "scope": "openid"}}"#),
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
    let summary = summary(r#"{"ssn": "14842249091", "consent": {"exp": 1, "id": "c"}}"#).unwrap();
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
        summary(r#"{"ssn": "14842249091", "consent": {"id": "c", "exp": 9223372036854775807}}"#),
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
