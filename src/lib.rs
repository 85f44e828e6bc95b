//! ngi-consent: consent from Norsk Gjeldsinformasjon (NGI) by OAuth 2.0 redirect, debt shown to the person.

/// NGI look-alike (authorization server, TestID-like login, consent, debt API) that runs on its own port.
pub mod simulator;
