//! What a person reads: NGI's numbers turned into checked types. Depends on nothing else in the crate.

/// `Nok` (whole øre, never a float) and `Rate` (basis points), formatted for nb-NO.
pub mod money;
/// `Nin`, the national identity number: mod-11 checked, masked in `Debug` and `Display`.
pub mod nin;
/// `Purpose` and `ConsentScope`: the debt scope (and duration) asked of NGI.
pub mod scope;

pub use money::{Nok, Rate};
pub use nin::{Nin, NinError};
pub use scope::{ConsentScope, Purpose, ScopeError};
