//! The partner's listing of the ledger's consents: filtered by status (an active consent past
//! its expiry counts as expired) and reference, newest first, paged by a keyset cursor. Spelled
//! out per driver and expanded inside `ledger_ops!`'s module (as `feed_ops.rs` is), whose imports
//! it uses: `QueryBuilder`, `rows`, `ConsentRow`, `database` and the ledger's types.

macro_rules! ledger_list_ops {
    ($db:ty) => {
        /// One page of consents, newest first, filtered by status and reference.
        async fn list_page(
            pool: &sqlx::Pool<$db>,
            query: ListQuery,
        ) -> Result<ConsentPage, LedgerError> {
            let limit = query.limit.clamp(1, rows::MAX_PAGE);
            // Newest first by (created_at, row_id), the order of the three listing
            // indexes; a page continues after the cursor's row (keyset, no OFFSET).
            let mut sql = QueryBuilder::<$db>::new(concat!(
                "SELECT ",
                consent_columns!(),
                " FROM consents WHERE 1 = 1"
            ));
            // `expired` is also an active consent past its expiry, read at `now`.
            let now = query.now.as_second();
            match query.status {
                Some(Status::Active) => {
                    sql.push(" AND status = 'active' AND (expires_at IS NULL OR expires_at > ")
                        .push_bind(now)
                        .push(")");
                }
                Some(Status::Expired) => {
                    sql.push(" AND (status = 'expired' OR (status = 'active' AND expires_at <= ")
                        .push_bind(now)
                        .push("))");
                }
                Some(status) => {
                    sql.push(" AND status = ").push_bind(status.as_str());
                }
                None => {}
            }
            if let Some(reference) = query.reference {
                sql.push(" AND reference = ").push_bind(reference);
            }
            if let Some(after) = query.after {
                sql.push(" AND (created_at, row_id) < (")
                    .push_bind(after.created_at.as_second())
                    .push(", ")
                    .push_bind(after.row.0)
                    .push(")");
            }
            sql.push(" ORDER BY created_at DESC, row_id DESC LIMIT ")
                .push_bind(i64::from(limit) + 1);
            let mut found = sql
                .build_query_as::<ConsentRow>()
                .fetch_all(pool)
                .await
                .map_err(database)?;
            let more = found.len() > limit as usize;
            found.truncate(limit as usize);
            let consents = found
                .into_iter()
                .map(|row| row.into_consent(Vec::new()))
                .collect::<Result<Vec<_>, _>>()?;
            let next = if more {
                consents.last().map(|last| Cursor {
                    created_at: last.created_at,
                    row: last.row,
                })
            } else {
                None
            };
            Ok(ConsentPage { consents, next })
        }
    };
}

pub(super) use ledger_list_ops;
