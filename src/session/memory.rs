//! Sessions and used states kept in this process (one instance only), in bounded moka caches.
//!
//! Expiry is judged by the application's clock, not by moka's own: a record past its expiry is
//! no session the moment the clock says so, and `evict_expired_once` frees its memory. moka's
//! timers would follow the system clock alone, which a test (or a stepped clock) cannot move.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};
use moka::policy::EvictionPolicy;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::domain::time::Clock;
use crate::flow::pending::FLOW_LIFETIME;

/// Sessions (and used states) kept in memory at most; past it the least recently used go
/// first. At a few hundred bytes a session this bounds the store to a few hundred MB even under
/// a flood the rate limit lets through.
pub const MAX_MEMORY_SESSIONS: u64 = 500_000;

/// The instant a record's expiry date stands for.
pub(crate) fn expiry_of(record: &Record) -> Timestamp {
    let nanos = record.expiry_date.unix_timestamp_nanos();
    Timestamp::from_nanosecond(nanos).unwrap_or(if nanos < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// Sessions in this process. `Debug` shows how many, never an id or a value.
#[derive(Clone)]
pub struct MemoryStore {
    records: Cache<Id, Record>,
    clock: Clock,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.records.entry_count())
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    pub fn new(clock: Clock) -> Self {
        Self {
            // LRU, not moka's default TinyLFU: its admission filter may refuse a brand-new entry
            // when the cache is full, and a new session must always be kept.
            records: Cache::builder()
                .max_capacity(MAX_MEMORY_SESSIONS)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            clock,
        }
    }

    /// Drops every session expired at `now` and lets moka finish its pending work, so an idle
    /// site frees abandoned sessions without waiting for a visitor. Returns how many went.
    pub async fn evict_expired_once(&self, now: Timestamp) -> usize {
        let expired: Vec<Arc<Id>> = self
            .records
            .iter()
            .filter(|(_, record)| expiry_of(record) <= now)
            .map(|(id, _)| id)
            .collect();
        for id in &expired {
            self.records.invalidate(id.as_ref()).await;
        }
        self.records.run_pending_tasks().await;
        expired.len()
    }

    /// How many sessions are held (moka's count, which may lag the latest writes a little).
    pub fn len(&self) -> u64 {
        self.records.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live record as stored, for inspecting what the store holds (tests, diagnostics).
    /// Session ids are secrets: nothing here may be logged.
    pub fn records(&self) -> Vec<Record> {
        let now = (self.clock)();
        self.records
            .iter()
            .map(|(_, record)| record)
            .filter(|record| expiry_of(record) > now)
            .collect()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id colliding with a live one is all but impossible; should it happen,
        // the other session is kept and this one takes a new id.
        loop {
            let entry = self
                .records
                .entry(record.id)
                .or_insert_with(async { record.clone() })
                .await;
            if entry.is_fresh() {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Replaces an existing session only, as Redis' `SET XX` does: a request that loaded a
    /// session before another deleted it (logout, a new id after the callback) must not bring
    /// it back when it saves.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.records
            .entry(record.id)
            .and_compute_with(|entry| {
                let op = match entry {
                    Some(_) => Op::Put(record.clone()),
                    None => Op::Nop,
                };
                std::future::ready(op)
            })
            .await;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let now = (self.clock)();
        Ok(self
            .records
            .get(session_id)
            .await
            .filter(|record| expiry_of(record) > now))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.records.invalidate(session_id).await;
        Ok(())
    }
}

/// The states claimed in this process, each with when it was claimed. `Debug` shows how many.
#[derive(Clone)]
pub struct MemoryClaims {
    claimed: Cache<String, Timestamp>,
    clock: Clock,
}

impl std::fmt::Debug for MemoryClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryClaims")
            .field("claimed", &self.claimed.entry_count())
            .finish_non_exhaustive()
    }
}

impl MemoryClaims {
    pub fn new(clock: Clock) -> Self {
        Self {
            // LRU, not TinyLFU: a claim refused admission would let the same state be claimed
            // twice. The per-instance cap on flow starts keeps the claims of one flow lifetime
            // well below the capacity, so LRU drops only claims long past use.
            claimed: Cache::builder()
                .max_capacity(MAX_MEMORY_SESSIONS)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            clock,
        }
    }

    /// True only the first time within `FLOW_LIFETIME`: after that no pending flow with this
    /// state can exist any more, so the claim need not be remembered.
    pub async fn claim(&self, digest: &str) -> bool {
        let now = (self.clock)();
        let result = self
            .claimed
            .entry(digest.to_owned())
            .and_compute_with(|existing| async move {
                match existing {
                    Some(claimed) if !claim_over(*claimed.value(), now) => Op::Nop,
                    _ => Op::Put(now),
                }
            })
            .await;
        matches!(
            result,
            CompResult::Inserted(_) | CompResult::ReplacedWith(_)
        )
    }

    /// Forgets claims older than a flow can live. Returns how many went.
    pub async fn evict_expired_once(&self, now: Timestamp) -> usize {
        let over: Vec<Arc<String>> = self
            .claimed
            .iter()
            .filter(|(_, claimed)| claim_over(*claimed, now))
            .map(|(digest, _)| digest)
            .collect();
        for digest in &over {
            self.claimed.invalidate(digest.as_ref()).await;
        }
        self.claimed.run_pending_tasks().await;
        over.len()
    }
}

fn claim_over(claimed: Timestamp, now: Timestamp) -> bool {
    now.duration_since(claimed) >= FLOW_LIFETIME
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use jiff::SignedDuration;
    use tower_sessions::cookie::time::OffsetDateTime;

    use super::*;

    fn clock_at(start: Timestamp) -> (Clock, Arc<AtomicI64>) {
        let seconds = Arc::new(AtomicI64::new(start.as_second()));
        let read = seconds.clone();
        let clock: Clock = Arc::new(move || {
            Timestamp::from_second(read.load(Ordering::SeqCst)).unwrap_or(Timestamp::UNIX_EPOCH)
        });
        (clock, seconds)
    }

    fn expiring_at(at: Timestamp) -> Record {
        Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: OffsetDateTime::from_unix_timestamp(at.as_second()).unwrap(),
        }
    }

    #[tokio::test]
    async fn the_housekeeping_step_frees_exactly_the_sessions_expired_by_then() {
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let (clock, _) = clock_at(start);
        let store = MemoryStore::new(clock);
        let mut soon = expiring_at(start + SignedDuration::from_mins(1));
        let mut later = expiring_at(start + SignedDuration::from_mins(30));
        store.create(&mut soon).await.unwrap();
        store.create(&mut later).await.unwrap();

        assert_eq!(store.evict_expired_once(start).await, 0);
        assert_eq!(store.records.entry_count(), 2);

        let evicted = store
            .evict_expired_once(start + SignedDuration::from_mins(2))
            .await;
        assert_eq!(evicted, 1);
        assert_eq!(store.records.entry_count(), 1);
        assert!(store.records.get(&soon.id).await.is_none());
        assert!(store.records.get(&later.id).await.is_some());
    }

    #[tokio::test]
    async fn a_claim_is_held_exactly_as_long_as_a_pending_flow_lives() {
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let (clock, seconds) = clock_at(start);
        let claims = MemoryClaims::new(clock);
        assert!(claims.claim("digest").await);

        seconds.fetch_add(FLOW_LIFETIME.as_secs() - 1, Ordering::SeqCst);
        assert!(
            !claims.claim("digest").await,
            "forgotten while a flow lives"
        );
        assert_eq!(
            claims
                .evict_expired_once(start + FLOW_LIFETIME - SignedDuration::from_secs(1))
                .await,
            0
        );

        assert_eq!(claims.evict_expired_once(start + FLOW_LIFETIME).await, 1);
        seconds.fetch_add(1, Ordering::SeqCst);
        assert!(claims.claim("digest").await, "remembered past any flow");
    }
}
