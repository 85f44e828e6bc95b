//! `Debug` output reveals no secret: every type that holds a code, a state, a PKCE verifier, the
//! client secret or a national identity number is formatted (plain and pretty) with known secret
//! values inside, and none of them appears.

use std::time::Duration;

use ngi_consent::domain::nin::Nin;
use ngi_consent::domain::scope::ConsentScope;
use ngi_consent::flow::callback::{Callback, CallbackQuery};
use ngi_consent::flow::pending::{PendingAuthorization, PendingFlows};
use ngi_consent::ngi::client::{NgiClient, NgiConfig};
use oauth2::{ClientId, ClientSecret, CsrfToken, PkceCodeVerifier};
use url::Url;

use crate::helpers::PERSON_1;

const STATE: &str = "state-value-that-must-not-print";
const VERIFIER: &str = "pkce-verifier-that-must-not-print-0123456789abcdef";
const CODE: &str = "authorization-code-that-must-not-print";
const CLIENT_SECRET: &str = "client-secret-that-must-not-print";

fn assert_reveals_nothing(what: &str, value: &dyn std::fmt::Debug) {
    for shown in [format!("{value:?}"), format!("{value:#?}")] {
        for secret in [STATE, VERIFIER, CODE, CLIENT_SECRET, PERSON_1] {
            assert!(!shown.contains(secret), "{what} shows a secret: {shown}");
        }
    }
}

#[test]
fn debug_output_of_flows_callbacks_and_the_ngi_client_reveals_no_secret() {
    let nin = Nin::parse(PERSON_1).unwrap();
    assert_reveals_nothing("Nin", &nin);

    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let pending = PendingAuthorization::new(
        CsrfToken::new(STATE.into()),
        Some(PkceCodeVerifier::new(VERIFIER.into())),
        now,
        Some(nin),
    );
    assert_reveals_nothing("PendingAuthorization", &pending);
    let mut flows = PendingFlows::default();
    flows.push(pending, now);
    assert_reveals_nothing("PendingFlows", &flows);

    let query: CallbackQuery = serde_urlencoded::from_str(&format!(
        "code={CODE}&state={STATE}&error_description={CLIENT_SECRET}"
    ))
    .unwrap();
    assert_reveals_nothing("CallbackQuery", &query);
    assert_reveals_nothing("Callback", &Callback::parse(query).unwrap());

    let config = NgiConfig {
        access: Url::parse("https://access.example.no/").unwrap(),
        api: Url::parse("https://api.example.no/").unwrap(),
        client_id: ClientId::new("client".into()),
        client_secret: ClientSecret::new(CLIENT_SECRET.into()),
        redirect_uri: Url::parse("https://lan.example.no/v1/callback").unwrap(),
        scope: ConsentScope::parse("debt.unsecured.presentation").unwrap(),
        pkce: true,
        issuer: Some("https://access.example.no/".into()),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
    };
    assert_reveals_nothing("NgiConfig", &config);
    let client = NgiClient::new(config).unwrap();
    assert_reveals_nothing("NgiClient", &client);
}
