//! The ledger's operations, written once for both databases.
//!
//! The SQL text is the same on both; what differs is the driver's types, the way a write
//! transaction begins (SQLite: `BEGIN IMMEDIATE`) and the lock a read for a write takes
//! (PostgreSQL: `FOR UPDATE`; SQLite's immediate transaction already holds the write lock). sqlx
//! code generic over the database needs a wall of higher-ranked bounds, so this macro spells the
//! operations out for one concrete driver instead: `ledger_ops!(SqliteLedger, sqlx::Sqlite, "")`.
//!
//! The ledger type must have `fn pool(&self) -> &sqlx::Pool<DB>`,
//! `async fn begin_write(&self) -> Result<sqlx::Transaction<'_, DB>, sqlx::Error>` and
//! `async fn write<T>(&self, step: write::Step<DB, T>) -> Result<T, sqlx::Error>` and
//! `fn writes_open(&self) -> Result<(), sqlx::Error>`.

macro_rules! ledger_ops {
    ($ledger:ty, $db:ty, $lock:literal) => {
        mod ops {
            use async_trait::async_trait;
            use jiff::Timestamp;
            use sqlx::QueryBuilder;

            use super::*;
            use $crate::domain::consent::ConsentId;
            use $crate::domain::consent::{Source, Status};
            use $crate::feed::crash::{self, CrashPoint};
            use $crate::ledger::Consent;
            use $crate::ledger::rows::{
                self, ConsentRow, HistoryRow, NewRow, consent_columns, database,
            };
            use $crate::ledger::{
                Begun, ConsentLedger, ConsentPage, Cursor, EventOutcome, FeedApplied, FeedLead,
                FeedEventRecord, GrantedConsent, LedgerError, ListQuery, Registration, RowId,
                Transition,
            };
            use $crate::ngi::feed::{EventKind, FeedEvent};

            type Conn = <$db as sqlx::Database>::Connection;

            const SELECT_ROW: &str = concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents WHERE row_id = $1",
                $lock
            );
            const SELECT_BY_ID: &str = concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents WHERE consent_id = $1",
                $lock
            );
            const SELECT_INTEGRATED: &str = concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents WHERE source = 'integrated' AND reference = $1",
                $lock
            );

            async fn one(
                conn: &mut Conn,
                sql: &'static str,
                key: impl sqlx::Encode<'static, $db> + sqlx::Type<$db> + Send + 'static,
            ) -> Result<Option<ConsentRow>, sqlx::Error> {
                sqlx::query_as::<_, ConsentRow>(sql)
                    .bind(key)
                    .fetch_optional(&mut *conn)
                    .await
            }

            /// A row with its history, read on the same connection (inside the write's
            /// transaction when there is one).
            async fn with_history(
                conn: &mut Conn,
                row: ConsentRow,
            ) -> Result<Consent, LedgerError> {
                let history = sqlx::query_as::<_, HistoryRow>(rows::SELECT_HISTORY)
                    .bind(row.row_id)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(database)?;
                row.into_consent(history)
            }

            async fn found(
                conn: &mut Conn,
                row: Option<ConsentRow>,
            ) -> Result<Option<Consent>, LedgerError> {
                match row {
                    Some(row) => with_history(conn, row).await.map(Some),
                    None => Ok(None),
                }
            }

            /// One consent with its history, outside any write.
            async fn read_one(
                ledger: &$ledger,
                sql: &'static str,
                key: impl sqlx::Encode<'static, $db> + sqlx::Type<$db> + Send + 'static,
            ) -> Result<Option<Consent>, LedgerError> {
                let mut conn = ledger.pool().acquire().await.map_err(database)?;
                let row = one(&mut conn, sql, key).await.map_err(database)?;
                found(&mut conn, row).await
            }

            async fn history(
                conn: &mut Conn,
                row: i64,
                at: Timestamp,
                from: Option<Status>,
                to: Status,
                reason: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(rows::INSERT_HISTORY)
                    .bind(row)
                    .bind(at.as_second())
                    .bind(from.map(Status::as_str))
                    .bind(to.as_str())
                    .bind(reason.to_owned())
                    .execute(&mut *conn)
                    .await
                    .map(drop)
            }

            /// Claims a `revoking` row for [`super::REVOCATION_LEASE`] if it is due at `now`.
            async fn claim_revocation(
                conn: &mut Conn,
                row: i64,
                now: Timestamp,
            ) -> Result<bool, LedgerError> {
                let until = now
                    .checked_add($crate::ledger::REVOCATION_LEASE)
                    .unwrap_or(Timestamp::MAX);
                let done = sqlx::query(rows::CLAIM_REVOCATION)
                    .bind(row)
                    .bind(until.as_second())
                    .bind(now.as_second())
                    .execute(&mut *conn)
                    .await
                    .map_err(database)?;
                Ok(done.rows_affected() == 1)
            }

            /// Inserts a row and its first history row.
            async fn insert(
                conn: &mut Conn,
                new: NewRow<'_>,
                reason: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(rows::INSERT_CONSENT)
                    .bind(new.row)
                    .bind(new.id.map(str::to_owned))
                    .bind(new.reference.map(str::to_owned))
                    .bind(new.source.as_str())
                    .bind(rows::purpose_name(new.purpose))
                    .bind(new.duration_days.map(i32::from))
                    .bind(new.expires_at.map(|t| t.as_second()))
                    .bind(new.nin_masked.to_owned())
                    .bind(new.status.as_str())
                    .bind(new.now.as_second())
                    .bind(new.now.as_second())
                    .bind(new.request_digest.map(str::to_owned))
                    .execute(&mut *conn)
                    .await?;
                history(conn, new.row, new.now, None, new.status, reason).await
            }

            async fn granted(
                conn: &mut Conn,
                consent: GrantedConsent,
                now: Timestamp,
            ) -> Result<Consent, sqlx::Error> {
                let status = rows::granted_status(consent.duration_days);
                if let Some(row) = one(conn, SELECT_BY_ID, consent.id.as_str().to_owned()).await? {
                    let current = row.status().map_err(unreadable_row)?;
                    // Made from NGI's feed before this callback: the only rows without a number.
                    if row.nin_masked.is_empty() {
                        sqlx::query(rows::ADOPT_FEED_ROW)
                            .bind(row.row_id)
                            .bind(consent.reference.clone())
                            .bind(rows::purpose_name(consent.purpose))
                            .bind(consent.duration_days.map(i32::from))
                            .bind(consent.expires_at.map(|t| t.as_second()))
                            .bind(consent.nin_masked.clone())
                            .bind(now.as_second())
                            .execute(&mut *conn)
                            .await?;
                        history(
                            conn,
                            row.row_id,
                            now,
                            Some(current),
                            current,
                            "the redirect flow's callback filled in a consent known from NGI's feed",
                        )
                        .await?;
                    }
                    // Known already: moved on only where the rules allow (never reopened).
                    if current != status && current.may_become(status) {
                        sqlx::query(rows::UPDATE_STATUS)
                            .bind(row.row_id)
                            .bind(status.as_str())
                            .bind(None::<String>)
                            .bind(consent.expires_at.map(|t| t.as_second()))
                            .bind(now.as_second())
                            .execute(&mut *conn)
                            .await?;
                        history(
                            conn,
                            row.row_id,
                            now,
                            Some(current),
                            status,
                            "granted again through the redirect flow",
                        )
                        .await?;
                    }
                    return reread(conn, row.row_id).await;
                }
                // NGI's feed ended it before this callback recorded it: it never becomes active.
                let ended = tombstoned(conn, consent.id.as_str()).await?;
                let (status, reason) = if ended {
                    (
                        Status::EndedAtNgi,
                        "granted through the redirect flow after NGI's feed said it had ended",
                    )
                } else {
                    (status, "granted through the redirect flow")
                };
                let new = NewRow {
                    row: rows::new_row_id(),
                    id: Some(consent.id.as_str()),
                    reference: consent.reference.as_deref(),
                    source: Source::Redirect,
                    purpose: consent.purpose,
                    duration_days: consent.duration_days,
                    expires_at: consent.expires_at,
                    nin_masked: &consent.nin_masked,
                    status,
                    now,
                    request_digest: None,
                };
                let written = new.inserted(reason).map_err(unreadable_row)?;
                insert(conn, new, reason).await?;
                Ok(written)
            }

            async fn registration_step(
                conn: &mut Conn,
                registration: Registration,
                now: Timestamp,
            ) -> Result<Begun, sqlx::Error> {
                if let Some(row) =
                    one(conn, SELECT_INTEGRATED, registration.reference.clone()).await?
                {
                    let same =
                        row.request_digest.as_deref() == Some(registration.request_digest.as_str());
                    let consent = with_history(conn, row).await.map_err(unreadable_row)?;
                    return Ok(if same {
                        Begun::Same(consent)
                    } else {
                        Begun::Conflict(consent)
                    });
                }
                let new = NewRow {
                    row: rows::new_row_id(),
                    id: None,
                    reference: Some(&registration.reference),
                    source: Source::Integrated,
                    purpose: registration.purpose,
                    duration_days: Some(registration.duration_days),
                    expires_at: None,
                    nin_masked: &registration.nin_masked,
                    status: Status::Registering,
                    now,
                    request_digest: Some(&registration.request_digest),
                };
                let reason = "registration at NGI begun";
                let written = new.inserted(reason).map_err(unreadable_row)?;
                insert(conn, new, reason).await?;
                Ok(Begun::New(written))
            }

            async fn tombstoned(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
                sqlx::query(rows::SELECT_TOMBSTONE)
                    .bind(id.to_owned())
                    .fetch_optional(&mut *conn)
                    .await
                    .map(|found| found.is_some())
            }

            // The consent feed: events applied, recorded, the cursor moved (feed_ops.rs).
            $crate::ledger::feed_ops::ledger_feed_ops!($db, $lock);

            // The partner's listing: filters and a keyset cursor (list_ops.rs).
            $crate::ledger::list_ops::ledger_list_ops!($db);

            async fn reread(conn: &mut Conn, row: i64) -> Result<Consent, sqlx::Error> {
                let stored = one(conn, SELECT_ROW, row)
                    .await?
                    .ok_or(sqlx::Error::RowNotFound)?;
                with_history(conn, stored).await.map_err(unreadable_row)
            }

            /// A ledger error inside a step that speaks sqlx (an unreadable row).
            fn unreadable_row(e: LedgerError) -> sqlx::Error {
                sqlx::Error::Decode(Box::new(e))
            }

            /// Runs a write in a transaction, once more if a unique constraint refused it (see
            /// `ledger::write`); on SQLite, together with the writes waiting beside it.
            async fn write_retrying<T: Send + 'static>(
                ledger: &$ledger,
                step: impl for<'c> Fn(
                    &'c mut Conn,
                )
                    -> futures_util::future::BoxFuture<'c, Result<T, sqlx::Error>>
                + Send
                + Sync
                + 'static,
            ) -> Result<T, LedgerError> {
                ledger
                    .write(std::sync::Arc::new(step))
                    .await
                    .map_err(from_sqlx)
            }

            fn from_sqlx(e: sqlx::Error) -> LedgerError {
                if rows::is_unique_violation(&e) {
                    return LedgerError::DuplicateId;
                }
                match e {
                    sqlx::Error::Decode(source) => match source.downcast::<LedgerError>() {
                        Ok(ledger) => *ledger,
                        Err(source) => LedgerError::Database(source),
                    },
                    e => database(e),
                }
            }

            #[async_trait]
            impl ConsentLedger for $ledger {
                async fn ready(&self) -> Result<(), LedgerError> {
                    self.writes_open().map_err(database)?;
                    // A connection, and the table it answers from (row 0 is never made).
                    sqlx::query(rows::READY)
                        .fetch_optional(self.pool())
                        .await
                        .map(drop)
                        .map_err(database)
                }

                async fn record_granted(
                    &self,
                    consent: GrantedConsent,
                    now: Timestamp,
                ) -> Result<Consent, LedgerError> {
                    write_retrying(self, move |conn| {
                        Box::pin(granted(conn, consent.clone(), now))
                    })
                    .await
                }

                async fn begin_registration(
                    &self,
                    registration: Registration,
                    now: Timestamp,
                ) -> Result<Begun, LedgerError> {
                    write_retrying(self, move |conn| {
                        Box::pin(registration_step(conn, registration.clone(), now))
                    })
                    .await
                }

                async fn transition(
                    &self,
                    row: RowId,
                    change: Transition,
                    now: Timestamp,
                ) -> Result<Consent, LedgerError> {
                    let mut tx = self.begin_write().await.map_err(database)?;
                    let stored = one(&mut tx, SELECT_ROW, row.0)
                        .await
                        .map_err(database)?
                        .ok_or(LedgerError::NotFound)?;
                    let from = stored.status()?;
                    // Refused before any write; the transaction is rolled back when dropped.
                    if !from.may_become(change.to) {
                        return Err(LedgerError::NotAllowed {
                            from,
                            to: change.to,
                        });
                    }
                    if from != change.to || change.id.is_some() || change.expires_at.is_some() {
                        sqlx::query(rows::UPDATE_STATUS)
                            .bind(row.0)
                            .bind(change.to.as_str())
                            .bind(change.id.as_ref().map(|id| id.as_str().to_owned()))
                            .bind(change.expires_at.map(|t| t.as_second()))
                            .bind(now.as_second())
                            .execute(&mut *tx)
                            .await
                            .map_err(from_sqlx)?;
                    }
                    if from != change.to {
                        history(&mut tx, row.0, now, Some(from), change.to, &change.reason)
                            .await
                            .map_err(database)?;
                    }
                    if from != Status::Revoking && change.to == Status::Revoking {
                        // The one who moved it makes the first attempt: claimed for a lease.
                        claim_revocation(&mut tx, row.0, now).await?;
                    }
                    let consent = reread(&mut tx, row.0).await.map_err(from_sqlx)?;
                    tx.commit().await.map_err(database)?;
                    Ok(consent)
                }

                async fn get(&self, id: &ConsentId) -> Result<Option<Consent>, LedgerError> {
                    read_one(self, SELECT_BY_ID_READ, id.as_str().to_owned()).await
                }

                async fn get_row(&self, row: RowId) -> Result<Option<Consent>, LedgerError> {
                    read_one(self, SELECT_ROW_READ, row.0).await
                }

                async fn integrated_by_reference(
                    &self,
                    reference: &str,
                ) -> Result<Option<Consent>, LedgerError> {
                    read_one(self, SELECT_INTEGRATED_READ, reference.to_owned()).await
                }

                async fn list(&self, query: ListQuery) -> Result<ConsentPage, LedgerError> {
                    list_page(self.pool(), query).await
                }

                async fn due_revocations(
                    &self,
                    now: Timestamp,
                    limit: u32,
                ) -> Result<Vec<Consent>, LedgerError> {
                    // Each due row is claimed (compare and set on its next attempt time), so two
                    // instances never try the same row at once: the second's claim finds it no
                    // longer due and skips it.
                    let mut tx = self.begin_write().await.map_err(database)?;
                    let due = sqlx::query_as::<_, ConsentRow>(rows::SELECT_DUE_REVOCATIONS)
                        .bind(now.as_second())
                        .bind(i64::from(limit.min(rows::MAX_PAGE)))
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(database)?;
                    let mut claimed = Vec::with_capacity(due.len());
                    for row in due {
                        if claim_revocation(&mut tx, row.row_id, now).await? {
                            claimed.push(row);
                        }
                    }
                    tx.commit().await.map_err(database)?;
                    let mut conn = self.pool().acquire().await.map_err(database)?;
                    let mut consents = Vec::with_capacity(claimed.len());
                    for row in claimed {
                        consents.push(with_history(&mut conn, row).await?);
                    }
                    Ok(consents)
                }

                async fn revocation_failed(
                    &self,
                    row: RowId,
                    retry_at: Timestamp,
                    now: Timestamp,
                ) -> Result<(), LedgerError> {
                    let mut tx = self.begin_write().await.map_err(database)?;
                    let done = sqlx::query(rows::REVOCATION_FAILED)
                        .bind(row.0)
                        .bind(retry_at.as_second())
                        .bind(now.as_second())
                        .execute(&mut *tx)
                        .await
                        .map_err(database)?;
                    if done.rows_affected() == 0 {
                        let stored = one(&mut tx, SELECT_ROW, row.0)
                            .await
                            .map_err(database)?
                            .ok_or(LedgerError::NotFound)?;
                        return Err(LedgerError::NotAllowed {
                            from: stored.status()?,
                            to: Status::Revoking,
                        });
                    }
                    tx.commit().await.map_err(database)
                }

                async fn feed_cursor(&self) -> Result<Option<i64>, LedgerError> {
                    sqlx::query_scalar::<_, Option<i64>>(rows::select_feed_cursor!())
                        .fetch_optional(self.pool())
                        .await
                        .map(Option::flatten)
                        .map_err(database)
                }

                async fn apply_feed_page(
                    &self,
                    read: Option<i64>,
                    to: i64,
                    events: &[FeedEvent],
                    now: Timestamp,
                ) -> Result<FeedApplied, LedgerError> {
                    let tx = self.begin_write().await.map_err(database)?;
                    commit_page(tx, read, to, events, now).await
                }

                async fn lead_feed(&self) -> Result<Option<Box<dyn FeedLead>>, LedgerError> {
                    self.lead().await
                }

                async fn recent_feed_events(
                    &self,
                    limit: u32,
                ) -> Result<Vec<FeedEventRecord>, LedgerError> {
                    sqlx::query_as::<_, rows::FeedEventRow>(rows::SELECT_RECENT_FEED_EVENTS)
                        .bind(i64::from(limit.clamp(1, rows::MAX_PAGE)))
                        .fetch_all(self.pool())
                        .await
                        .map_err(database)?
                        .into_iter()
                        // One row this release cannot read must not hide the others.
                        .filter_map(|row| match row.into_record() {
                            Ok(record) => Some(Ok(record)),
                            Err(e) => {
                                tracing::warn!(
                                    error = %$crate::error::chain(&e),
                                    "a recorded feed event cannot be read back; left out of the list"
                                );
                                None
                            }
                        })
                        .collect()
                }
            }

            // Reads outside a write take no lock.
            const SELECT_ROW_READ: &str = concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents WHERE row_id = $1"
            );
            const SELECT_BY_ID_READ: &str = concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents WHERE consent_id = $1"
            );
            const SELECT_INTEGRATED_READ: &str = concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents WHERE source = 'integrated' AND reference = $1"
            );
        }
    };
}
pub(super) use ledger_ops;
