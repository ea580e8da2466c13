//! ListObjectVersions on SX: the version records (in key order, each key's newest first)
//! merged with the current objects that have no record (written before versioning: each is
//! its key's null version, and its latest).

use super::cluster::{Cluster, Vol};
use super::listing::Scan;
use super::mapping::{meta_from_sx, successor_of_prefix};
use super::versioned::from_micros;
use super::versions::{
    after_records_of, parse_record, record_path, records_of_prefix, records_prefix, MARKER_KEY,
    VID_KEY,
};
use crate::store::{ListStart, StoreError, VersionStart, VersionSummary, NULL_VERSION};

impl Cluster {
    /// Up to `limit` versions and markers whose keys start with `prefix`, from `start`, in
    /// (key, newest first) order.
    pub(super) async fn list_versions(
        &self,
        vol: &Vol,
        prefix: &str,
        start: &VersionStart,
        limit: usize,
        header: Option<&str>,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A key too long for records has no version after its null one.
        let after_long_key;
        let start = match start {
            VersionStart::AfterVersion { key, .. } if records_prefix(key).is_none() => {
                after_long_key = VersionStart::AfterKey(key.clone());
                &after_long_key
            }
            other => other,
        };
        let under = records_of_prefix(prefix);
        // Where the records start, and the record of the version a page ended on.
        let (from, after_record, continuing) = match start {
            VersionStart::Beginning => (under.clone(), None, None),
            VersionStart::AfterKey(k) => (after_records_of(k), None, None),
            VersionStart::AfterPrefix(p) => {
                (successor_of_prefix(&records_of_prefix(p)), None, None)
            }
            VersionStart::AfterVersion { key, version_id } => {
                let Some(key_prefix) = records_prefix(key) else {
                    return Ok(Vec::new()); // made AfterKey above
                };
                let record = if version_id == NULL_VERSION {
                    // The null version's record, if it has one; else it was the current
                    // object without a record, listed before every record of its key.
                    let nulls = self
                        .records(vol, &key_prefix, 1, |r| r.id == NULL_VERSION)
                        .await?;
                    nulls.into_iter().next().map(|r| r.path)
                } else {
                    Some(record_path(&key_prefix, 0, version_id))
                };
                match record {
                    Some(path) => (
                        path.as_str().to_owned(),
                        Some(path.as_str().to_owned()),
                        Some(key.as_str()),
                    ),
                    None => (key_prefix, None, Some(key.as_str())),
                }
            }
        };
        let accept_key = |key: &str| match start {
            VersionStart::Beginning => true,
            VersionStart::AfterKey(k) => key > k.as_str(),
            VersionStart::AfterPrefix(p) => key > p.as_str() && !key.starts_with(p.as_str()),
            VersionStart::AfterVersion { key: k, .. } => key >= k.as_str(),
        };
        // Rank 1: records; the current object without a record (rank 0) comes first.
        let mut found: Vec<(u8, VersionSummary)> = Vec::new();
        let mut null_seen: Option<String> = None;
        if let Some(key) = continuing.filter(|_| start_is_null(start)) {
            null_seen = Some(key.to_owned()); // its null version is listed already
        }
        self.scan(vol, from.max(under.clone()), limit, |name, entry| {
            if !name.starts_with(&under) {
                return if name > under.as_str() {
                    Scan::Stop
                } else {
                    Scan::Skip
                };
            }
            if after_record.as_deref() == Some(name) {
                return Scan::Skip;
            }
            let Some(record) = parse_record(name) else {
                return Scan::Skip;
            };
            if !record.key.starts_with(prefix) || !accept_key(&record.key) {
                return Scan::Skip;
            }
            if record.id == NULL_VERSION {
                // A crash may leave an older null record behind: the newest is the one.
                if null_seen.as_deref() == Some(record.key.as_str()) {
                    return Scan::Skip;
                }
                null_seen = Some(record.key.clone());
            }
            let meta = entry.file_meta.as_ref();
            let marker = meta.is_some_and(|m| m.contains(MARKER_KEY));
            let s3 = meta_from_sx(meta, entry.file_revision.as_deref().unwrap_or(""));
            found.push((
                1,
                VersionSummary {
                    key: record.key,
                    version_id: record.id,
                    is_latest: false,
                    delete_marker: marker,
                    size: match marker {
                        true => 0,
                        false => s3.size.unwrap_or(entry.file_size.unwrap_or(0)),
                    },
                    etag: if marker {
                        String::new()
                    } else {
                        s3.etag.clone()
                    },
                    last_modified: from_micros(record.micros),
                    header: header.and_then(|h| {
                        let value = s3.headers.iter().find(|(n, _)| n == h);
                        value.map(|(_, v)| v.clone())
                    }),
                },
            ));
            Scan::Take
        })
        .await?;
        // The current objects without a record, among the keys the records cover (all the
        // rest when the records ran out).
        let until = match found.len() >= limit {
            true => found.last().map(|(_, v)| v.key.clone()),
            false => None,
        };
        let current_start = match start {
            VersionStart::Beginning => ListStart::Beginning,
            VersionStart::AfterKey(k) | VersionStart::AfterVersion { key: k, .. } => {
                ListStart::After(k.clone())
            }
            VersionStart::AfterPrefix(p) => ListStart::AfterPrefix(p.clone()),
        };
        let unrecorded = |e: &super::proto::ListEntry| {
            !e.file_meta.as_ref().is_some_and(|m| m.contains(VID_KEY))
        };
        let currents = self
            .list_current(
                vol,
                prefix,
                &current_start,
                limit,
                header,
                &unrecorded,
                until.as_deref(),
            )
            .await?;
        for s in currents {
            found.push((
                0,
                VersionSummary {
                    key: s.key,
                    version_id: NULL_VERSION.to_owned(),
                    is_latest: true,
                    delete_marker: false,
                    size: s.size,
                    etag: s.etag,
                    last_modified: s.last_modified,
                    header: s.header,
                },
            ));
        }
        // Stable: each key's records stay newest first.
        found.sort_by(|(ra, a), (rb, b)| a.key.cmp(&b.key).then(ra.cmp(rb)));
        let mut out: Vec<VersionSummary> = Vec::with_capacity(found.len().min(limit));
        let mut unrecorded_null: Option<String> = None;
        for (rank, mut v) in found {
            if rank == 0 {
                unrecorded_null = Some(v.key.clone());
            } else if v.version_id == NULL_VERSION
                && unrecorded_null.as_deref() == Some(v.key.as_str())
            {
                continue; // the current object is the null version
            }
            let first_of_key = match out.last() {
                Some(prev) => prev.key != v.key,
                None => continuing != Some(v.key.as_str()),
            };
            v.is_latest = first_of_key;
            out.push(v);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }
}

fn start_is_null(start: &VersionStart) -> bool {
    matches!(start, VersionStart::AfterVersion { version_id, .. } if version_id == NULL_VERSION)
}
