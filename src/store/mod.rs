//! The seam between the S3 protocol and where data lives.
//!
//! `s3/` only ever talks to an [`ObjectStore`]. A backend stores opaque bytes, a few opaque
//! metadata strings and bucket/user records; every S3 rule that does not depend on where data
//! lives (ETag computation, delimiter grouping, pagination tokens, range arithmetic, multipart
//! validation) is written once in `s3/`.
//!
//! Writes are two-phase: [`ObjectStore::stage`] consumes a body stream and makes its bytes
//! durable but invisible; the S3 layer then checks the digests it computed while the stream
//! ran, and only then calls a `commit_*` method that makes the data visible atomically.
//! Dropping a staged value without committing it releases everything it held.

pub mod local;
pub mod sx;
mod versioning;

pub use versioning::{Deleted, Judged, VersionStart, VersionSummary, Versioning, NULL_VERSION};

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::LocalBoxStream;

/// An error raised by a request body stream (client disconnect, bad chunk signature, ...).
/// The S3 layer puts its own error inside and gets it back from [`StoreError::Body`].
#[derive(Debug)]
pub struct BodyError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A body going into the store.
pub type BodyStream = LocalBoxStream<'static, Result<Bytes, BodyError>>;
/// A body coming out of the store.
pub type DataStream = LocalBoxStream<'static, Result<Bytes, StoreError>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("bucket already exists and is owned by you")]
    BucketAlreadyOwnedByYou,
    #[error("bucket already exists")]
    BucketAlreadyExists,
    #[error("bucket is not empty")]
    BucketNotEmpty,
    #[error("no such key")]
    NoSuchKey,
    /// The version id names no version of the key.
    #[error("no such version")]
    NoSuchVersion,
    /// The version addressed (the latest, or one by id) is a delete marker.
    #[error("the version is a delete marker")]
    DeleteMarker {
        version_id: String,
        last_modified: SystemTime,
    },
    #[error("no such upload")]
    NoSuchUpload,
    /// A part named in a completion does not exist or its ETag does not match.
    #[error("invalid part {0}")]
    InvalidPart(u32),
    /// A write precondition ([`WriteCondition`]) did not hold at commit time.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A copy's source no longer has the metadata it was read with ([`CopySource::if_meta`]): it
    /// was overwritten meanwhile. The S3 layer reads it again and retries.
    #[error("the copy source changed while it was copied")]
    SourceChanged,
    #[error("access denied")]
    AccessDenied,
    /// The key is valid for S3 but this backend cannot store it (the message says why).
    #[error("key too long: {0}")]
    KeyTooLong(String),
    /// The bucket or request needs something this backend does not implement (the message
    /// names it, for the client and the administrator).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The request body failed while being read; the inner error says why.
    #[error("request body: {0}")]
    Body(BodyError),
    /// The backend cannot be reached or is overloaded; the client should retry later.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// A limit an administrator set is reached (an SX volume's size, a user's quota): retrying
    /// will not help until data is removed or the limit raised.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// The disks (or the cluster) are full: retrying will not help until space is freed.
    #[error("out of space: {0}")]
    OutOfSpace(String),
    /// The cluster refuses a new bucket of the configured size: it has no room for it.
    #[error("no room for a new bucket: {0}")]
    NoRoomForBucket(String),
    #[error("io: {0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl From<std::io::Error> for StoreError {
    /// A full disk (ENOSPC) or a filesystem quota (EDQUOT) is [`StoreError::OutOfSpace`].
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
                StoreError::OutOfSpace(e.to_string())
            }
            _ => StoreError::Io(e),
        }
    }
}

/// Who a request runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    User(String),
    Anonymous,
}

/// A secret access key (owned by `credentials`, below every module that handles one).
pub use crate::credentials::SecretKey;

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub access_key: String,
    pub secret: SecretKey,
}

#[derive(Clone, Debug)]
pub struct BucketInfo {
    pub name: String,
    pub owner: String,
    pub created: SystemTime,
}

/// What the S3 layer stores with an object and gets back verbatim.
///
/// Besides response headers, `headers` carries the S3 layer's own per-object documents under
/// names starting with `x-libres3-` (the object's tag set, its canned ACL, the sizes of the
/// parts of a multipart object). A backend stores and returns them like any other header; the
/// S3 layer never sends them to clients and never accepts them from clients.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    /// ETag without quotes: hex MD5, or `hex-N` for multipart objects.
    pub etag: String,
    /// Response headers stored with the object, lower-case names, in the order received:
    /// content-type, content-encoding, cache-control, ..., `x-amz-meta-*`.
    pub headers: Vec<(String, String)>,
    /// The size the S3 layer reports for the object when it differs from the bytes stored
    /// (the S3 layer stores encrypted objects sealed, a little larger): backends keep it and
    /// list the object with it ([`ObjectSummary::size`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct ObjectInfo {
    pub key: String,
    /// [`NULL_VERSION`] for an object written while its bucket was unversioned or suspended.
    pub version_id: String,
    /// The bytes stored (see [`ObjectMeta::size`] for the size the S3 layer reports).
    pub size: u64,
    pub last_modified: SystemTime,
    pub meta: ObjectMeta,
}

/// An object as listed: like [`ObjectInfo`] without the stored headers.
#[derive(Clone, Debug)]
pub struct ObjectSummary {
    pub key: String,
    /// [`ObjectMeta::size`] when the object was written with one, else the bytes stored.
    pub size: u64,
    pub last_modified: SystemTime,
    pub etag: String,
    /// The value of the stored header the listing asked for, when the object has it.
    pub header: Option<String>,
}

/// Where a listing starts, in UTF-8 byte order of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStart {
    Beginning,
    /// Keys strictly greater than this one.
    After(String),
    /// Keys greater than this one that do not start with it (skips a whole common prefix).
    AfterPrefix(String),
}

/// Checked atomically with the commit of an object write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteCondition {
    None,
    /// `If-None-Match: *`: fail if the key exists.
    IfAbsent,
    /// `If-Match: etag`: fail unless the key exists with this ETag (unquoted).
    IfEtag(String),
}

/// An inclusive byte range already validated against the object size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

#[derive(Clone, Debug)]
pub struct UploadInfo {
    pub upload_id: String,
    pub key: String,
    pub initiated: SystemTime,
    /// Metadata given at CreateMultipartUpload; `etag` is empty.
    pub meta: ObjectMeta,
}

#[derive(Clone, Debug)]
pub struct PartInfo {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub last_modified: SystemTime,
    /// The S3 layer's checksum of the part, kept opaque (see [`ObjectStore::commit_part`]).
    pub checksum: Option<String>,
}

/// What a completed multipart upload leaves behind for [`COMPLETED_UPLOAD_KEPT`], so that a
/// repeated completion (a client retrying after a lost answer) can be recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedUpload {
    pub key: String,
    /// The ETag the completed object got (unquoted).
    pub etag: String,
    /// [`part_list_digest`] of the part list the completion named.
    pub parts_digest: String,
    pub completed: SystemTime,
}

/// How long a completed upload's record is kept (AWS keeps a completion repeatable for a
/// while without saying how long).
pub const COMPLETED_UPLOAD_KEPT: std::time::Duration = std::time::Duration::from_secs(3600);

/// A short fixed-size digest of a completion's (part number, ETag) list, so a record need
/// not hold up to 10,000 entries.
pub fn part_list_digest(parts: &[(u32, String)]) -> String {
    let mut md5 = crate::md5_digest::Md5::new();
    for (number, etag) in parts {
        md5.update(format!("{number}:{etag}\n"));
    }
    crate::encoding::hex(&md5.finalize())
}

/// The S3 layer's documents about a bucket, as [`ObjectStore::bucket_documents`] returns them.
#[derive(Clone, Debug)]
pub struct BucketDocuments {
    pub info: BucketInfo,
    /// (name, document) pairs set with [`ObjectStore::put_bucket_document`], e.g. `acl`,
    /// `policy`, `cors`, `tagging`. Opaque to the backend.
    pub documents: Vec<(String, String)>,
    /// Rights the backend itself gives other users on the whole bucket (an SX volume's ACL,
    /// set with SX's own tools); the S3 layer counts them as bucket ACL grants.
    pub backend_grants: Vec<BackendGrant>,
}

/// One user's rights on a whole bucket, as the backend keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendGrant {
    pub user: String,
    /// List the bucket and read every object.
    pub read: bool,
    /// Write and delete objects.
    pub write: bool,
    /// Manage the bucket's rights.
    pub manage: bool,
}

impl BucketDocuments {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.documents
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_str())
    }
}

/// The source of a CopyObject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySource<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// The version copied; None: the latest.
    pub version_id: Option<&'a str>,
    /// When set, the copy fails with SourceChanged unless the source still has exactly this
    /// metadata (ETag, headers, reported size) at commit time: the S3 layer evaluated the
    /// copy-source conditions and chose the metadata against that version. An ETag alone
    /// would not do: the same content written again (say, encrypted under a new key) keeps
    /// its ETag but not its headers.
    pub if_meta: Option<&'a ObjectMeta>,
}

/// A multipart upload removed by [`ObjectStore::abort_uploads_initiated_before`].
#[derive(Clone, Debug)]
pub struct AbortedUpload {
    pub bucket: String,
    pub upload: UploadInfo,
}

/// How a backend is doing, for the admin endpoint's `/stats` and `/metrics`. Cheap to
/// compute: it reports what the backend already knows, or one small local check; it never
/// waits on the network.
#[derive(Clone, Debug, Default)]
pub struct BackendState {
    pub parts: Vec<BackendPart>,
}

/// One piece a backend depends on: its index, a storage directory, a cluster node.
#[derive(Clone, Debug)]
pub struct BackendPart {
    /// `index`, `storage_dir`, `node`.
    pub kind: &'static str,
    /// A path or an address.
    pub name: String,
    /// Whether it worked when last used or checked; None when it never was.
    pub ok: Option<bool>,
    /// The backend cannot serve at all without it.
    pub required: bool,
    /// Why it failed last, if it did.
    pub error: Option<String>,
    /// How long ago `ok` and `error` were learned, when that is not now.
    pub age: Option<std::time::Duration>,
    /// A directory whose file system's size and free space the admin endpoint reports.
    pub path: Option<std::path::PathBuf>,
    /// The requests this worker sent to it (SX nodes), for /metrics.
    pub traffic: Option<PartTraffic>,
}

/// Requests sent to one part of a backend since the connection to it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PartTraffic {
    pub requests: u64,
    /// Requests that got no answer (connection error, timeout) or a 5xx.
    pub errors: u64,
    /// The time all requests took, in seconds.
    pub seconds: f64,
}

impl BackendPart {
    pub fn new(kind: &'static str, name: impl Into<String>, ok: Option<bool>) -> BackendPart {
        BackendPart {
            kind,
            name: name.into(),
            ok,
            required: false,
            error: None,
            age: None,
            path: None,
            traffic: None,
        }
    }
}

impl BackendState {
    /// `ok`, `degraded` (some part failed), `down` (a required part, or every part, failed),
    /// or `unknown` (nothing was checked yet, or the backend does not say).
    pub fn status(&self) -> &'static str {
        let known: Vec<&BackendPart> = self.parts.iter().filter(|p| p.ok.is_some()).collect();
        let failed = known.iter().filter(|p| p.ok == Some(false)).count();
        if known.is_empty() {
            "unknown"
        } else if known.iter().any(|p| p.required && p.ok == Some(false)) || failed == known.len() {
            "down"
        } else if failed > 0 {
            "degraded"
        } else {
            "ok"
        }
    }
}

/// Data made durable by [`ObjectStore::stage`] and not yet visible.
pub trait Staged {
    fn size(&self) -> u64;
}

/// An object opened for reading: its metadata and the version of the data it names are fixed
/// when it is opened, so a concurrent overwrite never mixes two versions in one response.
pub trait ObjectReader {
    fn info(&self) -> &ObjectInfo;
    /// The bytes of `range` (or of the whole object), streamed with bounded memory.
    fn stream(self, range: Option<ByteRange>) -> DataStream;
}

/// A storage backend. Every call names the principal it runs as; the backend enforces who may
/// touch which bucket (the embedded store: the bucket owner; SX: the cluster's own ACLs).
#[allow(async_fn_in_trait)] // the server runs on actix's single-threaded workers: no Send needed
pub trait ObjectStore: 'static {
    type Staged: Staged;
    type Reader: ObjectReader;

    /// True when every byte of object data this store writes is encrypted at rest: the S3
    /// layer then accepts SSE-S3 requests (`x-amz-server-side-encryption: AES256`) truthfully.
    fn encrypts_at_rest(&self) -> bool {
        false
    }

    /// The user owning an access key, if any.
    async fn user_by_access_key(&self, access_key: &str) -> Result<Option<User>, StoreError>;

    async fn list_buckets(&self, who: &Principal) -> Result<Vec<BucketInfo>, StoreError>;
    async fn create_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError>;
    /// Fails with NoSuchBucket or AccessDenied when `who` may not use the bucket.
    async fn bucket_info(&self, who: &Principal, bucket: &str) -> Result<BucketInfo, StoreError>;
    /// BucketNotEmpty while any object, version or delete marker remains.
    async fn delete_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError>;

    /// Consumes `body` (of `size` bytes when known) into durable, invisible storage.
    async fn stage(
        &self,
        who: &Principal,
        bucket: &str,
        body: BodyStream,
        size: Option<u64>,
    ) -> Result<Self::Staged, StoreError>;
    /// Makes staged data visible as `key` atomically, as `versioning` says: Unversioned
    /// replaces the object (version `null`); Enabled keeps the latest version (object or
    /// marker) as a noncurrent one and gives the new one a fresh id; Suspended gives the new
    /// one id `null`, replacing any `null` version of the key, and keeps the others.
    /// `condition` is checked against the latest version (a delete marker counts as absent).
    #[allow(clippy::too_many_arguments)]
    async fn commit_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        data: Self::Staged,
        meta: ObjectMeta,
        condition: WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError>;

    /// One version of `key`, the latest when `version_id` is None (`Some("null")`: the null
    /// version). NoSuchKey when the key has no version at all, DeleteMarker when the version
    /// addressed is a marker, NoSuchVersion when the id names no version of the key.
    async fn open_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Self::Reader, StoreError>;
    /// Unversioned: removes the object (Ok also when absent). Enabled: adds a delete marker
    /// with a fresh id as the latest version, even when the key has none. Suspended: removes
    /// the `null` version if any and adds a `null` delete marker.
    async fn delete_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError>;
    /// Removes exactly one version or delete marker for good; when it was the latest, the
    /// next newest becomes the latest. Ok also when there is no such version. With `if_meta`,
    /// SourceChanged unless the version still has exactly that metadata, checked atomically
    /// with the removal as far as the backend allows (the S3 layer decided from it that no
    /// Object Lock protects the version).
    async fn delete_version(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: &str,
        if_meta: Option<&ObjectMeta>,
    ) -> Result<Deleted, StoreError>;
    /// Replaces the stored metadata of one version (the latest when `version_id` is None) in
    /// place: same data, same last-modified, no new version. SourceChanged unless it still
    /// has exactly `if_meta`. For tagging and ACL changes.
    #[allow(clippy::too_many_arguments)]
    async fn update_meta(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        meta: ObjectMeta,
        if_meta: &ObjectMeta,
    ) -> Result<ObjectInfo, StoreError>;
    /// Up to `limit` versions and delete markers whose key starts with `prefix`, from
    /// `start`, by key and then newest first. Objects written before versioning was enabled
    /// are their key's `null` version.
    #[allow(clippy::too_many_arguments)]
    async fn list_object_versions(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        start: &VersionStart,
        limit: usize,
        header: Option<&str>,
    ) -> Result<Vec<VersionSummary>, StoreError>;
    /// Deletes `key` only while it has ETag `etag` (unquoted), checked atomically with the
    /// removal as far as the backend allows: NoSuchKey when it does not exist,
    /// PreconditionFailed when it has another ETag.
    async fn delete_object_if_etag(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<(), StoreError>;
    /// The lifecycle worker's delete: as [`ObjectStore::delete_object`] under `versioning`
    /// (unversioned: the object goes; versioned: a delete marker becomes the latest), but
    /// only while the key's latest version is still an object with exactly `judged`'s ETag
    /// and last-modified, checked atomically with the delete as far as the backend allows:
    /// NoSuchKey when the key has no current object (absent, or a delete marker),
    /// PreconditionFailed when it is another object (even one of the same bytes).
    async fn delete_object_if_unchanged(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        judged: &Judged,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError>;
    /// Up to `limit` objects whose key starts with `prefix`, from `start`, in key order, each
    /// with its value of the stored header `header` (lowercase name) when one is asked for.
    async fn list_objects(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        start: &ListStart,
        limit: usize,
        header: Option<&str>,
    ) -> Result<Vec<ObjectSummary>, StoreError>;

    /// Returns the new upload id.
    async fn create_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<String, StoreError>;
    /// Stores a part, replacing a previous part with the same number. `checksum` is an
    /// opaque document kept with the part and given back in its [`PartInfo`].
    #[allow(clippy::too_many_arguments)]
    async fn commit_part(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        data: Self::Staged,
        etag: String,
        checksum: Option<String>,
    ) -> Result<PartInfo, StoreError>;
    /// The upload without its parts: NoSuchUpload when it is gone.
    async fn upload(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadInfo, StoreError>;
    /// The upload and all its parts in part-number order.
    async fn list_parts(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadInfo, Vec<PartInfo>), StoreError>;
    /// Joins the named parts (number, unquoted ETag), in the given order, into one object
    /// without copying their data, and removes the upload, leaving a [`CompletedUpload`]
    /// record for [`ObjectStore::completed_upload`]. InvalidPart if a part is missing or its
    /// ETag differs.
    #[allow(clippy::too_many_arguments)]
    async fn complete_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        meta: ObjectMeta,
        condition: WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError>;
    /// The record a completion of `upload_id` into this bucket and key left, if it is less
    /// than [`COMPLETED_UPLOAD_KEPT`] old.
    async fn completed_upload(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<CompletedUpload>, StoreError>;
    async fn abort_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError>;
    /// Makes `dst_key` in `dst_bucket` an object with the data of the source object and
    /// `meta` (the S3 layer passes the source's metadata for COPY, new metadata for REPLACE),
    /// replacing any previous object atomically and subject to `condition` on the destination.
    /// The data is shared, not rewritten, where the backend can (the embedded store adds a
    /// reference to the source's blocks; inline objects copy their row). Source and
    /// destination may be the same key: that replaces the object's metadata.
    /// NoSuchKey when the source does not exist, SourceChanged when `source.if_meta` no
    /// longer holds. `who` must be allowed to read the source and write the destination.
    #[allow(clippy::too_many_arguments)]
    async fn copy_object(
        &self,
        who: &Principal,
        source: &CopySource<'_>,
        dst_bucket: &str,
        dst_key: &str,
        meta: ObjectMeta,
        condition: WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError>;

    /// The bucket's record and the S3 layer's documents about it (ACL, policy, CORS, tags),
    /// WITHOUT any access check: the S3 layer decides from them whether a request may
    /// proceed, and then, when it may, calls the store as the requester if it counts as the
    /// owner ([`ObjectStore::counts_as_owner`]), else as the bucket owner
    /// (`Principal::User(info.owner)`). NoSuchBucket when it does not exist.
    async fn bucket_documents(&self, bucket: &str) -> Result<BucketDocuments, StoreError>;

    /// Whether `who` acts with the rights of a bucket's owner called `owner`: that user, and
    /// on SX also the cluster admin (SX gives it every volume).
    fn counts_as_owner(&self, who: &Principal, owner: &str) -> bool {
        matches!(who, Principal::User(name) if name == owner)
    }

    /// Sets (`Some`) or removes (`None`) one named document of a bucket. Only for those who
    /// may administer the bucket (the embedded store: its owner).
    async fn put_bucket_document(
        &self,
        who: &Principal,
        bucket: &str,
        name: &str,
        document: Option<String>,
    ) -> Result<(), StoreError>;

    /// Maintenance, no principal: aborts every multipart upload, in any bucket, initiated
    /// before `cutoff`, releasing its parts' space; at most `limit` per call (call again while
    /// it returns `limit` entries). Returns what it removed so the caller can log it. Also
    /// forgets completed uploads older than [`COMPLETED_UPLOAD_KEPT`].
    async fn abort_uploads_initiated_before(
        &self,
        cutoff: SystemTime,
        limit: usize,
    ) -> Result<Vec<AbortedUpload>, StoreError>;

    /// Maintenance, no principal: every bucket, whoever owns it (the lifecycle worker).
    async fn all_buckets(&self) -> Result<Vec<BucketInfo>, StoreError>;

    /// Maintenance, no principal: takes or renews the lease `name` on `bucket` for `holder`
    /// until `ttl` from now, unless another holder has one that has not expired. True when
    /// `holder` holds it. Several gateways over one cluster use it so that one at a time does
    /// a bucket's periodic work; it is advisory (see each backend for its limits): the work
    /// must stay correct when two holders overlap.
    async fn try_lease(
        &self,
        bucket: &str,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;

    /// How the backend is doing (see [`BackendState`]); by default it does not say.
    async fn backend_state(&self) -> BackendState {
        BackendState::default()
    }

    /// SIGHUP: takes the backend's settings from a re-read configuration. Returns what it
    /// now runs with, for the log, or why it refused them (the running settings then stay).
    /// `None`: this backend has nothing that changes live (a restart applies the rest).
    async fn reload(&self, _config: &crate::config::Config) -> Result<Option<String>, String> {
        Ok(None)
    }

    /// Uploads whose key starts with `prefix`, in (key, upload id) order. `after`: keys
    /// greater than the key, or with the upload id given, also that key's later uploads.
    async fn list_multipart_uploads(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
        limit: usize,
    ) -> Result<Vec<UploadInfo>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disks_and_quotas_are_out_of_space() {
        for errno in [nix::libc::ENOSPC, nix::libc::EDQUOT] {
            let e = StoreError::from(std::io::Error::from_raw_os_error(errno));
            assert!(matches!(e, StoreError::OutOfSpace(_)), "{errno}: {e:?}");
        }
        let e = StoreError::from(std::io::Error::from_raw_os_error(nix::libc::EIO));
        assert!(matches!(e, StoreError::Io(_)), "{e:?}");
    }

    #[test]
    fn part_list_digests_tell_lists_apart() {
        let list = |parts: &[(u32, &str)]| -> Vec<(u32, String)> {
            parts.iter().map(|(n, e)| (*n, e.to_string())).collect()
        };
        let one = part_list_digest(&list(&[(1, "a"), (2, "b")]));
        assert_eq!(one, part_list_digest(&list(&[(1, "a"), (2, "b")])));
        assert_eq!(one.len(), 32);
        for other in [
            &[(1, "a")][..],
            &[(2, "b"), (1, "a")],
            &[(1, "a"), (2, "c")],
            &[(12, "b")],
        ] {
            assert_ne!(one, part_list_digest(&list(other)), "{other:?}");
        }
    }

    fn part(ok: Option<bool>, required: bool) -> BackendPart {
        BackendPart {
            required,
            ..BackendPart::new("node", "n", ok)
        }
    }

    #[test]
    fn backend_status() {
        let state = |parts: Vec<BackendPart>| BackendState { parts }.status();
        assert_eq!(state(vec![]), "unknown");
        assert_eq!(state(vec![part(None, false)]), "unknown");
        assert_eq!(state(vec![part(Some(true), true), part(None, false)]), "ok");
        assert_eq!(
            state(vec![part(Some(true), false), part(Some(false), false)]),
            "degraded"
        );
        assert_eq!(
            state(vec![part(Some(false), false), part(Some(false), false)]),
            "down"
        );
        assert_eq!(
            state(vec![part(Some(false), true), part(Some(true), false)]),
            "down"
        );
    }
}
