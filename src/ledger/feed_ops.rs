//! The consent feed's half of the ledger's operations: NGI's feed events applied to the rows,
//! recorded once each, and the cursor moved in the same transaction. Spelled out per driver like
//! the rest (`ops.rs`), and expanded inside `ledger_ops!`'s module, whose helpers (`one`,
//! `insert`, `tombstoned`, `Conn`, the imports) it calls.

macro_rules! ledger_feed_ops {
    ($db:ty, $lock:literal) => {
        const SELECT_FEED_CURSOR: &str = concat!(rows::select_feed_cursor!(), $lock);

        /// Moves a row for a feed event, with a history row.
        async fn feed_move(
            conn: &mut Conn,
            row: i64,
            from: Status,
            to: Status,
            now: Timestamp,
            reason: &str,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(rows::UPDATE_STATUS)
                .bind(row)
                .bind(to.as_str())
                .bind(None::<String>)
                .bind(None::<i64>)
                .bind(now.as_second())
                .execute(&mut *conn)
                .await?;
            history(conn, row, now, Some(from), to, reason).await
        }

        /// `SAMTYKKE_OPPRETTET`: confirms a row we hold (never reopens an ended one),
        /// confirms the integrated consent registering under the event's external id, or
        /// makes a row from the event (no identity number: the feed has none) for a consent we
        /// did not know of.
        async fn feed_created(
            conn: &mut Conn,
            id: &ConsentId,
            scope: &str,
            external: Option<&str>,
            now: Timestamp,
        ) -> Result<EventOutcome, sqlx::Error> {
            if let Some(row) = one(conn, SELECT_BY_ID, id.as_str().to_owned()).await? {
                let current = row.status().map_err(unreadable_row)?;
                return Ok(if current.is_terminal() {
                    EventOutcome::Unchanged
                } else {
                    EventOutcome::Confirmed
                });
            }
            if let Some(reference) = external {
                if let Some(row) = one(conn, SELECT_INTEGRATED, reference.to_owned()).await? {
                    let current = row.status().map_err(unreadable_row)?;
                    if current == Status::Registering && row.consent_id.is_none() {
                        sqlx::query(rows::UPDATE_STATUS)
                            .bind(row.row_id)
                            .bind(Status::Active.as_str())
                            .bind(Some(id.as_str().to_owned()))
                            .bind(None::<i64>)
                            .bind(now.as_second())
                            .execute(&mut *conn)
                            .await?;
                        history(
                            conn,
                            row.row_id,
                            now,
                            Some(current),
                            Status::Active,
                            "registration confirmed by NGI's consent feed",
                        )
                        .await?;
                        return Ok(EventOutcome::Applied);
                    }
                }
            }
            if tombstoned(conn, id.as_str()).await? {
                return Ok(EventOutcome::Unchanged);
            }
            // A scope we cannot read names no purpose to record: kept in feed_events only.
            use $crate::domain::scope::Purpose;
            let Some((purpose, duration_days)) = scope.split_ascii_whitespace().find_map(|word| {
                Some((
                    Purpose::from_granted_scope(word)?,
                    Purpose::granted_days(word),
                ))
            }) else {
                return Ok(EventOutcome::Skipped);
            };
            insert(
                conn,
                NewRow {
                    row: rows::new_row_id(),
                    id: Some(id.as_str()),
                    // NGI's external id is on every created event, the redirect flow's
                    // too; a registration of ours was found by it above. So this is a
                    // person who consented at NGI and never came back (or a callback whose
                    // write failed), and the external id is not an application reference.
                    reference: None,
                    source: Source::Redirect,
                    purpose,
                    duration_days,
                    expires_at: None,
                    nin_masked: "",
                    status: Status::Active,
                    now,
                    request_digest: None,
                },
                "NGI's consent feed: created at NGI, not recorded here before",
            )
            .await?;
            Ok(EventOutcome::Recorded)
        }

        /// `SAMTYKKE_ARKIVERT`: `revoking` → `revoked`; `used` stays; past expiry →
        /// `expired`; otherwise `ended_at_ngi`. Unknown: a tombstone.
        async fn feed_archived(
            conn: &mut Conn,
            id: &ConsentId,
            now: Timestamp,
        ) -> Result<EventOutcome, sqlx::Error> {
            let Some(row) = one(conn, SELECT_BY_ID, id.as_str().to_owned()).await? else {
                sqlx::query(rows::INSERT_TOMBSTONE)
                    .bind(id.as_str().to_owned())
                    .bind(now.as_second())
                    .execute(&mut *conn)
                    .await?;
                return Ok(EventOutcome::Tombstoned);
            };
            let current = row.status().map_err(unreadable_row)?;
            let expired = row.expires_at.is_some_and(|at| at <= now.as_second());
            let (to, reason) = match current {
                Status::Revoking => (Status::Revoked, "NGI's consent feed: revocation done"),
                Status::Active if expired => (Status::Expired, "NGI's consent feed: expired"),
                Status::Active => (Status::EndedAtNgi, "NGI's consent feed: ended at NGI"),
                _ => return Ok(EventOutcome::Unchanged),
            };
            feed_move(conn, row.row_id, current, to, now, reason).await?;
            Ok(EventOutcome::Applied)
        }

        /// The name an event's type is recorded under.
        fn wire_type(event: &FeedEvent) -> &str {
            match &event.kind {
                EventKind::Created { .. } => "SAMTYKKE_OPPRETTET",
                EventKind::Archived { .. } => "SAMTYKKE_ARKIVERT",
                EventKind::MissingBlock { event_type } => event_type.wire_name(),
                EventKind::Unknown { event_type } => event_type,
            }
        }

        /// A page's first half: one event recorded once by its id (a second delivery is
        /// counted on the first). Whether it is new.
        async fn feed_record(
            conn: &mut Conn,
            event: &FeedEvent,
            now: Timestamp,
        ) -> Result<bool, sqlx::Error> {
            let seen = sqlx::query(rows::COUNT_FEED_DUPLICATE)
                .bind(event.event_id.clone())
                .execute(&mut *conn)
                .await?;
            if seen.rows_affected() > 0 {
                return Ok(false);
            }
            sqlx::query(rows::INSERT_FEED_EVENT)
                .bind(event.event_id.clone())
                .bind(event.sequence_nr)
                .bind(event.consent_id.as_str().to_owned())
                .bind(wire_type(event).to_owned())
                .bind(event.timestamp.as_second())
                .bind(now.as_second())
                .bind(rows::FEED_OUTCOME_PENDING)
                .execute(&mut *conn)
                .await?;
            Ok(true)
        }

        /// A page's second half: a new event applied, and what it did recorded beside it.
        async fn feed_apply(
            conn: &mut Conn,
            event: &FeedEvent,
            now: Timestamp,
        ) -> Result<EventOutcome, sqlx::Error> {
            let outcome = match &event.kind {
                EventKind::Created {
                    scope,
                    external_consent_id,
                    ..
                } => {
                    feed_created(
                        conn,
                        &event.consent_id,
                        scope,
                        external_consent_id.as_deref(),
                        now,
                    )
                    .await?
                }
                EventKind::Archived { .. } => feed_archived(conn, &event.consent_id, now).await?,
                EventKind::MissingBlock { .. } | EventKind::Unknown { .. } => EventOutcome::Skipped,
            };
            sqlx::query(rows::UPDATE_FEED_OUTCOME)
                .bind(event.event_id.clone())
                .bind(outcome.label())
                .execute(&mut *conn)
                .await?;
            Ok(outcome)
        }

        /// One page inside a write transaction the caller commits: the cursor compared
        /// with `read` (another follower moved it: nothing written), every event recorded,
        /// the new ones applied, the cursor moved to `to`.
        pub(in $crate::ledger) async fn apply_page_in(
            conn: &mut Conn,
            read: Option<i64>,
            to: i64,
            events: &[FeedEvent],
            now: Timestamp,
        ) -> Result<FeedApplied, LedgerError> {
            let found = sqlx::query_scalar::<_, Option<i64>>(SELECT_FEED_CURSOR)
                .fetch_optional(&mut *conn)
                .await
                .map_err(database)?
                .flatten();
            if found != read {
                return Ok(FeedApplied::CursorMoved { found });
            }
            let mut fresh = Vec::with_capacity(events.len());
            for event in events {
                fresh.push(feed_record(conn, event, now).await.map_err(from_sqlx)?);
            }
            crash::point(CrashPoint::AfterInsert);
            let mut outcomes = Vec::with_capacity(events.len());
            for (event, new) in events.iter().zip(fresh) {
                outcomes.push(if new {
                    feed_apply(conn, event, now).await.map_err(from_sqlx)?
                } else {
                    EventOutcome::Duplicate
                });
            }
            crash::point(CrashPoint::AfterApply);
            sqlx::query(rows::UPDATE_FEED_CURSOR)
                .bind(to)
                .bind(now.as_second())
                .execute(&mut *conn)
                .await
                .map_err(database)?;
            Ok(FeedApplied::Committed(outcomes))
        }

        /// One page in `tx`, committed when the cursor was still `read`; dropping an
        /// uncommitted transaction rolls it back.
        pub(in $crate::ledger) async fn commit_page(
            mut tx: sqlx::Transaction<'_, $db>,
            read: Option<i64>,
            to: i64,
            events: &[FeedEvent],
            now: Timestamp,
        ) -> Result<FeedApplied, LedgerError> {
            let applied = apply_page_in(&mut tx, read, to, events, now).await?;
            if matches!(applied, FeedApplied::Committed(_)) {
                crash::point(CrashPoint::BeforeCommit);
                tx.commit().await.map_err(database)?;
                crash::point(CrashPoint::AfterCommit);
            }
            Ok(applied)
        }

        /// The cursor, read on `conn`.
        pub(in $crate::ledger) async fn cursor_on(
            conn: &mut Conn,
        ) -> Result<Option<i64>, LedgerError> {
            sqlx::query_scalar::<_, Option<i64>>(rows::select_feed_cursor!())
                .fetch_optional(&mut *conn)
                .await
                .map(Option::flatten)
                .map_err(database)
        }
    };
}
pub(super) use ledger_feed_ops;
