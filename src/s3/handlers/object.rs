//! PutObject, GetObject, HeadObject, DeleteObject.

use actix_web::body::SizedStream;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use futures_util::{StreamExt, TryStreamExt};

use super::{object_lock, quoted, versions};
use crate::encoding::hex;
use crate::s3::access::access_denied;
use crate::s3::acl;
use crate::s3::body::{BodyDigest, RequestBody};
use crate::s3::conditional::{
    self, DeleteOutcome, DeletePreconditions, Outcome, Preconditions, WritePrecondition,
};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::handlers::multipart::MAX_PART_NUMBER;
use crate::s3::router::GetParams;
use crate::s3::sse::chunked;
use crate::s3::sse::object::{self as sse_object, Opened};
use crate::s3::sse::request;
use crate::s3::sse::sealing::{self, Keyed, Sealing};
use crate::s3::Ctx;
use crate::s3::{objmeta, range, tagging};
use crate::store::{
    ByteRange, Deleted, ObjectInfo, ObjectMeta, ObjectReader, ObjectStore, StoreError, Versioning,
    WriteCondition,
};
use crate::time::http_date;

/// The largest object a single PUT may carry (as S3).
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// The largest total size of user metadata (`x-amz-meta-*` names and values), as S3.
pub const MAX_USER_META: usize = 2 * 1024;

/// Standard headers stored with an object and sent back on GET and HEAD.
const STORED_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "x-amz-website-redirect-location",
];

/// The headers of a PUT or CreateMultipartUpload request that are kept with the object.
pub fn meta_headers<S>(ctx: &Ctx<'_, S>) -> Result<Vec<(String, String)>, S3Error> {
    let mut headers = Vec::new();
    let mut user_size = 0;
    for (name, value) in ctx.req.headers() {
        let name = name.as_str();
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "content-encoding" {
            // aws-chunked describes the transfer, not the object.
            let kept: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("aws-chunked"))
                .collect();
            if !kept.is_empty() {
                headers.push((name.to_string(), kept.join(", ")));
            }
        } else if let Some(user_name) = name.strip_prefix("x-amz-meta-") {
            user_size += user_name.len() + value.len();
            headers.push((name.to_string(), value));
        } else if STORED_HEADERS.contains(&name) {
            headers.push((name.to_string(), value));
        }
    }
    if user_size > MAX_USER_META {
        return Err(S3Error::new(
            S3ErrorCode::MetadataTooLarge,
            format!("Your metadata headers exceed the maximum allowed metadata size of {MAX_USER_META} bytes."),
        ));
    }
    Ok(headers)
}

/// Storage classes whose objects are readable at once. There is one class here; these are
/// accepted and stored as STANDARD, as on other single-class S3 servers.
const IMMEDIATE_STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
];
/// Archive classes promise objects that need a restore before reads: not offered.
const ARCHIVE_STORAGE_CLASSES: &[&str] = &["GLACIER", "DEEP_ARCHIVE"];

/// Where a write request carries its options, by lower-case name: the headers of PutObject,
/// CopyObject and CreateMultipartUpload, or the form fields of POST Object. Both go through
/// [`check_write_options`], so the two kinds of upload cannot refuse different things.
pub trait WriteOptions {
    /// The value of option `name`, if given.
    fn option(&self, name: &str) -> Option<&str>;
}

impl WriteOptions for HeaderMap {
    fn option(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Refuses write options this server cannot honour (PutObject, CreateMultipartUpload,
/// CopyObject, POST Object) instead of storing the object without what the client asked for:
/// an unknown storage class. (Encryption options are read by `sse::request`, object lock
/// options by `handlers::object_lock`.)
pub fn check_write_options(options: &impl WriteOptions) -> Result<(), S3Error> {
    if let Some(class) = options.option("x-amz-storage-class") {
        if ARCHIVE_STORAGE_CLASSES.contains(&class) {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!("Storage class {class} (objects restored before reads) is not offered by this server"),
            ));
        }
        if !IMMEDIATE_STORAGE_CLASSES.contains(&class) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidStorageClass,
                "The storage class you specified is not valid",
            ));
        }
    }
    Ok(())
}

/// Adds the internal documents a write request asks for with `x-amz-tagging` and `x-amz-acl`
/// (PutObject, CreateMultipartUpload, CopyObject) to `headers`, and the object lock it asks
/// for or the bucket gives by default (never one copied from a source). `body_digest`, for
/// a request carrying the object's data (PutObject): whether it came with Content-MD5 or a
/// checksum, which a locked write needs.
pub fn apply_request_documents<S>(
    ctx: &Ctx<'_, S>,
    headers: &mut Vec<(String, String)>,
    tags: bool,
    body_digest: Option<bool>,
) -> Result<(), S3Error> {
    let lock = object_lock::lock_for_write(ctx, |name| ctx.header(name), body_digest)?;
    lock.unwrap_or_default().store(headers);
    if tags {
        if let Some(value) = ctx.header("x-amz-tagging") {
            let set = tagging::parse_header(value)?;
            let stored = (!set.is_empty()).then(|| tagging::encode(&set));
            objmeta::set(headers, objmeta::TAGGING, stored);
        }
    }
    let request = acl::from_headers(ctx.header_fn())?;
    let (acl, owner) = ctx.access.new_object_documents(request)?;
    objmeta::set(headers, objmeta::ACL, acl);
    objmeta::set(headers, objmeta::OWNER, owner);
    Ok(())
}

/// Opens the request's object (the version its `versionId` names, else the latest) and
/// finishes the access decision with it (its owner, ACL and tags). A missing key is NoSuchKey
/// only to those who may list the bucket.
pub async fn open_readable<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<S::Reader, S3Error> {
    let version_id = versions::requested(ctx)?;
    let opened = ctx
        .store
        .open_object(&ctx.who, &ctx.bucket, &ctx.key, version_id)
        .await;
    match opened {
        Ok(reader) => {
            ctx.access.check_object(&reader.info().meta)?;
            Ok(reader)
        }
        Err(StoreError::NoSuchKey) if !ctx.access.can_list => Err(access_denied()),
        Err(e) => Err(versions::read_error(e, version_id).with_detail("Key", ctx.key.clone())),
    }
}

/// `If-None-Match: *` and `If-Match` on a write (PutObject, CompleteMultipartUpload,
/// CopyObject), checked against the key as it is when the request starts; the store checks
/// the returned condition again when it commits (see [`condition_conflict`]).
pub async fn write_condition<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<WriteCondition, S3Error> {
    let wanted =
        conditional::write_precondition(ctx.header("if-match"), ctx.header("if-none-match"))?;
    if wanted == WritePrecondition::None {
        return Ok(WriteCondition::None);
    }
    let current = current_object(ctx, &ctx.key).await?;
    conditional::write_condition_now(wanted, current.as_ref().map(|i| i.meta.etag.as_str()))
        .map_err(|e| e.with_detail("Key", ctx.key.clone()))
}

/// The object stored at `key` now, if any (a key whose latest version is a delete marker
/// has none).
pub async fn current_object<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    key: &str,
) -> Result<Option<ObjectInfo>, S3Error> {
    match ctx
        .store
        .open_object(&ctx.who, &ctx.bucket, key, None)
        .await
    {
        Ok(reader) => Ok(Some(reader.info().clone())),
        Err(StoreError::NoSuchKey | StoreError::DeleteMarker { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The answer when a write or delete condition held when the request started but not when
/// the store committed: another write or delete of the key ended in between. AWS answers 409
/// ConditionalRequestConflict, after which the client retries (PutObject, DeleteObject pages).
pub fn condition_conflict(e: StoreError) -> S3Error {
    match e {
        StoreError::PreconditionFailed => S3Error::new(
            S3ErrorCode::ConditionalRequestConflict,
            "A conflicting operation occurred on this key while the request ran. Please retry.",
        ),
        other => other.into(),
    }
}

/// The Content-MD5 header decoded, if sent.
pub(super) fn content_md5<S>(ctx: &Ctx<'_, S>) -> Result<Option<[u8; 16]>, S3Error> {
    crate::s3::body::parse_content_md5(ctx.header("content-md5"))
}

/// A body the store has made durable, with what the S3 layer computed of it.
pub struct StagedBody<T> {
    pub staged: T,
    /// Hex MD5 of the content, or for a sealed body the ETag its sealing gives that MD5.
    pub etag: String,
    /// The plain bytes received (the store holds more when the body is sealed).
    pub size: u64,
    /// The verified flexible checksum to echo: (header, base64 value).
    pub checksum: Option<(&'static str, String)>,
}

impl<T> StagedBody<T> {
    /// Echoes the verified checksum, as S3 does.
    pub fn echo_checksum(&self, builder: &mut HttpResponseBuilder) {
        if let Some((header, value)) = &self.checksum {
            builder.insert_header((*header, value.as_str()));
        }
    }
}

/// Streams a body into the store, checking its length, Content-MD5 and flexible checksum;
/// with `seal`, the store gets it sealed with that key as that part (0 for a whole object).
pub async fn stage_body<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
    max_size: u64,
    seal: Option<(&Keyed, u32)>,
) -> Result<StagedBody<S::Staged>, S3Error> {
    let expected_md5 = content_md5(ctx)?;
    let length = body.length;
    let chunked_transfer = ctx
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    match length {
        None if !chunked_transfer => {
            return Err(S3Error::new(
                S3ErrorCode::MissingContentLength,
                "You must provide the Content-Length HTTP header.",
            ))
        }
        Some(len) if len > max_size => {
            return Err(S3Error::new(
                S3ErrorCode::EntityTooLarge,
                format!(
                    "Your proposed upload exceeds the maximum allowed size of {max_size} bytes"
                ),
            )
            .with_detail("ProposedSize", len.to_string())
            .with_detail("MaxSizeAllowed", max_size.to_string()))
        }
        _ => {}
    }
    let (
        staged,
        BodyDigest {
            md5,
            length: received,
            checksum,
        },
    ) = stage_hashed(ctx, body, seal).await?;
    if length.is_some_and(|len| len != received) {
        return Err(S3Error::new(
            S3ErrorCode::IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ));
    }
    if received > max_size {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            format!("Your upload exceeds the maximum allowed size of {max_size} bytes"),
        ));
    }
    if expected_md5.is_some_and(|expected| expected != md5) {
        return Err(S3Error::new(
            S3ErrorCode::BadDigest,
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    Ok(StagedBody {
        staged,
        etag: seal.map_or_else(|| hex(&md5), |(keyed, _)| keyed.etag(&md5)),
        size: received,
        checksum,
    })
}

/// Streams `body` into the store through the digests, sealed as `seal` asks (the store gets
/// the sealed bytes, the digests see the plain ones).
pub async fn stage_hashed<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
    seal: Option<(&Keyed, u32)>,
) -> Result<(S::Staged, BodyDigest), S3Error> {
    let length = body.length;
    let (stream, digest) = body.into_hashed();
    let (stream, stored_length) = match seal {
        Some((keyed, part)) => (
            chunked::seal(keyed.object_key(), part, stream),
            length.map(chunked::sealed_size),
        ),
        None => (stream, length),
    };
    let staged = ctx
        .store
        .stage(&ctx.who, &ctx.bucket, stream, stored_length)
        .await?;
    Ok((staged, digest.finish().await?))
}

pub async fn put_object<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    check_write_options(ctx.req.headers())?;
    let mut headers = meta_headers(ctx)?;
    let digest = body.content_md5.is_some() || body.checksum.is_some();
    apply_request_documents(ctx, &mut headers, true, Some(digest))?;
    let wanted = sse_object::wanted(ctx, &ctx.header_fn()).await?;
    let keyed = sse_object::begin(ctx, &wanted)?;
    let condition = write_condition(ctx).await?;
    let seal = keyed.as_ref().map(|k| (k, 0));
    let body = stage_body(ctx, body.with_default_checksum(), MAX_PUT_SIZE, seal).await?;
    let mut response = HttpResponse::Ok();
    body.echo_checksum(&mut response);
    if let Some((header, value)) = &body.checksum {
        let stored = objmeta::encode_checksum(header, value);
        objmeta::set(&mut headers, objmeta::CHECKSUM, Some(stored));
    }
    let sealed_size = sealed_meta(ctx, keyed.as_ref(), &mut headers, &mut response, body.size);
    let meta = ObjectMeta {
        etag: body.etag,
        headers,
        size: sealed_size,
    };
    let info = ctx
        .store
        .commit_object(
            &ctx.who,
            &ctx.bucket,
            &ctx.key,
            body.staged,
            meta,
            condition,
            ctx.versioning(),
        )
        .await
        .map_err(condition_conflict)?;
    super::lifecycle::add_expiration(ctx, &info, &mut response);
    versions::version_header(ctx, &mut response, &info.version_id);
    Ok(response
        .insert_header(("ETag", quoted(&info.meta.etag)))
        .finish())
}

/// Records a new object's sealing in its `headers` (or that it has none) and describes it in
/// the `response`; returns the plain size to report, None for an object stored as sent.
pub fn sealed_meta<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    keyed: Option<&Keyed>,
    headers: &mut Vec<(String, String)>,
    response: &mut HttpResponseBuilder,
    plain_size: u64,
) -> Option<u64> {
    let sealing = keyed.map(|k| &k.sealing);
    objmeta::set(headers, sealing::DOCUMENT, sealing.map(Sealing::encode));
    describe_write(ctx, response, sealing);
    keyed.map(|_| plain_size)
}

/// DeleteObject, with the conditions of the DeleteObject page (`If-Match`,
/// `x-amz-if-match-last-modified-time`, `x-amz-if-match-size`); with `versionId`, removes
/// that version for good.
pub async fn delete_object<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let conditions = DeletePreconditions::from_headers(
        ctx.header("if-match"),
        ctx.header("x-amz-if-match-last-modified-time"),
        ctx.header("x-amz-if-match-size"),
    )?;
    let version_id = versions::requested(ctx)?;
    let deleted = delete_key(ctx, &ctx.key, version_id, &conditions)
        .await
        .map_err(|e| e.with_detail("Key", ctx.key.clone()))?;
    let mut response = HttpResponse::NoContent();
    versions::deleted_headers(&mut response, &deleted);
    Ok(response.finish())
}

/// Deletes `key` (or its version `version_id`) if `conditions` hold (DeleteObject, and each
/// entry of DeleteObjects). In a versioned bucket a delete without a version writes a delete
/// marker.
pub async fn delete_key<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    key: &str,
    version_id: Option<&str>,
    conditions: &DeletePreconditions,
) -> Result<Deleted, S3Error> {
    if let Some(id) = version_id {
        return object_lock::delete_unlocked_version(ctx, key, id).await;
    }
    let versioning = ctx.versioning();
    let unconditional = *conditions == DeletePreconditions::default();
    if unconditional || versioning != Versioning::Unversioned {
        if !unconditional {
            // A marker hides the object whatever it is: the conditions are checked against
            // the latest version as the request starts.
            let current = current_object(ctx, key).await?;
            let now = current.as_ref().map(|i| {
                (
                    i.meta.etag.as_str(),
                    i.last_modified,
                    sse_object::plain_size(i),
                )
            });
            if conditions.evaluate(now)? == DeleteOutcome::Missing {
                return Ok(versions::NOTHING_DELETED);
            }
        }
        return Ok(ctx
            .store
            .delete_object(&ctx.who, &ctx.bucket, key, versioning)
            .await?);
    }
    let current = current_object(ctx, key).await?;
    let now = current.as_ref().map(|i| {
        (
            i.meta.etag.as_str(),
            i.last_modified,
            sse_object::plain_size(i),
        )
    });
    match conditions.evaluate(now)? {
        DeleteOutcome::Missing => Ok(versions::NOTHING_DELETED),
        DeleteOutcome::IfEtag(etag) => ctx
            .store
            .delete_object_if_etag(&ctx.who, &ctx.bucket, key, &etag)
            .await
            .map(|()| versions::NOTHING_DELETED)
            .map_err(condition_conflict),
    }
}

/// GetObjectTorrent: not offered, but a missing key answers 404 NoSuchKey first, as on AWS.
pub async fn get_object_torrent<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    open_readable(ctx).await?;
    Err(S3Error::not_implemented("GetObjectTorrent"))
}

/// The XML answer of a write other than PutObject (copies, multipart uploads), with the
/// encryption headers of what it wrote (see [`describe_write`]).
pub fn written_xml<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    document: String,
    sealing: Option<&Sealing>,
) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    builder.insert_header((actix_web::http::header::CONTENT_TYPE, "application/xml"));
    describe_write(ctx, &mut builder, sealing);
    builder.body(document)
}

/// The encryption headers of a write's answer: its sealing's, else SSE-S3 when the store
/// encrypts everything at rest. SSE-C answers echo the key MD5 the request sent.
pub fn describe_write<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    builder: &mut HttpResponseBuilder,
    sealing: Option<&Sealing>,
) {
    match sealing {
        Some(sealing) => {
            let md5 = ctx.header("x-amz-server-side-encryption-customer-key-md5");
            request::describe(builder, sealing, &ctx.config.region, md5);
            if let Some(context) = &sealing.context {
                builder.insert_header(("x-amz-server-side-encryption-context", context.as_str()));
            }
        }
        None => encryption_header(ctx.store, builder),
    }
}

/// Objects in a store that encrypts at rest are all SSE-S3 objects, as every object on S3 is.
pub fn encryption_header<S: ObjectStore>(store: &S, builder: &mut HttpResponseBuilder) {
    if store.encrypts_at_rest() {
        builder.insert_header(("x-amz-server-side-encryption", "AES256"));
    }
}

/// `response-*` query parameters and the header each one overrides.
const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

fn insert_header(builder: &mut HttpResponseBuilder, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value.as_bytes()),
    ) {
        builder.insert_header((name, value));
    }
}

/// ETag, Last-Modified, encryption and the stored headers, with `response-*` overrides
/// applied.
fn object_headers<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    builder: &mut HttpResponseBuilder,
    info: &ObjectInfo,
    opened: Option<&Opened>,
) {
    builder.insert_header(("ETag", quoted(&info.meta.etag)));
    match opened {
        Some(opened) => opened.describe(builder, &ctx.config.region),
        None => encryption_header(ctx.store, builder),
    }
    builder.insert_header(("Last-Modified", http_date(info.last_modified)));
    builder.insert_header(("Accept-Ranges", "bytes"));
    let has_type = info.meta.headers.iter().any(|(n, _)| n == "content-type");
    if !has_type {
        builder.insert_header(("Content-Type", "binary/octet-stream"));
    }
    for (name, value) in objmeta::client_headers(&info.meta) {
        insert_header(builder, name, value);
    }
    if let Some(tags) = objmeta::get(&info.meta, objmeta::TAGGING) {
        let count = tagging::decode(tags).len();
        builder.insert_header(("x-amz-tagging-count", count.to_string()));
    }
    versions::version_header(ctx, builder, &info.version_id);
    super::lifecycle::add_expiration(ctx, info, builder);
    for (param, header) in RESPONSE_OVERRIDES {
        if let Some(value) = ctx.query.get(param) {
            insert_header(builder, header, value);
        }
    }
}

pub async fn get_object<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    params: GetParams,
    with_body: bool,
) -> Result<HttpResponse, S3Error> {
    let part_number = params.part_number;
    if part_number.is_some() && ctx.header("range").is_some() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    let reader = open_readable(ctx).await?;
    let info = reader.info().clone();
    let opened = sse_object::open(ctx, &info, false)?;
    let size = sse_object::plain_size(&info);
    let preconditions = Preconditions {
        if_match: ctx.header("if-match"),
        if_none_match: ctx.header("if-none-match"),
        if_modified_since: ctx.header("if-modified-since"),
        if_unmodified_since: ctx.header("if-unmodified-since"),
    };
    match conditional::evaluate(&preconditions, &info.meta.etag, info.last_modified) {
        Outcome::Proceed => {}
        Outcome::PreconditionFailed => {
            return Err(S3Error::new(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ))
        }
        Outcome::NotModified => {
            return Ok(HttpResponse::NotModified()
                .insert_header(("ETag", quoted(&info.meta.etag)))
                .insert_header(("Last-Modified", http_date(info.last_modified)))
                .finish())
        }
    }

    let wanted = ctx.header("range").and_then(range::parse).filter(|_| {
        ctx.header("if-range").is_none_or(|validator| {
            conditional::if_range_holds(validator, &info.meta.etag, info.last_modified)
        })
    });
    let mut byte_range = wanted.map(|spec| range::resolve(spec, size)).transpose()?;
    let mut parts_count = None;
    if let Some(n) = part_number {
        let (range, count) = part_range(&info, size, n)?;
        byte_range = range;
        parts_count = count;
    }

    let mut builder = match byte_range {
        Some(r) => {
            let mut b = HttpResponse::build(StatusCode::PARTIAL_CONTENT);
            b.insert_header((
                "Content-Range",
                format!("bytes {}-{}/{}", r.first, r.last, size),
            ));
            b
        }
        None => HttpResponse::Ok(),
    };
    object_headers(ctx, &mut builder, &info, opened.as_ref());
    // The stored checksum describes the whole object only.
    let whole_object = byte_range.is_none_or(|r| r.first == 0 && r.last + 1 == size);
    if whole_object && checksum_mode_enabled(ctx) {
        if let Some((header, value)) = objmeta::checksum(&info.meta) {
            insert_header(&mut builder, header, value);
            let kind = crate::s3::checksum::ChecksumType::of_value(value);
            builder.insert_header(("x-amz-checksum-type", kind.name()));
        }
    }
    if let Some(count) = parts_count {
        builder.insert_header(("x-amz-mp-parts-count", count.to_string()));
    }
    let length = byte_range.map_or(size, |r| r.last - r.first + 1);
    if !with_body {
        // actix writes Content-Length from the body's size and sends no body for HEAD.
        let nothing = futures_util::stream::empty::<Result<bytes::Bytes, actix_web::Error>>();
        return Ok(builder.body(SizedStream::new(length, nothing)));
    }
    let mut stream = match &opened {
        Some(opened) => opened.stream(reader, byte_range),
        None => reader.stream(byte_range),
    };
    // The first chunk is read before the status is sent: data that cannot be read (a missing
    // block, one that fails authentication) then answers 500 InternalError, not a cut-off 200.
    let first = stream.try_next().await?;
    let stream = futures_util::stream::iter(first.map(Ok))
        .chain(stream)
        .map_err(|e| {
            log::error!("read failed mid-response: {e}");
            actix_web::error::ErrorInternalServerError("read failed")
        });
    Ok(builder.body(SizedStream::new(length, stream)))
}

/// `x-amz-checksum-mode: ENABLED`: the client wants the object's checksum with it.
fn checksum_mode_enabled<S>(ctx: &Ctx<'_, S>) -> bool {
    ctx.header("x-amz-checksum-mode")
        .is_some_and(|mode| mode.eq_ignore_ascii_case("enabled"))
}

/// The bytes of part `n` of an object of `size` (plain) bytes (ranges of 0 bytes are None)
/// and, for multipart objects, the number of parts. A simple object is one part.
fn part_range(
    info: &ObjectInfo,
    size: u64,
    n: usize,
) -> Result<(Option<ByteRange>, Option<usize>), S3Error> {
    let layout = objmeta::get(&info.meta, objmeta::PARTS)
        .and_then(|text| objmeta::decode_parts(text, MAX_PART_NUMBER as usize));
    let multipart = layout.is_some();
    let sizes = layout.unwrap_or_else(|| vec![size]);
    if n > sizes.len() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidPartNumber,
            "The requested partnumber is not satisfiable",
        )
        .with_detail("PartNumberRequested", n.to_string())
        .with_detail("ActualPartCount", sizes.len().to_string()));
    }
    let first: u64 = sizes[..n - 1].iter().sum();
    let len = sizes[n - 1];
    let count = multipart.then_some(sizes.len());
    if len == 0 {
        return Ok((None, count));
    }
    Ok((
        Some(ByteRange {
            first,
            last: first + len - 1,
        }),
        count,
    ))
}
