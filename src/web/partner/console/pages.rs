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
use crate::ledger::{Consent, EventOutcome};
use crate::paths;
use crate::web::pages::{Chrome, DebtPage};
use crate::web::partner::feed::FeedSnapshot;

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

/// One event in the feed page's table.
pub struct FeedEventRow {
    pub sequence_nr: i64,
    pub event_type: String,
    pub consent_id: String,
    /// The consent's page, for an event that found the consent in the ledger.
    pub consent_href: Option<String>,
    pub at_ngi: String,
    pub received: String,
    pub outcome: &'static str,
}

/// `GET /partner/feed`: the follower's state on this instance (a definition list, with notices
/// for a follower that is not the leader, has not polled or last failed) and the last events.
#[derive(Template)]
#[template(path = "partner/feed.html")]
pub struct FeedPage {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub nav: Nav,
    pub notices: Vec<Notice>,
    pub facts: Vec<(&'static str, String)>,
    /// The last poll failed: its fact is marked.
    pub failed: bool,
    pub events: Vec<FeedEventRow>,
}

impl FeedPage {
    pub fn new(chrome: Chrome, c: &'static ConsoleTexts, snapshot: &FeedSnapshot) -> Self {
        let state = &snapshot.state;
        let number =
            |n: Option<i64>| n.map_or_else(|| c.feed_none_yet.to_owned(), |n| n.to_string());
        let mut notices = Vec::new();
        if state.last_poll_at.is_none() {
            notices.push(Notice::ok(c.feed_no_poll_yet));
        } else if !state.leader {
            notices.push(Notice::ok(c.feed_not_leader));
        }
        if state.last_error.is_some() {
            notices.push(Notice::error(c.feed_poll_failed));
        }
        let leader = match (state.last_poll_at, state.leader) {
            (None, _) => c.feed_none_yet,
            (Some(_), true) => c.feed_leader_yes,
            (Some(_), false) => c.feed_leader_no,
        };
        let facts = vec![
            (c.feed_leader, leader.to_owned()),
            (
                c.feed_last_poll,
                state
                    .last_poll_at
                    .map_or_else(|| c.feed_none_yet.to_owned(), time::oslo_date_time),
            ),
            (
                c.feed_last_error,
                // Masked already by the snapshot; masked again here so no page can miss it.
                state
                    .last_error
                    .as_deref()
                    .map_or_else(|| c.feed_no_error.to_owned(), mask_long_numbers),
            ),
            (c.feed_cursor, number(state.cursor)),
            (c.feed_last_sequence_nr, number(state.last_sequence_nr)),
            (c.feed_lag, number(state.lag())),
        ];
        let events = snapshot
            .events
            .iter()
            .map(|event| FeedEventRow {
                sequence_nr: event.sequence_nr,
                event_type: crate::domain::nin::mask_long_numbers(&event.event_type),
                consent_id: event.consent_id.as_str().to_owned(),
                consent_href: matches!(
                    event.outcome,
                    EventOutcome::Applied | EventOutcome::Confirmed
                )
                .then(|| paths::console_consent(paths::CONSOLE_CONSENT, event.consent_id.as_str())),
                at_ngi: time::oslo_date_time(event.timestamp),
                received: time::oslo_date_time(event.received_at),
                outcome: outcome_label(c, event.outcome),
            })
            .collect();
        Self {
            chrome,
            c,
            nav: Nav::at("feed"),
            notices,
            facts,
            failed: state.last_error.is_some(),
            events,
        }
    }
}

pub fn outcome_label(c: &'static ConsoleTexts, outcome: EventOutcome) -> &'static str {
    match outcome {
        EventOutcome::Applied => c.outcome_applied,
        EventOutcome::Confirmed => c.outcome_confirmed,
        EventOutcome::Unchanged => c.outcome_unchanged,
        EventOutcome::Tombstoned => c.outcome_tombstoned,
        EventOutcome::Recorded => c.outcome_recorded,
        EventOutcome::Duplicate => c.outcome_duplicate,
        EventOutcome::Skipped => c.outcome_skipped,
    }
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

    /// `text` as askama writes it into a page.
    fn escaped(text: &str) -> String {
        text.replace('&', "&#38;")
            .replace('\'', "&#39;")
            .replace('"', "&#34;")
    }

    fn feed_page(lang: Lang, state: crate::feed::FeedState) -> String {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let event = crate::ledger::FeedEventRecord {
            sequence_nr: 7,
            event_id: "ev-7".into(),
            consent_id: ConsentId::from_str("3b1f0d2e-8c5a-4f3e-9a61-0c7d2b5e9f10").unwrap(),
            event_type: "SAMTYKKE_ARKIVERT".into(),
            timestamp: at,
            received_at: at,
            outcome: EventOutcome::Applied,
        };
        let chrome = Chrome::new(lang, false, paths::CONSOLE_FEED, "req-1");
        let snapshot = FeedSnapshot::new(state, vec![event]);
        FeedPage::new(chrome, lang.console(), &snapshot)
            .render()
            .unwrap()
    }

    #[test]
    fn the_feed_page_says_plainly_when_this_instance_is_not_the_leader() {
        let polled = crate::feed::FeedState {
            last_poll_at: Some(Timestamp::from_second(1_800_000_000).unwrap()),
            ..crate::feed::FeedState::default()
        };
        let c = Lang::En.console();
        let page = feed_page(Lang::En, polled.clone());
        assert!(page.contains(&escaped(c.feed_not_leader)), "{page}");
        assert!(page.contains(&escaped(c.feed_leader_no)));
        assert!(!page.contains(&escaped(c.feed_no_poll_yet)));
        let leading = feed_page(
            Lang::En,
            crate::feed::FeedState {
                leader: true,
                ..polled
            },
        );
        assert!(!leading.contains(&escaped(c.feed_not_leader)));
        assert!(leading.contains(&escaped(c.feed_leader_yes)));
        let never = feed_page(Lang::Nb, crate::feed::FeedState::default());
        assert!(never.contains(&escaped(Lang::Nb.console().feed_no_poll_yet)));
        assert!(!never.contains(&escaped(Lang::Nb.console().feed_not_leader)));
    }

    #[test]
    fn the_feed_page_lists_events_in_a_captioned_table_linking_an_applied_consent() {
        let page = feed_page(Lang::Nb, crate::feed::FeedState::default());
        let c = Lang::Nb.console();
        assert!(page.contains(&format!("<caption>{}</caption>", c.feed_events_caption)));
        assert!(page.contains("<th scope=\"col\">"));
        assert!(page.contains("SAMTYKKE_ARKIVERT"));
        assert!(page.contains(c.outcome_applied));
        assert!(page.contains("href=\"/partner/consents/3b1f0d2e-8c5a-4f3e-9a61-0c7d2b5e9f10\""));
        assert!(
            page.contains("15.01.2027 kl. 09:00") || page.contains(" kl. "),
            "{page}"
        );
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
