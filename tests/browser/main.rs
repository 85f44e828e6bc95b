//! Browser tests: headless Chromium through chromedriver, with axe-core
//! accessibility checks. See `harness.rs` for the API and its environment
//! variables. Without chromium/chromedriver these tests print `SKIPPED: …`
//! and pass, unless `NGI_REQUIRE_BROWSER=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod console;
mod flow;
mod harness;
mod harness_selftest;
mod reflow;
