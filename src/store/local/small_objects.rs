//! Small objects (data kept in their index row) read recently, answered without a read
//! transaction: a 4 KiB GET of a hot key spent more of its time in SQLite's locks and page
//! reads than in anything else of the store.
//!
//! The writer numbers its transactions like a sequence lock: the count turns odd before a
//! transaction starts and even again once it has ended, committed or not. A read loads the
//! count before its read transaction begins; what it found is kept, and later answered, only
//! under that same even count. So every write, to any key, makes every entry stale before it
//! can be seen, and no write path has to know this cache exists. The writer also drops the
//! entries when its count turns odd, so stale entries hold no memory while uploads run.
//!
//! A key is taken in at its second read among the last [`MISSES_REMEMBERED`]: a read of many
//! distinct keys in turn (a scan, a backup) then costs one hash per GET instead of filling
//! and evicting the cache all the time. Entries live in two generations of
//! [`GENERATION_BYTES`]: a full one becomes the older, whose entries move back to the newer
//! when read, and the older one before it is dropped; so the keys read often stay.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::mem;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::index::buckets::check_owned_by;
use super::reader::{Body, FoundObject};
use crate::store::{ObjectInfo, Principal, StoreError};

/// Bytes of entries (keys, data, metadata) in one generation; the cache holds two, so about
/// 4 MiB (900 objects of 4 KiB) taken from the memory of the uploads. Objects in it are at
/// most `staging::INLINE_MAX` (64 KiB) each.
const GENERATION_BYTES: usize = 2 * 1024 * 1024;
/// Keys read once that a second read takes in (8 bytes each).
const MISSES_REMEMBERED: usize = 4096;
/// What an entry costs beside the bytes of its strings and data (allocations, map slots).
const ENTRY_OVERHEAD: usize = 512;
/// What one stored header costs beside its name and value.
const HEADER_OVERHEAD: usize = 48;

pub(super) struct SmallObject {
    bucket: String,
    key: String,
    /// The bucket's owner, checked against the caller on every use.
    owner: String,
    info: ObjectInfo,
    data: Bytes,
    /// Bytes it holds, roughly: what the generations count.
    weight: usize,
}

impl SmallObject {
    fn new(bucket: &str, key: &str, owner: String, info: ObjectInfo, data: Bytes) -> SmallObject {
        let headers: usize = info
            .meta
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len() + HEADER_OVERHEAD)
            .sum();
        let strings = bucket.len()
            + 2 * key.len()
            + owner.len()
            + info.version_id.len()
            + info.meta.etag.len();
        let weight = strings + headers + data.len() + ENTRY_OVERHEAD;
        SmallObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            owner,
            info,
            data,
            weight,
        }
    }

    fn is_for(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && self.key == key
    }

    /// The object for `who`, refused as a read of the index would refuse it.
    pub fn answer(&self, who: &Principal) -> Result<(ObjectInfo, Body), StoreError> {
        check_owned_by(Some(&self.owner), who)?;
        Ok((self.info.clone(), Body::Inline(self.data.clone())))
    }
}

type Generation = HashMap<u64, Arc<SmallObject>>;

/// Entries dropped when the writer starts a transaction, freed once it has answered.
pub(super) type Stale = (Generation, Generation);

#[derive(Default)]
struct Entries {
    /// The writer's count under which every entry held was read.
    sequence: u64,
    newer: Generation,
    newer_bytes: usize,
    older: Generation,
    read_once: HashSet<u64>,
}

impl Entries {
    fn add(&mut self, hash: u64, entry: Arc<SmallObject>) {
        self.newer_bytes += entry.weight;
        if let Some(replaced) = self.newer.insert(hash, entry) {
            self.newer_bytes -= replaced.weight;
        }
        if self.newer_bytes > GENERATION_BYTES {
            self.older = mem::take(&mut self.newer);
            self.newer_bytes = 0;
        }
    }

    /// Forgets every entry (not the keys read once, only a hint) for count `sequence`.
    fn restart(&mut self, sequence: u64) -> Stale {
        self.sequence = sequence;
        self.newer_bytes = 0;
        (mem::take(&mut self.newer), mem::take(&mut self.older))
    }

    /// Whether `hash` was read once recently; remembers it if not.
    fn read_before(&mut self, hash: u64) -> bool {
        if self.read_once.remove(&hash) {
            return true;
        }
        if self.read_once.len() >= MISSES_REMEMBERED {
            self.read_once.clear();
        }
        self.read_once.insert(hash);
        false
    }
}

pub(super) struct SmallObjects {
    /// The writer's transactions, twice: odd while one runs.
    sequence: AtomicU64,
    entries: Mutex<Entries>,
    hasher: RandomState,
}

impl SmallObjects {
    pub fn new() -> SmallObjects {
        SmallObjects {
            sequence: AtomicU64::new(0),
            entries: Mutex::new(Entries::default()),
            hasher: RandomState::new(),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hash(&self, bucket: &str, key: &str) -> u64 {
        self.hasher.hash_one((bucket, key))
    }

    /// The writer's count, to load before a read transaction begins.
    pub fn sequence(&self) -> u64 {
        self.sequence.load(Ordering::Acquire)
    }

    /// The latest version of `bucket`/`key` if it was read under count `sequence`.
    pub fn get(&self, bucket: &str, key: &str, sequence: u64) -> Option<Arc<SmallObject>> {
        if sequence % 2 == 1 {
            return None;
        }
        let hash = self.hash(bucket, key);
        let mut entries = self.entries();
        if entries.sequence != sequence {
            return None;
        }
        if let Some(entry) = entries.newer.get(&hash).filter(|e| e.is_for(bucket, key)) {
            return Some(entry.clone());
        }
        let entry = entries.older.remove(&hash)?;
        if !entry.is_for(bucket, key) {
            return None;
        }
        entries.add(hash, entry.clone());
        Some(entry)
    }

    /// Remembers what a read of the latest version begun under count `sequence` found, if its
    /// data was in the index row and the key was read once recently.
    pub fn remember(&self, (bucket, key): (&str, &str), sequence: u64, found: &FoundObject) {
        let Body::Inline(data) = &found.body else {
            return;
        };
        if sequence % 2 == 1 {
            return;
        }
        let hash = self.hash(bucket, key);
        if !self.entries().read_before(hash) {
            return;
        }
        let (owner, info) = (found.owner.clone(), found.info.clone());
        let entry = Arc::new(SmallObject::new(bucket, key, owner, info, data.clone()));
        let mut entries = self.entries();
        if sequence < entries.sequence {
            return;
        }
        let stale = (sequence > entries.sequence).then(|| entries.restart(sequence));
        entries.add(hash, entry);
        drop(entries);
        drop(stale);
    }

    /// For the writer, before a transaction begins: no entry answers until it has ended. The
    /// entries are returned, to be dropped once the writer has answered.
    pub fn writes_begin(&self) -> Stale {
        let sequence = self.sequence.fetch_add(1, Ordering::AcqRel) + 1;
        self.entries().restart(sequence)
    }

    /// For the writer, once the transaction has ended, committed or rolled back.
    pub fn writes_end(&self) {
        self.sequence.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::store::ObjectMeta;

    const OBJECT: usize = 64 * 1024;

    fn found(key: &str) -> FoundObject {
        let info = ObjectInfo {
            version_id: "null".into(),
            key: key.into(),
            size: OBJECT as u64,
            last_modified: SystemTime::UNIX_EPOCH,
            meta: ObjectMeta {
                etag: "e".into(),
                headers: Vec::new(),
                size: None,
            },
        };
        FoundObject {
            info,
            body: Body::Inline(Bytes::from(vec![0; OBJECT])),
            owner: "alice".into(),
        }
    }

    /// Reads `key` as `open_object` does under count `sequence`: true when it was held.
    fn read(cache: &SmallObjects, key: &str, sequence: u64) -> bool {
        if cache.get("b", key, sequence).is_some() {
            return true;
        }
        cache.remember(("b", key), sequence, &found(key));
        false
    }

    fn held_bytes(cache: &SmallObjects) -> usize {
        let entries = cache.entries();
        entries
            .newer
            .values()
            .chain(entries.older.values())
            .map(|e| e.weight)
            .sum()
    }

    #[test]
    fn keys_read_often_stay_and_memory_stays_bounded() {
        let cache = SmallObjects::new();
        for _ in 0..2 {
            read(&cache, "hot", 0);
            read(&cache, "cold", 0);
        }
        // Six generations' worth of other objects, the hot key read between them.
        let others = 6 * GENERATION_BYTES / OBJECT;
        for i in 0..others {
            let other = format!("other-{i}");
            read(&cache, &other, 0);
            read(&cache, &other, 0);
            assert!(read(&cache, "hot", 0), "the hot key left after {i} others");
            assert!(held_bytes(&cache) <= 2 * (GENERATION_BYTES + OBJECT + ENTRY_OVERHEAD));
        }
        assert!(!read(&cache, "cold", 0));
    }

    #[test]
    fn a_key_is_taken_in_at_its_second_read() {
        let cache = SmallObjects::new();
        assert!(!read(&cache, "k", 0));
        assert!(!read(&cache, "k", 0));
        assert!(read(&cache, "k", 0));
        // Read under another count: not this entry.
        assert!(!read(&cache, "k", 2));
    }

    #[test]
    fn nothing_answers_or_is_kept_while_a_transaction_runs() {
        let cache = SmallObjects::new();
        for _ in 0..2 {
            read(&cache, "k", 0);
        }
        assert!(read(&cache, "k", 0));
        let stale = cache.writes_begin();
        assert_eq!(stale.0.len() + stale.1.len(), 1);
        assert_eq!(held_bytes(&cache), 0);
        // Begun before the transaction, or while it runs: neither answers nor is kept.
        for sequence in [0, cache.sequence()] {
            for _ in 0..3 {
                assert!(!read(&cache, "k", sequence));
            }
        }
        assert_eq!(held_bytes(&cache), 0);
        cache.writes_end();
        let after = cache.sequence();
        assert_eq!(after % 2, 0);
        for _ in 0..2 {
            read(&cache, "k", after);
        }
        assert!(read(&cache, "k", after));
    }
}
