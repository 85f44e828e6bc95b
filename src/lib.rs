//! ngi-consent: a person's consent at Norsk Gjeldsinformasjon (NGI) through the OAuth 2.0
//! authorization-code flow, and their unsecured debt shown to them.
//!
//! A guided tour, in the direction data flows (web → flow → ngi → domain):

/// The command line: its arguments and what each subcommand runs (the binary calls `cli::main`).
pub mod cli;
/// Settings from flags and the environment, validated at start-up, secrets redacted.
pub mod config;
/// Using a consent that lasts: the debt again, its status, its revocation (retried).
pub mod consents;
/// The person's debt as they read it: kroner, rates, national identity numbers, scopes.
pub mod domain;
/// `AppError`: each error a status and a page in the person's language.
pub mod error;
/// The consent-feed follower: NGI telling us of consents made and ended.
pub mod feed;
/// The consent flow's rules: pending authorizations, callbacks, completing a flow.
pub mod flow;
/// Norwegian bokmål and English texts, and choosing between them.
pub mod i18n;
/// HMAC-SHA256 with keys of any length, for the keys derived from the site's secrets.
pub mod keyed;
/// The consents this site holds (SQLite or PostgreSQL): statuses and their history.
pub mod ledger;
/// Prometheus metrics: flows, callbacks by outcome, NGI latency and errors.
pub mod metrics;
/// The NGI client (authorization URL, code exchange, debt API) and NGI's wire format.
pub mod ngi;
/// Every route path, in one place.
pub mod paths;
/// Where sessions live (memory or Redis), sealed at rest, with the record of used states and a
/// typed owner for each session key.
pub mod session;
/// An NGI look-alike (authorization server and debt API) for the demo and the tests.
pub use ngi_simulator as simulator;
/// `Application`: bind, wire the router and its layers, serve until stopped.
pub mod startup;
/// The log subscriber.
pub mod telemetry;
/// The HTTP edge: routers per feature, page context, sessions, security headers, pages.
pub mod web;
