//! The console's askama page structs, each rendering `templates/partner/<name>.html` over
//! `base.html` (the person's pages' look), with the console's menu. Every value is formatted
//! here; identity numbers arrive masked (the ledger holds nothing else), NGI's words and
//! history reasons are shown with long numbers masked, and a reference (shown, or sent back in a
//! form) with any identity number in it masked.

use askama::Template;
use jiff::Timestamp;

use crate::domain::consent::{Source, Status};
use crate::domain::nin::{mask_identity_numbers, mask_long_numbers};
use crate::domain::scope::Purpose;
use crate::domain::time;
use crate::i18n::ConsoleTexts;
use crate::ledger::Consent;
use crate::paths;
use crate::web::pages::{Chrome, DebtPage};

/// The console's menu, with the page it is on marked.
pub struct Nav {
    pub current: &'static str,
    pub consents: &'static str,
    pub register: &'static str,
    pub links: &'static str,
    pub feed: &'static str,
    pub logout: &'static str,
}

impl Nav {
    pub fn at(current: &'static str) -> Self {
        Self {
            current,
            consents: paths::CONSOLE_CONSENTS,
            register: paths::CONSOLE_REGISTER,
            links: paths::CONSOLE_LINKS,
            feed: paths::CONSOLE_FEED,
            logout: paths::CONSOLE_LOGOUT,
        }
    }
}

/// What an action came to, above the page: `ok` (a status) or `error` (an alert).
pub struct Notice {
    pub kind: &'static str,
    pub text: &'static str,
    /// NGI's own words, already cleaned and with long numbers masked.
    pub detail: Option<String>,
}

impl Notice {
    pub fn ok(text: &'static str) -> Self {
        Self {
            kind: "ok",
            text,
            detail: None,
        }
    }

    pub fn error(text: &'static str) -> Self {
        Self {
            kind: "error",
            text,
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: &str) -> Self {
        self.detail = Some(mask_long_numbers(detail));
        self
    }
}

/// `GET /partner/login`, and a refused login.
#[derive(Template)]
#[template(path = "partner/login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub action: &'static str,
    pub error: Option<&'static str>,
}

/// One status a filter may ask for.
pub struct StatusOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// One consent in the ledger's table.
pub struct Row {
    pub created: String,
    pub reference: String,
    pub person: String,
    pub purpose: &'static str,
    pub status: &'static str,
    /// The consent's page; `None` while it has no NGI id.
    pub href: Option<String>,
    pub id: String,
}

/// `GET /partner/consents`: the ledger, filtered and paged.
#[derive(Template)]
#[template(path = "partner/consents.html")]
pub struct ConsentsPage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub nav: Nav,
    pub action: &'static str,
    pub statuses: Vec<StatusOption>,
    pub reference: String,
    pub status_error: bool,
    pub reference_error: bool,
    /// Paging that could not be read (an `after` this console did not give).
    pub other_error: bool,
    pub rows: Vec<Row>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
}

impl ConsentsPage {
    pub fn any_error(&self) -> bool {
        self.status_error || self.reference_error || self.other_error
    }
}

/// One status change in a consent's history.
pub struct HistoryRow {
    pub at: String,
    pub from: &'static str,
    pub to: &'static str,
    pub reason: String,
}

/// The action forms on a consent's page.
pub struct Actions {
    pub debt: String,
    pub status: String,
    pub revoke: String,
}

/// `GET /partner/consents/{id}`, and the outcome of an action on it.
#[derive(Template)]
#[template(path = "partner/consent.html")]
pub struct ConsentPage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub nav: Nav,
    pub notice: Option<Notice>,
    pub facts: Vec<(&'static str, String)>,
    pub history: Vec<HistoryRow>,
    pub actions: Option<Actions>,
}

impl ConsentPage {
    pub fn new(
        chrome: Chrome,
        c: &'static ConsoleTexts,
        consent: &Consent,
        now: Timestamp,
    ) -> Self {
        let id = consent.id.as_ref().map(|id| id.as_str().to_owned());
        let facts = vec![
            (
                c.field_id,
                id.clone().unwrap_or_else(|| c.no_id_yet.to_owned()),
            ),
            (
                c.col_reference,
                consent
                    .reference
                    .as_deref()
                    .map(mask_identity_numbers)
                    .unwrap_or_default(),
            ),
            (c.col_person, person(consent)),
            (c.field_source, source_label(c, consent.source).to_owned()),
            (c.col_purpose, purpose_label(c, consent.purpose).to_owned()),
            (
                c.field_days,
                consent.duration_days.map_or_else(
                    || c.single_use.to_owned(),
                    |d| format!("{d} {}", c.days_unit),
                ),
            ),
            (
                c.col_status,
                status_label(c, consent.status_at(now)).to_owned(),
            ),
            (
                c.field_expires,
                consent
                    .expires_at
                    .map_or_else(|| c.never_set.to_owned(), time::oslo_date_time),
            ),
            (c.col_created, time::oslo_date_time(consent.created_at)),
        ];
        let history = consent
            .history
            .iter()
            .map(|change| HistoryRow {
                at: time::oslo_date_time(change.at),
                from: change.from.map_or("–", |s| status_label(c, s)),
                to: status_label(c, change.to),
                reason: mask_long_numbers(&change.reason),
            })
            .collect();
        let actions = id.map(|id| Actions {
            debt: paths::console_consent(paths::CONSOLE_CONSENT_DEBT, &id),
            status: paths::console_consent(paths::CONSOLE_CONSENT_STATUS, &id),
            revoke: paths::console_consent(paths::CONSOLE_CONSENT_REVOKE, &id),
        });
        Self {
            chrome,
            c,
            nav: Nav::at("consents"),
            notice: None,
            facts,
            history,
            actions,
        }
    }

    pub fn with_notice(mut self, notice: Notice) -> Self {
        self.notice = Some(notice);
        self
    }
}

/// A page with a notice only: an action on a consent the ledger does not hold.
#[derive(Template)]
#[template(path = "partner/notice.html")]
pub struct NoticePage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub nav: Nav,
    pub title: &'static str,
    pub notice: Notice,
    pub back_href: &'static str,
    pub back_label: &'static str,
}

/// `POST /partner/consents/{id}/debt`: the debt, fetched now and not kept.
#[derive(Template)]
#[template(path = "partner/debt.html")]
pub struct DebtAgainPage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub nav: Nav,
    pub debt: DebtPage,
    pub back_href: String,
}

/// `GET /partner/register`, and the outcome of a registration that did not go through. The
/// identity number is never sent back: its field is always empty.
#[derive(Template)]
#[template(path = "partner/register.html")]
pub struct RegisterPage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub nav: Nav,
    pub action: &'static str,
    pub notice: Option<Notice>,
    pub purpose: &'static str,
    pub days: String,
    pub reference: String,
    pub nin_error: bool,
    pub purpose_error: bool,
    pub days_error: bool,
    /// The reference's own message (not valid, or registered with other data).
    pub reference_error: Option<&'static str>,
}

impl RegisterPage {
    pub fn new(chrome: Chrome, c: &'static ConsoleTexts) -> Self {
        Self {
            chrome,
            c,
            nav: Nav::at("register"),
            action: paths::CONSOLE_REGISTER,
            notice: None,
            purpose: "presentation",
            days: String::new(),
            reference: String::new(),
            nin_error: false,
            purpose_error: false,
            days_error: false,
            reference_error: None,
        }
    }

    pub fn any_error(&self) -> bool {
        self.nin_error || self.purpose_error || self.days_error || self.reference_error.is_some()
    }
}

/// `GET /partner/links`, and a link just made.
#[derive(Template)]
#[template(path = "partner/links.html")]
pub struct LinksPage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub nav: Nav,
    pub action: &'static str,
    pub reference: String,
    pub error: bool,
    /// The link made, and until when it works.
    pub link: Option<(String, String)>,
}

/// `GET /partner/feed`: the place for the consent feed's state (cursor, lag, leader, last poll,
/// last error, last events) once the site follows NGI's feed.
#[derive(Template)]
#[template(path = "partner/feed.html")]
pub struct FeedPage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub nav: Nav,
}

/// The masked identity number, or a dash for a consent known only from NGI's feed.
pub fn person(consent: &Consent) -> String {
    if consent.nin_masked.is_empty() {
        "–".to_owned()
    } else {
        consent.nin_masked.clone()
    }
}

pub fn status_label(c: &'static ConsoleTexts, status: Status) -> &'static str {
    match status {
        Status::Registering => c.status_registering,
        Status::Active => c.status_active,
        Status::Used => c.status_used,
        Status::Revoking => c.status_revoking,
        Status::Revoked => c.status_revoked,
        Status::EndedAtNgi => c.status_ended_at_ngi,
        Status::Refused => c.status_refused,
        Status::Expired => c.status_expired,
    }
}

pub fn purpose_label(c: &'static ConsoleTexts, purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Presentation => c.purpose_presentation,
        Purpose::Processing => c.purpose_processing,
    }
}

fn source_label(c: &'static ConsoleTexts, source: Source) -> &'static str {
    match source {
        Source::Redirect => c.source_redirect,
        Source::Integrated => c.source_integrated,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::domain::consent::ConsentId;
    use crate::i18n::Lang;
    use crate::ledger::{Change, RowId};

    fn consent(id: Option<&str>) -> Consent {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        Consent {
            row: RowId(1),
            id: id.map(|id| ConsentId::from_str(id).unwrap()),
            reference: Some("APP-1".into()),
            source: Source::Integrated,
            purpose: Purpose::Presentation,
            duration_days: Some(30),
            expires_at: None,
            nin_masked: "148422*****".into(),
            status: Status::Active,
            created_at: at,
            updated_at: at,
            history: vec![Change {
                at,
                from: None,
                to: Status::Active,
                reason: "NGI said 14842249091 was fine".into(),
            }],
        }
    }

    fn render_in(lang: Lang, consent: &Consent) -> String {
        let chrome = Chrome::new(lang, false, paths::CONSOLE, "req-1");
        ConsentPage::new(chrome, lang.console(), consent, consent.created_at)
            .render()
            .unwrap()
    }

    #[test]
    fn a_consents_page_shows_the_number_masked_even_inside_a_reason() {
        let page = render_in(
            Lang::Nb,
            &consent(Some("3b1f0d2e-8c5a-4f3e-9a61-0c7d2b5e9f10")),
        );
        assert!(page.contains("148422*****"));
        assert!(!page.contains("14842249091"), "{page}");
        assert!(page.contains("<html lang=\"nb\">"));
        assert!(page.contains(Lang::Nb.console().status_active));
    }

    #[test]
    fn actions_are_offered_only_for_a_consent_with_an_ngi_id() {
        let with = render_in(
            Lang::En,
            &consent(Some("3b1f0d2e-8c5a-4f3e-9a61-0c7d2b5e9f10")),
        );
        assert!(
            with.contains(
                "action=\"/partner/consents/3b1f0d2e-8c5a-4f3e-9a61-0c7d2b5e9f10/revoke\""
            )
        );
        let without = render_in(Lang::En, &consent(None));
        assert!(!without.contains("/revoke"));
        assert!(without.contains(Lang::En.console().no_id_yet));
    }
}
