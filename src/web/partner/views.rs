//! What the partner API answers with: a consent as the ledger holds it, and the debt in the
//! domain's shape (amounts in øre, rates in basis points, kinds named), with the identity number
//! masked, and the consent feed's state. Built from domain types; nothing here reads NGI's wire
//! format.

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::consent::ConsentId;
use crate::domain::debt::{ChargePeriod, CoBorrower, DebtSummary, Loan};
use crate::domain::money::{Nok, Rate};
use crate::domain::scope::Purpose;
use crate::ledger::{Change, Consent, ConsentPage, FeedEventRecord};
use crate::web::partner::feed::FeedSnapshot;

/// A consent the site holds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Consent)]
pub struct ConsentView {
    /// NGI's consent id; `null` while an integrated consent is registering (or was refused).
    #[schema(example = "3b1f0d2e-8c5a-4f3e-9a61-0c7d2b5e9f10")]
    pub id: Option<String>,
    /// The partner's reference: the application a start link was made for, or an integrated
    /// consent's `client_consent_id`.
    #[schema(example = "APP-1")]
    pub reference: Option<String>,
    /// `redirect` (given at NGI) or `integrated` (registered by the partner).
    #[schema(example = "redirect")]
    pub source: &'static str,
    /// `presentation` or `processing`.
    #[schema(example = "presentation")]
    pub purpose: &'static str,
    /// `null`: single use.
    pub duration_days: Option<u16>,
    /// `registering`, `active`, `used`, `revoking`, `revoked`, `ended_at_ngi`, `refused` or
    /// `expired` (an active consent past its expiry).
    #[schema(example = "active")]
    pub status: &'static str,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// The identity number's birth-date part; the rest is never stored. `null` for a consent
    /// known only from NGI's consent feed, which carries no identity number.
    #[schema(example = "148422*****")]
    pub nin_masked: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Every status change, oldest first (empty in a listing).
    pub history: Vec<ChangeView>,
}

/// One status change.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatusChange)]
pub struct ChangeView {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// `null` for the first status.
    pub from: Option<&'static str>,
    pub to: &'static str,
    pub reason: String,
}

impl ConsentView {
    /// The consent as read at `now` (an active one past its expiry is `expired`).
    pub fn new(consent: &Consent, now: Timestamp) -> Self {
        Self {
            id: consent.id.as_ref().map(|id| id.as_str().to_owned()),
            reference: consent.reference.clone(),
            source: consent.source.as_str(),
            purpose: purpose_name(consent.purpose),
            duration_days: consent.duration_days,
            status: consent.status_at(now).as_str(),
            expires_at: consent.expires_at,
            nin_masked: (!consent.nin_masked.is_empty()).then(|| consent.nin_masked.clone()),
            created_at: consent.created_at,
            history: consent.history.iter().map(ChangeView::new).collect(),
        }
    }
}

impl ChangeView {
    fn new(change: &Change) -> Self {
        Self {
            at: change.at,
            from: change.from.map(|s| s.as_str()),
            to: change.to.as_str(),
            reason: change.reason.clone(),
        }
    }
}

/// The name a purpose has in the partner API.
pub fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Presentation => "presentation",
        Purpose::Processing => "processing",
    }
}

/// One page of consents, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ConsentList)]
pub struct ConsentListView {
    pub consents: Vec<ConsentView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

impl ConsentListView {
    pub fn new(page: &ConsentPage, next: Option<String>, now: Timestamp) -> Self {
        Self {
            consents: page
                .consents
                .iter()
                .map(|c| ConsentView::new(c, now))
                .collect(),
            next,
        }
    }
}

/// The debt under a consent, fetched from NGI just now and not kept.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Debt)]
pub struct DebtView {
    pub consent_id: String,
    #[schema(example = "148422*****")]
    pub nin_masked: String,
    pub creditors_answered: u32,
    /// More than 0: the list is incomplete.
    pub creditors_missing: u32,
    /// Everything owed across the known loans, in øre.
    pub total_debt_ore: i64,
    /// The credit limits of the credit facilities, in øre.
    pub total_credit_limit_ore: i64,
    /// In NGI's order.
    pub loans: Vec<LoanView>,
}

/// One creditor's loan; `type` names the kind. Amounts are in øre, rates in basis points
/// (1 % = 100); a value NGI left out is `null`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = Loan)]
pub enum LoanView {
    CreditFacility {
        creditor: String,
        #[schema(value_type = Option<String>, format = DateTime)]
        reported_at: Option<Timestamp>,
        co_borrower: &'static str,
        credit_limit_ore: Option<i64>,
        interest_bearing_balance_ore: Option<i64>,
        non_interest_bearing_balance_ore: Option<i64>,
        nominal_interest_rate_bp: Option<i64>,
        installment_charges_ore: Option<i64>,
        installment_charge_period: Option<&'static str>,
    },
    RepaymentLoan {
        creditor: String,
        #[schema(value_type = Option<String>, format = DateTime)]
        reported_at: Option<Timestamp>,
        co_borrower: &'static str,
        original_balance_ore: Option<i64>,
        balance_ore: Option<i64>,
        terms_months: Option<u32>,
        nominal_interest_rate_bp: Option<i64>,
        installment_charges_ore: Option<i64>,
        installment_charge_period: Option<&'static str>,
    },
    ChargeCard {
        creditor: String,
        #[schema(value_type = Option<String>, format = DateTime)]
        reported_at: Option<Timestamp>,
        co_borrower: &'static str,
        interest_bearing_balance_ore: Option<i64>,
        non_interest_bearing_balance_ore: Option<i64>,
    },
    /// A kind this version does not know: NGI's own name for it.
    Unknown { creditor: String, ngi_type: String },
    /// The creditor did not answer in time.
    NotAnswered { creditor: String },
}

impl DebtView {
    pub fn new(consent_id: &ConsentId, summary: &DebtSummary) -> Self {
        Self {
            consent_id: consent_id.as_str().to_owned(),
            nin_masked: summary.ssn.masked(),
            creditors_answered: summary.creditors_answered,
            creditors_missing: summary.creditors_missing,
            total_debt_ore: summary.total_debt().ore(),
            total_credit_limit_ore: summary.total_credit_limit().ore(),
            loans: summary
                .loans
                .iter()
                .map(|l| LoanView::new(&l.creditor, &l.loan))
                .collect(),
        }
    }
}

impl LoanView {
    fn new(creditor: &str, loan: &Loan) -> Self {
        let creditor = creditor.to_owned();
        match loan {
            Loan::CreditFacility(f) => LoanView::CreditFacility {
                creditor,
                reported_at: f.timestamp,
                co_borrower: co_borrower_name(f.co_borrower),
                credit_limit_ore: ore(f.credit_limit),
                interest_bearing_balance_ore: ore(f.interest_bearing_balance),
                non_interest_bearing_balance_ore: ore(f.non_interest_bearing_balance),
                nominal_interest_rate_bp: bp(f.nominal_interest_rate),
                installment_charges_ore: ore(f.installment_charges),
                installment_charge_period: f.installment_charge_period.map(period_name),
            },
            Loan::RepaymentLoan(r) => LoanView::RepaymentLoan {
                creditor,
                reported_at: r.timestamp,
                co_borrower: co_borrower_name(r.co_borrower),
                original_balance_ore: ore(r.original_balance),
                balance_ore: ore(r.balance),
                terms_months: r.terms,
                nominal_interest_rate_bp: bp(r.nominal_interest_rate),
                installment_charges_ore: ore(r.installment_charges),
                installment_charge_period: r.installment_charge_period.map(period_name),
            },
            Loan::ChargeCard(c) => LoanView::ChargeCard {
                creditor,
                reported_at: c.timestamp,
                co_borrower: co_borrower_name(c.co_borrower),
                interest_bearing_balance_ore: ore(c.interest_bearing_balance),
                non_interest_bearing_balance_ore: ore(c.non_interest_bearing_balance),
            },
            Loan::Unknown { kind } => LoanView::Unknown {
                creditor,
                ngi_type: kind.clone(),
            },
            Loan::NotAnswered => LoanView::NotAnswered { creditor },
        }
    }
}

fn ore(amount: Option<Nok>) -> Option<i64> {
    amount.map(Nok::ore)
}

fn bp(rate: Option<Rate>) -> Option<i64> {
    rate.map(Rate::basis_points)
}

fn co_borrower_name(co_borrower: CoBorrower) -> &'static str {
    match co_borrower {
        CoBorrower::None => "none",
        CoBorrower::HasCoBorrower => "has_co_borrower",
        CoBorrower::IsCoBorrower => "is_co_borrower",
        CoBorrower::Unknown => "unknown",
    }
}

fn period_name(period: ChargePeriod) -> &'static str {
    match period {
        ChargePeriod::Monthly => "monthly",
        ChargePeriod::Quarterly => "quarterly",
        ChargePeriod::HalfYearly => "half_yearly",
        ChargePeriod::Yearly => "yearly",
    }
}

/// What this instance's feed follower last did, and the events the ledger recorded last.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FeedState)]
pub struct FeedView {
    /// This instance follows NGI's feed. With several instances on one PostgreSQL only one
    /// does; `false` also before the first poll, or with the follower off (`FEED_POLL_SECS=0`).
    pub leader: bool,
    /// The highest sequence number handled, as this instance's last poll left it.
    pub cursor: Option<i64>,
    /// NGI's `lastSequenceNr`, as this instance's last poll read it.
    pub last_sequence_nr: Option<i64>,
    /// `last_sequence_nr` less `cursor`: how many sequence numbers are still to read.
    pub lag: Option<i64>,
    /// When the last poll finished, well or not; `null` before the first.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_poll_at: Option<Timestamp>,
    /// Why the last poll failed (its chain of causes, long numbers masked); `null` after one
    /// that went well.
    pub last_error: Option<String>,
    /// The last events recorded (at most 50), newest first: highest sequence number first.
    pub events: Vec<FeedEventView>,
}

/// One event of NGI's consent feed, as first received.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FeedEvent)]
pub struct FeedEventView {
    pub sequence_nr: i64,
    pub event_id: String,
    /// NGI's consent id the event acts on (an opaque id, not a person's number).
    pub consent_id: String,
    /// NGI's name for the type: `SAMTYKKE_OPPRETTET`, `SAMTYKKE_ARKIVERT`, or one not known here.
    #[serde(rename = "type")]
    #[schema(example = "SAMTYKKE_ARKIVERT")]
    pub event_type: String,
    /// When it happened at NGI (it does not follow the sequence).
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Timestamp,
    /// When this site received it.
    #[schema(value_type = String, format = DateTime)]
    pub received_at: Timestamp,
    /// What it did to the ledger: `applied`, `confirmed`, `unchanged`, `tombstoned`,
    /// `recorded` (a consent the site had not recorded, made from the event) or `skipped`.
    #[schema(example = "applied")]
    pub outcome: &'static str,
}

impl FeedView {
    pub fn new(snapshot: &FeedSnapshot) -> Self {
        let state = &snapshot.state;
        Self {
            leader: state.leader,
            cursor: state.cursor,
            last_sequence_nr: state.last_sequence_nr,
            lag: state.lag(),
            last_poll_at: state.last_poll_at,
            last_error: state.last_error.clone(),
            events: snapshot.events.iter().map(FeedEventView::new).collect(),
        }
    }
}

impl FeedEventView {
    fn new(event: &FeedEventRecord) -> Self {
        Self {
            sequence_nr: event.sequence_nr,
            event_id: event.event_id.clone(),
            consent_id: event.consent_id.as_str().to_owned(),
            event_type: crate::domain::nin::mask_long_numbers(&event.event_type),
            timestamp: event.timestamp,
            received_at: event.received_at,
            outcome: event.outcome.label(),
        }
    }
}
