//! What the server keeps for server-side encryption across requests: the key store, and the
//! buckets' default encryption, cached because every write without encryption headers needs
//! it and reading bucket documents from an SX cluster takes several requests.

use std::time::Duration;

use super::bucket::{self, DefaultEncryption, DOC_ENCRYPTION};
use super::keys::KeyStore;
use crate::s3::error::S3Error;
use crate::store::ObjectStore;

/// How long a bucket's default encryption is trusted from the cache. A change made through
/// this server is seen at once; one made through another gateway over the same SX cluster
/// within this time (documented in the README).
pub const DEFAULT_ENCRYPTION_CACHED: Duration = Duration::from_secs(10);
/// Buckets whose default is cached at once.
const CACHED_BUCKETS: u64 = 10_000;

pub struct SseState {
    pub keys: KeyStore,
    defaults: moka::sync::Cache<String, Option<DefaultEncryption>>,
}

impl SseState {
    pub fn new(keys: KeyStore) -> SseState {
        SseState {
            keys,
            defaults: moka::sync::Cache::builder()
                .max_capacity(CACHED_BUCKETS)
                .time_to_live(DEFAULT_ENCRYPTION_CACHED)
                .build(),
        }
    }

    /// The bucket's default encryption (its documents are read without an access check:
    /// the caller has already been allowed to write into the bucket).
    pub async fn bucket_default<S: ObjectStore>(
        &self,
        store: &S,
        bucket: &str,
    ) -> Result<Option<DefaultEncryption>, S3Error> {
        if let Some(cached) = self.defaults.get(bucket) {
            return Ok(cached);
        }
        let docs = store.bucket_documents(bucket).await?;
        let default = bucket::stored(docs.get(DOC_ENCRYPTION));
        self.defaults.insert(bucket.to_string(), default.clone());
        Ok(default)
    }

    /// Called when this server changes a bucket's default or deletes the bucket.
    pub fn forget(&self, bucket: &str) {
        self.defaults.invalidate(bucket);
    }
}
