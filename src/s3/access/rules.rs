//! A bucket's access rules, read from its documents and cached: every request on a bucket
//! needs them, and on an SX cluster reading the documents takes requests of its own. A change
//! made through this server is seen at once ([`RulesCache::forget`]); one made through another
//! gateway over the same SX cluster within [`RULES_CACHED`] (documented in the README).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{ownership, public_block, DOC_ACL, DOC_POLICY};
use crate::config::{ObjectOwnership, PublicAccessBlock};
use crate::s3::acl::{Acl, Grant, Grantee, Permission};
use crate::s3::error::S3Error;
use crate::s3::identity::{canonical_id, Identity};
use crate::s3::lifecycle::{self, Lifecycle, DOC_LIFECYCLE};
use crate::s3::object_lock::{self, LockConfig};
use crate::s3::policy::Policy;
use crate::s3::versioning;
use crate::store::{BackendGrant, ObjectStore, Versioning};

/// How long a bucket's rules are trusted from the cache.
pub const RULES_CACHED: Duration = Duration::from_secs(10);
/// Buckets whose rules are cached at once.
const CACHED_BUCKETS: u64 = 10_000;

/// What decides access to one bucket.
#[derive(Debug)]
pub struct BucketRules {
    pub bucket: String,
    pub owner: Identity,
    pub policy: Option<Policy>,
    /// The bucket has a policy that no longer parses.
    pub policy_unreadable: bool,
    /// The policy has conditions on the tags of existing objects.
    pub policy_reads_tags: bool,
    /// The bucket's own ACL (not the backend's grants) gives someone besides the owner
    /// something.
    pub acl_shared: bool,
    pub acl: Acl,
    /// The bucket's own Block Public Access flags (GetPublicAccessBlock shows these).
    pub own_public_block: Option<PublicAccessBlock>,
    /// The flags in force: the bucket's and the server's together.
    pub public_block: PublicAccessBlock,
    pub ownership: ObjectOwnership,
    /// Whether the bucket has an ownership document (GetBucketOwnershipControls answers it).
    pub ownership_set: bool,
    /// Canonical IDs of the users the backend lets read every object (SX volume ACL).
    pub backend_readers: Vec<String>,
    /// The bucket's lifecycle configuration, parsed (for `x-amz-expiration`).
    pub lifecycle: Option<Arc<Lifecycle>>,
    /// What writes and deletes do to existing versions (not access, but read with it).
    pub versioning: Versioning,
    /// The Object Lock configuration, once lock is enabled on the bucket.
    pub object_lock: Option<LockConfig>,
}

impl BucketRules {
    fn read(docs: &crate::store::BucketDocuments, defaults: &crate::s3::S3Config) -> BucketRules {
        let bucket = docs.info.name.clone();
        let owner = Identity::of(&docs.info.owner);
        let (policy, policy_unreadable) = match docs
            .get(DOC_POLICY)
            .map(|text| Policy::parse(text, &bucket))
        {
            None => (None, false),
            Some(Ok(policy)) => (Some(policy), false),
            Some(Err(e)) => {
                log::error!("bucket {bucket}: stored policy no longer parses ({e}): only the owner has access until it is replaced");
                (None, true)
            }
        };
        let mut acl = Acl::from_stored(docs.get(DOC_ACL), &super::acl_owner(&owner));
        let acl_shared = acl.grants.iter().any(
            |grant| !matches!(&grant.grantee, Grantee::User { id } if *id == owner.canonical_id),
        );
        let backend_readers = add_backend_grants(&mut acl, &docs.backend_grants);
        let own_public_block = docs
            .get(public_block::DOC_PUBLIC_ACCESS_BLOCK)
            .map(|stored| public_block::from_stored(&bucket, Some(stored)));
        let public_block = own_public_block
            .unwrap_or_default()
            .union(defaults.public_access_block);
        let stored_ownership = ownership::from_stored(&bucket, docs.get(ownership::DOC_OWNERSHIP));
        let lifecycle = docs.get(DOC_LIFECYCLE).and_then(|text| {
            lifecycle::parse_xml(text.as_bytes())
                .map_err(|e| {
                    log::error!(
                        "bucket {bucket}: stored lifecycle configuration no longer parses: {}",
                        e.message
                    )
                })
                .ok()
                .map(Arc::new)
        });
        let object_lock = docs.get(object_lock::DOC_OBJECT_LOCK).map(|stored| {
            object_lock::parse_config(stored.as_bytes()).unwrap_or_else(|e| {
                // Lock stays enabled (it can never be turned off); only the default is lost.
                log::error!("bucket {bucket}: stored object lock configuration no longer parses ({e}): new versions get no default retention");
                LockConfig::default()
            })
        });
        BucketRules {
            bucket,
            owner,
            // As a condition key, or as a policy variable in a Resource or a condition value.
            policy_reads_tags: policy
                .as_ref()
                .is_some_and(|p| p.reads_key("s3:ExistingObjectTag")),
            policy,
            policy_unreadable,
            acl_shared,
            acl,
            own_public_block,
            public_block,
            ownership: stored_ownership.unwrap_or_default(),
            ownership_set: stored_ownership.is_some(),
            backend_readers,
            lifecycle,
            versioning: versioning::from_stored(
                &docs.info.name,
                docs.get(versioning::DOC_VERSIONING),
            ),
            object_lock,
        }
    }
}

impl BucketRules {
    /// RestrictPublicBuckets with a public policy: the policy's grants reach only the owner.
    pub fn restricted(&self) -> bool {
        self.public_block.restrict_public_buckets
            && self.policy.as_ref().is_some_and(|p| p.is_public())
    }
}

/// Adds what the backend gives other users (an SX volume's ACL) to the bucket's ACL, and
/// returns the canonical IDs of those who may read every object.
fn add_backend_grants(acl: &mut Acl, grants: &[BackendGrant]) -> Vec<String> {
    let mut readers = Vec::new();
    for grant in grants {
        let id = canonical_id(&grant.user);
        let permissions: &[Permission] = if grant.manage {
            &[Permission::FullControl]
        } else {
            match (grant.read, grant.write) {
                (true, true) => &[Permission::Read, Permission::Write],
                (true, false) => &[Permission::Read],
                (false, true) => &[Permission::Write],
                (false, false) => &[],
            }
        };
        for &permission in permissions {
            let new = Grant {
                grantee: Grantee::User { id: id.clone() },
                permission,
            };
            if !acl.grants.contains(&new) {
                acl.grants.push(new);
            }
        }
        if grant.read || grant.manage {
            readers.push(id);
        }
    }
    readers
}

pub struct RulesCache {
    rules: moka::sync::Cache<String, Arc<BucketRules>>,
    /// Bumped by every [`RulesCache::forget`]: rules read before a change finished reading
    /// are not cached, or they would outlive the change.
    changes: AtomicU64,
}

impl Default for RulesCache {
    fn default() -> Self {
        RulesCache {
            rules: moka::sync::Cache::builder()
                .max_capacity(CACHED_BUCKETS)
                .time_to_live(RULES_CACHED)
                .build(),
            changes: AtomicU64::new(0),
        }
    }
}

impl RulesCache {
    /// The bucket's rules (NoSuchBucket when it does not exist).
    pub async fn get<S: ObjectStore>(
        &self,
        store: &S,
        defaults: &crate::s3::S3Config,
        bucket: &str,
    ) -> Result<Arc<BucketRules>, S3Error> {
        if let Some(cached) = self.rules.get(bucket) {
            return Ok(cached);
        }
        let changes = self.changes.load(Ordering::Acquire);
        let docs = store.bucket_documents(bucket).await?;
        let rules = Arc::new(BucketRules::read(&docs, defaults));
        if self.changes.load(Ordering::Acquire) == changes {
            self.rules.insert(bucket.to_string(), rules.clone());
            // A change that landed between the check and the insert forgets it again.
            if self.changes.load(Ordering::Acquire) != changes {
                self.rules.invalidate(bucket);
            }
        }
        Ok(rules)
    }

    /// Called when this server changes a bucket's documents or deletes the bucket (after
    /// the change, so that a read racing it is not cached).
    pub fn forget(&self, bucket: &str) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        self.rules.invalidate(bucket);
    }
}
