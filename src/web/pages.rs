//! The askama page structs. Each renders `templates/<name>.html`, which extends `base.html`;
//! askama escapes every value, so nothing NGI or a URL sends can become markup.

use askama::Template;
use axum::response::Html;

use jiff::Timestamp;

use crate::domain::debt::{ChargePeriod, CoBorrower, DebtSummary};
use crate::domain::money::{Nok, Rate};
use crate::domain::scope::{ConsentScope, Purpose};
use crate::domain::time;
use crate::error::{AppError, ErrorKind};
use crate::i18n::{Lang, Texts};
use crate::paths;

/// What every page shares: language, texts, the language switch, the demo banner, request id.
pub struct Chrome {
    pub lang: &'static str,
    pub t: &'static Texts,
    pub switch_href: String,
    pub switch_lang: &'static str,
    pub simulated: bool,
    pub request_id: String,
}

impl Chrome {
    pub fn new(lang: Lang, simulated: bool, switch_path: &'static str, request_id: &str) -> Self {
        let other = lang.other();
        Self {
            lang: lang.code(),
            t: lang.texts(),
            switch_href: format!("{switch_path}?lang={}", other.code()),
            switch_lang: other.code(),
            simulated,
            request_id: request_id.to_owned(),
        }
    }
}

/// Renders a page, turning a template failure into the generic error page.
pub fn render<T: Template>(page: &T) -> Result<Html<String>, AppError> {
    page.render()
        .map(Html)
        .map_err(|e| AppError::caused_by(ErrorKind::Internal, "template", e))
}

/// `GET /`: the loan-application step that asks for consent.
#[derive(Template)]
#[template(path = "landing.html")]
pub struct LandingPage {
    pub chrome: Chrome,
    pub purpose_text: &'static str,
    pub days: Option<u16>,
    pub nin_invalid: bool,
    pub start_action: &'static str,
}

impl LandingPage {
    /// `chrome`: the page context's, for [`paths::LANDING`].
    pub fn new(chrome: Chrome, scope: &ConsentScope, nin_invalid: bool) -> Self {
        let purpose_text = purpose_text(chrome.t, scope.purpose());
        Self {
            chrome,
            purpose_text,
            days: scope.days(),
            nin_invalid,
            start_action: paths::CONSENT_START,
        }
    }
}

pub fn purpose_text(t: &'static Texts, purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Presentation => t.purpose_presentation,
        Purpose::Processing => t.purpose_processing,
    }
}

/// Any error: what happened, what to do, and the reference that finds the log line.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub title: &'static str,
    pub body: &'static str,
    pub action_label: &'static str,
    pub action_href: &'static str,
}

impl ErrorPage {
    /// `chrome`: the page context's; its language switch leads to [`paths::LANDING`].
    pub fn new(chrome: Chrome, kind: ErrorKind) -> Self {
        let text = kind.text(chrome.t);
        let action_label = if kind.offers_restart() {
            chrome.t.action_start_again
        } else {
            chrome.t.action_home
        };
        Self {
            chrome,
            title: text.title,
            body: text.body,
            action_label,
            action_href: paths::LANDING,
        }
    }
}

/// `GET /debt`: the fetched debt, as a person reads it. Every figure is formatted here, once,
/// so the template only lays out text.
#[derive(Template)]
#[template(path = "debt.html")]
pub struct DebtPage {
    pub chrome: Chrome,
    pub masked_nin: String,
    pub total_debt: String,
    pub total_credit_limit: String,
    pub creditors_answered: u32,
    pub incomplete: bool,
    pub has_loans: bool,
    pub sections: Vec<LoanSection>,
    pub unknown: Vec<LoanCard>,
    pub unanswered: Vec<String>,
    pub consent: Option<ConsentView>,
    pub restart_href: &'static str,
    pub end_action: &'static str,
    /// The withdrawal form's action, when the consent shown can be withdrawn here.
    pub withdraw_action: Option<&'static str>,
}

/// One loan type: its heading and one table per loan.
pub struct LoanSection {
    pub id: &'static str,
    pub title: &'static str,
    pub loans: Vec<LoanCard>,
}

/// One loan: the creditor as caption, then label and value rows.
pub struct LoanCard {
    pub creditor: String,
    pub rows: Vec<(&'static str, String)>,
}

pub struct ConsentView {
    pub purpose: &'static str,
    pub expires: String,
}

impl DebtPage {
    /// `chrome`: the page context's, for [`paths::DEBT`].
    pub fn new(chrome: Chrome, debt: &DebtSummary) -> Self {
        let t = chrome.t;
        let money = |v: Option<Nok>| v.map_or_else(|| t.not_reported.to_owned(), |n| n.to_string());
        let rate = |v: Option<Rate>| v.map_or_else(|| t.not_reported.to_owned(), |r| r.to_string());
        let when = |v: Option<Timestamp>| {
            v.map_or_else(|| t.not_reported.to_owned(), time::oslo_date_time)
        };
        let period = |v: Option<ChargePeriod>| match v {
            Some(ChargePeriod::Monthly) => t.period_monthly.to_owned(),
            Some(ChargePeriod::Quarterly) => t.period_quarterly.to_owned(),
            Some(ChargePeriod::HalfYearly) => t.period_half_yearly.to_owned(),
            Some(ChargePeriod::Yearly) => t.period_yearly.to_owned(),
            None => t.not_reported.to_owned(),
        };
        let co_borrower = |v: CoBorrower| {
            match v {
                CoBorrower::None => t.co_borrower_none,
                CoBorrower::HasCoBorrower => t.co_borrower_has,
                CoBorrower::IsCoBorrower => t.co_borrower_is,
                CoBorrower::Unknown => t.co_borrower_unknown,
            }
            .to_owned()
        };

        // The rows every loan type shares after its amounts: interest and fees where the type
        // has them, then who shares the loan and how fresh the data is.
        let fees = |rate_bp: Option<Rate>, charges: Option<Nok>, every: Option<ChargePeriod>| {
            [
                (t.field_rate, rate(rate_bp)),
                (t.field_charges, money(charges)),
                (t.field_charge_period, period(every)),
            ]
        };
        let about = |who: CoBorrower, at: Option<Timestamp>| {
            [
                (t.field_co_borrower, co_borrower(who)),
                (t.field_timestamp, when(at)),
            ]
        };
        let card = |creditor: &str, rows: Vec<(&'static str, String)>| LoanCard {
            creditor: creditor.to_owned(),
            rows,
        };

        let facilities = debt
            .credit_facilities()
            .into_iter()
            .map(|(creditor, loan)| {
                let mut rows = vec![
                    (t.field_credit_limit, money(loan.credit_limit)),
                    (
                        t.field_interest_bearing,
                        money(loan.interest_bearing_balance),
                    ),
                    (
                        t.field_non_interest_bearing,
                        money(loan.non_interest_bearing_balance),
                    ),
                    (t.field_loan_total, loan.total().to_string()),
                ];
                rows.extend(fees(
                    loan.nominal_interest_rate,
                    loan.installment_charges,
                    loan.installment_charge_period,
                ));
                rows.extend(about(loan.co_borrower, loan.timestamp));
                card(creditor, rows)
            })
            .collect();
        let repayment = debt
            .repayment_loans()
            .into_iter()
            .map(|(creditor, loan)| {
                let remaining = loan.terms.map_or_else(
                    || t.not_reported.to_owned(),
                    |n| format!("{n} {}", t.field_terms_unit),
                );
                let mut rows = vec![
                    (t.field_original_balance, money(loan.original_balance)),
                    (t.field_balance, money(loan.balance)),
                    (t.field_terms, remaining),
                ];
                rows.extend(fees(
                    loan.nominal_interest_rate,
                    loan.installment_charges,
                    loan.installment_charge_period,
                ));
                rows.extend(about(loan.co_borrower, loan.timestamp));
                card(creditor, rows)
            })
            .collect();
        let cards = debt
            .charge_cards()
            .into_iter()
            .map(|(creditor, loan)| {
                let mut rows = vec![
                    (
                        t.field_interest_bearing,
                        money(loan.interest_bearing_balance),
                    ),
                    (
                        t.field_non_interest_bearing,
                        money(loan.non_interest_bearing_balance),
                    ),
                    (t.field_loan_total, loan.total().to_string()),
                ];
                rows.extend(about(loan.co_borrower, loan.timestamp));
                card(creditor, rows)
            })
            .collect();
        let sections: Vec<LoanSection> = [
            ("credit-facilities", t.credit_facilities, facilities),
            ("repayment-loans", t.repayment_loans, repayment),
            ("charge-cards", t.charge_cards, cards),
        ]
        .into_iter()
        .filter(|(_, _, loans): &(_, _, Vec<LoanCard>)| !loans.is_empty())
        .map(|(id, title, loans)| LoanSection { id, title, loans })
        .collect();
        let unknown = debt
            .unknown_loans()
            .into_iter()
            .map(|(creditor, kind)| card(creditor, vec![(t.unknown_loan_type, kind.to_owned())]))
            .collect::<Vec<_>>();
        let consent = debt.consent.as_ref().map(|c| ConsentView {
            purpose: c.purpose.map_or(t.not_reported, |p| purpose_text(t, p)),
            expires: time::oslo_date_time(c.expires_at),
        });
        Self {
            masked_nin: debt.ssn.masked(),
            total_debt: debt.total_debt().to_string(),
            total_credit_limit: debt.total_credit_limit().to_string(),
            creditors_answered: debt.creditors_answered,
            incomplete: debt.is_incomplete(),
            has_loans: !debt.loans.is_empty(),
            sections,
            unknown,
            unanswered: debt
                .unanswered_creditors()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            consent,
            restart_href: paths::LANDING,
            end_action: paths::SESSION_END,
            withdraw_action: None,
            chrome,
        }
    }

    /// Offers "Withdraw consent" for the consent shown.
    pub fn with_withdrawal(mut self) -> Self {
        self.withdraw_action = Some(paths::CONSENT_WITHDRAW);
        self
    }
}

/// `POST /consent/withdraw`: what became of the withdrawal.
#[derive(Template)]
#[template(path = "withdrawn.html")]
pub struct WithdrawnPage {
    pub chrome: Chrome,
    /// `withdrawn`, `ended` or `pending`, for the page's class (and tests).
    pub outcome: &'static str,
    pub title: &'static str,
    pub body: &'static str,
    /// Offered again while NGI has not confirmed.
    pub retry_action: Option<&'static str>,
    pub home_href: &'static str,
}
