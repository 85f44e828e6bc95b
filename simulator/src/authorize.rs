//! `/oauth2/auth` and the TestID-like login and consent pages it leads to.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::ClientRegistration;
use super::nin::Nin;
use super::pages::{self, ConsentPage, LoginPage};
use super::params::Params;
use super::pkce;
use super::scope::{Purpose, Scope};
use super::state::{Shared, lock};
use super::store::{AuthorizationRequest, TransactionError};

/// The outcome of checking an authorization request, before anything is stored.
#[derive(Debug)]
enum Checked {
    /// The client or redirect URI cannot be trusted: show a page, never redirect (RFC 6749 §4.1.2.1).
    Page(&'static str),
    /// Send the error back to the client's redirect URI.
    Refuse {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: &'static str,
    },
    Valid(AuthorizationRequest),
}

const AUTH_PARAMS: [&str; 8] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
];

fn check_request(params: &Params, clients: &HashMap<String, ClientRegistration>) -> Checked {
    if params.repeated(&["client_id", "redirect_uri"]).is_some() {
        return Checked::Page("client_id eller redirect_uri er oppgitt mer enn én gang.");
    }
    let Some(client) = params.get("client_id").and_then(|id| clients.get(id)) else {
        return Checked::Page("Tjenesten som sendte deg hit er ukjent (ukjent client_id).");
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Checked::Page(
            "Tjenesten som sendte deg hit oppga ingen adresse å sende deg tilbake til.",
        );
    };
    if !client.redirect_uris.iter().any(|r| r == redirect_uri)
        || url::Url::parse(redirect_uri).is_err()
    {
        return Checked::Page(
            "Adressen tjenesten vil sende deg tilbake til er ikke registrert hos Norsk Gjeldsinformasjon.",
        );
    }
    let state = params.get("state").map(str::to_owned);
    let refuse = |error, description| Checked::Refuse {
        redirect_uri: redirect_uri.to_owned(),
        state: state.clone(),
        error,
        description,
    };

    if params.repeated(&AUTH_PARAMS).is_some() {
        return refuse("invalid_request", "A parameter is included more than once");
    }
    if params.get("response_type") != Some("code") {
        return refuse("invalid_request", "response_type must be code");
    }
    let Some(state) = state.clone() else {
        return refuse("invalid_request", "state is required");
    };
    let scope = match params.get("scope").map(Scope::parse) {
        Some(Ok(scope)) => scope,
        None => return refuse("invalid_scopes", "scope is required"),
        Some(Err(_)) => {
            return refuse(
                "invalid_scopes",
                "Exactly one of debt.unsecured.presentation or debt.unsecured.processing \
                 (optionally with .days), optionally followed by openid",
            );
        }
    };
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (Some(challenge), Some("S256")) if pkce::is_well_formed(challenge) => {
            Some(challenge.to_owned())
        }
        (Some(_), Some("S256")) => {
            return refuse("invalid_request", "code_challenge is malformed");
        }
        (Some(_), _) => {
            return refuse("invalid_request", "code_challenge_method must be S256");
        }
        (None, Some(_)) => {
            return refuse(
                "invalid_request",
                "code_challenge_method without code_challenge",
            );
        }
    };
    Checked::Valid(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state,
        scope,
        code_challenge,
        nonce: params.get("nonce").map(str::to_owned),
    })
}

/// 303 to the client's redirect URI with `pairs`, `state` when known, and `iss` when configured (RFC 9207:
/// on errors too). Query values are serialized by `url`, never concatenated.
fn back_to_client(
    shared: &Shared,
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Ugyldig tilbakeadresse",
            "Adressen tjenesten vil sende deg tilbake til er ikke gyldig.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        if shared.send_iss {
            query.append_pair("iss", &shared.issuer);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

fn refuse_to_client(
    shared: &Shared,
    request: &AuthorizationRequest,
    error: &str,
    description: &str,
) -> Response {
    tracing::info!(client_id = %request.client_id, outcome = error, "simulator authorization ended");
    back_to_client(
        shared,
        &request.redirect_uri,
        &[("error", error), ("error_description", description)],
        Some(&request.state),
    )
}

fn unknown_transaction() -> Response {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "Innloggingen er utløpt",
        "Denne innloggingen er ukjent, allerede fullført eller utløpt (etter 10 minutter).",
    )
}

fn bad_form() -> Response {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "Ugyldig skjema",
        "Skjemaet som ble sendt inn manglet noe eller var ugyldig.",
    )
}

fn login_location(tx: &str) -> String {
    // tx is base64url: safe in a query string as it is.
    format!("/testid/login?tx={tx}")
}

pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    tracing::debug!(route = "/oauth2/auth", "simulator request");
    let params = Params::from_query(query.as_deref());
    match check_request(&params, &shared.clients) {
        Checked::Page(message) => {
            tracing::info!(
                outcome = "refused_without_redirect",
                "simulator authorization refused"
            );
            pages::error_page(StatusCode::BAD_REQUEST, "Ugyldig forespørsel", message)
        }
        Checked::Refuse {
            redirect_uri,
            state,
            error,
            description,
        } => {
            tracing::info!(outcome = error, "simulator authorization refused");
            back_to_client(
                &shared,
                &redirect_uri,
                &[("error", error), ("error_description", description)],
                state.as_deref(),
            )
        }
        Checked::Valid(request) => {
            let now = shared.now();
            let tx = lock(&shared.store).begin(request, now);
            Redirect::to(&login_location(&tx)).into_response()
        }
    }
}

fn client_name<'a>(shared: &'a Shared, client_id: &str) -> &'a str {
    shared
        .clients
        .get(client_id)
        .map_or("Ukjent tjeneste", |c| c.name.as_str())
}

pub(crate) async fn login_page(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    tracing::debug!(route = "/testid/login", "simulator request");
    let params = Params::from_query(query.as_deref());
    let Some(tx) = params.get("tx") else {
        return unknown_transaction();
    };
    let now = shared.now();
    let Some(client_id) = lock(&shared.store)
        .transaction(tx, now)
        .map(|t| t.request.client_id.clone())
    else {
        return unknown_transaction();
    };
    pages::render(
        StatusCode::OK,
        &LoginPage {
            tx,
            client_name: client_name(&shared, &client_id),
            error: None,
            typed_nin: "",
        },
    )
}

pub(crate) async fn login_submit(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    tracing::debug!(route = "POST /testid/login", "simulator request");
    let form = Params::parse(&body);
    let Some(tx) = form.get("tx") else {
        return unknown_transaction();
    };
    let now = shared.now();
    let Some(request) = lock(&shared.store)
        .transaction(tx, now)
        .map(|t| t.request.clone())
    else {
        return unknown_transaction();
    };
    match form.get("action") {
        Some("cancel") => {
            lock(&shared.store).take_transaction(tx, now);
            refuse_to_client(
                &shared,
                &request,
                "login_cancelled",
                "The person cancelled the login",
            )
        }
        Some("login") => {
            let typed = form.get("nin").unwrap_or_default();
            let Some(nin) = Nin::parse(typed) else {
                let page = LoginPage {
                    tx,
                    client_name: client_name(&shared, &request.client_id),
                    error: Some(nin_problem(typed)),
                    typed_nin: typed,
                };
                return pages::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
            };
            match lock(&shared.store).log_in(tx, nin, now) {
                Ok(()) => Redirect::to(&format!("/testid/consent?tx={tx}")).into_response(),
                Err(_) => unknown_transaction(),
            }
        }
        _ => bad_form(),
    }
}

/// Says what is wrong with a typed number, so the person can fix it (WCAG 3.3.3).
fn nin_problem(typed: &str) -> &'static str {
    let compact: String = typed.chars().filter(|c| *c != ' ').collect();
    if compact.is_empty() {
        "Skriv inn et fødselsnummer med 11 siffer."
    } else if !compact.chars().all(|c| c.is_ascii_digit()) {
        "Fødselsnummeret kan bare inneholde sifre (0–9)."
    } else if compact.len() != 11 {
        "Fødselsnummeret må ha nøyaktig 11 siffer."
    } else {
        "Fødselsnummeret er ikke gyldig: kontrollsifrene stemmer ikke. Sjekk at du har skrevet det riktig."
    }
}

fn purpose_text(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Presentation => {
            "Visning: gjeldsopplysningene vises til deg, slik at du selv kan se gjelden din."
        }
        Purpose::Processing => {
            "Behandling: gjeldsopplysningene brukes til å vurdere en søknad om lån eller kreditt."
        }
    }
}

fn duration_text(days: Option<u32>) -> String {
    match days {
        None => "Engangssamtykke: opplysningene kan hentes én gang, innen 10 minutter.".into(),
        Some(1) => "1 dag: opplysningene kan hentes flere ganger i løpet av 1 dag.".into(),
        Some(n) => {
            format!("{n} dager: opplysningene kan hentes flere ganger i løpet av {n} dager.")
        }
    }
}

pub(crate) async fn consent_page(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    tracing::debug!(route = "/testid/consent", "simulator request");
    let params = Params::from_query(query.as_deref());
    let Some(tx) = params.get("tx") else {
        return unknown_transaction();
    };
    let now = shared.now();
    let Some(transaction) = lock(&shared.store).transaction(tx, now).cloned() else {
        return unknown_transaction();
    };
    let Some(nin) = transaction.nin else {
        return Redirect::to(&login_location(tx)).into_response();
    };
    let scope = &transaction.request.scope;
    pages::render(
        StatusCode::OK,
        &ConsentPage {
            tx,
            client_name: client_name(&shared, &transaction.request.client_id),
            masked_nin: nin.masked(),
            purpose: purpose_text(scope.purpose),
            duration: duration_text(scope.days),
        },
    )
}

pub(crate) async fn consent_submit(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    tracing::debug!(route = "POST /testid/consent", "simulator request");
    let form = Params::parse(&body);
    let Some(tx) = form.get("tx") else {
        return unknown_transaction();
    };
    let now = shared.now();
    match form.get("decision") {
        Some("accept") => {
            let accepted = lock(&shared.store).accept(tx, now);
            match accepted {
                Ok(accepted) => {
                    lock(&shared.issued).code(accepted.code.clone());
                    let request = &accepted.request;
                    tracing::info!(client_id = %request.client_id, outcome = "consent_given", "simulator authorization ended");
                    back_to_client(
                        &shared,
                        &request.redirect_uri,
                        &[
                            ("code", &accepted.code),
                            ("scope", request.scope.purpose.base_scope()),
                        ],
                        Some(&request.state),
                    )
                }
                Err(TransactionError::NotLoggedIn) => {
                    Redirect::to(&login_location(tx)).into_response()
                }
                Err(TransactionError::UnknownOrExpired) => unknown_transaction(),
            }
        }
        Some(decision @ ("decline" | "cancel")) => {
            let Some(transaction) = lock(&shared.store).take_transaction(tx, now) else {
                return unknown_transaction();
            };
            let (error, description) = if decision == "decline" {
                ("consent_denied", "The person declined to give consent")
            } else {
                ("login_cancelled", "The person cancelled")
            };
            refuse_to_client(&shared, &transaction.request, error, description)
        }
        _ => bad_form(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn clients() -> HashMap<String, ClientRegistration> {
        let c = ClientRegistration {
            client_id: "demo".into(),
            client_secret: "secret".into(),
            name: "Demo Bank".into(),
            redirect_uris: vec!["http://127.0.0.1:8080/v1/callback".into()],
        };
        HashMap::from([(c.client_id.clone(), c)])
    }

    const VALID: &str = "client_id=demo&response_type=code&scope=debt.unsecured.presentation\
                         &state=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fv1%2Fcallback";

    fn check(query: &str) -> Checked {
        check_request(&Params::from_query(Some(query)), &clients())
    }

    fn error_of(query: &str) -> Option<&'static str> {
        match check(query) {
            Checked::Refuse { error, .. } => Some(error),
            _ => None,
        }
    }

    #[test]
    fn a_valid_request_is_accepted() {
        assert!(matches!(check(VALID), Checked::Valid(_)));
        let with_pkce = format!(
            "{VALID}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        );
        assert!(matches!(check(&with_pkce), Checked::Valid(r) if r.code_challenge.is_some()));
    }

    #[test]
    fn unknown_clients_and_unregistered_redirect_uris_get_a_page() {
        assert!(matches!(
            check(&VALID.replace("client_id=demo", "client_id=evil")),
            Checked::Page(_)
        ));
        assert!(matches!(
            check(&VALID.replace("callback", "callback%2F")),
            Checked::Page(_)
        ));
        assert!(matches!(
            check(&format!("{VALID}&redirect_uri=http%3A%2F%2Fevil")),
            Checked::Page(_)
        ));
    }

    #[test]
    fn request_errors_go_back_to_the_client() {
        assert_eq!(
            error_of(&VALID.replace("response_type=code", "response_type=token")),
            Some("invalid_request")
        );
        assert_eq!(
            error_of(&VALID.replace("state=abc", "")),
            Some("invalid_request")
        );
        assert_eq!(
            error_of(&VALID.replace("presentation", "presentation%20openid%20openid")),
            Some("invalid_scopes")
        );
        assert_eq!(
            error_of(&format!(
                "{VALID}&code_challenge={}&code_challenge_method=plain",
                "a".repeat(43)
            )),
            Some("invalid_request")
        );
        assert_eq!(
            error_of(&format!("{VALID}&code_challenge={}", "a".repeat(43))),
            Some("invalid_request"),
            "a missing method means plain"
        );
        assert_eq!(
            error_of(&format!("{VALID}&state=again")),
            Some("invalid_request")
        );
    }

    #[test]
    fn the_duration_is_described_in_days_or_as_single_use() {
        assert!(duration_text(None).starts_with("Engangssamtykke"));
        assert!(duration_text(Some(30)).starts_with("30 dager"));
        assert!(duration_text(Some(1)).starts_with("1 dag:"));
    }
}
