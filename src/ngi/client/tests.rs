/// A transport error of reqwest's own, made without the network.
fn transport_error() -> reqwest::Error {
    reqwest::Client::new().get("not a url").build().unwrap_err()
}

#[test]
fn every_endpoint_and_error_kind_label_is_listed_for_the_metrics() {
    let endpoints = [
        Endpoint::Token,
        Endpoint::Debt,
        Endpoint::Discovery,
        Endpoint::DebtByConsent,
        Endpoint::ConsentStatus,
        Endpoint::Revoke,
        Endpoint::Agreement,
        Endpoint::Feed,
        Endpoint::Jwks,
    ];
    for endpoint in endpoints {
        assert!(Endpoint::LABELS.contains(&endpoint.as_str()));
    }
    assert_eq!(Endpoint::LABELS.len(), endpoints.len());
    let endpoint = Endpoint::Debt;
    let errors = [
        NgiError::TokenRefused { code: "x".into() },
        NgiError::ConsentNotValid {
            error: "x".into(),
            trace_id: None,
        },
        NgiError::Status {
            endpoint,
            status: 500,
            trace_id: None,
        },
        NgiError::Timeout { endpoint },
        NgiError::Unreachable {
            endpoint,
            source: transport_error(),
        },
        NgiError::BadAnswer {
            endpoint,
            detail: "x".into(),
        },
    ];
    let kinds: Vec<_> = errors.iter().map(NgiError::kind).collect();
    assert_eq!(kinds, NgiError::KINDS);
}

use super::*;
use crate::ngi::answer::MAX_LOGGED_CHARS;

fn config() -> NgiConfig {
    NgiConfig {
        access: Url::parse("https://access-preprod.norskgjeld.no").unwrap(),
        api: Url::parse("https://api-preprod.norskgjeld.no").unwrap(),
        client_id: ClientId::new("client id".into()),
        client_secret: ClientSecret::new("secret".into()),
        redirect_uri: Url::parse("https://lan.example.no/v1/callback").unwrap(),
        scope: "debt.unsecured.presentation".parse().unwrap(),
        pkce: true,
        issuer: None,
        timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
    }
}

fn client(pkce: bool, scope: &str) -> NgiClient {
    NgiClient::new(NgiConfig {
        scope: scope.parse().unwrap(),
        pkce,
        ..config()
    })
    .unwrap()
}

fn params(url: &Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

#[test]
fn the_authorization_url_carries_what_ngi_documents() {
    let auth =
        client(true, "debt.unsecured.presentation").authorize(|| CsrfToken::new("st".into()));
    assert_eq!(
        auth.url.as_str().split('?').next(),
        Some("https://access-preprod.norskgjeld.no/oauth2/auth")
    );
    let p = params(&auth.url);
    assert_eq!(p["client_id"], "client id");
    assert_eq!(p["response_type"], "code");
    assert_eq!(p["scope"], "debt.unsecured.presentation");
    assert_eq!(p["state"], "st");
    assert_eq!(p["redirect_uri"], "https://lan.example.no/v1/callback");
    assert_eq!(p["code_challenge_method"], "S256");
    assert_eq!(auth.state.secret(), "st");
}

/// The prefix built once must send what oauth2's own builder sends for the same flow: every
/// parameter, the same value, nothing more; with and without PKCE and `openid`.
#[test]
fn the_authorization_url_has_the_parameters_oauth2_would_build() {
    for (pkce, scope) in [
        (true, "debt.unsecured.presentation"),
        (false, "debt.unsecured.processing.28 openid"),
    ] {
        let ngi = client(pkce, scope);
        let auth = ngi.authorize(|| CsrfToken::new("st&ate=1 +/".into()));
        let mut expected = ngi
            .oauth
            .authorize_url(|| CsrfToken::new("st&ate=1 +/".into()));
        for scope in ngi.scope.request_scopes() {
            expected = expected.add_scope(oauth2::Scope::new(scope));
        }
        if let Some(verifier) = &auth.pkce_verifier {
            let challenge = PkceCodeChallenge::from_code_verifier_sha256(verifier);
            expected = expected.set_pkce_challenge(challenge);
        }
        if let Some(nonce) = &auth.nonce {
            expected = expected.add_extra_param("nonce", nonce.secret().to_owned());
        }
        let (expected, _) = expected.url();
        assert_eq!(params(&auth.url), params(&expected), "{scope}");
        assert_eq!(
            auth.url.query_pairs().count(),
            expected.query_pairs().count(),
            "{scope}"
        );
        assert_eq!(auth.url.path(), expected.path());
        assert_eq!(auth.url.origin(), expected.origin());
    }
}

#[test]
fn the_pkce_challenge_is_the_s256_of_the_kept_verifier() {
    use base64::Engine;
    use sha2::Digest;
    let auth = client(true, "debt.unsecured.presentation").authorize(CsrfToken::new_random);
    let verifier = auth.pkce_verifier.unwrap();
    assert_eq!(verifier.secret().len(), 43);
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.secret().as_bytes()));
    assert_eq!(params(&auth.url)["code_challenge"], expected);
    assert!(!auth.url.as_str().contains(verifier.secret()));
}

#[test]
fn without_pkce_no_challenge_is_sent() {
    let auth =
        client(false, "debt.unsecured.processing.28 openid").authorize(CsrfToken::new_random);
    let p = params(&auth.url);
    assert!(!p.contains_key("code_challenge"));
    assert!(auth.pkce_verifier.is_none());
    assert_eq!(p["scope"], "debt.unsecured.processing.28 openid");
}

#[test]
fn strings_from_ngi_are_cut_to_safe_characters_and_a_fixed_length() {
    assert_eq!(loggable("invalid consent"), "invalid consent");
    assert_eq!(
        loggable("4d2e5329-8a1b-4c3d-9e0f-123456789abc"),
        "4d2e5329-8a1b-4c3d-9e0f-123456789abc"
    );
    let hostile = format!(
        "ok\r\n{{\"level\":\"ERROR\"}}\u{1b}[31m{}",
        "x".repeat(10_000)
    );
    let logged = loggable(&hostile);
    assert_eq!(logged.chars().count(), MAX_LOGGED_CHARS);
    assert!(logged.starts_with("oklevel:ERROR31mxxx"), "{logged}");
    assert!(!logged.contains(['\r', '\n', '"', '{', '\u{1b}']));
}

#[test]
fn the_issuer_rule_is_known_at_once_only_when_pinned() {
    assert_eq!(
        client(true, "debt.unsecured.presentation").issuer_rule(),
        None
    );
    let pinned = NgiClient::new(NgiConfig {
        issuer: Some("https://access-preprod.norskgjeld.no/".into()),
        ..config()
    })
    .unwrap();
    assert_eq!(
        pinned.issuer_rule(),
        Some(&IssuerRule {
            issuer: "https://access-preprod.norskgjeld.no/".into(),
            required: false,
        })
    );
}

#[test]
fn discovery_failures_worth_retrying_are_those_of_an_unreachable_or_failing_host() {
    let url = Url::parse("https://ngi.example/.well-known/openid-configuration").unwrap();
    let endpoint = Endpoint::Discovery;
    let status = |status| NgiError::Status {
        endpoint,
        status,
        trace_id: None,
    };
    let retryable = [
        NgiError::Timeout { endpoint },
        NgiError::Unreachable {
            endpoint,
            source: transport_error(),
        },
        status(500),
        status(503),
        status(429),
    ];
    for e in retryable {
        let shown = e.to_string();
        assert!(
            DiscoveryError::classify(url.clone(), e).is_retryable(),
            "{shown}"
        );
    }
    let final_answers = [
        status(404),
        status(401),
        NgiError::BadAnswer {
            endpoint,
            detail: "not a discovery document".into(),
        },
    ];
    for e in final_answers {
        let shown = e.to_string();
        assert!(
            !DiscoveryError::classify(url.clone(), e).is_retryable(),
            "{shown}"
        );
    }
}

#[test]
fn json_content_types_are_recognised() {
    let v = |s: &'static str| HeaderValue::from_static(s);
    assert!(is_json(Some(&v("application/json"))));
    assert!(is_json(Some(&v("application/json; charset=utf-8"))));
    assert!(!is_json(Some(&v("text/html"))));
    assert!(!is_json(None));
}
