//! "Min gjeld": the page at norskgjeld.no where a person sees the consents they have given and
//! withdraws one. A test person logs in with their number (as at the TestID login), sees each
//! consent's client, purpose, expiry and status, and can revoke an active one: it ends (the debt
//! by id and the status answer as for any ended consent) and `SAMTYKKE_ARKIVERT` is published.
//!
//! The login lasts 30 minutes, in a cookie of its own (`HttpOnly`, `SameSite=Strict`, on this
//! path only), its id new at every login. Every form that changes something carries the login's
//! own random value, as the TestID forms carry their transaction: a form from elsewhere has not
//! got it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use jiff::{SignedDuration, Timestamp};
use subtle::ConstantTimeEq;

use super::nin::Nin;
use super::pages::{self, ConsentRow, MinGjeldLoginPage, MinGjeldPage};
use super::params::Params;
use super::random;
use super::scope::Purpose;
use super::state::{Shared, lock};
use super::store::{self, Consent, HIDDEN_CLIENT_ID, PersonRevokeError};

pub(crate) const PATH: &str = "/min-gjeld";
pub(crate) const LOGIN_PATH: &str = "/min-gjeld/login";
pub(crate) const REVOKE_PATH: &str = "/min-gjeld/revoke";
pub(crate) const LOGOUT_PATH: &str = "/min-gjeld/logout";
const COOKIE: &str = "ngi-sim-min-gjeld";
/// How long a login at Min gjeld lasts.
const SESSION_TTL: SignedDuration = SignedDuration::from_mins(30);

/// A person logged in at Min gjeld.
#[derive(Debug)]
pub(crate) struct PersonSession {
    nin: Nin,
    /// Sent back with every form that changes something.
    form_key: String,
    created_at: Timestamp,
}

/// Logins at Min gjeld, by the cookie's value.
#[derive(Debug, Default)]
pub(crate) struct PersonSessions {
    sessions: HashMap<String, PersonSession>,
}

impl PersonSessions {
    fn start(&mut self, nin: Nin, now: Timestamp) -> String {
        store::make_room(&mut self.sessions, |s| s.created_at, SESSION_TTL, now);
        let id = random::token();
        self.sessions.insert(
            id.clone(),
            PersonSession {
                nin,
                form_key: random::token(),
                created_at: now,
            },
        );
        id
    }

    /// The login while it lasts; an expired one is removed on sight.
    fn get(&mut self, id: &str, now: Timestamp) -> Option<&PersonSession> {
        if self
            .sessions
            .get(id)
            .is_some_and(|s| now >= store::later(s.created_at, SESSION_TTL))
        {
            self.sessions.remove(id);
        }
        self.sessions.get(id)
    }

    fn end(&mut self, id: &str) {
        self.sessions.remove(id);
    }
}

/// The login behind the request's cookie: its person and form key.
fn session(shared: &Shared, jar: &CookieJar) -> Option<(Nin, String)> {
    let id = jar.get(COOKIE)?.value().to_owned();
    let now = shared.now();
    lock(&shared.person_sessions)
        .get(&id, now)
        .map(|s| (s.nin.clone(), s.form_key.clone()))
}

fn session_cookie(shared: &Shared, value: String) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .path(PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(shared.base_url.scheme() == "https")
        .build()
}

fn client_name(shared: &Shared, client_id: &str) -> String {
    if client_id == HIDDEN_CLIENT_ID {
        return "Annen Bank ASA (skjult testklient)".into();
    }
    shared
        .clients
        .get(client_id)
        .map_or_else(|| "Ukjent tjeneste".into(), |c| c.name.clone())
}

fn purpose_text(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Presentation => "Visning av gjelden din",
        Purpose::Processing => "Behandling av en søknad om lån eller kreditt",
    }
}

fn status_text(consent: &Consent, now: Timestamp) -> &'static str {
    if consent.revoked {
        "Trukket tilbake"
    } else if consent.single_use && consent.used {
        "Brukt"
    } else if now >= consent.expires_at {
        "Utløpt"
    } else {
        "Aktivt"
    }
}

/// Norwegian time, as the person reads it.
fn expiry_text(t: Timestamp) -> String {
    match t.in_tz("Europe/Oslo") {
        Ok(zoned) => zoned.strftime("%d.%m.%Y kl. %H:%M").to_string(),
        Err(_) => t.strftime("%d.%m.%Y kl. %H:%M UTC").to_string(),
    }
}

fn row(shared: &Shared, consent: &Consent, now: Timestamp) -> ConsentRow {
    ConsentRow {
        id: consent.id.clone(),
        client_name: client_name(shared, &consent.client_id),
        purpose: purpose_text(consent.purpose),
        expires: expiry_text(consent.expires_at),
        status: status_text(consent, now),
        active: consent.is_active(now),
    }
}

fn login_page(status: StatusCode, error: Option<&str>, typed_nin: &str) -> Response {
    pages::render(status, &MinGjeldLoginPage { error, typed_nin })
}

pub(crate) async fn page(
    State(shared): State<Arc<Shared>>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    tracing::debug!(route = PATH, "simulator request");
    let Some((nin, form_key)) = session(&shared, &jar) else {
        return login_page(StatusCode::OK, None, "");
    };
    let now = shared.now();
    let consents = {
        let mut store = lock(&shared.store);
        store.notice_expired(now);
        store.consents_of(&nin)
    };
    let params = Params::from_query(query.as_deref());
    let notice = (params.get("trukket") == Some("1")).then_some("Samtykket er trukket tilbake.");
    pages::render(
        StatusCode::OK,
        &MinGjeldPage {
            masked_nin: nin.masked(),
            form_key: &form_key,
            consents: consents.iter().map(|c| row(&shared, c, now)).collect(),
            notice,
        },
    )
}

pub(crate) async fn log_in(
    State(shared): State<Arc<Shared>>,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    tracing::debug!(route = LOGIN_PATH, "simulator request");
    let form = Params::parse(&body);
    let typed = form.get("nin").unwrap_or_default();
    let Some(nin) = Nin::parse(typed) else {
        let error = if typed.is_empty() {
            "Skriv inn et fødselsnummer med 11 siffer."
        } else {
            "Fødselsnummeret er ikke gyldig. Sjekk at du har skrevet 11 siffer riktig."
        };
        return login_page(StatusCode::UNPROCESSABLE_ENTITY, Some(error), typed);
    };
    let now = shared.now();
    let id = {
        let mut sessions = lock(&shared.person_sessions);
        // A new id at every login: one set before it (by anyone) is not carried into it.
        if let Some(old) = jar.get(COOKIE) {
            sessions.end(old.value());
        }
        sessions.start(nin, now)
    };
    let jar = jar.add(session_cookie(&shared, id));
    (jar, Redirect::to(PATH)).into_response()
}

/// Why a form that changes something was not taken.
enum FormRefused {
    NotLoggedIn,
    ForeignForm,
}

impl FormRefused {
    fn page(self) -> Response {
        match self {
            FormRefused::NotLoggedIn => pages::error_page(
                StatusCode::FORBIDDEN,
                "Du er ikke logget inn",
                "Innloggingen på Min gjeld er utløpt. Logg inn på nytt for å se samtykkene dine.",
            ),
            FormRefused::ForeignForm => pages::error_page(
                StatusCode::FORBIDDEN,
                "Skjemaet kan ikke brukes",
                "Skjemaet kom ikke fra siden din på Min gjeld. Gå til Min gjeld og prøv igjen.",
            ),
        }
    }
}

/// The login behind the form, when the form carried the login's own key.
fn checked_form(shared: &Shared, jar: &CookieJar, form: &Params) -> Result<Nin, FormRefused> {
    let (nin, form_key) = session(shared, jar).ok_or(FormRefused::NotLoggedIn)?;
    let sent = form.get("form_key").unwrap_or_default();
    if !bool::from(sent.as_bytes().ct_eq(form_key.as_bytes())) {
        return Err(FormRefused::ForeignForm);
    }
    Ok(nin)
}

pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    tracing::debug!(route = REVOKE_PATH, "simulator request");
    let form = Params::parse(&body);
    let nin = match checked_form(&shared, &jar, &form) {
        Ok(nin) => nin,
        Err(refused) => return refused.page(),
    };
    let consent_id = form.get("consent_id").unwrap_or_default();
    let now = shared.now();
    let result = lock(&shared.store).revoke_by_person(consent_id, &nin, now);
    match result {
        Ok(()) => {
            tracing::info!(outcome = "revoked_by_person", "simulator consent ended");
            Redirect::to(&format!("{PATH}?trukket=1")).into_response()
        }
        Err(PersonRevokeError::Unknown) => pages::error_page(
            StatusCode::NOT_FOUND,
            "Samtykket finnes ikke",
            "Du har ikke gitt noe samtykke med denne referansen.",
        ),
        Err(PersonRevokeError::Ended) => pages::error_page(
            StatusCode::CONFLICT,
            "Samtykket er allerede avsluttet",
            "Samtykket er allerede trukket tilbake, brukt eller utløpt.",
        ),
    }
}

pub(crate) async fn log_out(
    State(shared): State<Arc<Shared>>,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    tracing::debug!(route = LOGOUT_PATH, "simulator request");
    let form = Params::parse(&body);
    if let Err(refused) = checked_form(&shared, &jar, &form) {
        return refused.page();
    }
    if let Some(cookie) = jar.get(COOKIE) {
        lock(&shared.person_sessions).end(cookie.value());
    }
    let jar = jar.remove(Cookie::build(COOKIE).path(PATH));
    (jar, Redirect::to(PATH)).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_login_lasts_thirty_minutes_and_ends_on_logout() {
        let mut sessions = PersonSessions::default();
        let t0 = Timestamp::UNIX_EPOCH;
        let nin = Nin::parse("14842249091").unwrap();
        let id = sessions.start(nin.clone(), t0);
        let just_before = store::later(t0, SESSION_TTL - SignedDuration::from_secs(1));
        assert_eq!(sessions.get(&id, just_before).map(|s| &s.nin), Some(&nin));
        assert!(sessions.get(&id, store::later(t0, SESSION_TTL)).is_none());
        let id = sessions.start(nin, t0);
        sessions.end(&id);
        assert!(sessions.get(&id, t0).is_none());
    }

    #[test]
    fn each_login_has_its_own_id_and_form_key() {
        let mut sessions = PersonSessions::default();
        let t0 = Timestamp::UNIX_EPOCH;
        let nin = Nin::parse("14842249091").unwrap();
        let a = sessions.start(nin.clone(), t0);
        let b = sessions.start(nin, t0);
        assert_ne!(a, b);
        let key_a = sessions.get(&a, t0).unwrap().form_key.clone();
        let key_b = sessions.get(&b, t0).unwrap().form_key.clone();
        assert_ne!(key_a, key_b);
    }

    #[test]
    fn expiry_is_shown_in_norwegian_time() {
        let t: Timestamp = "2026-07-01T10:30:00Z".parse().unwrap();
        assert_eq!(expiry_text(t), "01.07.2026 kl. 12:30");
    }
}
