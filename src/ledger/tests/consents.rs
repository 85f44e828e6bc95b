//! The ledger's consents on both databases: recorded by the redirect flow and by registration,
//! changed only as the statuses allow (with a history row each), listed newest first, due for a
//! revocation retry, kept across restarts, and never holding a full identity number.

use super::*;

on_both!(
    a_single_use_consent_is_recorded_used_and_one_with_days_active,
    a_consent_granted_again_stays_one_row_and_never_reopens,
    an_id_another_consent_holds_is_refused_as_a_duplicate,
    every_change_leaves_a_history_row,
    a_registration_is_new_then_the_same_then_a_conflict,
    a_refused_change_writes_nothing,
    a_listing_is_newest_first_filtered_and_continues_after_its_cursor,
    due_revocations_are_the_revoking_rows_whose_retry_has_come,
    rows_survive_a_restart,
    migrations_run_twice_change_nothing,
    no_table_holds_a_full_identity_number,
    the_same_consent_recorded_at_once_by_many_requests_is_one_row,
    many_consents_recorded_at_once_each_get_their_own_row_and_history,
);

async fn a_single_use_consent_is_recorded_used_and_one_with_days_active(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let single = ledger
        .record_granted(granted("single-1", None), at(0))
        .await
        .unwrap();
    assert_eq!(single.status, Status::Used);
    assert_eq!(single.duration_days, None);
    assert_eq!(single.source, Source::Redirect);
    assert_eq!(single.nin_masked, "148422*****");
    assert_eq!(single.created_at, at(0));
    assert_eq!(single.history.len(), 1);
    assert_eq!(single.history[0].from, None);
    assert_eq!(single.history[0].to, Status::Used);

    let lasting = ledger
        .record_granted(granted("lasting-1", Some(30)), at(1))
        .await
        .unwrap();
    assert_eq!(lasting.status, Status::Active);
    assert_eq!(lasting.duration_days, Some(30));
    assert_eq!(lasting.expires_at, Some(at(86_400 * 30)));
    assert_eq!(lasting.status_at(at(86_400 * 30)), Status::Expired);
    assert_ne!(single.row, lasting.row);

    let read = ledger
        .get(&"lasting-1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, lasting);
    assert_eq!(ledger.get_row(single.row).await.unwrap(), Some(single));
    assert_eq!(ledger.get(&"unknown".parse().unwrap()).await.unwrap(), None);
    ledger.ready().await.unwrap();
    db
}

async fn a_consent_granted_again_stays_one_row_and_never_reopens(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let first = ledger
        .record_granted(granted("again-1", Some(10)), at(0))
        .await
        .unwrap();
    let again = ledger
        .record_granted(granted("again-1", Some(10)), at(5))
        .await
        .unwrap();
    assert_eq!(again, first, "the same consent again changes nothing");

    let revoked = ledger
        .transition(first.row, to(Status::Revoking, "withdrawn"), at(6))
        .await
        .unwrap();
    let revoked = ledger
        .transition(revoked.row, to(Status::Revoked, "NGI confirmed"), at(7))
        .await
        .unwrap();
    let after = ledger
        .record_granted(granted("again-1", Some(10)), at(8))
        .await
        .unwrap();
    assert_eq!(
        after.status,
        Status::Revoked,
        "a terminal row never reopens"
    );
    assert_eq!(after, revoked);

    // Known as active, told of as single use: its one use is done.
    let lasting = ledger
        .record_granted(granted("again-2", Some(10)), at(9))
        .await
        .unwrap();
    let used = ledger
        .record_granted(granted("again-2", None), at(10))
        .await
        .unwrap();
    assert_eq!(used.row, lasting.row);
    assert_eq!(used.status, Status::Used);
    assert_eq!(used.history.len(), 2);
    let page = first_hundred(ledger).await;
    assert_eq!(page.consents.len(), 2, "one row per consent id");
    db
}

async fn an_id_another_consent_holds_is_refused_as_a_duplicate(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    ledger
        .record_granted(granted("taken-1", Some(5)), at(0))
        .await
        .unwrap();
    let registering = new_registration(ledger, "REF-1", "d1", at(1)).await;
    let err = ledger
        .transition(registering.row, registered("taken-1", at(100)), at(2))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::DuplicateId), "{err:?}");
    let unchanged = ledger.get_row(registering.row).await.unwrap().unwrap();
    assert_eq!(unchanged, registering);
    db
}

async fn every_change_leaves_a_history_row(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let row = new_registration(ledger, "REF-H", "dh", at(0)).await;
    assert_eq!(row.status, Status::Registering);
    assert_eq!(row.id, None);
    let active = ledger
        .transition(row.row, registered("ngi-h", at(3_600)), at(1))
        .await
        .unwrap();
    assert_eq!(active.id, Some("ngi-h".parse().unwrap()));
    assert_eq!(active.expires_at, Some(at(3_600)));
    // Staying where it is adds no history.
    let same = ledger
        .transition(row.row, to(Status::Active, "asked again"), at(2))
        .await
        .unwrap();
    assert_eq!(same.history.len(), 2);
    ledger
        .transition(row.row, to(Status::Revoking, "the person withdrew"), at(3))
        .await
        .unwrap();
    let done = ledger
        .transition(row.row, to(Status::Revoked, "NGI confirmed"), at(4))
        .await
        .unwrap();
    let steps: Vec<_> = done
        .history
        .iter()
        .map(|c| (c.at, c.from, c.to, c.reason.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (
                at(0),
                None,
                Status::Registering,
                "registration at NGI begun"
            ),
            (
                at(1),
                Some(Status::Registering),
                Status::Active,
                "registered at NGI"
            ),
            (
                at(3),
                Some(Status::Active),
                Status::Revoking,
                "the person withdrew"
            ),
            (
                at(4),
                Some(Status::Revoking),
                Status::Revoked,
                "NGI confirmed"
            ),
        ]
    );
    assert_eq!(done.updated_at, at(4));
    assert_eq!(done.created_at, at(0));
    db
}

async fn a_registration_is_new_then_the_same_then_a_conflict(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let new = ledger
        .begin_registration(registration("APP-7", "digest-a"), at(0))
        .await
        .unwrap();
    let Begun::New(row) = new else {
        panic!("{new:?}")
    };
    assert_eq!(row.source, Source::Integrated);
    assert_eq!(row.reference.as_deref(), Some("APP-7"));
    assert_eq!(row.duration_days, Some(14));
    assert_eq!(row.purpose, Purpose::Processing);

    let same = ledger
        .begin_registration(registration("APP-7", "digest-a"), at(1))
        .await
        .unwrap();
    assert_eq!(same, Begun::Same(row.clone()));
    let other = ledger
        .begin_registration(registration("APP-7", "digest-b"), at(2))
        .await
        .unwrap();
    assert_eq!(other, Begun::Conflict(row.clone()));
    assert_eq!(
        ledger.integrated_by_reference("APP-7").await.unwrap(),
        Some(row)
    );
    assert_eq!(ledger.integrated_by_reference("APP-8").await.unwrap(), None);

    // A redirect consent with the same reference is no integrated registration.
    ledger
        .record_granted(
            GrantedConsent {
                reference: Some("APP-9".into()),
                ..granted("redirect-9", Some(3))
            },
            at(3),
        )
        .await
        .unwrap();
    assert!(matches!(
        ledger
            .begin_registration(registration("APP-9", "digest-c"), at(4))
            .await
            .unwrap(),
        Begun::New(_)
    ));
    db
}

async fn a_refused_change_writes_nothing(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let used = ledger
        .record_granted(granted("once-1", None), at(0))
        .await
        .unwrap();
    let before = db.dump().await;
    for status in [Status::Active, Status::Revoking, Status::Registering] {
        let err = ledger
            .transition(
                used.row,
                Transition {
                    id: Some("once-2".parse().unwrap()),
                    expires_at: Some(at(99)),
                    ..to(status, "should not happen")
                },
                at(10),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::NotAllowed { from: Status::Used, to } if to == status),
            "{err:?}"
        );
    }
    let err = ledger
        .revocation_failed(used.row, at(20), at(10))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotAllowed { .. }), "{err:?}");
    assert_eq!(db.dump().await, before, "a refused change wrote something");

    let err = ledger
        .transition(RowId(42), to(Status::Active, "no such row"), at(10))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotFound), "{err:?}");
    assert_eq!(ledger.get_row(RowId(42)).await.unwrap(), None);
    db
}

async fn a_listing_is_newest_first_filtered_and_continues_after_its_cursor(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    // Seven consents; some created in the same second, which the row id orders.
    let mut made = Vec::new();
    for (n, second) in [0, 1, 1, 1, 2, 3, 3].into_iter().enumerate() {
        let days = if n % 2 == 0 { Some(7) } else { None };
        let consent = ledger
            .record_granted(
                GrantedConsent {
                    reference: Some(if n < 3 { "APP-A" } else { "APP-B" }.into()),
                    ..granted(&format!("list-{n}"), days)
                },
                at(second),
            )
            .await
            .unwrap();
        made.push(consent);
    }
    let mut newest_first = made.clone();
    newest_first.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.row)));
    let rows = |consents: &[Consent]| consents.iter().map(|c| c.row).collect::<Vec<_>>();

    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = ledger
            .list(ListQuery {
                limit: 3,
                after,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        pages += 1;
        assert!(page.consents.len() <= 3);
        assert!(page.consents.iter().all(|c| c.history.is_empty()));
        seen.extend(page.consents);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(rows(&seen), rows(&newest_first));

    let active = ledger
        .list(ListQuery {
            status: Some(Status::Active),
            limit: 100,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    let expected: Vec<_> = newest_first
        .iter()
        .filter(|c| c.status == Status::Active)
        .cloned()
        .collect();
    assert_eq!(rows(&active.consents), rows(&expected));
    assert_eq!(active.consents.len(), 4);
    assert_eq!(active.next, None);

    // Read after the 7-day consents' expiry, they are listed as expired and no longer active.
    let later = at(86_400 * 8);
    let listed = |status| {
        ledger.list(ListQuery {
            status: Some(status),
            now: later,
            limit: 100,
            ..ListQuery::default()
        })
    };
    assert!(listed(Status::Active).await.unwrap().consents.is_empty());
    let expired = listed(Status::Expired).await.unwrap();
    assert_eq!(rows(&expired.consents), rows(&expected));
    assert!(
        expired
            .consents
            .iter()
            .all(|c| c.status_at(later) == Status::Expired)
    );

    let a = ledger
        .list(ListQuery {
            reference: Some("APP-A".into()),
            status: Some(Status::Used),
            limit: 100,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(a.consents.len(), 1);
    assert_eq!(a.consents[0].id, Some("list-1".parse().unwrap()));
    let b = ledger
        .list(ListQuery {
            reference: Some("APP-B".into()),
            limit: 1,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows(&b.consents), vec![newest_first[0].row]);
    assert!(b.next.is_some());
    db
}

async fn due_revocations_are_the_revoking_rows_whose_retry_has_come(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let mut rows = Vec::new();
    for n in 0..4 {
        let c = ledger
            .record_granted(granted(&format!("due-{n}"), Some(30)), at(0))
            .await
            .unwrap();
        rows.push(c.row);
    }
    // 0: revoking since 1 (claimed by the one who moved it, until 1 + the lease);
    // 1: revoking, its attempt failed, retry at 100; 2: revoking, retry at 100; 3: active.
    for &row in &rows[..3] {
        ledger
            .transition(row, to(Status::Revoking, "the person withdrew"), at(1))
            .await
            .unwrap();
    }
    for &row in &rows[1..3] {
        ledger.revocation_failed(row, at(100), at(2)).await.unwrap();
    }
    let counted = format!("|1|{}", at(100).as_second());
    assert!(db.dump().await.contains(&counted), "the attempt is counted");
    let due = |now, limit| async move {
        let mut due: Vec<RowId> = ledger
            .due_revocations(now, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.row)
            .collect();
        due.sort();
        due
    };
    let lease = REVOCATION_LEASE.as_secs();
    assert_eq!(due(at(50), 10).await, vec![], "nothing due yet");
    // One claim at a time: a second caller at the same moment gets the other row, then none.
    let first = due(at(100), 1).await;
    let second = due(at(100), 10).await;
    assert_eq!(first.len(), 1);
    let mut both = [first.clone(), second.clone()].concat();
    both.sort();
    let mut expected = vec![rows[1], rows[2]];
    expected.sort();
    assert_eq!(both, expected, "each due row claimed once");
    assert_eq!(
        due(at(100), 10).await,
        vec![],
        "claimed rows are not due again"
    );
    // The row moved to revoking at 1 is due when its lease ends; the others when theirs do.
    assert_eq!(due(at(1 + lease), 10).await, vec![rows[0]]);
    ledger
        .transition(rows[0], to(Status::Revoked, "NGI confirmed"), at(3))
        .await
        .unwrap();
    assert_eq!(due(at(100 + lease), 10).await, expected);
    assert_eq!(due(at(10_000), 10).await, expected, "a lease ends");
    db
}

async fn rows_survive_a_restart(db: TestDb) -> TestDb {
    let kept = db
        .ledger()
        .record_granted(granted("kept-1", Some(30)), at(0))
        .await
        .unwrap();
    let Begun::New(registering) = db
        .ledger()
        .begin_registration(registration("APP-R", "dr"), at(1))
        .await
        .unwrap()
    else {
        panic!("a new registration")
    };
    let db = db.restart().await;
    assert_eq!(
        db.ledger().get(&"kept-1".parse().unwrap()).await.unwrap(),
        Some(kept)
    );
    assert_eq!(
        db.ledger().integrated_by_reference("APP-R").await.unwrap(),
        Some(registering.clone())
    );
    assert_eq!(
        db.ledger()
            .begin_registration(registration("APP-R", "dr"), at(2))
            .await
            .unwrap(),
        Begun::Same(registering)
    );
    db
}

async fn migrations_run_twice_change_nothing(db: TestDb) -> TestDb {
    db.ledger()
        .record_granted(granted("migrated-1", Some(2)), at(0))
        .await
        .unwrap();
    let before = db.dump().await;
    assert!(before.contains("consent ledger"), "{before}");
    db.migrate_again().await;
    db.migrate_again().await;
    assert_eq!(db.dump().await, before);
    db
}

async fn no_table_holds_a_full_identity_number(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    ledger
        .record_granted(granted("nin-1", None), at(0))
        .await
        .unwrap();
    let row = new_registration(ledger, "APP-N", "keyed-digest", at(1)).await;
    ledger
        .transition(row.row, to(Status::Refused, "NGI refused"), at(2))
        .await
        .unwrap();
    let dump = db.dump().await;
    assert!(dump.contains("148422*****"), "{dump}");
    assert!(!dump.contains(PERSON), "{dump}");
    assert!(!dump.contains(&PERSON[6..]), "{dump}");
    db
}

async fn the_same_consent_recorded_at_once_by_many_requests_is_one_row(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let recorded = futures_util::future::join_all(
        (0..8).map(|_| ledger.record_granted(granted("at-once-1", Some(30)), at(0))),
    )
    .await;
    let rows: Vec<RowId> = recorded.into_iter().map(|r| r.unwrap().row).collect();
    assert!(rows.iter().all(|row| *row == rows[0]), "{rows:?}");
    let page = first_hundred(ledger).await;
    assert_eq!(page.consents.len(), 1);
    let stored = ledger.get_row(rows[0]).await.unwrap().unwrap();
    assert_eq!(stored.history.len(), 1);
    db
}

/// Concurrent callbacks: on SQLite they share one transaction; each must still get its own
/// answer, its own row and one history row.
async fn many_consents_recorded_at_once_each_get_their_own_row_and_history(db: TestDb) -> TestDb {
    let ledger = db.ledger();
    let ids: Vec<String> = (0..24).map(|n| format!("many-at-once-{n}")).collect();
    let recorded = futures_util::future::join_all(ids.iter().enumerate().map(|(n, id)| {
        let days = (n % 2 == 0).then_some(30);
        ledger.record_granted(granted(id, days), at(0))
    }))
    .await;
    for (n, (consent, id)) in recorded.into_iter().zip(&ids).enumerate() {
        let consent = consent.unwrap();
        assert_eq!(consent.id.as_ref().map(|c| c.as_str()), Some(id.as_str()));
        let expected = if n % 2 == 0 {
            Status::Active
        } else {
            Status::Used
        };
        assert_eq!(consent.status, expected, "{id}");
        let stored = ledger.get_row(consent.row).await.unwrap().unwrap();
        assert_eq!(stored.history.len(), 1, "{id}");
        assert_eq!(stored.status, expected, "{id}");
    }
    let page = first_hundred(ledger).await;
    assert_eq!(page.consents.len(), ids.len());
    db
}

/// The ledger's first page of 100, newest first.
async fn first_hundred(ledger: &dyn ConsentLedger) -> ConsentPage {
    ledger
        .list(ListQuery {
            limit: 100,
            ..ListQuery::default()
        })
        .await
        .unwrap()
}
