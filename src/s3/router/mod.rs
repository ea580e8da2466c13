//! Which S3 operation a request is: a pure function of method, path shape, query and headers
//! ([`resolve`]), then the operation's query parameters parsed into an [`Endpoint`].

mod endpoint;
mod query;
#[cfg(test)]
mod tests;
mod token;

use actix_web::http::Method;

pub use endpoint::{
    check_version_id, Continuation, Endpoint, GetParams, ListBucketsParams, ListParams,
    ListUploadsParams, ListV2Params, MAX_KEYS, MAX_LISTED, MAX_PART_NUMBER,
};
pub use query::{percent_decode, percent_encode, Query};
pub use token::encode_token;

use crate::s3::error::{S3Error, S3ErrorCode};

/// One variant per S3 operation we answer. Operations we know but do not implement resolve to
/// `Unsupported` with their AWS name, so the client gets `NotImplemented`, never a 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    ListMultipartUploads,
    DeleteObjects,
    GetObject,
    HeadObject,
    PutObject,
    CopyObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    GetBucketAcl,
    PutBucketAcl,
    GetObjectAcl,
    PutObjectAcl,
    GetObjectAttributes,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketCors,
    PutBucketCors,
    DeleteBucketCors,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    GetBucketVersioning,
    PutBucketVersioning,
    ListObjectVersions,
    /// OPTIONS on a bucket or object: answered from the bucket's CORS rules, unsigned.
    CorsPreflight,
    /// POST of an HTML form to a bucket (browser upload).
    PostObject,
    /// A bucket configuration by its AWS name: those we keep (encryption, lifecycle, public
    /// access block, ownership) have their handlers; for the others (website, logging, ...)
    /// GET answers the AWS "no such configuration" error or the documented empty answer and
    /// PUT is NotImplemented.
    BucketConfig(&'static str),
    /// Object Lock: the bucket's configuration, a version's retention and legal hold
    /// (`handlers::object_lock`).
    ObjectLock(&'static str),
    Unsupported(&'static str),
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::ListBuckets => "ListBuckets",
            Operation::CreateBucket => "CreateBucket",
            Operation::DeleteBucket => "DeleteBucket",
            Operation::HeadBucket => "HeadBucket",
            Operation::GetBucketLocation => "GetBucketLocation",
            Operation::ListObjects => "ListObjects",
            Operation::ListObjectsV2 => "ListObjectsV2",
            Operation::ListMultipartUploads => "ListMultipartUploads",
            Operation::DeleteObjects => "DeleteObjects",
            Operation::GetObject => "GetObject",
            Operation::HeadObject => "HeadObject",
            Operation::PutObject => "PutObject",
            Operation::CopyObject => "CopyObject",
            Operation::DeleteObject => "DeleteObject",
            Operation::CreateMultipartUpload => "CreateMultipartUpload",
            Operation::UploadPart => "UploadPart",
            Operation::UploadPartCopy => "UploadPartCopy",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload => "AbortMultipartUpload",
            Operation::ListParts => "ListParts",
            Operation::GetBucketAcl => "GetBucketAcl",
            Operation::PutBucketAcl => "PutBucketAcl",
            Operation::GetObjectAcl => "GetObjectAcl",
            Operation::PutObjectAcl => "PutObjectAcl",
            Operation::GetBucketPolicy => "GetBucketPolicy",
            Operation::PutBucketPolicy => "PutBucketPolicy",
            Operation::DeleteBucketPolicy => "DeleteBucketPolicy",
            Operation::GetBucketCors => "GetBucketCors",
            Operation::PutBucketCors => "PutBucketCors",
            Operation::DeleteBucketCors => "DeleteBucketCors",
            Operation::GetBucketTagging => "GetBucketTagging",
            Operation::PutBucketTagging => "PutBucketTagging",
            Operation::DeleteBucketTagging => "DeleteBucketTagging",
            Operation::GetObjectTagging => "GetObjectTagging",
            Operation::GetObjectAttributes => "GetObjectAttributes",
            Operation::PutObjectTagging => "PutObjectTagging",
            Operation::DeleteObjectTagging => "DeleteObjectTagging",
            Operation::GetBucketVersioning => "GetBucketVersioning",
            Operation::PutBucketVersioning => "PutBucketVersioning",
            Operation::ListObjectVersions => "ListObjectVersions",
            Operation::CorsPreflight => "PreflightRequest",
            Operation::PostObject => "PostObject",
            Operation::BucketConfig(name)
            | Operation::ObjectLock(name)
            | Operation::Unsupported(name) => name,
        }
    }

    /// The policy action an anonymous request for this operation needs, and whether it is
    /// about an object (resource `bucket/key`) rather than the bucket. None: anonymous
    /// requests are never allowed.
    pub fn anonymous_action(self) -> Option<(&'static str, bool)> {
        match self {
            Operation::GetObject | Operation::HeadObject => Some(("s3:GetObject", true)),
            Operation::ListObjects | Operation::ListObjectsV2 | Operation::HeadBucket => {
                Some(("s3:ListBucket", false))
            }
            Operation::ListObjectVersions => Some(("s3:ListBucketVersions", false)),
            Operation::GetBucketLocation => Some(("s3:GetBucketLocation", false)),
            _ => None,
        }
    }

    /// True when the request body is a small XML document the handler reads whole.
    pub fn takes_xml_body(self) -> bool {
        matches!(
            self,
            Operation::CreateBucket | Operation::DeleteObjects | Operation::CompleteMultipartUpload
        )
    }
}

/// A request resolved to an operation and its decoded bucket and key.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub operation: Operation,
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// The longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Resolves a request. `virtual_bucket` is the bucket named by the Host header, if any;
/// `raw_path` is still percent-encoded and is decoded exactly once here.
pub fn resolve(
    method: &Method,
    raw_path: &str,
    virtual_bucket: Option<&str>,
    query: &Query,
    has_copy_source: bool,
) -> Result<Route, S3Error> {
    let path = percent_decode(raw_path).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidURI,
            "Couldn't parse the specified URI: bad percent-encoding in the path.",
        )
    })?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let (bucket, key) = match virtual_bucket {
        Some(bucket) => (Some(bucket.to_string()), path),
        None => match path.split_once('/') {
            Some((bucket, key)) => (Some(bucket.to_string()), key),
            None if path.is_empty() => (None, ""),
            None => (Some(path.to_string()), ""),
        },
    };
    let key = (!key.is_empty()).then(|| key.to_string());
    if let Some(key) = &key {
        if key.len() > MAX_KEY_LEN {
            return Err(S3Error::new(
                S3ErrorCode::KeyTooLongError,
                "Your key is too long",
            ));
        }
        // Writes only: a key already stored (by SX's own tools, say) stays readable.
        if matches!(*method, Method::PUT | Method::POST) {
            check_writable_key(key)?;
        }
    }
    let operation = match (&bucket, &key) {
        (None, _) => service_operation(method),
        (Some(_), None) => bucket_operation(method, query),
        (Some(_), Some(_)) => object_operation(method, query, has_copy_source),
    }?;
    Ok(Route {
        operation,
        bucket,
        key,
    })
}

/// Refuses a new key that XML 1.0 cannot carry (NUL and the other C0 controls but tab, LF and
/// CR; U+FFFE, U+FFFF): every listing of its bucket would otherwise have to show it.
pub fn check_writable_key(key: &str) -> Result<(), S3Error> {
    match crate::s3::xml::uncarried(key) {
        None => Ok(()),
        Some(c) => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!(
                "Object keys may not contain U+{:04X}: XML 1.0, in which S3 lists keys, cannot \
                 carry it.",
                c as u32
            ),
        )
        .with_detail("ArgumentName", "key")),
    }
}

fn method_not_allowed() -> S3Error {
    S3Error::new(
        S3ErrorCode::MethodNotAllowed,
        "The specified method is not allowed against this resource.",
    )
}

fn service_operation(method: &Method) -> Result<Operation, S3Error> {
    match *method {
        Method::GET | Method::HEAD => Ok(Operation::ListBuckets),
        _ => Err(method_not_allowed()),
    }
}

/// Bucket sub-resources: (query keyword, GET name, PUT name, DELETE name).
const BUCKET_SUBRESOURCES: &[(&str, &str, &str, &str)] = &[
    (
        "accelerate",
        "GetBucketAccelerateConfiguration",
        "PutBucketAccelerateConfiguration",
        "",
    ),
    ("acl", "GetBucketAcl", "PutBucketAcl", ""),
    (
        "analytics",
        "GetBucketAnalyticsConfiguration",
        "PutBucketAnalyticsConfiguration",
        "DeleteBucketAnalyticsConfiguration",
    ),
    ("cors", "GetBucketCors", "PutBucketCors", "DeleteBucketCors"),
    (
        "encryption",
        "GetBucketEncryption",
        "PutBucketEncryption",
        "DeleteBucketEncryption",
    ),
    (
        "intelligent-tiering",
        "GetBucketIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration",
        "DeleteBucketIntelligentTieringConfiguration",
    ),
    (
        "inventory",
        "GetBucketInventoryConfiguration",
        "PutBucketInventoryConfiguration",
        "DeleteBucketInventoryConfiguration",
    ),
    (
        "lifecycle",
        "GetBucketLifecycleConfiguration",
        "PutBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
    ),
    ("logging", "GetBucketLogging", "PutBucketLogging", ""),
    (
        "metrics",
        "GetBucketMetricsConfiguration",
        "PutBucketMetricsConfiguration",
        "DeleteBucketMetricsConfiguration",
    ),
    (
        "notification",
        "GetBucketNotificationConfiguration",
        "PutBucketNotificationConfiguration",
        "",
    ),
    (
        "object-lock",
        "GetObjectLockConfiguration",
        "PutObjectLockConfiguration",
        "",
    ),
    (
        "ownershipControls",
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
    ),
    (
        "policy",
        "GetBucketPolicy",
        "PutBucketPolicy",
        "DeleteBucketPolicy",
    ),
    ("policyStatus", "GetBucketPolicyStatus", "", ""),
    (
        "publicAccessBlock",
        "GetPublicAccessBlock",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
    ),
    (
        "replication",
        "GetBucketReplication",
        "PutBucketReplication",
        "DeleteBucketReplication",
    ),
    (
        "requestPayment",
        "GetBucketRequestPayment",
        "PutBucketRequestPayment",
        "",
    ),
    (
        "tagging",
        "GetBucketTagging",
        "PutBucketTagging",
        "DeleteBucketTagging",
    ),
    (
        "versioning",
        "GetBucketVersioning",
        "PutBucketVersioning",
        "",
    ),
    ("versions", "ListObjectVersions", "", ""),
    (
        "website",
        "GetBucketWebsite",
        "PutBucketWebsite",
        "DeleteBucketWebsite",
    ),
];

/// Object sub-resources: (query keyword, GET name, PUT name, DELETE name).
const OBJECT_SUBRESOURCES: &[(&str, &str, &str, &str)] = &[
    ("acl", "GetObjectAcl", "PutObjectAcl", ""),
    ("attributes", "GetObjectAttributes", "", ""),
    ("legal-hold", "GetObjectLegalHold", "PutObjectLegalHold", ""),
    ("retention", "GetObjectRetention", "PutObjectRetention", ""),
    (
        "tagging",
        "GetObjectTagging",
        "PutObjectTagging",
        "DeleteObjectTagging",
    ),
    ("torrent", "GetObjectTorrent", "", ""),
];

/// The sub-resource of a request, as the operation name for its method.
fn subresource(
    table: &[(&str, &'static str, &'static str, &'static str)],
    method: &Method,
    query: &Query,
) -> Option<Result<Operation, S3Error>> {
    let (_, get, put, delete) = table.iter().find(|(kw, ..)| query.has(kw))?;
    let name = match *method {
        Method::GET | Method::HEAD => *get,
        Method::PUT => *put,
        Method::DELETE => *delete,
        _ => "",
    };
    Some(if name.is_empty() {
        Err(method_not_allowed())
    } else {
        Ok(named(name))
    })
}

/// The operation for a name from the sub-resource tables.
fn named(name: &'static str) -> Operation {
    match name {
        "GetBucketAcl" => Operation::GetBucketAcl,
        "PutBucketAcl" => Operation::PutBucketAcl,
        "GetObjectAcl" => Operation::GetObjectAcl,
        "PutObjectAcl" => Operation::PutObjectAcl,
        "GetBucketPolicy" => Operation::GetBucketPolicy,
        "PutBucketPolicy" => Operation::PutBucketPolicy,
        "DeleteBucketPolicy" => Operation::DeleteBucketPolicy,
        "GetBucketCors" => Operation::GetBucketCors,
        "PutBucketCors" => Operation::PutBucketCors,
        "DeleteBucketCors" => Operation::DeleteBucketCors,
        "GetBucketTagging" => Operation::GetBucketTagging,
        "PutBucketTagging" => Operation::PutBucketTagging,
        "DeleteBucketTagging" => Operation::DeleteBucketTagging,
        "GetObjectTagging" => Operation::GetObjectTagging,
        "GetObjectAttributes" => Operation::GetObjectAttributes,
        "PutObjectTagging" => Operation::PutObjectTagging,
        "DeleteObjectTagging" => Operation::DeleteObjectTagging,
        "GetBucketVersioning" => Operation::GetBucketVersioning,
        "PutBucketVersioning" => Operation::PutBucketVersioning,
        "ListObjectVersions" => Operation::ListObjectVersions,
        "GetObjectLockConfiguration"
        | "PutObjectLockConfiguration"
        | "GetObjectRetention"
        | "PutObjectRetention"
        | "GetObjectLegalHold"
        | "PutObjectLegalHold" => Operation::ObjectLock(name),
        _ if BUCKET_CONFIGS.contains(&name) => Operation::BucketConfig(name),
        _ => Operation::Unsupported(name),
    }
}

/// Configurations clients probe that we do not keep, and the few kept by handlers of their
/// own (encryption, lifecycle, ...); see [`Operation::BucketConfig`].
pub const BUCKET_CONFIGS: &[&str] = &[
    "GetBucketAccelerateConfiguration",
    "PutBucketAccelerateConfiguration",
    "GetBucketEncryption",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "GetBucketLifecycleConfiguration",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "GetBucketLogging",
    "PutBucketLogging",
    "GetBucketNotificationConfiguration",
    "PutBucketNotificationConfiguration",
    "GetBucketOwnershipControls",
    "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls",
    "GetBucketPolicyStatus",
    "GetPublicAccessBlock",
    "PutPublicAccessBlock",
    "DeletePublicAccessBlock",
    "GetBucketReplication",
    "PutBucketReplication",
    "DeleteBucketReplication",
    "GetBucketRequestPayment",
    "PutBucketRequestPayment",
    "GetBucketWebsite",
    "PutBucketWebsite",
    "DeleteBucketWebsite",
];

fn bucket_operation(method: &Method, query: &Query) -> Result<Operation, S3Error> {
    if *method == Method::OPTIONS {
        return Ok(Operation::CorsPreflight);
    }
    if *method == Method::GET && query.has("location") {
        return Ok(Operation::GetBucketLocation);
    }
    if *method == Method::GET && query.has("uploads") {
        return Ok(Operation::ListMultipartUploads);
    }
    if *method == Method::POST && query.has("delete") {
        return Ok(Operation::DeleteObjects);
    }
    if let Some(operation) = subresource(BUCKET_SUBRESOURCES, method, query) {
        return operation;
    }
    match *method {
        Method::GET if query.get("list-type") == Some("2") => Ok(Operation::ListObjectsV2),
        Method::GET => Ok(Operation::ListObjects),
        Method::HEAD => Ok(Operation::HeadBucket),
        Method::PUT => Ok(Operation::CreateBucket),
        Method::DELETE => Ok(Operation::DeleteBucket),
        Method::POST => Ok(Operation::PostObject),
        _ => Err(method_not_allowed()),
    }
}

fn object_operation(
    method: &Method,
    query: &Query,
    has_copy_source: bool,
) -> Result<Operation, S3Error> {
    if *method == Method::OPTIONS {
        return Ok(Operation::CorsPreflight);
    }
    if let Some(operation) = subresource(OBJECT_SUBRESOURCES, method, query) {
        return operation;
    }
    let upload = query.has("uploadId");
    match *method {
        Method::GET if upload => Ok(Operation::ListParts),
        Method::GET => Ok(Operation::GetObject),
        Method::HEAD => Ok(Operation::HeadObject),
        Method::PUT if upload && query.has("partNumber") => Ok(if has_copy_source {
            Operation::UploadPartCopy
        } else {
            Operation::UploadPart
        }),
        Method::PUT if has_copy_source => Ok(Operation::CopyObject),
        Method::PUT => Ok(Operation::PutObject),
        Method::POST if query.has("uploads") => Ok(Operation::CreateMultipartUpload),
        Method::POST if upload => Ok(Operation::CompleteMultipartUpload),
        Method::POST if query.has("restore") => Ok(Operation::Unsupported("RestoreObject")),
        Method::POST if query.has("select") => Ok(Operation::Unsupported("SelectObjectContent")),
        Method::DELETE if upload => Ok(Operation::AbortMultipartUpload),
        Method::DELETE => Ok(Operation::DeleteObject),
        _ => Err(method_not_allowed()),
    }
}
