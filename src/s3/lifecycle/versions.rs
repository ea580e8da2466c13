//! The lifecycle pass over a bucket that keeps versions (Enabled or Suspended), in one walk
//! of its version listing (keys in order, each key's versions newest first):
//!
//! - Expiration (Days, Date) on a key's latest version when it is not a delete marker: a
//!   delete marker goes on top, as in an unversioned pass.
//! - NoncurrentVersionExpiration: a version stopped being current when the next newer one
//!   was written, so it is due `NoncurrentDays` after that one's last-modified time, unless
//!   it is among the `NewerNoncurrentVersions` newest noncurrent versions of its key.
//!   Noncurrent delete markers count and go like versions.
//! - Expired object delete markers (a marker that is its key's only version): removed under
//!   `ExpiredObjectDeleteMarker`, or once an Expiration by Days or Date would expire an object
//!   with the marker's date, as AWS does.
//!
//! A version due for expiry is read first: one that no longer looks as listed (its id, the
//! `null` one, now names a newer write) or is under a legal hold or a retention still to
//! come is kept (counted), and the delete goes through only while the version still has the
//! metadata read, so a hold placed in between wins.
//!
//! The listing resumes after the last version of a page, so an action that would remove
//! that version waits until the next page is read: deleting it first would leave the
//! listing nowhere to resume from (SX lists the key again from its newest version; the
//! embedded store skips the rest of the key, for a `null` version). Should a listing still
//! start a key over (a client deleted the version meanwhile), the walk sees a version newer
//! than the one before it and judges nothing more of that key.

use std::time::SystemTime;

use super::config::{Expiration, Lifecycle, Rule};
use super::expiry::{days_after, object_expiry};
use super::worker::{BucketWork, LifecycleCounters};
use crate::s3::object_lock::VersionLock;
use crate::s3::tagging;
use crate::store::{
    Judged, ObjectMeta, ObjectReader, ObjectStore, StoreError, VersionStart, VersionSummary,
    NULL_VERSION,
};

/// What the walk decides about a version.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// The key's latest version is due: a delete marker goes on top of it.
    ExpireCurrent { key: String, judged: Judged },
    /// A noncurrent version (or delete marker) is due.
    ExpireNoncurrent { key: String, version: ListedVersion },
    /// The key's only version is a delete marker, due for removal.
    RemoveMarker { key: String, version: ListedVersion },
}

impl Action {
    /// Whether this action can remove `version_id` of `key`: deleting it, or, for the `null`
    /// one, expiring the key's current version (in a Suspended bucket the new `null` delete
    /// marker replaces it).
    fn removes(&self, key: &str, version_id: &str) -> bool {
        match self {
            Action::ExpireCurrent { key: k, .. } => k == key && version_id == NULL_VERSION,
            Action::ExpireNoncurrent { key: k, version }
            | Action::RemoveMarker { key: k, version } => k == key && version.id == version_id,
        }
    }
}

/// A version as the listing showed it. An id can name another version by the time it is
/// deleted (the `null` one, written again in a Suspended bucket): the delete goes ahead only
/// while the version still looks like this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedVersion {
    pub id: String,
    pub delete_marker: bool,
    /// Unquoted; empty for a delete marker.
    pub etag: String,
    pub last_modified: SystemTime,
}

impl From<&VersionSummary> for ListedVersion {
    fn from(v: &VersionSummary) -> Self {
        ListedVersion {
            id: v.version_id.clone(),
            delete_marker: v.delete_marker,
            etag: v.etag.clone(),
            last_modified: v.last_modified,
        }
    }
}

/// The walk's view of the key being listed.
struct KeyState {
    key: String,
    /// The last-modified time of the version listed last: the next newer one of the key.
    newer_modified: Option<SystemTime>,
    noncurrent_seen: u32,
    /// The key's latest version is this delete marker, and no older version was listed yet.
    lone_marker: Option<ListedVersion>,
    /// A version newer than the one before it came next: the listing started the key over
    /// (it resumed from a version that went). The rest of the key is not judged.
    restarted: bool,
}

/// Decides, version by version in listing order, what the rules say is due at `now`.
pub struct VersionWalk<'a> {
    lifecycle: &'a Lifecycle,
    day: std::time::Duration,
    now: SystemTime,
    current: Option<KeyState>,
}

impl<'a> VersionWalk<'a> {
    pub fn new(lifecycle: &'a Lifecycle, day: std::time::Duration, now: SystemTime) -> Self {
        VersionWalk {
            lifecycle,
            day,
            now,
            current: None,
        }
    }

    /// Takes the next version of the listing; what is due goes to `due`.
    pub fn see(&mut self, version: &VersionSummary, due: &mut Vec<Action>) {
        if self.current.as_ref().is_none_or(|k| k.key != version.key) {
            self.finish(due);
            // The first version listed of a key is its latest, unless the key changed
            // between pages: then it is not judged (nothing newer is known), but it still
            // dates and counts for the older ones.
            let latest = version.is_latest;
            self.current = Some(KeyState {
                key: version.key.clone(),
                newer_modified: Some(version.last_modified),
                noncurrent_seen: u32::from(!latest),
                lone_marker: (latest && version.delete_marker).then(|| version.into()),
                restarted: false,
            });
            if latest && !version.delete_marker && self.current_due(version) {
                due.push(Action::ExpireCurrent {
                    key: version.key.clone(),
                    judged: Judged {
                        etag: version.etag.clone(),
                        last_modified: version.last_modified,
                    },
                });
            }
            return;
        }
        let Some(state) = self.current.as_mut() else {
            return;
        };
        state.lone_marker = None;
        if state
            .newer_modified
            .is_some_and(|newer| version.last_modified > newer)
        {
            state.restarted = true;
        }
        if state.restarted {
            return;
        }
        let index = state.noncurrent_seen;
        state.noncurrent_seen = state.noncurrent_seen.saturating_add(1);
        let became_noncurrent = state.newer_modified.replace(version.last_modified);
        let Some(became_noncurrent) = became_noncurrent else {
            return;
        };
        if self.noncurrent_due(version, index, became_noncurrent) {
            due.push(Action::ExpireNoncurrent {
                key: version.key.clone(),
                version: version.into(),
            });
        }
    }

    /// Ends the key being walked (at a key change, or at the end of the listing).
    pub fn finish(&mut self, due: &mut Vec<Action>) {
        let Some(state) = self.current.take() else {
            return;
        };
        if let Some(marker) = state.lone_marker {
            if self.marker_due(&state.key, marker.last_modified) {
                due.push(Action::RemoveMarker {
                    key: state.key,
                    version: marker,
                });
            }
        }
    }

    fn current_due(&self, version: &VersionSummary) -> bool {
        let tags = tags_of(version);
        object_expiry(
            self.lifecycle,
            &version.key,
            version.size,
            &tags,
            version.last_modified,
            self.day,
        )
        .is_some_and(|(when, _)| when <= self.now)
    }

    /// `index`: how many noncurrent versions of the key are newer than this one.
    fn noncurrent_due(
        &self,
        version: &VersionSummary,
        index: u32,
        became_noncurrent: SystemTime,
    ) -> bool {
        let tags = tags_of(version);
        self.lifecycle.rules.iter().any(|rule| {
            let Some(expiration) = rule.noncurrent_expiration.as_ref() else {
                return false;
            };
            rule.enabled
                && rule.filter.matches(&version.key, version.size, &tags)
                && index >= expiration.newer_noncurrent_versions.unwrap_or(0)
                && days_after(became_noncurrent, expiration.noncurrent_days, self.day)
                    .is_some_and(|when| when <= self.now)
        })
    }

    fn marker_due(&self, key: &str, modified: SystemTime) -> bool {
        self.lifecycle.rules.iter().any(|rule| {
            if !rule.enabled || !rule.filter.matches(key, 0, &Vec::new()) {
                return false;
            }
            match rule.expiration {
                Some(Expiration::ExpiredObjectDeleteMarker(on)) => on,
                Some(Expiration::Days(days)) => {
                    days_after(modified, days, self.day).is_some_and(|when| when <= self.now)
                }
                Some(Expiration::Date(date)) => date <= self.now,
                None => false,
            }
        })
    }
}

fn tags_of(version: &VersionSummary) -> tagging::TagSet {
    version
        .header
        .as_deref()
        .map(tagging::decode)
        .unwrap_or_default()
}

impl<S: ObjectStore> BucketWork<'_, S> {
    /// The pass over a versioned bucket's versions (module doc).
    pub async fn expire_versions(&mut self) -> Result<(), StoreError> {
        let acts = |r: &Rule| r.expires_current() || r.expires_versions();
        let Some((prefix, header)) = self.listing_scope(acts) else {
            return Ok(());
        };
        let mut walk = VersionWalk::new(self.lifecycle, self.settings.day, self.now);
        let mut start = VersionStart::Beginning;
        let mut due = Vec::new();
        // The listing resumes from a full page's last version, which must still be there
        // when the next page is read: an action that would remove it waits until then (at
        // most two: that version's own, and the key's current one's when it is `null`).
        let mut held: Vec<Action> = Vec::new();
        loop {
            let page = self
                .store
                .list_object_versions(
                    &self.who,
                    self.bucket,
                    &prefix,
                    &start,
                    self.settings.page,
                    header,
                )
                .await?;
            let full = page.len() == self.settings.page;
            for version in &page {
                self.done.scanned += 1;
                walk.see(version, &mut due);
            }
            if !full {
                walk.finish(&mut due);
            }
            let resume = page.last().filter(|_| full);
            let ready: Vec<Action> = held.drain(..).chain(due.drain(..)).collect();
            for action in ready {
                if resume.is_some_and(|v| action.removes(&v.key, &v.version_id)) {
                    held.push(action);
                } else {
                    self.apply(action).await;
                }
            }
            match page.last() {
                Some(last) if full => {
                    start = VersionStart::AfterVersion {
                        key: last.key.clone(),
                        version_id: last.version_id.clone(),
                    }
                }
                _ => return Ok(()),
            }
            if !self.lease_renewed().await? {
                return Ok(());
            }
        }
    }

    async fn apply(&mut self, action: Action) {
        match action {
            Action::ExpireCurrent { key, judged } => self.expire_current(&key, &judged).await,
            Action::ExpireNoncurrent { key, version } => {
                if self.delete_version(&key, &version).await {
                    self.done.noncurrent_expired += 1;
                    LifecycleCounters::add(&self.counters.noncurrent_expired, 1);
                }
            }
            Action::RemoveMarker { key, version } => {
                if self.delete_version(&key, &version).await {
                    self.done.markers_removed += 1;
                    LifecycleCounters::add(&self.counters.markers_removed, 1);
                }
            }
        }
    }

    /// Deletes one version, still as listed, unless a lock protects it; true when it went.
    async fn delete_version(&mut self, key: &str, listed: &ListedVersion) -> bool {
        let checked = match self.recheck(key, listed).await {
            Ok(Recheck::Delete(checked)) => checked,
            Ok(Recheck::Keep) => return false,
            Err(e) => {
                self.failed(key, "read before delete", &e);
                return false;
            }
        };
        let version_id = listed.id.as_str();
        let deleted = self
            .store
            .delete_version(&self.who, self.bucket, key, version_id, checked.as_ref())
            .await;
        match deleted {
            Ok(_) => true,
            Err(StoreError::SourceChanged | StoreError::NoSuchKey | StoreError::NoSuchVersion) => {
                self.done.changed += 1;
                false
            }
            Err(e) => {
                self.failed(key, &format!("delete version {version_id}"), &e);
                false
            }
        }
    }

    /// Reads the version again, to delete it only while it is still as listed and no lock
    /// keeps it (counted when one does, or when it changed or went meanwhile).
    async fn recheck(&mut self, key: &str, listed: &ListedVersion) -> Result<Recheck, StoreError> {
        let opened = self
            .store
            .open_object(&self.who, self.bucket, key, Some(&listed.id))
            .await;
        let meta = match opened {
            Ok(reader) => {
                let info = reader.info();
                let unchanged = !listed.delete_marker
                    && info.last_modified == listed.last_modified
                    && info.meta.etag.trim_matches('"') == listed.etag.trim_matches('"');
                unchanged.then(|| info.meta.clone())
            }
            Err(StoreError::DeleteMarker { last_modified, .. })
                if listed.delete_marker && last_modified == listed.last_modified =>
            {
                // No lock on a marker, and no metadata to check at the delete.
                return Ok(Recheck::Delete(None));
            }
            Err(
                StoreError::DeleteMarker { .. } | StoreError::NoSuchKey | StoreError::NoSuchVersion,
            ) => None,
            Err(e) => return Err(e),
        };
        let Some(meta) = meta else {
            self.done.changed += 1;
            return Ok(Recheck::Keep);
        };
        if VersionLock::of(&meta)
            .check_delete(self.now, false)
            .is_err()
        {
            self.done.locked += 1;
            LifecycleCounters::add(&self.counters.locked, 1);
            return Ok(Recheck::Keep);
        }
        Ok(Recheck::Delete(Some(meta)))
    }
}

/// What reading a version again before its delete says.
enum Recheck {
    /// Delete it, checking (a version's) metadata is still this.
    Delete(Option<ObjectMeta>),
    Keep,
}

#[cfg(test)]
mod tests;
