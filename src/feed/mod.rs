//! Hearing from NGI: the consent-feed follower. [`Follower::poll_once`] is one step a test can
//! call — NGI's `firstSequenceNr`, `lastSequenceNr` and one page from the cursor + 1, applied to
//! the ledger in one transaction that moves the cursor only if it is still the value read.
//! [`run`] calls it every `FEED_POLL_SECS`, again at once while more is waiting.
//!
//! The cursor is the highest sequence number received. NGI's `endSequenceNr` may mean the end of
//! the page or of the feed (LIFECYCLE.md): it is used only on an empty page, and only when it is
//! not below the `fromSequenceNr` sent, so neither reading skips a number or loops on a page.

pub mod crash;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::consents::Lifecycle;
use crate::domain::consent::Status;
use crate::domain::time::Clock;
use crate::ledger::{EventOutcome, FeedApplied, FeedLead, Ledger, LedgerError, ListQuery};
use crate::ngi::feed::{EventKind, Feed, FeedError, FeedPage};

/// The most pages one round reads before waiting for the next interval.
pub const MAX_PAGES_PER_ROUND: usize = 50;
/// The first wait after a failed poll; doubled each failure up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);

/// Why a poll did not finish; the next one starts from the cursor as it is.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("NGI's consent feed could not be read")]
    Feed(#[source] FeedError),
    #[error("the consent ledger failed while following NGI's consent feed")]
    Ledger(#[source] LedgerError),
}

/// What one [`Follower::poll_once`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// This instance holds the feed's leadership; when not, nothing was read.
    pub leader: bool,
    /// The `fromSequenceNr` asked for; `None` when no page was read (an empty feed).
    pub from: Option<i64>,
    /// The cursor after this step.
    pub cursor: Option<i64>,
    /// NGI's `lastSequenceNr` as read before the page.
    pub last: Option<i64>,
    /// Each readable event's type label and what it did, in sequence order.
    pub events: Vec<(&'static str, EventOutcome)>,
    /// Events NGI sent that could not be read (counted past, never waited for).
    pub malformed: usize,
    /// The cursor was older than `firstSequenceNr`: (the cursor, `firstSequenceNr`).
    pub lost_window: Option<(i64, i64)>,
    /// Consents whose status was asked of NGI after a lost window.
    pub refreshed: usize,
    /// Another follower moved the cursor meanwhile: nothing of this page was written.
    pub cursor_moved: bool,
    /// More is waiting: the cursor moved forward and is still below `lastSequenceNr`.
    pub more: bool,
}

/// What the follower last did, for the partner API and console: no secret, no identity number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedState {
    /// This instance follows the feed (on PostgreSQL only one instance does).
    pub leader: bool,
    /// When the last poll finished, well or not.
    pub last_poll_at: Option<Timestamp>,
    /// The last poll's error, as its chain of causes; `None` after a poll that went well.
    pub last_error: Option<String>,
    /// The cursor as the last poll left it.
    pub cursor: Option<i64>,
    /// NGI's `lastSequenceNr` as the last poll read it.
    pub last_sequence_nr: Option<i64>,
}

impl FeedState {
    /// NGI's `lastSequenceNr` less the cursor: how many sequence numbers are still to read.
    /// Only the leader reads NGI's number, so only the leader knows it.
    pub fn lag(&self) -> Option<i64> {
        if !self.leader {
            return None;
        }
        let last = self.last_sequence_nr?;
        Some(last.saturating_sub(self.cursor.unwrap_or(0)).max(0))
    }
}

/// Follows NGI's consent feed into the ledger.
#[derive(Debug)]
pub struct Follower {
    feed: Feed,
    ledger: Ledger,
    lifecycle: Arc<Lifecycle>,
    page_size: u32,
    state: std::sync::Mutex<FeedState>,
    /// The feed's leadership while this instance holds it; one step at a time goes through it.
    lead: tokio::sync::Mutex<Option<Box<dyn FeedLead>>>,
}

impl Follower {
    pub fn new(feed: Feed, ledger: Ledger, lifecycle: Arc<Lifecycle>, page_size: u32) -> Self {
        Self {
            feed,
            ledger,
            lifecycle,
            page_size: page_size.clamp(1, 1000),
            state: std::sync::Mutex::new(FeedState::default()),
            lead: tokio::sync::Mutex::new(None),
        }
    }

    /// What the follower last did.
    pub fn state(&self) -> FeedState {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// One step: reads the feed's bounds and one page from the cursor + 1, and applies it.
    pub async fn poll_once(&self, now: Timestamp) -> Result<Outcome, PollError> {
        let result = self.step(now).await;
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.last_poll_at = Some(now);
        match &result {
            Ok(outcome) => {
                state.leader = outcome.leader;
                state.last_error = None;
                state.cursor = outcome.cursor;
                if outcome.leader {
                    state.last_sequence_nr = outcome.last;
                }
            }
            Err(e) => {
                state.last_error = Some(crate::error::chain(e));
                // A ledger error gives the lead up (see `step`).
                if matches!(e, PollError::Ledger(_)) {
                    state.leader = false;
                }
            }
        }
        result
    }

    /// Takes the lead if no one holds it, then follows one page through it. A ledger error gives
    /// the lead up (its connection may be gone), to be tried for afresh on the next step.
    async fn step(&self, now: Timestamp) -> Result<Outcome, PollError> {
        let mut lead = self.lead.lock().await;
        if lead.is_none() {
            *lead = self.ledger.lead_feed().await.map_err(PollError::Ledger)?;
            if lead.is_some() {
                tracing::info!("this instance now follows NGI's consent feed");
            }
        }
        crate::metrics::feed_leader(lead.is_some());
        let Some(held) = lead.as_mut() else {
            // Another instance follows; the cursor is shown as it stands.
            let cursor = self.ledger.feed_cursor().await.map_err(PollError::Ledger)?;
            return Ok(Outcome {
                cursor,
                ..Outcome::default()
            });
        };
        let result = self.follow(held.as_mut(), now).await;
        if let Err(PollError::Ledger(e)) = &result {
            tracing::warn!(
                error = %crate::error::chain(e),
                "the consent feed's lead is given up after a ledger error; taken afresh next time"
            );
            *lead = None;
            crate::metrics::feed_leader(false);
        }
        result
    }

    async fn follow(&self, lead: &mut dyn FeedLead, now: Timestamp) -> Result<Outcome, PollError> {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let stored = lead.cursor().await.map_err(PollError::Ledger)?;
        let first = self
            .feed
            .first_sequence_nr(&trace_id)
            .await
            .map_err(PollError::Feed)?;
        let last = self
            .feed
            .last_sequence_nr(&trace_id)
            .await
            .map_err(PollError::Feed)?;
        let mut outcome = Outcome {
            leader: true,
            cursor: stored,
            last,
            ..Outcome::default()
        };
        if first.is_none() && last.is_none() {
            return Ok(outcome);
        }
        // Before the first page the follower starts at the oldest event NGI holds.
        let mut read = stored;
        let mut cursor = stored.unwrap_or_else(|| first.map_or(0, |f| f.saturating_sub(1)));
        if let (Some(held), Some(first)) = (stored, first)
            && held.saturating_add(1) < first
        {
            let moved_to = first.saturating_sub(1);
            tracing::warn!(
                cursor = held,
                first_sequence_nr = first,
                "events of NGI's consent feed were lost: the cursor {held} is older than NGI's \
                 firstSequenceNr {first}; moving on and asking NGI for every open consent's status"
            );
            crate::metrics::feed_lost_window();
            match lead
                .apply_page(Some(held), moved_to, &[], now)
                .await
                .map_err(PollError::Ledger)?
            {
                FeedApplied::Committed(_) => {}
                FeedApplied::CursorMoved { found } => {
                    outcome.cursor = found;
                    outcome.cursor_moved = true;
                    return Ok(outcome);
                }
            }
            outcome.lost_window = Some((held, first));
            outcome.refreshed = self.refresh_open_consents(now, &trace_id).await?;
            read = Some(moved_to);
            cursor = moved_to;
            outcome.cursor = read;
        }

        let from = cursor.saturating_add(1);
        outcome.from = Some(from);
        let page = self
            .feed
            .page(from, self.page_size, &trace_id)
            .await
            .map_err(PollError::Feed)?;
        crash::point(crash::CrashPoint::AfterFetch);
        for bad in &page.malformed {
            tracing::warn!(
                sequence_nr = bad.sequence_nr,
                reason = bad.reason,
                "an event of NGI's consent feed could not be read; counted past"
            );
            crate::metrics::feed_event("malformed", "skipped");
        }
        outcome.malformed = page.malformed.len();
        let next = next_cursor(cursor, from, &page);
        if next == cursor && page.events.is_empty() && read.is_some() {
            outcome.more = false;
            crate::metrics::feed_position(cursor, last);
            return Ok(outcome);
        }
        match lead
            .apply_page(read, next, &page.events, now)
            .await
            .map_err(PollError::Ledger)?
        {
            FeedApplied::Committed(outcomes) => {
                for (event, done) in page.events.iter().zip(outcomes) {
                    crate::metrics::feed_event(event.kind.label(), done.label());
                    if let EventKind::Unknown { event_type } = &event.kind {
                        tracing::info!(
                            sequence_nr = event.sequence_nr,
                            event_type,
                            "an event type of NGI's consent feed not known here: recorded, skipped"
                        );
                    }
                    outcome.events.push((event.kind.label(), done));
                }
                outcome.cursor = Some(next);
                outcome.more = next > cursor && last.is_some_and(|last| next < last);
                crate::metrics::feed_position(next, last);
            }
            FeedApplied::CursorMoved { found } => {
                tracing::info!(
                    read = read,
                    found = found,
                    "another follower moved the consent feed's cursor; this page was not written"
                );
                outcome.cursor = found;
                outcome.cursor_moved = true;
            }
        }
        Ok(outcome)
    }

    /// Asks NGI for the status of every consent not yet ended (after events were lost).
    async fn refresh_open_consents(
        &self,
        now: Timestamp,
        trace_id: &str,
    ) -> Result<usize, PollError> {
        let mut asked = 0;
        for status in [Status::Active, Status::Revoking] {
            let mut after = None;
            loop {
                let page = self
                    .ledger
                    .list(ListQuery {
                        status: Some(status),
                        now,
                        reference: None,
                        limit: 1000,
                        after,
                    })
                    .await
                    .map_err(PollError::Ledger)?;
                for consent in &page.consents {
                    let Some(id) = &consent.id else { continue };
                    asked += 1;
                    if let Err(e) = self.lifecycle.refresh_status(id, now, trace_id).await {
                        tracing::warn!(
                            error = %crate::error::chain(&e),
                            row = consent.row.0,
                            "a consent's status could not be asked of NGI after lost feed events"
                        );
                    }
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(asked)
    }
}

/// The cursor after `page`, asked from `from` with the cursor at `cursor`: the highest number
/// received, or on an empty page NGI's `endSequenceNr` when it is not below `from` (under
/// either reading it then names numbers with nothing of ours). Never behind `cursor`.
fn next_cursor(cursor: i64, from: i64, page: &FeedPage) -> i64 {
    match page.highest_sequence_nr() {
        Some(highest) => highest.max(cursor),
        None => page
            .end_sequence_nr
            .filter(|end| *end >= from)
            .unwrap_or(cursor),
    }
}

/// Polls every `every`, at once again while more is waiting (at most
/// [`MAX_PAGES_PER_ROUND`] pages a round); after an error waits from [`BACKOFF_FIRST`] up to
/// [`BACKOFF_MAX`], with jitter. Ends only when its task is aborted.
pub async fn run(follower: Arc<Follower>, every: Duration, clock: Clock) {
    let mut backoff: Option<Duration> = None;
    loop {
        let mut pages = 0;
        let wait = loop {
            pages += 1;
            match follower.poll_once(clock()).await {
                Ok(outcome) => {
                    backoff = None;
                    if outcome.more && pages < MAX_PAGES_PER_ROUND {
                        continue;
                    }
                    break every;
                }
                Err(e) => {
                    let next = backoff.map_or(BACKOFF_FIRST, |b| (b * 2).min(BACKOFF_MAX));
                    backoff = Some(next);
                    crate::metrics::feed_poll_failed();
                    tracing::warn!(
                        error = %crate::error::chain(&e),
                        retry_in_ms = next.as_millis(),
                        "NGI's consent feed could not be followed; trying again"
                    );
                    break jittered(next);
                }
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// `wait` scaled by a random factor from 0.5 to 1, so instances that failed together do not
/// retry together.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(rand::random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(sequence_nrs: &[i64], end: Option<i64>) -> FeedPage {
        FeedPage {
            start_sequence_nr: sequence_nrs.first().copied(),
            end_sequence_nr: end,
            generated_at: None,
            events: Vec::new(),
            malformed: sequence_nrs
                .iter()
                .map(|n| crate::ngi::feed::MalformedEvent {
                    sequence_nr: Some(*n),
                    event_id: None,
                    reason: "test",
                })
                .collect(),
        }
    }

    #[test]
    fn the_cursor_is_the_highest_number_received_whatever_the_end_says() {
        // A page cut short, its end naming the feed's end: the highest received, not the end.
        assert_eq!(next_cursor(10, 11, &page(&[11, 14], Some(40))), 14);
        assert_eq!(next_cursor(10, 11, &page(&[14, 11], None)), 14);
        // Numbers behind the cursor never move it back.
        assert_eq!(next_cursor(10, 11, &page(&[3], Some(3))), 10);
    }

    #[test]
    fn an_empty_page_moves_the_cursor_only_to_an_end_not_below_what_was_asked() {
        assert_eq!(next_cursor(10, 11, &page(&[], Some(25))), 25);
        assert_eq!(next_cursor(10, 11, &page(&[], Some(11))), 11);
        // Below the number asked for (the end of what we have, or a stale answer): stays.
        assert_eq!(next_cursor(10, 11, &page(&[], Some(10))), 10);
        assert_eq!(next_cursor(10, 11, &page(&[], Some(4))), 10);
        assert_eq!(next_cursor(10, 11, &page(&[], None)), 10);
    }

    #[test]
    fn a_jittered_wait_is_between_half_and_all_of_it() {
        for _ in 0..100 {
            let wait = jittered(Duration::from_secs(10));
            assert!(
                wait >= Duration::from_secs(5) && wait <= Duration::from_secs(10),
                "{wait:?}"
            );
        }
    }
}
