//! Small objects (data kept in their index row) read recently, answered without a read
//! transaction: a 4 KiB GET of a hot key spent more of its time in SQLite's locks and page
//! reads than in anything else of the store.
//!
//! Every entry holds what the index said at one moment, and all of them were read while the
//! writer's commit count had one value, read before each read began. They answer only while
//! the count is unchanged, so any commit, to any key, makes every entry stale: the writer
//! counts a commit before it acknowledges the requests in it, so no answered write can be
//! missed, and no write path has to know this cache exists. The writer also empties the cache
//! after a commit, so stale entries hold no memory while uploads run.
//!
//! A key is taken in at its second miss among the last [`MISSES_REMEMBERED`]: a read of many
//! distinct keys in turn (a scan, a backup) then costs one hash per GET instead of filling
//! and evicting the cache all the time. Entries live in two generations of
//! [`GENERATION_BYTES`]: a full one becomes the older, whose entries move back to the newer
//! when read, and the older one before it is dropped; so the keys read often stay.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::mem;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::index::buckets::check_owned_by;
use super::reader::{Body, FoundObject};
use crate::store::{ObjectInfo, Principal, StoreError};

/// Bytes of keys and data in one generation; the cache holds two, so at most 4 MiB (about
/// 900 objects of 4 KiB) taken from the memory of the uploads. Objects in it are at most
/// `staging::INLINE_MAX` (64 KiB) each.
const GENERATION_BYTES: usize = 2 * 1024 * 1024;
/// Keys missed once that a second miss takes in (8 bytes each).
const MISSES_REMEMBERED: usize = 4096;
/// What an entry costs beside its key and data (metadata, map slots), roughly.
const ENTRY_OVERHEAD: usize = 512;

pub(super) struct SmallObject {
    bucket: String,
    key: String,
    /// The bucket's owner, checked against the caller on every use.
    owner: String,
    info: ObjectInfo,
    data: Bytes,
}

impl SmallObject {
    fn is(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && self.key == key
    }

    fn weight(&self) -> usize {
        self.bucket.len() + self.key.len() + self.data.len() + ENTRY_OVERHEAD
    }

    /// The object for `who`, refused as a read of the index would refuse it.
    pub fn answer(&self, who: &Principal) -> Result<(ObjectInfo, Body), StoreError> {
        check_owned_by(Some(&self.owner), who)?;
        Ok((self.info.clone(), Body::Inline(self.data.clone())))
    }
}

/// What [`SmallObjects::get`] found.
pub(super) enum Lookup {
    Hit(Arc<SmallObject>),
    /// Not held; `take_in`: the key was missed recently, so remember what the index says.
    Miss {
        take_in: bool,
    },
    /// Not asked: a named version, which the cache does not hold.
    Skip,
}

type Generation = HashMap<u64, Arc<SmallObject>>;

#[derive(Default)]
struct Held {
    /// The writer's commit count when every entry held was read.
    commits: u64,
    newer: Generation,
    newer_bytes: usize,
    older: Generation,
    missed_once: HashSet<u64>,
}

impl Held {
    fn add(&mut self, hash: u64, entry: Arc<SmallObject>) {
        self.newer_bytes += entry.weight();
        if let Some(replaced) = self.newer.insert(hash, entry) {
            self.newer_bytes -= replaced.weight();
        }
        if self.newer_bytes > GENERATION_BYTES {
            self.older = mem::take(&mut self.newer);
            self.newer_bytes = 0;
        }
    }

    /// Forgets every entry (not the misses, which are only a hint) for commit count `commits`.
    fn restart(&mut self, commits: u64) -> (Generation, Generation) {
        self.commits = commits;
        self.newer_bytes = 0;
        (mem::take(&mut self.newer), mem::take(&mut self.older))
    }
}

pub(super) struct SmallObjects {
    held: Mutex<Held>,
    hasher: RandomState,
}

impl SmallObjects {
    pub fn new() -> SmallObjects {
        SmallObjects {
            held: Mutex::new(Held::default()),
            hasher: RandomState::new(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hash(&self, bucket: &str, key: &str) -> u64 {
        self.hasher.hash_one((bucket, key))
    }

    /// The latest version of `bucket`/`key` if it was read while the writer's commit count was
    /// `commits_now`.
    pub fn get(&self, bucket: &str, key: &str, commits_now: u64) -> Lookup {
        let hash = self.hash(bucket, key);
        let mut held = self.held();
        if held.commits == commits_now {
            if let Some(entry) = held.newer.get(&hash).filter(|e| e.is(bucket, key)) {
                return Lookup::Hit(entry.clone());
            }
            if let Some(entry) = held.older.remove(&hash) {
                if entry.is(bucket, key) {
                    held.add(hash, entry.clone());
                    return Lookup::Hit(entry);
                }
            }
        }
        if held.missed_once.remove(&hash) {
            return Lookup::Miss { take_in: true };
        }
        if held.missed_once.len() >= MISSES_REMEMBERED {
            held.missed_once.clear();
        }
        held.missed_once.insert(hash);
        Lookup::Miss { take_in: false }
    }

    /// Remembers what a read of the latest version begun at commit count `commits` found,
    /// if its data was in the index row.
    pub fn remember(&self, (bucket, key): (&str, &str), commits: u64, found: &FoundObject) {
        if let Body::Inline(data) = &found.body {
            let (owner, info) = (found.owner.clone(), found.info.clone());
            self.insert((bucket, key), commits, owner, info, data.clone());
        }
    }

    fn insert(
        &self,
        (bucket, key): (&str, &str),
        commits: u64,
        owner: String,
        info: ObjectInfo,
        data: Bytes,
    ) {
        let hash = self.hash(bucket, key);
        let entry = Arc::new(SmallObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            owner,
            info,
            data,
        });
        let mut held = self.held();
        if commits < held.commits {
            return;
        }
        let dropped = match commits > held.commits {
            true => Some(held.restart(commits)),
            false => None,
        };
        held.add(hash, entry);
        drop(held);
        drop(dropped);
    }

    /// Drops every entry, all stale once commit number `commits` is counted, and frees their
    /// memory now; for the writer, after each commit.
    pub fn empty_after_commit(&self, commits: u64) {
        let mut held = self.held();
        if held.commits >= commits {
            return;
        }
        let dropped = held.restart(commits);
        drop(held);
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::store::ObjectMeta;

    const OBJECT: usize = 64 * 1024;

    fn put(cache: &SmallObjects, key: &str) {
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
        let data = Bytes::from(vec![0; OBJECT]);
        cache.insert(("b", key), 1, "alice".into(), info, data);
    }

    fn hit(cache: &SmallObjects, key: &str) -> bool {
        matches!(cache.get("b", key, 1), Lookup::Hit(_))
    }

    fn held_bytes(cache: &SmallObjects) -> usize {
        let held = cache.held();
        held.newer
            .values()
            .chain(held.older.values())
            .map(|e| e.weight())
            .sum()
    }

    #[test]
    fn keys_read_often_stay_and_memory_stays_bounded() {
        let cache = SmallObjects::new();
        put(&cache, "hot");
        put(&cache, "cold");
        // Six generations' worth of other objects, the hot key read between them.
        let others = 6 * GENERATION_BYTES / OBJECT;
        for i in 0..others {
            put(&cache, &format!("other-{i}"));
            assert!(hit(&cache, "hot"), "the hot key left after {i} others");
            assert!(held_bytes(&cache) <= 2 * (GENERATION_BYTES + OBJECT + ENTRY_OVERHEAD));
        }
        assert!(!hit(&cache, "cold"));
    }

    #[test]
    fn a_key_is_taken_in_at_its_second_miss_and_a_commit_empties_the_cache() {
        let cache = SmallObjects::new();
        assert!(matches!(
            cache.get("b", "k", 1),
            Lookup::Miss { take_in: false }
        ));
        assert!(matches!(
            cache.get("b", "k", 1),
            Lookup::Miss { take_in: true }
        ));
        put(&cache, "k");
        assert!(hit(&cache, "k"));
        // Read at another commit count: not this entry.
        assert!(matches!(cache.get("b", "k", 2), Lookup::Miss { .. }));
        cache.empty_after_commit(2);
        assert_eq!(held_bytes(&cache), 0);
        // A read begun before that commit is not taken in.
        put(&cache, "k");
        assert_eq!(held_bytes(&cache), 0);
    }
}
