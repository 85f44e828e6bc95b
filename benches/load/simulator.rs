//! The simulator's routes the bench walks or calls. The library keeps them inside the
//! simulator's router; these are NGI's paths, which the simulator copies.

use ngi_consent::domain::Nin;

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const AUTHORIZE: &str = "/oauth2/auth";
pub const TOKEN: &str = "/oauth2/token";
pub const DEBT: &str = "/v1/debt";
pub const LOGIN: &str = "/testid/login";
pub const CONSENT: &str = "/testid/consent";

/// The simulator's test persons with debt.
const PERSONS_WITH_DEBT: [&str; 2] = ["14842249091", "29868099311"];

/// One of the simulator's test persons with debt, and how the debt page shows them.
#[derive(Clone)]
pub struct Person {
    pub nin: &'static str,
    pub masked: String,
}

/// The persons with debt, masked by the library's own rule (the one the debt page uses).
pub fn persons_with_debt() -> Vec<Person> {
    PERSONS_WITH_DEBT
        .iter()
        .map(|&nin| Person {
            nin,
            masked: Nin::parse(nin).unwrap().masked(),
        })
        .collect()
}
