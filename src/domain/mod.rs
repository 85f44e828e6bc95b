//! What a person reads: NGI's numbers turned into checked types. Depends on nothing else in the crate.

/// A consent's id, source and status, and the status changes allowed.
pub mod consent;
/// A person's debt as NGI reported it (`DebtSummary`, the loan kinds) and its totals.
pub mod debt;
/// `Nok` (whole øre, never a float) and `Rate` (basis points), formatted for nb-NO.
pub mod money;
/// `Nin`, the national identity number: mod-11 checked, masked in `Debug` and `Display`.
pub mod nin;
/// `Reference`: a partner's name for an application or a consent, checked.
pub mod reference;
/// `Purpose` and `ConsentScope`: the debt scope (and duration) asked of NGI.
pub mod scope;
/// Instants shown in Europe/Oslo time: `03.11.2022 kl. 14:05`.
pub mod time;

pub use debt::{
    ChargeCard, ChargePeriod, CoBorrower, ConsentInfo, CreditFacility, CreditorLoan, DebtSummary,
    Loan, RepaymentLoan,
};
pub use money::{Nok, Rate};
pub use nin::{Nin, NinError};
pub use scope::{ConsentScope, Purpose, ScopeError};
