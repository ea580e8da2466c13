//! S3 versioning as the seam carries it: the bucket's state on every write and delete, and
//! versions as a listing shows them. What a version means is the S3 layer's; backends keep
//! them (the embedded store in its index, SX in files of the reserved subtree).

use std::time::SystemTime;

use super::{ListStart, ObjectSummary, StoreError};

/// A bucket's versioning state, as the S3 layer passes it to every write and delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: a write replaces the object, a delete removes it.
    Unversioned,
    /// A write adds a version, a delete adds a delete marker.
    Enabled,
    /// A write or delete replaces the key's `null` version; other versions stay.
    Suspended,
}

/// The id of a version written while its bucket was unversioned or suspended.
pub const NULL_VERSION: &str = "null";

impl Versioning {
    /// For a backend call that keeps no versions: refuses the versioned modes.
    pub fn require_unversioned(self) -> Result<(), StoreError> {
        match self {
            Versioning::Unversioned => Ok(()),
            _ => Err(StoreError::Unsupported("versioning".into())),
        }
    }
}

/// The object a conditional delete was judged on: the latest version must still be it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    /// Unquoted.
    pub etag: String,
    pub last_modified: SystemTime,
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The delete marker made, or the version removed; None in unversioned buckets.
    pub version_id: Option<String>,
    /// A marker was made, or the version removed was one.
    pub delete_marker: bool,
}

/// Where a version listing starts: keys in UTF-8 byte order, each key's versions newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionStart {
    Beginning,
    /// Every version of keys strictly greater than this one.
    AfterKey(String),
    /// Keys greater than this one that do not start with it (skips a whole common prefix).
    AfterPrefix(String),
    /// The versions of `key` older than `version_id`, then the keys after it.
    AfterVersion {
        key: String,
        version_id: String,
    },
}

impl VersionStart {
    /// Where a listing of current objects starts, for a bucket whose only versions are null.
    pub fn unversioned_start(&self) -> ListStart {
        match self {
            VersionStart::Beginning => ListStart::Beginning,
            VersionStart::AfterKey(key) | VersionStart::AfterVersion { key, .. } => {
                ListStart::After(key.clone())
            }
            VersionStart::AfterPrefix(prefix) => ListStart::AfterPrefix(prefix.clone()),
        }
    }
}

/// One version or delete marker, as listed.
#[derive(Clone, Debug)]
pub struct VersionSummary {
    pub key: String,
    pub version_id: String,
    /// The newest version of its key (a delete marker can be).
    pub is_latest: bool,
    pub delete_marker: bool,
    /// As [`ObjectSummary::size`]; 0 for a delete marker.
    pub size: u64,
    /// Empty for a delete marker.
    pub etag: String,
    pub last_modified: SystemTime,
    /// As [`ObjectSummary::header`].
    pub header: Option<String>,
}

impl From<ObjectSummary> for VersionSummary {
    /// An object of an unversioned bucket: its key's only version, null.
    fn from(object: ObjectSummary) -> VersionSummary {
        VersionSummary {
            key: object.key,
            version_id: NULL_VERSION.to_owned(),
            is_latest: true,
            delete_marker: false,
            size: object.size,
            etag: object.etag,
            last_modified: object.last_modified,
            header: object.header,
        }
    }
}
