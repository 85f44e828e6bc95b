//! ngi-consent: get a person's consent at Norsk Gjeldsinformasjon (NGI) and show them their debt.

/// What a person reads: amounts, rates, identity numbers, scopes and the debt summary.
pub mod domain;
/// Norsk Gjeldsinformasjon: the wire format of its answers.
pub mod ngi;
