//! HTTP-level tests, one binary: each test gets a fresh simulator and a fresh site on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agreement_calls;
mod callback_errors;
mod client_credentials;
mod consent_calls;
mod debug_output;
mod discovery;
mod feed_calls;
mod feed_crash;
mod feed_follower;
mod feed_leader;
mod feed_view;
mod flow;
mod helpers;
mod hostile;
mod id_token;
mod ledger_flow;
mod lifecycle;
mod operations;
mod pages;
mod partner_consents;
mod partner_console;
mod partner_console_actions;
mod partner_door;
mod redis_faults;
mod session_life;
mod session_store;
mod sessions;
mod signed_links;
mod simulator;
mod startup;
mod upstream_faults;
mod withdraw;
