//! Recently read small objects (inline data, metadata, bucket owner), so a GET or HEAD of a
//! hot small object needs no trip to the index.
//!
//! Each entry is stamped with the writer's commit count read before the index read that
//! made it, and is only served while that count is unchanged: any commit (a PUT, DELETE,
//! copy or completion of any key, a bucket deleted) retires every entry at once. Coarse, but
//! no write path can be forgotten, and a reader whose snapshot predates a commit can never
//! serve it: its stamp is older than the count that commit leaves behind. Objects with
//! blocks are not kept: their readers need a ticket taken before the index read.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::Shared;
use crate::store::ObjectInfo;

/// Bytes of inline data (and keys) kept at most: inline objects are at most 64 KiB each.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

pub struct Head {
    pub owner: String,
    pub info: ObjectInfo,
    pub data: Bytes,
    generation: u64,
}

pub struct ObjectHeads {
    cache: moka::sync::Cache<(String, String), Arc<Head>>,
}

impl ObjectHeads {
    pub fn new() -> ObjectHeads {
        let weigh = |(bucket, key): &(String, String), head: &Arc<Head>| {
            let bytes = bucket.len() + key.len() + head.data.len() + 256;
            u32::try_from(bytes).unwrap_or(u32::MAX)
        };
        ObjectHeads {
            cache: moka::sync::Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(weigh)
                .build(),
        }
    }

    /// The commit count to stamp on what an index read about to start finds.
    pub fn generation(shared: &Shared) -> u64 {
        shared.commits.load(Ordering::Acquire)
    }

    /// The entry for `bucket/key`, if no commit happened since it was read.
    pub fn get(&self, shared: &Shared, bucket: &str, key: &str) -> Option<Arc<Head>> {
        let head = self.cache.get(&(bucket.to_owned(), key.to_owned()))?;
        (head.generation == Self::generation(shared)).then_some(head)
    }

    /// Keeps what a read stamped `generation` found, unless a commit has already retired it.
    pub fn remember(
        &self,
        shared: &Shared,
        generation: u64,
        bucket: &str,
        owner: String,
        info: ObjectInfo,
        data: Bytes,
    ) {
        if Self::generation(shared) != generation {
            return;
        }
        let head = Head {
            owner,
            info,
            data,
            generation,
        };
        self.cache
            .insert((bucket.to_owned(), head.info.key.clone()), Arc::new(head));
    }
}
