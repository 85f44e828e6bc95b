//! The embedded NGI simulator, driven the way a browser and an OAuth client drive NGI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agreement;
mod authorize;
mod client_credentials;
mod debt;
mod faults;
mod feed;
mod token;
mod whole_flow;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ngi_consent::simulator::{
    self, ClientRegistration, DebtRequestSeen, Endpoint, Fault, SimulatorConfig, SimulatorHandle,
};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

const CLIENT_ID: &str = "ngi-consent-demo";
/// Needs form-urlencoding before Base64 (RFC 6749 §2.3.1).
const CLIENT_SECRET: &str = "s3cret:with+plus%and space";
const CLIENT_NAME: &str = "Demobanken ASA";
const REDIRECT_URI: &str = "http://127.0.0.1:8080/v1/callback";
const PRESENTATION: &str = "debt.unsecured.presentation";
const PERSON_WITH_DEBT: &str = "14842249091";
const PERSON_WITH_MISSING_CREDITOR: &str = "29868099311";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Sim {
    handle: SimulatorHandle,
    http: reqwest::Client,
}

fn config(send_iss: bool) -> SimulatorConfig {
    SimulatorConfig {
        clients: vec![ClientRegistration {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            name: CLIENT_NAME.into(),
            redirect_uris: vec![REDIRECT_URI.into(), "https://demo.example/cb?x=1".into()],
        }],
        send_iss,
    }
}

async fn start_with(send_iss: bool) -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = simulator::spawn(listener, config(send_iss)).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Sim { handle, http }
}

async fn start() -> Sim {
    start_with(false).await
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn form_urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `client_secret_basic` done right: each part form-urlencoded, then Base64.
fn basic(id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", form_urlencode(id), form_urlencode(secret));
    format!("Basic {}", STANDARD.encode(pair))
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Sim {
    fn url(&self, path: &str) -> Url {
        self.handle.base_url().join(path).unwrap()
    }

    fn authorize_url(&self, pairs: &[(&str, &str)]) -> Url {
        let mut url = self.url("/oauth2/auth");
        url.query_pairs_mut().extend_pairs(pairs);
        url
    }

    fn standard_request(&self, scope: &str, pkce: bool) -> Url {
        let challenge = challenge(VERIFIER);
        let mut pairs = vec![
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "state-123"),
            ("redirect_uri", REDIRECT_URI),
        ];
        if pkce {
            pairs.push(("code_challenge", &challenge));
            pairs.push(("code_challenge_method", "S256"));
        }
        self.authorize_url(&pairs)
    }

    async fn get(&self, url: Url) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// GET /oauth2/auth and return the login transaction id from the 303.
    async fn begin(&self, authorize: Url) -> String {
        let response = self.get(authorize).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = location(&response);
        assert!(location.starts_with("/testid/login?tx="), "{location}");
        location["/testid/login?tx=".len()..].to_owned()
    }

    /// Logs in as `nin`, landing on the consent page.
    async fn log_in(&self, tx: &str, nin: &str) {
        let response = self
            .post_form(
                "/testid/login",
                &[("tx", tx), ("nin", nin), ("action", "login")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), format!("/testid/consent?tx={tx}"));
    }

    /// POSTs the consent decision and returns where the browser is sent.
    async fn decide(&self, tx: &str, decision: &str) -> Url {
        let response = self
            .post_form("/testid/consent", &[("tx", tx), ("decision", decision)])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        Url::parse(&location(&response)).unwrap()
    }

    /// Authorize, log in as `nin`, accept: the callback URL.
    async fn consent(&self, authorize: Url, nin: &str) -> Url {
        let tx = self.begin(authorize).await;
        self.log_in(&tx, nin).await;
        self.decide(&tx, "accept").await
    }

    async fn code(&self, scope: &str, pkce: bool) -> String {
        let callback = self
            .consent(self.standard_request(scope, pkce), PERSON_WITH_DEBT)
            .await;
        query(&callback, "code").expect("a code in the callback")
    }

    async fn token_request(
        &self,
        authorization: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url("/oauth2/token")).form(form);
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        request.send().await.unwrap()
    }

    async fn exchange(&self, code: &str, verifier: Option<&str>) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.token_request(Some(&basic(CLIENT_ID, CLIENT_SECRET)), &form)
            .await
    }

    async fn access_token(&self, scope: &str) -> String {
        let code = self.code(scope, true).await;
        let response = self.exchange(&code, Some(VERIFIER)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let json: Value = response.json().await.unwrap();
        json["access_token"].as_str().unwrap().to_owned()
    }

    async fn debt(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/v1/debt"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

fn header_of<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}
