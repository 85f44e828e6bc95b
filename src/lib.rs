//! ngi-consent

pub mod domain;
pub mod ngi;
pub mod simulator;
