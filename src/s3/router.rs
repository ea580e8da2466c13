//! Which S3 operation a request is: a pure function of method, path shape, query and headers.

use actix_web::http::Method;

use crate::s3::error::{S3Error, S3ErrorCode};

/// One variant per S3 operation we answer. Operations we know but do not implement resolve to
/// `Unsupported` with their AWS name, so the client gets `NotImplemented`, never a 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
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
    /// A bucket configuration we do not keep (lifecycle, website, ...): GET answers the AWS
    /// "no such configuration" error or the documented empty answer, PUT is NotImplemented.
    BucketConfig(&'static str),
    Unsupported(&'static str),
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ListBuckets => "ListBuckets",
            Endpoint::CreateBucket => "CreateBucket",
            Endpoint::DeleteBucket => "DeleteBucket",
            Endpoint::HeadBucket => "HeadBucket",
            Endpoint::GetBucketLocation => "GetBucketLocation",
            Endpoint::ListObjects => "ListObjects",
            Endpoint::ListObjectsV2 => "ListObjectsV2",
            Endpoint::ListMultipartUploads => "ListMultipartUploads",
            Endpoint::DeleteObjects => "DeleteObjects",
            Endpoint::GetObject => "GetObject",
            Endpoint::HeadObject => "HeadObject",
            Endpoint::PutObject => "PutObject",
            Endpoint::CopyObject => "CopyObject",
            Endpoint::DeleteObject => "DeleteObject",
            Endpoint::CreateMultipartUpload => "CreateMultipartUpload",
            Endpoint::UploadPart => "UploadPart",
            Endpoint::UploadPartCopy => "UploadPartCopy",
            Endpoint::CompleteMultipartUpload => "CompleteMultipartUpload",
            Endpoint::AbortMultipartUpload => "AbortMultipartUpload",
            Endpoint::ListParts => "ListParts",
            Endpoint::GetBucketAcl => "GetBucketAcl",
            Endpoint::PutBucketAcl => "PutBucketAcl",
            Endpoint::GetObjectAcl => "GetObjectAcl",
            Endpoint::PutObjectAcl => "PutObjectAcl",
            Endpoint::GetBucketPolicy => "GetBucketPolicy",
            Endpoint::PutBucketPolicy => "PutBucketPolicy",
            Endpoint::DeleteBucketPolicy => "DeleteBucketPolicy",
            Endpoint::GetBucketCors => "GetBucketCors",
            Endpoint::PutBucketCors => "PutBucketCors",
            Endpoint::DeleteBucketCors => "DeleteBucketCors",
            Endpoint::GetBucketTagging => "GetBucketTagging",
            Endpoint::PutBucketTagging => "PutBucketTagging",
            Endpoint::DeleteBucketTagging => "DeleteBucketTagging",
            Endpoint::GetObjectTagging => "GetObjectTagging",
            Endpoint::GetObjectAttributes => "GetObjectAttributes",
            Endpoint::PutObjectTagging => "PutObjectTagging",
            Endpoint::DeleteObjectTagging => "DeleteObjectTagging",
            Endpoint::GetBucketVersioning => "GetBucketVersioning",
            Endpoint::PutBucketVersioning => "PutBucketVersioning",
            Endpoint::ListObjectVersions => "ListObjectVersions",
            Endpoint::CorsPreflight => "PreflightRequest",
            Endpoint::PostObject => "PostObject",
            Endpoint::BucketConfig(name) | Endpoint::Unsupported(name) => name,
        }
    }

    /// The policy action an anonymous request for this operation needs, and whether it is
    /// about an object (resource `bucket/key`) rather than the bucket. None: anonymous
    /// requests are never allowed.
    pub fn anonymous_action(self) -> Option<(&'static str, bool)> {
        match self {
            Endpoint::GetObject | Endpoint::HeadObject => Some(("s3:GetObject", true)),
            Endpoint::ListObjects | Endpoint::ListObjectsV2 | Endpoint::HeadBucket => {
                Some(("s3:ListBucket", false))
            }
            Endpoint::ListObjectVersions => Some(("s3:ListBucketVersions", false)),
            Endpoint::GetBucketLocation => Some(("s3:GetBucketLocation", false)),
            _ => None,
        }
    }

    /// True when the request body is a small XML document the handler reads whole.
    pub fn takes_xml_body(self) -> bool {
        matches!(
            self,
            Endpoint::CreateBucket | Endpoint::DeleteObjects | Endpoint::CompleteMultipartUpload
        )
    }
}

/// The decoded query string, in the order received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes `%XX` and `+` (as a space) in names and values. Invalid UTF-8 -> InvalidURI.
    pub fn parse(raw: &str) -> Result<Query, S3Error> {
        let mut params = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((decode_query_part(name)?, decode_query_part(value)?));
        }
        Ok(Query(params))
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

fn decode_query_part(part: &str) -> Result<String, S3Error> {
    let spaced = part.replace('+', " ");
    percent_decode(&spaced).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidURI,
            "Couldn't parse the specified URI: bad percent-encoding in the query string.",
        )
    })
}

/// Decodes `%XX` escapes once. None when an escape is broken or the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits: from_str_radix alone would also take a sign ("%+1").
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes everything but `A-Za-z0-9-_.~`, and `/` when `keep_slash`.
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A request resolved to an operation and its decoded bucket and key.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
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
    let endpoint = match (&bucket, &key) {
        (None, _) => service_endpoint(method),
        (Some(_), None) => bucket_endpoint(method, query),
        (Some(_), Some(_)) => object_endpoint(method, query, has_copy_source),
    }?;
    Ok(Route {
        endpoint,
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

fn service_endpoint(method: &Method) -> Result<Endpoint, S3Error> {
    match *method {
        Method::GET | Method::HEAD => Ok(Endpoint::ListBuckets),
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
) -> Option<Result<Endpoint, S3Error>> {
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

/// The endpoint for an operation name from the sub-resource tables.
fn named(name: &'static str) -> Endpoint {
    match name {
        "GetBucketAcl" => Endpoint::GetBucketAcl,
        "PutBucketAcl" => Endpoint::PutBucketAcl,
        "GetObjectAcl" => Endpoint::GetObjectAcl,
        "PutObjectAcl" => Endpoint::PutObjectAcl,
        "GetBucketPolicy" => Endpoint::GetBucketPolicy,
        "PutBucketPolicy" => Endpoint::PutBucketPolicy,
        "DeleteBucketPolicy" => Endpoint::DeleteBucketPolicy,
        "GetBucketCors" => Endpoint::GetBucketCors,
        "PutBucketCors" => Endpoint::PutBucketCors,
        "DeleteBucketCors" => Endpoint::DeleteBucketCors,
        "GetBucketTagging" => Endpoint::GetBucketTagging,
        "PutBucketTagging" => Endpoint::PutBucketTagging,
        "DeleteBucketTagging" => Endpoint::DeleteBucketTagging,
        "GetObjectTagging" => Endpoint::GetObjectTagging,
        "GetObjectAttributes" => Endpoint::GetObjectAttributes,
        "PutObjectTagging" => Endpoint::PutObjectTagging,
        "DeleteObjectTagging" => Endpoint::DeleteObjectTagging,
        "GetBucketVersioning" => Endpoint::GetBucketVersioning,
        "PutBucketVersioning" => Endpoint::PutBucketVersioning,
        "ListObjectVersions" => Endpoint::ListObjectVersions,
        _ if BUCKET_CONFIGS.contains(&name) => Endpoint::BucketConfig(name),
        _ => Endpoint::Unsupported(name),
    }
}

/// Configurations clients probe that we do not keep; see [`Endpoint::BucketConfig`].
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
    "GetObjectLockConfiguration",
    "PutObjectLockConfiguration",
    "GetBucketOwnershipControls",
    "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls",
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

fn bucket_endpoint(method: &Method, query: &Query) -> Result<Endpoint, S3Error> {
    if *method == Method::OPTIONS {
        return Ok(Endpoint::CorsPreflight);
    }
    if *method == Method::GET && query.has("location") {
        return Ok(Endpoint::GetBucketLocation);
    }
    if *method == Method::GET && query.has("uploads") {
        return Ok(Endpoint::ListMultipartUploads);
    }
    if *method == Method::POST && query.has("delete") {
        return Ok(Endpoint::DeleteObjects);
    }
    if let Some(endpoint) = subresource(BUCKET_SUBRESOURCES, method, query) {
        return endpoint;
    }
    match *method {
        Method::GET if query.get("list-type") == Some("2") => Ok(Endpoint::ListObjectsV2),
        Method::GET => Ok(Endpoint::ListObjects),
        Method::HEAD => Ok(Endpoint::HeadBucket),
        Method::PUT => Ok(Endpoint::CreateBucket),
        Method::DELETE => Ok(Endpoint::DeleteBucket),
        Method::POST => Ok(Endpoint::PostObject),
        _ => Err(method_not_allowed()),
    }
}

fn object_endpoint(
    method: &Method,
    query: &Query,
    has_copy_source: bool,
) -> Result<Endpoint, S3Error> {
    if *method == Method::OPTIONS {
        return Ok(Endpoint::CorsPreflight);
    }
    if let Some(endpoint) = subresource(OBJECT_SUBRESOURCES, method, query) {
        return endpoint;
    }
    let upload = query.has("uploadId");
    match *method {
        Method::GET if upload => Ok(Endpoint::ListParts),
        Method::GET => Ok(Endpoint::GetObject),
        Method::HEAD => Ok(Endpoint::HeadObject),
        Method::PUT if upload && query.has("partNumber") => Ok(if has_copy_source {
            Endpoint::UploadPartCopy
        } else {
            Endpoint::UploadPart
        }),
        Method::PUT if has_copy_source => Ok(Endpoint::CopyObject),
        Method::PUT => Ok(Endpoint::PutObject),
        Method::POST if query.has("uploads") => Ok(Endpoint::CreateMultipartUpload),
        Method::POST if upload => Ok(Endpoint::CompleteMultipartUpload),
        Method::POST if query.has("restore") => Ok(Endpoint::Unsupported("RestoreObject")),
        Method::POST if query.has("select") => Ok(Endpoint::Unsupported("SelectObjectContent")),
        Method::DELETE if upload => Ok(Endpoint::AbortMultipartUpload),
        Method::DELETE => Ok(Endpoint::DeleteObject),
        _ => Err(method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, url: &str, copy: bool) -> Result<Route, S3Error> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        resolve(&method, path, None, &Query::parse(query)?, copy)
    }

    /// Requests as written in the examples of the AWS S3 API reference.
    #[test]
    fn aws_doc_examples() {
        let table: &[(Method, &str, bool, Endpoint)] = &[
            (Method::GET, "/", false, Endpoint::ListBuckets),
            (Method::PUT, "/bucket", false, Endpoint::CreateBucket),
            (Method::HEAD, "/bucket", false, Endpoint::HeadBucket),
            (Method::DELETE, "/bucket", false, Endpoint::DeleteBucket),
            (
                Method::GET,
                "/bucket?location",
                false,
                Endpoint::GetBucketLocation,
            ),
            (Method::GET, "/bucket", false, Endpoint::ListObjects),
            (
                Method::GET,
                "/bucket?prefix=p&marker=m&max-keys=5",
                false,
                Endpoint::ListObjects,
            ),
            (
                Method::GET,
                "/bucket?list-type=2&start-after=x",
                false,
                Endpoint::ListObjectsV2,
            ),
            (
                Method::GET,
                "/bucket?uploads&max-uploads=3",
                false,
                Endpoint::ListMultipartUploads,
            ),
            (
                Method::POST,
                "/bucket?delete",
                false,
                Endpoint::DeleteObjects,
            ),
            (Method::GET, "/bucket/my/key", false, Endpoint::GetObject),
            (Method::HEAD, "/bucket/key", false, Endpoint::HeadObject),
            (Method::PUT, "/bucket/key", false, Endpoint::PutObject),
            (Method::PUT, "/bucket/key", true, Endpoint::CopyObject),
            (Method::DELETE, "/bucket/key", false, Endpoint::DeleteObject),
            (
                Method::POST,
                "/bucket/key?uploads",
                false,
                Endpoint::CreateMultipartUpload,
            ),
            (
                Method::PUT,
                "/bucket/key?partNumber=1&uploadId=u",
                false,
                Endpoint::UploadPart,
            ),
            (
                Method::PUT,
                "/bucket/key?partNumber=1&uploadId=u",
                true,
                Endpoint::UploadPartCopy,
            ),
            (
                Method::POST,
                "/bucket/key?uploadId=u",
                false,
                Endpoint::CompleteMultipartUpload,
            ),
            (
                Method::DELETE,
                "/bucket/key?uploadId=u",
                false,
                Endpoint::AbortMultipartUpload,
            ),
            (
                Method::GET,
                "/bucket/key?uploadId=u",
                false,
                Endpoint::ListParts,
            ),
            (
                Method::GET,
                "/bucket?logging",
                false,
                Endpoint::BucketConfig("GetBucketLogging"),
            ),
            (
                Method::PUT,
                "/bucket?replication",
                false,
                Endpoint::BucketConfig("PutBucketReplication"),
            ),
            (
                Method::GET,
                "/bucket?versions",
                false,
                Endpoint::ListObjectVersions,
            ),
            (
                Method::PUT,
                "/bucket/key?tagging",
                false,
                Endpoint::PutObjectTagging,
            ),
            (
                Method::GET,
                "/bucket/key?acl",
                false,
                Endpoint::GetObjectAcl,
            ),
            (
                Method::GET,
                "/bucket/key?attributes",
                false,
                Endpoint::GetObjectAttributes,
            ),
            (Method::POST, "/bucket", false, Endpoint::PostObject),
            (
                Method::OPTIONS,
                "/bucket/key",
                false,
                Endpoint::CorsPreflight,
            ),
            (
                Method::DELETE,
                "/bucket?cors",
                false,
                Endpoint::DeleteBucketCors,
            ),
            (Method::GET, "/bucket?torrent", false, Endpoint::ListObjects),
            (
                Method::GET,
                "/bucket/key?torrent",
                false,
                Endpoint::Unsupported("GetObjectTorrent"),
            ),
        ];
        for (method, url, copy, expected) in table {
            let got = route(method.clone(), url, *copy).unwrap();
            assert_eq!(got.endpoint, *expected, "{method} {url}");
        }
    }

    #[test]
    fn keys_are_decoded_once_and_kept_verbatim() {
        let r = route(Method::GET, "/b/a%2520b/..//c%2B+/", false).unwrap();
        assert_eq!(r.bucket.as_deref(), Some("b"));
        assert_eq!(r.key.as_deref(), Some("a%20b/..//c++/"));
        let r = route(Method::GET, "/b/%E2%82%AC", false).unwrap();
        assert_eq!(r.key.as_deref(), Some("€"));
        assert_eq!(route(Method::GET, "/b/", false).unwrap().key, None);
    }

    #[test]
    fn virtual_host_bucket_takes_the_whole_path_as_key() {
        let q = Query::default();
        let r = resolve(&Method::GET, "/x/y", Some("vb"), &q, false).unwrap();
        assert_eq!(r.bucket.as_deref(), Some("vb"));
        assert_eq!(r.key.as_deref(), Some("x/y"));
        let r = resolve(&Method::GET, "/", Some("vb"), &q, false).unwrap();
        assert_eq!(r.endpoint, Endpoint::ListObjects);
    }

    #[test]
    fn bad_requests() {
        let long = format!("/b/{}", "k".repeat(MAX_KEY_LEN + 1));
        let e = route(Method::GET, &long, false).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::KeyTooLongError);
        let ok = format!("/b/{}", "k".repeat(MAX_KEY_LEN));
        assert!(route(Method::GET, &ok, false).is_ok());
        // Keys XML cannot carry are refused when written, still reachable when read.
        for method in [Method::PUT, Method::POST] {
            let e = route(method, "/b/a%00b", false).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidArgument);
        }
        assert!(route(Method::PUT, "/b/a%0D%09b", false).is_ok());
        assert!(route(Method::GET, "/b/a%00b", false).is_ok());
        assert!(route(Method::DELETE, "/b/a%01b", false).is_ok());
        assert_eq!(
            route(Method::GET, "/b/%zz", false).unwrap_err().code,
            S3ErrorCode::InvalidURI
        );
        assert_eq!(
            route(Method::GET, "/b/%ff", false).unwrap_err().code,
            S3ErrorCode::InvalidURI
        );
        // Found by fuzz/fuzz_targets/percent.rs: a sign is not a hex digit.
        for bad in ["/b/%+01", "/b/a%+f", "/b/%-1"] {
            assert_eq!(
                route(Method::GET, bad, false).unwrap_err().code,
                S3ErrorCode::InvalidURI,
                "{bad}"
            );
        }
        assert_eq!(percent_decode("%+01%00"), None);
        assert!(Query::parse("prefix=%+2F").is_err());
        assert_eq!(
            route(Method::PATCH, "/b/k", false).unwrap_err().code,
            S3ErrorCode::MethodNotAllowed
        );
        assert_eq!(
            route(Method::POST, "/", false).unwrap_err().code,
            S3ErrorCode::MethodNotAllowed
        );
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse("prefix=a%2Fb+c&delimiter=%2F&uploads&empty=").unwrap();
        assert_eq!(q.get("prefix"), Some("a/b c"));
        assert_eq!(q.get("delimiter"), Some("/"));
        assert!(q.has("uploads"));
        assert_eq!(q.get("empty"), Some(""));
        assert_eq!(percent_encode("a b/€~", true), "a%20b/%E2%82%AC~");
        assert_eq!(percent_encode("a/b", false), "a%2Fb");
    }
}
