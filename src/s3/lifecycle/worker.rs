//! The lifecycle worker: every `lifecycle_interval` it walks every bucket with a lifecycle
//! configuration, expires the objects (in a bucket that keeps versions: the versions and
//! delete markers, [`super::versions`]) its enabled rules say are due and aborts the
//! multipart uploads they say are abandoned.
//!
//! - One worker per server (per store); with several gateways over one SX cluster, a bucket
//!   is worked on by whoever holds its lease ([`ObjectStore::try_lease`]), renewed before
//!   every page; a gateway that finds another holder stops walking the bucket.
//! - An object is deleted only while it is still the latest version, with the ETag and
//!   last-modified it was judged with ([`ObjectStore::delete_object_if_unchanged`]): one
//!   written again meanwhile survives, even with the same bytes. In a versioned bucket the
//!   delete adds a delete marker (Suspended: the `null` one), as AWS does.
//! - Listings are read a page at a time: memory stays bounded whatever the bucket's size.
//! - Each pass runs under the same panic catch as requests ([`crate::http::panics::catch`]): a
//!   panic in a pass is logged and counted, and the next pass runs as usual.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::config::{Lifecycle, Rule};
use super::expiry::{days_after, object_expiry};
use super::DOC_LIFECYCLE;
use crate::s3::{objmeta, tagging, versioning};
use crate::store::{Judged, ListStart, ObjectStore, Principal, StoreError, Versioning};

/// Objects or uploads read per store call.
pub const PAGE: usize = 1000;
/// The name of the lease a bucket's lifecycle work is done under.
const LEASE: &str = "lifecycle";

/// What the workers did, for /metrics.
#[derive(Debug, Default)]
pub struct LifecycleCounters {
    pub passes: AtomicU64,
    pub expired: AtomicU64,
    pub noncurrent_expired: AtomicU64,
    pub markers_removed: AtomicU64,
    pub locked: AtomicU64,
    pub aborted: AtomicU64,
    pub errors: AtomicU64,
}

impl LifecycleCounters {
    /// The counters in Prometheus text form.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        for (name, help, counter) in [
            (
                "libres3_lifecycle_passes_total",
                "lifecycle passes over all buckets",
                &self.passes,
            ),
            (
                "libres3_lifecycle_expired_objects_total",
                "current objects deleted (versioned: given a delete marker) by an Expiration rule",
                &self.expired,
            ),
            (
                "libres3_lifecycle_expired_noncurrent_versions_total",
                "noncurrent versions deleted by a NoncurrentVersionExpiration rule",
                &self.noncurrent_expired,
            ),
            (
                "libres3_lifecycle_removed_delete_markers_total",
                "expired object delete markers (the only version of their key) removed",
                &self.markers_removed,
            ),
            (
                "libres3_lifecycle_locked_versions_total",
                "times a version due for expiry was kept by a retention or legal hold",
                &self.locked,
            ),
            (
                "libres3_lifecycle_aborted_uploads_total",
                "multipart uploads aborted by an AbortIncompleteMultipartUpload rule",
                &self.aborted,
            ),
            (
                "libres3_lifecycle_errors_total",
                "store errors and panics met by the lifecycle worker",
                &self.errors,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
        out
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub interval: Duration,
    /// The length of one lifecycle "day" (86400 s but in tests).
    pub day: Duration,
    /// Who this server is, in leases: unique among the gateways of a cluster.
    pub holder: String,
    /// Objects or uploads read per store call ([`PAGE`]; smaller in tests).
    pub page: usize,
}

impl WorkerSettings {
    /// Long enough to cover a pass; a lease left by a gateway that died is taken over
    /// after it.
    fn lease_ttl(&self) -> Duration {
        self.interval.saturating_mul(3) + Duration::from_secs(60)
    }
}

/// This gateway's name in leases: its host and the S3 addresses it is configured to listen
/// on. Two gateways of one cluster differ in one or the other, and a gateway keeps its name
/// across restarts, so after a crash it takes its own lease back at once instead of waiting
/// for it to expire.
pub fn holder_name(listen: &[std::net::SocketAddr]) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let addrs: Vec<String> = listen.iter().map(|a| a.to_string()).collect();
    format!("{host}/{}", addrs.join(","))
}

/// What one bucket's pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BucketPass {
    /// Objects, or in a versioned bucket versions and delete markers.
    pub scanned: u64,
    /// Current objects expired (deleted, or in a versioned bucket given a delete marker).
    pub expired: u64,
    pub noncurrent_expired: u64,
    pub markers_removed: u64,
    /// Versions due but kept by a retention or legal hold.
    pub locked: u64,
    /// Due objects that changed (or went) before their delete.
    pub changed: u64,
    pub aborted: u64,
    pub errors: u64,
    /// Another gateway holds the bucket's lease now: this pass stopped.
    pub lease_lost: bool,
}

/// One bucket's pass: what it works with, and what it did.
pub(super) struct BucketWork<'a, S> {
    pub store: &'a S,
    /// The bucket owner: the worker acts on the owner's behalf.
    pub who: Principal,
    pub bucket: &'a str,
    pub lifecycle: &'a Lifecycle,
    pub versioning: Versioning,
    pub settings: &'a WorkerSettings,
    pub now: SystemTime,
    pub counters: &'a LifecycleCounters,
    pub done: BucketPass,
}

/// Parsed configurations of the last pass, by bucket, with the text they were parsed from:
/// a document is parsed again only when it changed.
type Parsed = HashMap<String, (String, Arc<Lifecycle>)>;

/// Runs a pass every `settings.interval` for ever (spawn it on the server's runtime).
pub async fn run<S: ObjectStore>(
    store: &S,
    counters: &LifecycleCounters,
    settings: WorkerSettings,
) {
    let mut parsed = Parsed::new();
    let mut number = 0u64;
    loop {
        actix_web::rt::time::sleep(settings.interval).await;
        number += 1;
        let pass = run_pass(store, counters, &settings, &mut parsed, SystemTime::now());
        if !guarded(number, counters, pass).await {
            // The parsed cache may be half-updated: start it afresh.
            parsed.clear();
        }
    }
}

/// Runs one pass under the request panic catch, logging and counting its failure; false
/// when it panicked.
async fn guarded(
    number: u64,
    counters: &LifecycleCounters,
    pass: impl std::future::Future<Output = Result<(), StoreError>>,
) -> bool {
    let id = format!("lifecycle pass {number}");
    let finished = match crate::http::panics::catch(id, pass).await {
        Some(Ok(())) => true,
        Some(Err(e)) => {
            LifecycleCounters::add(&counters.errors, 1);
            log::error!("lifecycle pass {number}: {e}");
            true
        }
        None => {
            LifecycleCounters::add(&counters.errors, 1);
            log::error!("lifecycle pass {number} panicked; the next one runs as usual");
            false
        }
    };
    LifecycleCounters::add(&counters.passes, 1);
    finished
}

/// One pass over every bucket. A bucket's failure is logged and counted; the pass goes on.
pub async fn run_pass<S: ObjectStore>(
    store: &S,
    counters: &LifecycleCounters,
    settings: &WorkerSettings,
    parsed: &mut Parsed,
    now: SystemTime,
) -> Result<(), StoreError> {
    let buckets = store.all_buckets().await?;
    let names: std::collections::HashSet<&str> = buckets.iter().map(|b| b.name.as_str()).collect();
    parsed.retain(|name, _| names.contains(name.as_str()));
    for bucket in buckets {
        let (lifecycle, versioning) = match configuration(store, &bucket.name, parsed).await {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(e) => {
                LifecycleCounters::add(&counters.errors, 1);
                log::warn!("lifecycle: bucket {}: {e}", bucket.name);
                continue;
            }
        };
        let acts = lifecycle
            .rules
            .iter()
            .any(|r| r.enabled && r.acts(versioning != Versioning::Unversioned));
        if !acts {
            continue;
        }
        match store
            .try_lease(&bucket.name, LEASE, &settings.holder, settings.lease_ttl())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                log::debug!(
                    "lifecycle: bucket {}: another gateway holds its lease",
                    bucket.name
                );
                continue;
            }
            Err(e) => {
                LifecycleCounters::add(&counters.errors, 1);
                log::warn!("lifecycle: bucket {}: lease: {e}", bucket.name);
                continue;
            }
        }
        let mut work = BucketWork {
            store,
            who: Principal::User(bucket.owner.clone()),
            bucket: &bucket.name,
            lifecycle: &lifecycle,
            versioning,
            settings,
            now,
            counters,
            done: BucketPass::default(),
        };
        let result = async {
            if versioning == Versioning::Unversioned {
                work.expire_objects().await?;
            } else {
                work.expire_versions().await?;
            }
            work.abort_uploads().await
        }
        .await;
        let done = &mut work.done;
        match result {
            Ok(()) => {}
            // Deleted while its pass ran: nothing left to do.
            Err(StoreError::NoSuchBucket) => continue,
            Err(e) => {
                done.errors += 1;
                LifecycleCounters::add(&counters.errors, 1);
                log::warn!("lifecycle: bucket {}: {e}", bucket.name);
            }
        }
        log::info!(
            "lifecycle: bucket {}: {} versions scanned, {} expired, {} noncurrent expired, \
             {} delete markers removed, {} kept by Object Lock, {} changed meanwhile, \
             {} uploads aborted, {} errors{}",
            bucket.name,
            done.scanned,
            done.expired,
            done.noncurrent_expired,
            done.markers_removed,
            done.locked,
            done.changed,
            done.aborted,
            done.errors,
            if done.lease_lost {
                "; stopped: another gateway took its lease"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The bucket's parsed configuration, if it has one, and its versioning state.
async fn configuration<S: ObjectStore>(
    store: &S,
    bucket: &str,
    parsed: &mut Parsed,
) -> Result<Option<(Arc<Lifecycle>, Versioning)>, StoreError> {
    let docs = match store.bucket_documents(bucket).await {
        Ok(docs) => docs,
        Err(StoreError::NoSuchBucket) => return Ok(None),
        Err(e) => return Err(e),
    };
    let versioning = versioning::from_stored(bucket, docs.get(versioning::DOC_VERSIONING));
    let Some(text) = docs.get(DOC_LIFECYCLE) else {
        parsed.remove(bucket);
        return Ok(None);
    };
    if let Some((seen, lifecycle)) = parsed.get(bucket) {
        if seen == text {
            return Ok(Some((lifecycle.clone(), versioning)));
        }
    }
    match super::parse_xml(text.as_bytes()) {
        Ok(lifecycle) => {
            let lifecycle = Arc::new(lifecycle);
            parsed.insert(bucket.to_string(), (text.to_string(), lifecycle.clone()));
            Ok(Some((lifecycle, versioning)))
        }
        Err(e) => Err(StoreError::Internal(format!(
            "its stored lifecycle configuration no longer parses: {}",
            e.message
        ))),
    }
}

/// The longest prefix every key of `prefixes` starts with.
fn common_prefix<'a>(mut prefixes: impl Iterator<Item = &'a str>) -> &'a str {
    let Some(mut common) = prefixes.next() else {
        return "";
    };
    for prefix in prefixes {
        let len = common
            .char_indices()
            .zip(prefix.chars())
            .find(|((_, a), b)| a != b)
            .map_or(common.len().min(prefix.len()), |((at, _), _)| at);
        // `len` is on a char boundary of `common`: a byte index where they first differ, or
        // the shorter length (a prefix of the other).
        common = common.get(..len).unwrap_or("");
    }
    common
}

impl<S: ObjectStore> BucketWork<'_, S> {
    /// Renews the bucket's lease before the next page: false (and the pass stops) once
    /// another gateway holds it, so two gateways do not keep walking one bucket.
    pub async fn lease_renewed(&mut self) -> Result<bool, StoreError> {
        let held = self
            .store
            .try_lease(
                self.bucket,
                LEASE,
                &self.settings.holder,
                self.settings.lease_ttl(),
            )
            .await?;
        self.done.lease_lost = !held;
        Ok(held)
    }

    /// What to list for the enabled rules that `acts` says act on objects: the prefix all
    /// their keys share, and the stored header their filters read (the tags); None when no
    /// such rule is enabled.
    pub fn listing_scope(
        &self,
        acts: impl Fn(&Rule) -> bool,
    ) -> Option<(String, Option<&'static str>)> {
        let acting: Vec<&Rule> = self
            .lifecycle
            .rules
            .iter()
            .filter(|r| r.enabled && acts(r))
            .collect();
        if acting.is_empty() {
            return None;
        }
        let prefix = common_prefix(acting.iter().map(|r| r.filter.prefix())).to_string();
        let header = acting
            .iter()
            .any(|r| r.filter.has_tags())
            .then_some(objmeta::TAGGING);
        Some((prefix, header))
    }

    /// Expiration (Days, Date) on the current objects of an unversioned bucket.
    async fn expire_objects(&mut self) -> Result<(), StoreError> {
        let Some((prefix, header)) = self.listing_scope(Rule::expires_current) else {
            return Ok(());
        };
        let mut start = ListStart::Beginning;
        loop {
            let page = self
                .store
                .list_objects(
                    &self.who,
                    self.bucket,
                    &prefix,
                    &start,
                    self.settings.page,
                    header,
                )
                .await?;
            for object in &page {
                self.done.scanned += 1;
                let tags = object
                    .header
                    .as_deref()
                    .map(tagging::decode)
                    .unwrap_or_default();
                let due = object_expiry(
                    self.lifecycle,
                    &object.key,
                    object.size,
                    &tags,
                    object.last_modified,
                    self.settings.day,
                )
                .is_some_and(|(when, _)| when <= self.now);
                if due {
                    let judged = Judged {
                        etag: object.etag.clone(),
                        last_modified: object.last_modified,
                    };
                    self.expire_current(&object.key, &judged).await;
                }
            }
            match page.last() {
                Some(last) if page.len() == self.settings.page => {
                    start = ListStart::After(last.key.clone())
                }
                _ => return Ok(()),
            }
            if !self.lease_renewed().await? {
                return Ok(());
            }
        }
    }

    /// Deletes the latest version of `key` if it is still the one judged due. Versioned: a
    /// delete marker becomes the latest and the version stays (as AWS does).
    pub async fn expire_current(&mut self, key: &str, judged: &Judged) {
        match self
            .store
            .delete_object_if_unchanged(&self.who, self.bucket, key, judged, self.versioning)
            .await
        {
            Ok(_) => {
                self.done.expired += 1;
                LifecycleCounters::add(&self.counters.expired, 1);
            }
            Err(StoreError::NoSuchKey | StoreError::PreconditionFailed) => self.done.changed += 1,
            Err(e) => self.failed(key, "delete", &e),
        }
    }

    /// Counts and logs a failed action on one key; the pass goes on.
    pub fn failed(&mut self, key: &str, action: &str, e: &StoreError) {
        self.done.errors += 1;
        LifecycleCounters::add(&self.counters.errors, 1);
        log::warn!("lifecycle: {}/{key}: {action}: {e}", self.bucket);
    }

    async fn abort_uploads(&mut self) -> Result<(), StoreError> {
        let rules = self.lifecycle.rules.iter().filter(|r| r.enabled);
        for rule in rules {
            let Some(days) = rule.abort_after_days else {
                continue;
            };
            let prefix = rule.filter.prefix();
            let mut after: Option<(String, String)> = None;
            loop {
                if self.done.lease_lost {
                    return Ok(());
                }
                let marker = after
                    .as_ref()
                    .map(|(k, id)| (k.as_str(), Some(id.as_str())));
                let page = self
                    .store
                    .list_multipart_uploads(
                        &self.who,
                        self.bucket,
                        prefix,
                        marker,
                        self.settings.page,
                    )
                    .await?;
                for upload in &page {
                    let due = days_after(upload.initiated, days, self.settings.day);
                    if due.is_none_or(|due| due > self.now) {
                        continue;
                    }
                    match self
                        .store
                        .abort_multipart(&self.who, self.bucket, &upload.key, &upload.upload_id)
                        .await
                    {
                        Ok(()) => {
                            self.done.aborted += 1;
                            LifecycleCounters::add(&self.counters.aborted, 1);
                        }
                        Err(StoreError::NoSuchUpload) => self.done.changed += 1,
                        Err(e) => {
                            let action = format!("abort upload {}", upload.upload_id);
                            self.failed(&upload.key, &action, &e)
                        }
                    }
                }
                match page.last() {
                    Some(last) if page.len() == self.settings.page => {
                        after = Some((last.key.clone(), last.upload_id.clone()))
                    }
                    _ => break,
                }
                self.lease_renewed().await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod sx_tests;
#[cfg(test)]
mod tests;
