//! The ledger's share of the consent feed, on both databases: a page applied in one transaction
//! (each event once, the cursor compared and set), the status rules of each event, tombstones.

use super::*;
use crate::ngi::feed::{EventKind, FeedEvent, KnownType};

on_both!(
    a_feed_page_ends_consents_by_their_status_and_moves_the_cursor,
    a_duplicate_event_is_counted_and_not_applied_again,
    an_archived_event_before_the_callback_keeps_the_consent_ended,
    a_cursor_someone_else_moved_writes_nothing,
    a_created_event_never_reopens_and_confirms_a_registration,
    unknown_and_blockless_events_are_recorded_and_skipped,
    two_followers_applying_the_same_page_at_once_apply_it_once,
    recent_feed_events_come_newest_first_once_each_and_at_most_the_limit,
);

fn event(seq: i64, event_id: &str, consent: &str, kind: EventKind) -> FeedEvent {
    FeedEvent {
        sequence_nr: seq,
        event_id: event_id.into(),
        consent_id: consent.parse().unwrap(),
        timestamp: at(-seq),
        kind,
    }
}

fn archived(seq: i64, consent: &str) -> FeedEvent {
    event(
        seq,
        &format!("ev-{seq}"),
        consent,
        EventKind::Archived {
            client_id: "partner".into(),
            consent_id: "other-inner-id".into(),
        },
    )
}

fn created(seq: i64, consent: &str, external: Option<&str>) -> FeedEvent {
    event(
        seq,
        &format!("ev-{seq}"),
        consent,
        EventKind::Created {
            client_id: "partner".into(),
            consent_id: consent.into(),
            scope: "debt.unsecured.presentation".into(),
            external_consent_id: external.map(str::to_owned),
        },
    )
}

async fn committed(
    ledger: &dyn ConsentLedger,
    read: Option<i64>,
    to: i64,
    events: &[FeedEvent],
    now: Timestamp,
) -> Vec<EventOutcome> {
    match ledger.apply_feed_page(read, to, events, now).await.unwrap() {
        FeedApplied::Committed(outcomes) => outcomes,
        other => panic!("the cursor was {read:?}: {other:?}"),
    }
}

async fn status_of(ledger: &dyn ConsentLedger, id: &str) -> Status {
    ledger
        .get(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn a_feed_page_ends_consents_by_their_status_and_moves_the_cursor(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    assert_eq!(ledger.feed_cursor().await.unwrap(), None);
    ledger
        .record_granted(granted("open-1", Some(30)), at(0))
        .await
        .unwrap();
    ledger
        .record_granted(granted("used-1", None), at(0))
        .await
        .unwrap();
    ledger
        .record_granted(granted("short-1", Some(1)), at(0))
        .await
        .unwrap();
    let revoking = ledger
        .record_granted(granted("revoking-1", Some(30)), at(0))
        .await
        .unwrap();
    ledger
        .transition(revoking.row, to(Status::Revoking, "asked"), at(1))
        .await
        .unwrap();
    // A gap (no 2, 4) and timestamps that run backwards: applied in sequence order all the same.
    let page = [
        archived(1, "open-1"),
        archived(3, "used-1"),
        archived(5, "short-1"),
        archived(6, "revoking-1"),
    ];
    let now = at(86_400 * 2);
    let outcomes = committed(ledger, None, 6, &page, now).await;
    assert_eq!(
        outcomes,
        [
            EventOutcome::Applied,
            EventOutcome::Unchanged,
            EventOutcome::Applied,
            EventOutcome::Applied
        ]
    );
    assert_eq!(status_of(ledger, "open-1").await, Status::EndedAtNgi);
    assert_eq!(status_of(ledger, "used-1").await, Status::Used);
    assert_eq!(status_of(ledger, "short-1").await, Status::Expired);
    assert_eq!(status_of(ledger, "revoking-1").await, Status::Revoked);
    let open = ledger
        .get(&"open-1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let last = open.history.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.at),
        (Some(Status::Active), Status::EndedAtNgi, now)
    );
    assert_eq!(ledger.feed_cursor().await.unwrap(), Some(6));
    db
}

async fn a_duplicate_event_is_counted_and_not_applied_again(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let mut again = archived(2, "dup-1");
    again.event_id = "ev-1".into();
    let outcomes = committed(
        ledger,
        None,
        2,
        &[archived(1, "dup-1"), again.clone()],
        at(0),
    )
    .await;
    assert_eq!(
        outcomes,
        [EventOutcome::Tombstoned, EventOutcome::Duplicate]
    );
    // Delivered again on a later page: still not applied.
    ledger
        .record_granted(granted("dup-1", Some(30)), at(1))
        .await
        .unwrap();
    let outcomes = committed(ledger, Some(2), 3, &[again], at(2)).await;
    assert_eq!(outcomes, [EventOutcome::Duplicate]);
    let consent = ledger
        .get(&"dup-1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consent.history.len(), 1, "{consent:?}");
    db
}

async fn an_archived_event_before_the_callback_keeps_the_consent_ended(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let outcomes = committed(ledger, None, 1, &[archived(1, "late-1")], at(0)).await;
    assert_eq!(outcomes, [EventOutcome::Tombstoned]);
    let recorded = ledger
        .record_granted(granted("late-1", Some(30)), at(5))
        .await
        .unwrap();
    assert_eq!(recorded.status, Status::EndedAtNgi);
    // The creating event arriving after that confirms nothing back to life.
    let outcomes = committed(ledger, Some(1), 2, &[created(2, "late-1", None)], at(6)).await;
    assert_eq!(outcomes, [EventOutcome::Unchanged]);
    assert_eq!(status_of(ledger, "late-1").await, Status::EndedAtNgi);
    db
}

async fn a_cursor_someone_else_moved_writes_nothing(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    ledger
        .record_granted(granted("race-1", Some(30)), at(0))
        .await
        .unwrap();
    committed(ledger, None, 4, &[], at(1)).await;
    let moved = ledger
        .apply_feed_page(None, 5, &[archived(5, "race-1")], at(2))
        .await
        .unwrap();
    assert_eq!(moved, FeedApplied::CursorMoved { found: Some(4) });
    assert_eq!(status_of(ledger, "race-1").await, Status::Active);
    assert_eq!(ledger.feed_cursor().await.unwrap(), Some(4));
    // The event was not recorded either: the follower that reads 4 applies it.
    let outcomes = committed(ledger, Some(4), 5, &[archived(5, "race-1")], at(3)).await;
    assert_eq!(outcomes, [EventOutcome::Applied]);
    db
}

async fn a_created_event_never_reopens_and_confirms_a_registration(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    ledger
        .record_granted(granted("made-1", Some(30)), at(0))
        .await
        .unwrap();
    ledger
        .record_granted(granted("spent-1", None), at(0))
        .await
        .unwrap();
    let pending = new_registration(ledger, "app-77", "d1", at(0)).await;
    let page = [
        created(1, "made-1", None),
        created(2, "spent-1", None),
        created(3, "fresh-1", Some("app-77")),
        created(4, "stranger-1", None),
    ];
    let outcomes = committed(ledger, None, 4, &page, at(1)).await;
    assert_eq!(
        outcomes,
        [
            EventOutcome::Confirmed,
            EventOutcome::Unchanged,
            EventOutcome::Applied,
            EventOutcome::Recorded
        ]
    );
    assert_eq!(status_of(ledger, "spent-1").await, Status::Used);
    let confirmed = ledger.get_row(pending.row).await.unwrap().unwrap();
    assert_eq!(confirmed.status, Status::Active);
    assert_eq!(confirmed.id, Some("fresh-1".parse().unwrap()));
    // A consent we never recorded (the person never came back): made from the event.
    let stranger = ledger
        .get(&"stranger-1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stranger.source,
            stranger.status,
            stranger.nin_masked.as_str()
        ),
        (Source::Redirect, Status::Active, "")
    );
    // Its callback arriving after all fills it in: one row, from the redirect flow.
    let late = ledger
        .record_granted(granted("stranger-1", Some(30)), at(2))
        .await
        .unwrap();
    assert_eq!(late.row, stranger.row);
    assert_eq!(late.status, Status::Active);
    assert_eq!(late.nin_masked, granted("stranger-1", Some(30)).nin_masked);
    assert_eq!(late.duration_days, Some(30));
    assert_eq!(stranger.duration_days, None, "the base scope names no days");
    // A scope with its days suffix gives the row its days.
    let with_days = event(
        5,
        "ev-5",
        "stranger-2",
        EventKind::Created {
            client_id: "partner".into(),
            consent_id: "stranger-2".into(),
            scope: "debt.unsecured.presentation.30".into(),
            external_consent_id: None,
        },
    );
    assert_eq!(
        committed(ledger, Some(4), 5, &[with_days], at(3)).await,
        [EventOutcome::Recorded]
    );
    let stranger = ledger
        .get(&"stranger-2".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stranger.duration_days, Some(30));
    db
}

async fn unknown_and_blockless_events_are_recorded_and_skipped(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    ledger
        .record_granted(granted("odd-1", Some(30)), at(0))
        .await
        .unwrap();
    let page = [
        event(
            1,
            "ev-1",
            "odd-1",
            EventKind::MissingBlock {
                event_type: KnownType::Archived,
            },
        ),
        event(
            2,
            "ev-2",
            "odd-1",
            EventKind::Unknown {
                event_type: "SAMTYKKE_ENDRET".into(),
            },
        ),
    ];
    let outcomes = committed(ledger, None, 2, &page, at(1)).await;
    assert_eq!(outcomes, [EventOutcome::Skipped, EventOutcome::Skipped]);
    assert_eq!(status_of(ledger, "odd-1").await, Status::Active);
    // Recorded: the same ids again are duplicates.
    let outcomes = committed(ledger, Some(2), 2, &page, at(2)).await;
    assert_eq!(outcomes, [EventOutcome::Duplicate, EventOutcome::Duplicate]);
    db
}

async fn two_followers_applying_the_same_page_at_once_apply_it_once(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    ledger
        .record_granted(granted("both-1", Some(30)), at(0))
        .await
        .unwrap();
    let page = [archived(1, "both-1"), archived(2, "both-unknown")];
    let (a, b) = tokio::join!(
        ledger.apply_feed_page(None, 2, &page, at(1)),
        ledger.apply_feed_page(None, 2, &page, at(1)),
    );
    let results = [a.unwrap(), b.unwrap()];
    let committed = results
        .iter()
        .filter(|r| matches!(r, FeedApplied::Committed(_)))
        .count();
    assert_eq!(committed, 1, "{results:?}");
    assert!(
        results.contains(&FeedApplied::CursorMoved { found: Some(2) }),
        "{results:?}"
    );
    let consent = ledger
        .get(&"both-1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(consent.status, Status::EndedAtNgi);
    assert_eq!(consent.history.len(), 2, "{consent:?}");
    db
}

async fn recent_feed_events_come_newest_first_once_each_and_at_most_the_limit(
    db: TestDb,
) -> TestDb {
    let ledger = db.ledger();
    assert_eq!(ledger.recent_feed_events(50).await.unwrap(), []);
    ledger
        .record_granted(granted("seen-1", Some(30)), at(0))
        .await
        .unwrap();
    // Two pages; the second repeats an event of the first and brings a lower number late.
    committed(
        ledger,
        None,
        5,
        &[created(3, "seen-1", None), archived(5, "seen-1")],
        at(10),
    )
    .await;
    committed(
        ledger,
        Some(5),
        9,
        &[
            archived(9, "gone-1"),
            archived(5, "seen-1"),
            archived(4, "late-1"),
        ],
        at(20),
    )
    .await;
    let recent = ledger.recent_feed_events(50).await.unwrap();
    let order: Vec<_> = recent.iter().map(|e| e.sequence_nr).collect();
    assert_eq!(order, [9, 5, 4, 3]);
    let newest = &recent[0];
    assert_eq!(newest.event_id, "ev-9");
    assert_eq!(newest.consent_id.as_str(), "gone-1");
    assert_eq!(newest.event_type, "SAMTYKKE_ARKIVERT");
    assert_eq!(newest.timestamp, at(-9));
    assert_eq!(newest.received_at, at(20));
    assert_eq!(newest.outcome, EventOutcome::Tombstoned);
    // The repeated delivery left the first one as it was.
    assert_eq!(
        (recent[1].received_at, recent[1].outcome),
        (at(10), EventOutcome::Applied)
    );
    assert_eq!(
        (recent[3].event_type.as_str(), recent[3].outcome),
        ("SAMTYKKE_OPPRETTET", EventOutcome::Confirmed)
    );
    let two = ledger.recent_feed_events(2).await.unwrap();
    assert_eq!(two, recent[..2]);
    db
}
