//! What the logs say, and what they never say. A binary of its own: it installs the process's
//! one log subscriber (JSON, as in production, our crate at debug), runs whole flows, and reads
//! every line written. One binary on purpose: the process has one global subscriber, so everything
//! that reads it lives here, in a module per concern (secrets, requests, forging, start_up) over
//! the capturing helpers below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // the flows here use only part of the helpers
#[path = "../api/helpers.rs"]
mod helpers;

mod forging;
mod requests;
mod secrets;
mod start_up;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use helpers::*;
use ngi_consent::config::LogFormat;
use ngi_consent::simulator::{Endpoint, Fault, IdTokenFault};
use serde_json::Value;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        ngi_consent::telemetry::init_with(
            LogFormat::Json,
            ngi_consent::telemetry::filter("info,ngi_consent=debug").unwrap(),
            move || writer.clone(),
        );
        logs
    })
}

fn lines() -> Vec<Value> {
    let bytes = captured().0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// A field of the request span a line was logged in (the line's own span, or any enclosing one).
fn span_field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line["span"]
        .get(name)
        .or_else(|| line["spans"].as_array()?.iter().find_map(|s| s.get(name)))
}

fn text() -> String {
    String::from_utf8(captured().0.lock().unwrap().clone()).unwrap()
}

/// Runs `work` with the log lines of this thread written in `format` to a buffer of its own, and
/// returns them. The test's runtime has one thread, and the site and the simulator it starts run
/// on it, so their lines are all here (and in no other test's buffer).
async fn logged_in(format: LogFormat, work: impl std::future::Future<Output = ()>) -> String {
    let logs = Captured::default();
    let writer = logs.clone();
    let dispatch = ngi_consent::telemetry::dispatch(
        format,
        ngi_consent::telemetry::filter("info,ngi_consent=debug").unwrap(),
        move || writer.clone(),
    );
    let guard = tracing::dispatcher::set_default(&dispatch);
    work.await;
    drop(guard);
    String::from_utf8(logs.0.lock().unwrap().clone()).unwrap()
}

/// The text without ANSI colour sequences (the pretty format colours its output on a terminal).
fn without_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The JSON lines whose `error.kind` is `kind`, as text.
fn lines_of(logs: &str, kind: &str) -> Vec<String> {
    logs.lines()
        .filter(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|record| record["error.kind"] == kind)
        })
        .map(str::to_owned)
        .collect()
}

/// A flow whose callback meets NGI answering `status` with the JSON `body` at `endpoint` (the
/// fault lifted again afterwards): the status of the callback's page.
async fn callback_with_ngi_answer(
    app: &TestApp,
    endpoint: Endpoint,
    status: u16,
    body: &str,
) -> reqwest::StatusCode {
    let callback = app.consent_as(PERSON_1).await;
    app.sim.set_fault(
        endpoint,
        Some(Fault::Respond {
            status,
            content_type: "application/json".into(),
            body: body.to_owned(),
        }),
    );
    let page = app.get_url(callback).await.status();
    app.sim.set_fault(endpoint, None);
    page
}
