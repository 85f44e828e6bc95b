//! The embedded NGI simulator, driven the way a browser and an OAuth client drive NGI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

// ---------------------------------------------------------------------------------------------------------
// The whole flow
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_whole_flow_gives_debt_once_for_a_single_use_consent() {
    let sim = start().await;

    let tx = sim.begin(sim.standard_request(PRESENTATION, true)).await;
    let login_page = sim.get(sim.url(&format!("/testid/login?tx={tx}"))).await;
    assert_eq!(login_page.status(), StatusCode::OK);
    let html = login_page.text().await.unwrap();
    assert!(html.contains("<html lang=\"nb\">"));
    assert!(html.contains("Simulator — ikke ekte NGI"));
    assert!(html.contains(CLIENT_NAME));

    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    let consent_page = sim.get(sim.url(&format!("/testid/consent?tx={tx}"))).await;
    assert_eq!(consent_page.status(), StatusCode::OK);
    let html = consent_page.text().await.unwrap();
    assert!(html.contains(CLIENT_NAME));
    assert!(html.contains("Engangssamtykke"));
    assert!(html.contains("vises til deg"));
    assert!(html.contains("148422 *****") && !html.contains(PERSON_WITH_DEBT));

    let callback = sim.decide(&tx, "accept").await;
    assert_eq!(
        format!(
            "{}://{}{}",
            callback.scheme(),
            callback.authority(),
            callback.path()
        ),
        REDIRECT_URI
    );
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));
    assert_eq!(query(&callback, "scope").as_deref(), Some(PRESENTATION));
    assert_eq!(query(&callback, "iss"), None);
    let code = query(&callback, "code").unwrap();
    assert_eq!(sim.handle.issued_codes(), vec![code.clone()]);

    let token_response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(token_response.status(), StatusCode::OK);
    assert_eq!(
        header_of(token_response.headers(), "cache-control"),
        "no-store"
    );
    let token = json_of(token_response).await;
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], 3599);
    assert_eq!(token["scope"], PRESENTATION);
    let access_token = token["access_token"].as_str().unwrap();
    let parts: Vec<&str> = access_token.split('.').collect();
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| URL_SAFE_NO_PAD.decode(p).is_ok()));
    assert_eq!(
        sim.handle.issued_access_tokens(),
        vec![access_token.to_owned()]
    );

    let first = sim.debt(access_token).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(header_of(first.headers(), "content-type").starts_with("application/json"));
    let debt = json_of(first).await;
    assert_eq!(debt["ssn"], PERSON_WITH_DEBT);
    assert_eq!(debt["loans"].as_array().unwrap().len(), 4);
    assert_eq!(debt["numberOfCreditorsAnswered"], 4);
    assert_eq!(debt["numberOfcreditorsMissing"], 0);
    assert_eq!(debt["consent"]["scope"], PRESENTATION);
    assert_eq!(debt["consent"]["id"].as_str().unwrap().len(), 36);
    let exp = debt["consent"]["exp"].as_i64().unwrap();
    let now = jiff::Timestamp::now().as_second();
    assert!(
        (now..=now + 601).contains(&exp),
        "single use: about 10 minutes"
    );

    let second = sim.debt(access_token).await;
    assert_eq!(second.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(second).await["error"], "no valid consent");
    assert_eq!(sim.handle.token_requests(), 1);
    assert_eq!(sim.handle.debt_requests(), 2);
}

#[tokio::test]
async fn discovery_names_the_endpoints_like_ngi() {
    let sim = start().await;
    let response = sim.get(sim.url("/.well-known/openid-configuration")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let meta = json_of(response).await;
    let base = sim
        .handle
        .base_url()
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(meta["issuer"], sim.handle.issuer());
    assert_eq!(sim.handle.issuer(), format!("{base}/"));
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{base}/oauth2/auth")
    );
    assert_eq!(meta["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(meta["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(meta["revocation_endpoint"], format!("{base}/oauth2/revoke"));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic"])
    );
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("authorization_code"))
    );
    assert!(
        meta.get("authorization_response_iss_parameter_supported")
            .is_none()
    );
    let jwks = json_of(sim.get(sim.url("/.well-known/jwks.json")).await).await;
    assert!(jwks["keys"].is_array());
}

// ---------------------------------------------------------------------------------------------------------
// /oauth2/auth and the pages
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_client_gets_an_error_page_not_a_redirect() {
    let sim = start().await;
    let url = sim.authorize_url(&[
        ("client_id", "someone-else"),
        ("response_type", "code"),
        ("scope", PRESENTATION),
        ("state", "s"),
        ("redirect_uri", REDIRECT_URI),
    ]);
    let response = sim.get(url).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
    assert!(header_of(response.headers(), "content-type").starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("<h1>"));
}

#[tokio::test]
async fn a_redirect_uri_not_registered_exactly_gets_an_error_page_not_a_redirect() {
    let sim = start().await;
    for redirect_uri in [
        "http://127.0.0.1:8080/v1/callback/",
        "http://127.0.0.1:8080/v1/callback?x=1",
        "http://evil.example/v1/callback",
        "",
    ] {
        let url = sim.authorize_url(&[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", PRESENTATION),
            ("state", "s"),
            ("redirect_uri", redirect_uri),
        ]);
        let response = sim.get(url).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{redirect_uri}");
        assert!(response.headers().get(header::LOCATION).is_none());
    }
}

#[tokio::test]
async fn a_scope_that_breaks_ngis_rule_is_refused_with_invalid_scopes() {
    let sim = start().await;
    for scope in [
        "debt.unsecured.presentation debt.unsecured.processing",
        "openid debt.unsecured.presentation",
        "debt.unsecured.presentation.0",
        "debt.unsecured.secured",
        "profile",
    ] {
        let response = sim.get(sim.standard_request(scope, false)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{scope}");
        let url = Url::parse(&location(&response)).unwrap();
        assert!(url.as_str().starts_with(REDIRECT_URI), "{url}");
        assert_eq!(
            query(&url, "error").as_deref(),
            Some("invalid_scopes"),
            "{scope}"
        );
        assert!(query(&url, "error_description").is_some());
        assert_eq!(query(&url, "state").as_deref(), Some("state-123"));
    }
}

#[tokio::test]
async fn a_missing_state_a_wrong_response_type_or_plain_pkce_is_invalid_request() {
    let sim = start().await;
    let plain = "a".repeat(43);
    let cases: [&[(&str, &str)]; 3] = [
        &[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", PRESENTATION),
            ("redirect_uri", REDIRECT_URI),
        ],
        &[
            ("client_id", CLIENT_ID),
            ("response_type", "token"),
            ("scope", PRESENTATION),
            ("state", "s"),
            ("redirect_uri", REDIRECT_URI),
        ],
        &[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", PRESENTATION),
            ("state", "s"),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", &plain),
            ("code_challenge_method", "plain"),
        ],
    ];
    for pairs in cases {
        let response = sim.get(sim.authorize_url(pairs)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let url = Url::parse(&location(&response)).unwrap();
        assert_eq!(
            query(&url, "error").as_deref(),
            Some("invalid_request"),
            "{pairs:?}"
        );
    }
}

#[tokio::test]
async fn a_registered_redirect_uri_with_a_query_keeps_it_and_gets_the_answer_appended() {
    let sim = start().await;
    let url = sim.authorize_url(&[
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("scope", PRESENTATION),
        ("state", "a b&c=d"),
        ("redirect_uri", "https://demo.example/cb?x=1"),
    ]);
    let callback = sim.consent(url, PERSON_WITH_DEBT).await;
    assert_eq!(query(&callback, "x").as_deref(), Some("1"));
    assert_eq!(query(&callback, "state").as_deref(), Some("a b&c=d"));
    assert!(query(&callback, "code").is_some());
}

#[tokio::test]
async fn declining_returns_consent_denied() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    let callback = sim.decide(&tx, "decline").await;
    assert_eq!(query(&callback, "error").as_deref(), Some("consent_denied"));
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));
    assert_eq!(query(&callback, "code"), None);
    assert!(sim.handle.issued_codes().is_empty());
}

#[tokio::test]
async fn cancelling_at_login_or_consent_returns_login_cancelled() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    let response = sim
        .post_form("/testid/login", &[("tx", &tx), ("action", "cancel")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = Url::parse(&location(&response)).unwrap();
    assert_eq!(
        query(&callback, "error").as_deref(),
        Some("login_cancelled")
    );
    assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));

    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    let callback = sim.decide(&tx, "cancel").await;
    assert_eq!(
        query(&callback, "error").as_deref(),
        Some("login_cancelled")
    );
}

#[tokio::test]
async fn an_invalid_national_identity_number_shows_the_login_page_again_with_an_error() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    for nin in ["01017012345", "1484224909", "abc", ""] {
        let response = sim
            .post_form(
                "/testid/login",
                &[("tx", &tx), ("nin", nin), ("action", "login")],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{nin:?}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("aria-invalid=\"true\""));
    }
    // The transaction is still usable.
    sim.log_in(&tx, "29868099311").await;
}

#[tokio::test]
async fn an_unknown_login_transaction_gets_an_error_page() {
    let sim = start().await;
    for response in [
        sim.get(sim.url("/testid/login?tx=nope")).await,
        sim.get(sim.url("/testid/login")).await,
        sim.get(sim.url("/testid/consent?tx=nope")).await,
        sim.post_form(
            "/testid/login",
            &[
                ("tx", "nope"),
                ("nin", PERSON_WITH_DEBT),
                ("action", "login"),
            ],
        )
        .await,
        sim.post_form("/testid/consent", &[("tx", "nope"), ("decision", "accept")])
            .await,
    ] {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(header_of(response.headers(), "content-type").starts_with("text/html"));
    }
}

#[tokio::test]
async fn a_login_transaction_is_single_use() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    sim.decide(&tx, "accept").await;
    let again = sim
        .post_form("/testid/consent", &[("tx", &tx), ("decision", "accept")])
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.handle.issued_codes().len(), 1);
}

#[tokio::test]
async fn a_login_transaction_expires_after_ten_minutes() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    sim.handle.advance_clock(Duration::from_secs(600));
    let response = sim.get(sim.url(&format!("/testid/login?tx={tx}"))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_consent_page_needs_a_login_first() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    let response = sim.get(sim.url(&format!("/testid/consent?tx={tx}"))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/testid/login?tx={tx}"));
}

#[tokio::test]
async fn the_consent_page_describes_purpose_and_clamped_duration() {
    let sim = start().await;
    let tx = sim
        .begin(sim.standard_request("debt.unsecured.processing.90", false))
        .await;
    sim.log_in(&tx, PERSON_WITH_DEBT).await;
    let html = sim
        .get(sim.url(&format!("/testid/consent?tx={tx}")))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("28 dager"),
        "processing is clamped to 28 days"
    );
    assert!(html.contains("søknad om lån eller kreditt"));
}

#[tokio::test]
async fn send_iss_adds_the_issuer_to_every_authorization_response() {
    let sim = start_with(true).await;
    let callback = sim
        .consent(sim.standard_request(PRESENTATION, false), PERSON_WITH_DEBT)
        .await;
    assert_eq!(query(&callback, "iss"), Some(sim.handle.issuer()));
    let refused = sim.get(sim.standard_request("nope", false)).await;
    let url = Url::parse(&location(&refused)).unwrap();
    assert_eq!(query(&url, "iss"), Some(sim.handle.issuer()));
    let meta = json_of(sim.get(sim.url("/.well-known/openid-configuration")).await).await;
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test]
async fn pages_have_a_strict_csp_without_form_action_and_set_no_cookies() {
    let sim = start().await;
    let tx = sim.begin(sim.standard_request(PRESENTATION, false)).await;
    let response = sim.get(sim.url(&format!("/testid/login?tx={tx}"))).await;
    let csp = header_of(response.headers(), "content-security-policy").to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("form-action"), "{csp}");
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let css = sim.get(sim.url("/testid/static/sim.css")).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(header_of(css.headers(), "content-type").starts_with("text/css"));
}

// ---------------------------------------------------------------------------------------------------------
// /oauth2/token
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn reused_code_is_refused_with_invalid_grant() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let first = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let token = json_of(first).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(second).await["error"], "invalid_grant");
    // RFC 6749 §4.1.2: the token bought with a replayed code is revoked.
    assert_eq!(sim.debt(&token).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn wrong_verifier_is_refused_with_invalid_grant() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let wrong = "W".repeat(43);
    let response = sim.exchange(&code, Some(&wrong)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_missing_verifier_after_a_challenge_is_refused_with_invalid_grant() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let response = sim.exchange(&code, None).await;
    assert_eq!(json_of(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_flow_without_pkce_still_works() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, false).await;
    assert_eq!(sim.exchange(&code, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_secret_is_refused_with_401_invalid_client() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    for authorization in [
        Some(basic(CLIENT_ID, "wrong")),
        Some(basic("unknown-client", CLIENT_SECRET)),
        // Not form-urlencoded: '+' decodes to a space, '%an' is no escape.
        Some(format!(
            "Basic {}",
            STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        )),
        Some("Bearer abc".to_owned()),
        None,
    ] {
        let response = sim.token_request(authorization.as_deref(), &form).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{authorization:?}"
        );
        assert!(header_of(response.headers(), "www-authenticate").starts_with("Basic"));
        assert_eq!(json_of(response).await["error"], "invalid_client");
    }
    // Failed client authentication does not spend the code.
    assert_eq!(
        sim.exchange(&code, Some(VERIFIER)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn token_request_errors_follow_rfc_6749() {
    let sim = start().await;
    let auth = basic(CLIENT_ID, CLIENT_SECRET);
    let code = sim.code(PRESENTATION, false).await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("grant_type", "client_credentials")],
            "unsupported_grant_type",
        ),
        (
            &[("code", &code), ("redirect_uri", REDIRECT_URI)],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT_URI),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", "someone-else"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("code", "not-a-code"),
                ("redirect_uri", REDIRECT_URI),
            ],
            "invalid_grant",
        ),
    ];
    for (form, error) in cases {
        let response = sim.token_request(Some(&auth), form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(json_of(response).await["error"], error, "{form:?}");
    }
}

#[tokio::test]
async fn a_different_redirect_uri_at_the_token_endpoint_is_invalid_grant() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, false).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://demo.example/cb?x=1"),
    ];
    let response = sim
        .token_request(Some(&basic(CLIENT_ID, CLIENT_SECRET)), &form)
        .await;
    assert_eq!(json_of(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_code_expires_sixty_seconds_after_issue() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    sim.handle.advance_clock(Duration::from_secs(61));
    let response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn the_token_answer_echoes_the_requested_scope_without_openid() {
    let sim = start().await;
    let code = sim
        .code("debt.unsecured.presentation.500 openid", true)
        .await;
    let token = json_of(sim.exchange(&code, Some(VERIFIER)).await).await;
    assert_eq!(token["scope"], "debt.unsecured.presentation.500");
    assert!(token.get("id_token").is_none());
}

// ---------------------------------------------------------------------------------------------------------
// /v1/debt
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_extended_scope_allows_repeated_fetches_until_the_consent_expires() {
    let sim = start().await;
    let callback = sim
        .consent(
            sim.standard_request("debt.unsecured.presentation.30", true),
            PERSON_WITH_DEBT,
        )
        .await;
    assert_eq!(query(&callback, "scope").as_deref(), Some(PRESENTATION));
    let code = query(&callback, "code").unwrap();
    let token = json_of(sim.exchange(&code, Some(VERIFIER)).await).await;
    assert_eq!(token["scope"], "debt.unsecured.presentation.30");
    let token = token["access_token"].as_str().unwrap().to_owned();

    let first = json_of(sim.debt(&token).await).await;
    let second = sim.debt(&token).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second = json_of(second).await;
    assert_eq!(first["consent"], second["consent"]);
    let exp = first["consent"]["exp"].as_i64().unwrap();
    let in_30_days = jiff::Timestamp::now().as_second() + 30 * 24 * 3600;
    assert!((in_30_days - 5..=in_30_days + 5).contains(&exp));
    assert_eq!(sim.debt(&token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_second_test_person_has_a_creditor_that_did_not_answer() {
    let sim = start().await;
    let callback = sim
        .consent(
            sim.standard_request(PRESENTATION, false),
            PERSON_WITH_MISSING_CREDITOR,
        )
        .await;
    let code = query(&callback, "code").unwrap();
    let token = json_of(sim.exchange(&code, None).await).await;
    let debt = json_of(sim.debt(token["access_token"].as_str().unwrap()).await).await;
    assert_eq!(debt["ssn"], PERSON_WITH_MISSING_CREDITOR);
    assert_eq!(debt["numberOfcreditorsMissing"], 1);
    let loans = debt["loans"].as_array().unwrap();
    assert_eq!(loans.iter().filter(|l| l["loan"].is_null()).count(), 1);
    assert_eq!(debt["numberOfCreditorsAnswered"], 3);
}

#[tokio::test]
async fn other_test_persons_have_an_empty_list() {
    let sim = start().await;
    // 01010112345 is not valid; 01017000027 is (check digits 2 and 7).
    let nin = "01017000027";
    let callback = sim
        .consent(sim.standard_request(PRESENTATION, false), nin)
        .await;
    let code = query(&callback, "code").unwrap();
    let token = json_of(sim.exchange(&code, None).await).await;
    let debt = json_of(sim.debt(token["access_token"].as_str().unwrap()).await).await;
    assert_eq!(debt["ssn"], nin);
    assert_eq!(debt["loans"], serde_json::json!([]));
    assert_eq!(debt["numberOfCreditorsAnswered"], 0);
    assert_eq!(debt["numberOfcreditorsMissing"], 0);
    assert_eq!(debt["consent"]["scope"], PRESENTATION);
}

#[tokio::test]
async fn debt_without_a_token_is_400_and_with_an_unknown_token_403() {
    let sim = start().await;
    let response = sim
        .http
        .get(sim.url("/v1/debt"))
        .header("X-Trace-ID", "trace-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_of(response).await;
    assert_eq!(body["trace_id"], "trace-abc");
    assert!(body["timestamp"].is_string());

    let response = sim.debt("unknown.token").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = json_of(response).await;
    assert_eq!(body["error"], "invalid access token");
    assert_eq!(body["trace_id"].as_str().unwrap().len(), 36, "a random id");
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let sim = start().await;
    let token = sim.access_token("debt.unsecured.presentation.30").await;
    sim.handle.advance_clock(Duration::from_secs(3600));
    let response = sim.debt(&token).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(response).await["error"], "invalid access token");
}

#[tokio::test]
async fn a_revoked_access_token_is_refused() {
    let sim = start().await;
    let token = sim.access_token("debt.unsecured.presentation.30").await;
    let response = sim
        .http
        .post(sim.url("/oauth2/revoke"))
        .header(header::AUTHORIZATION, basic(CLIENT_ID, CLIENT_SECRET))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(sim.debt(&token).await.status(), StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------------------------
// Faults and observations
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_status_fault_answers_ngi_error_json_and_does_not_spend_the_code() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::status(500)));
    let response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = json_of(response).await;
    assert_eq!(body["error"], "server error");
    assert!(body["trace_id"].is_string() && body["timestamp"].is_string());
    // Persistent until cleared.
    let again = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(again.status(), StatusCode::INTERNAL_SERVER_ERROR);

    sim.handle.set_fault(Endpoint::Token, None);
    assert_eq!(
        sim.exchange(&code, Some(VERIFIER)).await.status(),
        StatusCode::OK
    );
    assert_eq!(sim.handle.token_requests(), 3);
}

#[tokio::test]
async fn a_faulted_debt_request_does_not_use_the_single_use_consent() {
    let sim = start().await;
    let token = sim.access_token(PRESENTATION).await;
    sim.handle
        .set_fault(Endpoint::Debt, Some(Fault::status(503)));
    assert_eq!(
        sim.debt(&token).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    sim.handle.set_fault(Endpoint::Debt, None);
    assert_eq!(sim.debt(&token).await.status(), StatusCode::OK);
    assert_eq!(sim.debt(&token).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_garbage_fault_sends_json_content_type_with_a_body_that_is_not_json() {
    let sim = start().await;
    let token = sim.access_token(PRESENTATION).await;
    sim.handle.set_fault(Endpoint::Debt, Some(Fault::garbage()));
    let response = sim.debt(&token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header_of(response.headers(), "content-type").starts_with("application/json"));
    assert!(response.json::<Value>().await.is_err());
}

#[tokio::test]
async fn a_wrong_content_type_fault_sends_html() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::wrong_content_type()));
    let response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header_of(response.headers(), "content-type").starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn a_delay_fault_outlasts_a_short_client_timeout_then_answers_normally() {
    let sim = start().await;
    let token = sim.access_token("debt.unsecured.presentation.30").await;
    sim.handle.set_fault(
        Endpoint::Debt,
        Some(Fault::Delay(Duration::from_millis(600))),
    );
    let impatient = sim
        .http
        .get(sim.url("/v1/debt"))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(150))
        .send()
        .await;
    assert!(impatient.is_err_and(|e| e.is_timeout()));

    let started = std::time::Instant::now();
    let patient = sim.debt(&token).await;
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(patient.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_early_close_fault_starts_a_200_and_breaks_off_the_body() {
    let sim = start().await;
    let token = sim.access_token(PRESENTATION).await;
    sim.handle
        .set_fault(Endpoint::Debt, Some(Fault::EarlyClose));
    let response = sim.debt(&token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.is_err());

    sim.handle.set_fault(Endpoint::Debt, None);
    assert_eq!(sim.debt(&token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_early_close_on_the_token_endpoint_breaks_the_body_too() {
    let sim = start().await;
    let code = sim.code(PRESENTATION, true).await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::EarlyClose));
    let response = sim.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err());
}

#[tokio::test]
async fn the_handle_records_what_the_client_sent() {
    let sim = start().await;
    assert_eq!(sim.handle.last_token_request(), None);
    assert_eq!(sim.handle.last_debt_request(), None);
    let code = sim.code(PRESENTATION, true).await;
    sim.handle
        .set_fault(Endpoint::Token, Some(Fault::status(502)));
    sim.exchange(&code, Some(VERIFIER)).await;
    let seen = sim.handle.last_token_request().unwrap();
    assert_eq!(seen.grant_type.as_deref(), Some("authorization_code"));
    assert_eq!(seen.client_id_from_basic.as_deref(), Some(CLIENT_ID));
    assert_eq!(seen.code_verifier.as_deref(), Some(VERIFIER));
    assert_eq!(seen.redirect_uri.as_deref(), Some(REDIRECT_URI));
    assert_eq!(sim.handle.token_requests(), 1);

    let response = sim
        .http
        .get(sim.url("/v1/debt"))
        .bearer_auth("some.token")
        .header("X-Trace-ID", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await["trace_id"], "trace-42");
    assert_eq!(
        sim.handle.last_debt_request(),
        Some(DebtRequestSeen {
            bearer: Some("some.token".into()),
            trace_id: Some("trace-42".into()),
        })
    );
    assert_eq!(sim.handle.debt_requests(), 1);
}

#[tokio::test]
async fn malformed_input_gets_an_error_answer_never_a_server_error() {
    let sim = start().await;
    let raw_queries = [
        "/oauth2/auth",
        "/oauth2/auth?%%%",
        "/oauth2/auth?client_id=%FF%FE&redirect_uri=%00",
        "/oauth2/auth?client_id=ngi-consent-demo&client_id=x",
        "/testid/login?tx=%FF",
        "/testid/consent?tx=&tx=",
        "/nothing-here",
    ];
    for path in raw_queries {
        let response = sim
            .get(
                Url::parse(&format!(
                    "{}{}",
                    sim.handle.issuer().trim_end_matches('/'),
                    path
                ))
                .unwrap(),
            )
            .await;
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    for (path, body, content_type) in [
        (
            "/oauth2/token",
            "\u{0}\u{1}%%%=&&",
            "application/x-www-form-urlencoded",
        ),
        (
            "/oauth2/token",
            "{\"grant_type\":\"authorization_code\"}",
            "application/json",
        ),
        ("/testid/login", "%%%", "application/x-www-form-urlencoded"),
        ("/testid/login", "tx=x&action=dance", "text/plain"),
        (
            "/testid/consent",
            "decision=maybe",
            "application/x-www-form-urlencoded",
        ),
        (
            "/oauth2/revoke",
            "token=x",
            "application/x-www-form-urlencoded",
        ),
    ] {
        let response = sim
            .http
            .post(sim.url(path))
            .header(header::CONTENT_TYPE, content_type)
            .header(header::AUTHORIZATION, "Basic %%%")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{path} {body:?}: {}",
            response.status()
        );
    }
    let response = sim
        .http
        .get(sim.url("/v1/debt"))
        .header(header::AUTHORIZATION, "Bearer")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
