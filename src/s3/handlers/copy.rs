//! CopyObject and UploadPartCopy: the copy source header, its conditions, the result documents.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::HttpResponse;
use futures_util::{StreamExt, TryStreamExt};

use super::multipart::{part_target, upload_error, MAX_PART_SIZE};
use super::object::{
    apply_request_documents, check_write_options, condition_conflict, meta_headers, sealed_meta,
    stage_hashed, write_condition, written_xml, MAX_PUT_SIZE,
};
use super::{quoted, versions};
use crate::encoding::hex;
use crate::s3::access::access_denied;
use crate::s3::body::RequestBody;
use crate::s3::checksum::Expected;
use crate::s3::conditional::{self, Outcome, Preconditions};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::objmeta;
use crate::s3::router::{percent_decode, MAX_KEY_LEN};
use crate::s3::sse::object::{self as sse_object, Opened};
use crate::s3::sse::request::WriteEncryption;
use crate::s3::versioning::version_id_param;
use crate::s3::xml::XmlWriter;
use crate::s3::Ctx;
use crate::store::{
    ByteRange, CopySource, ObjectInfo, ObjectMeta, ObjectReader, ObjectStore, StoreError,
    WriteCondition,
};
use crate::time::iso8601;

/// The bucket, key and version an `x-amz-copy-source` header names: URL-encoded
/// `bucket/key`, with or without a leading `/`, optionally `?versionId=id` (None: the latest).
pub fn parse_copy_source(header: &str) -> Result<(String, String, Option<String>), S3Error> {
    let invalid = |why: &str| {
        S3Error::new(S3ErrorCode::InvalidArgument, why.to_string())
            .with_detail("ArgumentName", "x-amz-copy-source")
            .with_detail("ArgumentValue", header.to_string())
    };
    let (path, query) = match header.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (header, None),
    };
    let version_id = match query.map(|q| q.strip_prefix("versionId=")) {
        None => None,
        Some(Some(id)) => match version_id_param(Some(id)) {
            Ok(id) => id.map(str::to_owned),
            Err(_) => return Err(invalid("Invalid version id specified")),
        },
        Some(None) => {
            return Err(invalid(
                "Invalid copy source: only versionId may follow '?'",
            ))
        }
    };
    let decoded = percent_decode(path).ok_or_else(|| invalid("Invalid copy source encoding"))?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    match decoded.split_once('/') {
        Some((bucket, key))
            if !bucket.is_empty() && !key.is_empty() && key.len() <= MAX_KEY_LEN =>
        {
            Ok((bucket.to_string(), key.to_string(), version_id))
        }
        _ => Err(invalid(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )),
    }
}

/// The `x-amz-copy-source-if-*` conditions against the source. Unlike GET, every failure is
/// 412 (AWS: if-none-match false with if-modified-since true is 412; if-match true with
/// if-unmodified-since false proceeds — the RFC 9110 order gives both).
fn check_source_conditions<S>(ctx: &Ctx<'_, S>, info: &ObjectInfo) -> Result<(), S3Error> {
    let preconditions = Preconditions {
        if_match: ctx.header("x-amz-copy-source-if-match"),
        if_none_match: ctx.header("x-amz-copy-source-if-none-match"),
        if_modified_since: ctx.header("x-amz-copy-source-if-modified-since"),
        if_unmodified_since: ctx.header("x-amz-copy-source-if-unmodified-since"),
    };
    match conditional::evaluate(&preconditions, &info.meta.etag, info.last_modified) {
        Outcome::Proceed => Ok(()),
        Outcome::NotModified | Outcome::PreconditionFailed => Err(S3Error::new(
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
        .with_detail("Condition", "x-amz-copy-source-if-*")),
    }
}

/// The copy source a request names, opened.
struct Source<R> {
    bucket: String,
    key: String,
    /// The version the header named, None for the latest.
    version_id: Option<String>,
    reader: R,
    /// The store may copy it as `ctx.who` (sharing its data), else the data must be read
    /// through.
    shareable: bool,
}

/// Opens the source named by the request, as whom `access` decides (the requester, or the
/// source bucket's owner), and checks its conditions.
async fn open_source<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<Source<S::Reader>, S3Error> {
    let header = ctx.header("x-amz-copy-source").unwrap_or("");
    let (bucket, key, version_id) = parse_copy_source(header)?;
    let (reader_as, source_access) = ctx
        .access
        .copy_source(
            ctx.store,
            ctx.rules,
            ctx.config,
            &bucket,
            &key,
            version_id.is_some(),
        )
        .await?;
    let version = version_id.as_deref();
    let reader = match ctx.store.open_object(&reader_as, &bucket, &key, version).await {
        Ok(reader) => reader,
        Err(StoreError::NoSuchKey) if !source_access.can_list => return Err(access_denied()),
        // A marker as the source is 400 InvalidRequest when named by id, as on AWS.
        Err(StoreError::DeleteMarker { .. }) if version.is_some() => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            ))
        }
        Err(e) => return Err(versions::read_error(e, version).with_detail("Key", key.clone())),
    };
    source_access.check_object(&reader.info().meta)?;
    check_source_conditions(ctx, reader.info())?;
    Ok(Source {
        bucket,
        key,
        version_id,
        reader,
        shareable: reader_as == ctx.who,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Directive {
    Copy,
    Replace,
}

fn directive<S>(ctx: &Ctx<'_, S>, header: &'static str) -> Result<Directive, S3Error> {
    match ctx.header(header) {
        None => Ok(Directive::Copy),
        Some(v) if v.eq_ignore_ascii_case("COPY") => Ok(Directive::Copy),
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => Ok(Directive::Replace),
        Some(v) => Err(
            S3Error::new(S3ErrorCode::InvalidArgument, format!("Unknown {header}"))
                .with_detail("ArgumentName", header)
                .with_detail("ArgumentValue", v),
        ),
    }
}

/// How often a copy reads its source again when the source is overwritten while it is being
/// copied, before answering 503 SlowDown.
pub const COPY_ATTEMPTS: u32 = 8;

pub async fn copy_object<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    check_write_options(ctx.req.headers())?;
    let metadata = directive(ctx, "x-amz-metadata-directive")?;
    let tagging = directive(ctx, "x-amz-tagging-directive")?;
    let wanted = sse_object::wanted(ctx, &ctx.header_fn()).await?;
    let condition = write_condition(ctx).await?;
    // The source's metadata is read first and the copy commits against that ETag: a source
    // overwritten in between is read again, so a copy always copies one whole version, old or
    // new, and its conditions are checked against the version copied.
    let mut attempt = 1;
    loop {
        let plan = copy_plan(ctx, metadata, tagging).await?;
        let opened = sse_object::open(ctx, plan.reader.info(), true)?;
        let shared = match &opened {
            None => matches!(wanted, WriteEncryption::None).then_some(None),
            Some(opened) => opened.keyed.rewrapped(&wanted, &ctx.sse.keys)?.map(Some),
        };
        let (Some(keyed), true) = (shared, plan.shareable) else {
            // Sealed differently (or sealed to plain, plain to sealed), or another owner's:
            // the data is read, opened and sealed anew.
            return copy_through(ctx, plan, opened, &wanted, condition).await;
        };
        let CopyPlan {
            src_bucket,
            src_key,
            src_version,
            answered_version,
            reader,
            mut meta,
            ..
        } = plan;
        let read = reader.info().meta.clone();
        drop(reader);
        let mut response = HttpResponse::Ok();
        // A shared sealed source keeps its plain size.
        let plain = meta.size.unwrap_or_default();
        meta.size = sealed_meta(ctx, keyed.as_ref(), &mut meta.headers, &mut response, plain);
        let copy_source = CopySource {
            bucket: &src_bucket,
            key: &src_key,
            version_id: src_version.as_deref(),
            if_meta: Some(&read),
        };
        let result = ctx
            .store
            .copy_object(
                &ctx.who,
                &copy_source,
                &ctx.bucket,
                &ctx.key,
                meta,
                condition.clone(),
                ctx.versioning(),
            )
            .await;
        match result {
            Err(StoreError::SourceChanged) if attempt < COPY_ATTEMPTS => {
                log::debug!(
                    "copy source {src_bucket}/{src_key} changed while copied; reading it again"
                );
                attempt += 1;
            }
            result => {
                let info = result.map_err(condition_conflict)?;
                let document = copy_result("CopyObjectResult", &info.meta.etag, &info);
                super::lifecycle::add_expiration(ctx, &info, &mut response);
                copied_headers(ctx, &mut response, &info, answered_version.as_deref());
                return Ok(response
                    .insert_header((CONTENT_TYPE, "application/xml"))
                    .body(document));
            }
        }
    }
}

/// A copy whose data cannot be shared with its source: the source's plain bytes are
/// streamed into a new object sealed as `wanted` asks. The new object is one part.
async fn copy_through<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    plan: CopyPlan<S::Reader>,
    opened: Option<Opened>,
    wanted: &WriteEncryption,
    condition: WriteCondition,
) -> Result<HttpResponse, S3Error> {
    let CopyPlan {
        reader,
        mut meta,
        answered_version,
        ..
    } = plan;
    let size = sse_object::plain_size(reader.info());
    let stream = match &opened {
        Some(opened) => opened.stream(reader, None),
        None => reader.stream(None),
    };
    let body = RequestBody {
        stream: stream.map_err(S3Error::from).boxed_local(),
        length: Some(size),
        checksum: None,
        content_md5: None,
    };
    let keyed = sse_object::begin(ctx, wanted)?;
    let (staged, digest) = stage_hashed(ctx, body, keyed.as_ref().map(|k| (k, 0))).await?;
    if digest.length != size {
        return Err(S3Error::internal(format!(
            "copy source gave {} bytes, {size} expected",
            digest.length
        )));
    }
    // One part now: a multipart layout and its part checksums no longer describe it, nor
    // does a composite checksum.
    if objmeta::get(&meta, objmeta::PARTS).is_some() {
        for document in [objmeta::PARTS, objmeta::PART_CHECKSUMS, objmeta::CHECKSUM] {
            objmeta::set(&mut meta.headers, document, None);
        }
    }
    let mut response = HttpResponse::Ok();
    meta.size = sealed_meta(ctx, keyed.as_ref(), &mut meta.headers, &mut response, size);
    meta.etag = keyed
        .as_ref()
        .map_or_else(|| hex(&digest.md5), |k| k.etag(&digest.md5));
    let info = ctx
        .store
        .commit_object(
            &ctx.who,
            &ctx.bucket,
            &ctx.key,
            staged,
            meta,
            condition,
            ctx.versioning(),
        )
        .await
        .map_err(condition_conflict)?;
    let document = copy_result("CopyObjectResult", &info.meta.etag, &info);
    super::lifecycle::add_expiration(ctx, &info, &mut response);
    copied_headers(ctx, &mut response, &info, answered_version.as_deref());
    Ok(response
        .insert_header((CONTENT_TYPE, "application/xml"))
        .body(document))
}

/// The version headers of a copy's answer: the new version's id, and the source version's
/// ([`answered_source_version`]).
fn copied_headers<S>(
    ctx: &Ctx<'_, S>,
    response: &mut actix_web::HttpResponseBuilder,
    info: &ObjectInfo,
    src_version: Option<&str>,
) {
    if ctx.versioning() != crate::store::Versioning::Unversioned {
        response.insert_header(("x-amz-version-id", info.version_id.as_str()));
    }
    if let Some(id) = src_version {
        response.insert_header(("x-amz-copy-source-version-id", id));
    }
}

/// The source version a copy answers in `x-amz-copy-source-version-id`: the one the request
/// named, else the one read when it has an id, that is when its bucket keeps versions (AWS
/// answers it then too; a `null` version read without naming it is not told apart from an
/// unversioned object, and is not answered).
fn answered_source_version(named: Option<&str>, read: &ObjectInfo) -> Option<String> {
    match named {
        Some(id) => Some(id.to_owned()),
        None => (read.version_id != crate::store::NULL_VERSION).then(|| read.version_id.clone()),
    }
}

/// What a copy reads of its source: where it is, the source opened (its version fixed), and
/// the destination's metadata made from it.
struct CopyPlan<R> {
    src_bucket: String,
    src_key: String,
    src_version: Option<String>,
    /// [`answered_source_version`].
    answered_version: Option<String>,
    reader: R,
    meta: ObjectMeta,
    /// The store may copy the source as the destination's principal.
    shareable: bool,
}

/// Reads the copy source and makes the destination's metadata from it.
async fn copy_plan<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    metadata: Directive,
    tagging: Directive,
) -> Result<CopyPlan<S::Reader>, S3Error> {
    let Source {
        bucket: src_bucket,
        key: src_key,
        version_id: src_version,
        reader,
        shareable,
    } = open_source(ctx).await?;
    let source = reader.info().clone();
    if sse_object::plain_size(&source) > MAX_PUT_SIZE {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!("The specified copy source is larger than the maximum allowable size for a copy source: {MAX_PUT_SIZE}"),
        ));
    }
    // Copying an older version onto its key restores it: that changes something.
    let onto_itself = src_bucket == ctx.bucket && src_key == ctx.key && src_version.is_none();
    let changes_something = metadata == Directive::Replace
        || ctx.header("x-amz-storage-class").is_some()
        || ctx.header("x-amz-website-redirect-location").is_some()
        || ctx.header("x-amz-server-side-encryption").is_some()
        || ctx
            .header("x-amz-server-side-encryption-customer-algorithm")
            .is_some();
    if onto_itself && !changes_something {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }

    let mut headers: Vec<(String, String)> = match metadata {
        Directive::Replace => meta_headers(ctx)?,
        Directive::Copy => objmeta::client_headers(&source.meta).cloned().collect(),
    };
    // The data is the same, so are its part layout and checksum.
    for document in [objmeta::PARTS, objmeta::CHECKSUM] {
        if let Some(value) = objmeta::get(&source.meta, document) {
            objmeta::set(&mut headers, document, Some(value.to_string()));
        }
    }
    if tagging == Directive::Copy {
        let tags = objmeta::get(&source.meta, objmeta::TAGGING).map(str::to_string);
        objmeta::set(&mut headers, objmeta::TAGGING, tags);
    }
    // x-amz-tagging counts only with REPLACE; the ACL never travels with a copy (as S3).
    apply_request_documents(ctx, &mut headers, tagging == Directive::Replace, None)?;
    let meta = ObjectMeta {
        etag: source.meta.etag.clone(),
        headers,
        size: source.meta.size,
    };
    Ok(CopyPlan {
        answered_version: answered_source_version(src_version.as_deref(), &source),
        src_bucket,
        src_key,
        src_version,
        reader,
        meta,
        shareable,
    })
}

fn copy_result(root: &str, etag: &str, info: &ObjectInfo) -> String {
    let mut w = XmlWriter::new();
    w.open_root(root);
    w.elem("LastModified", &iso8601(info.last_modified));
    w.elem("ETag", &quoted(etag));
    w.close(root);
    w.finish()
}

/// `x-amz-copy-source-range: bytes=first-last`, both inclusive and inside the source.
pub fn parse_copy_range(header: &str, size: u64) -> Result<ByteRange, S3Error> {
    let syntax = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
        .with_detail("ArgumentName", "x-amz-copy-source-range")
        .with_detail("ArgumentValue", header.to_string())
    };
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(syntax)?;
    let (first, last) = spec.split_once('-').ok_or_else(syntax)?;
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u64>().ok()
    };
    let (first, last) = (
        number(first).ok_or_else(syntax)?,
        number(last).ok_or_else(syntax)?,
    );
    if first > last {
        return Err(syntax());
    }
    if last >= size {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Range specified is not valid for source object of size: {size}"),
        )
        .with_detail("ArgumentName", "x-amz-copy-source-range")
        .with_detail("ArgumentValue", header.to_string()));
    }
    Ok(ByteRange { first, last })
}

/// UploadPartCopy: the source's bytes (or a range of them) streamed through MD5 into a new
/// part. The embedded store deduplicates blocks by content, so ranges on 1 MiB boundaries
/// share the source's blocks; other ranges are written anew.
pub async fn upload_part_copy<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
    number: u32,
) -> Result<HttpResponse, S3Error> {
    let target = part_target(ctx, id).await?;
    let Source {
        reader, version_id, ..
    } = open_source(ctx).await?;
    let version_id = answered_source_version(version_id.as_deref(), reader.info());
    let opened = sse_object::open(ctx, reader.info(), true)?;
    let size = sse_object::plain_size(reader.info());
    let range = match ctx.header("x-amz-copy-source-range") {
        Some(header) => Some(parse_copy_range(header, size)?),
        None => None,
    };
    let length = range.map_or(size, |r| r.last - r.first + 1);
    if length > MAX_PART_SIZE {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!("The specified copy range is larger than the maximum part size of {MAX_PART_SIZE} bytes"),
        ));
    }
    let stream = match &opened {
        Some(opened) => opened.stream(reader, range),
        None => reader.stream(range),
    };
    let body = RequestBody {
        stream: stream.map_err(S3Error::from).boxed_local(),
        length: Some(length),
        checksum: target.algorithm.map(Expected::computed),
        content_md5: None,
    };
    let seal = target.keyed.as_ref().map(|k| (k, number));
    let (staged, digests) = stage_hashed(ctx, body, seal).await?;
    let (md5, received) = (digests.md5, digests.length);
    if received != length {
        return Err(S3Error::internal(format!(
            "copy source gave {received} bytes, {length} expected"
        )));
    }
    let etag = target
        .keyed
        .as_ref()
        .map_or_else(|| hex(&md5), |k| k.etag(&md5));
    let part = ctx
        .store
        .commit_part(
            &ctx.who,
            &ctx.bucket,
            &ctx.key,
            id,
            number,
            staged,
            etag,
            digests
                .checksum
                .as_ref()
                .map(|(header, value)| objmeta::encode_checksum(header, value)),
        )
        .await
        .map_err(upload_error(id))?;
    let mut w = XmlWriter::new();
    w.open_root("CopyPartResult");
    w.elem("LastModified", &iso8601(part.last_modified));
    w.elem("ETag", &quoted(&part.etag));
    if let (Some(algorithm), Some((_, value))) = (target.algorithm, &digests.checksum) {
        w.elem(algorithm.element(), value);
    }
    w.close("CopyPartResult");
    let sealing = target.keyed.as_ref().map(|k| &k.sealing);
    let mut response = written_xml(ctx, w.finish(), sealing);
    if let Some(id) = version_id {
        versions::insert_header(&mut response, "x-amz-copy-source-version-id", &id);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        let ok = |h: &str| parse_copy_source(h).unwrap();
        assert_eq!(ok("bkt/a/b"), ("bkt".into(), "a/b".into(), None));
        assert_eq!(ok("/bkt/a%20b%2Fc"), ("bkt".into(), "a b/c".into(), None));
        assert_eq!(
            ok("/bkt/k%3Fx?versionId=null"),
            ("bkt".into(), "k?x".into(), Some("null".into()))
        );
        assert_eq!(
            ok("bkt/k?versionId=abc"),
            ("bkt".into(), "k".into(), Some("abc".into()))
        );
        assert_eq!(ok("bkt/%E2%82%AC+"), ("bkt".into(), "€+".into(), None));
        for bad in [
            "",
            "bkt",
            "/bkt/",
            "bkt/k?versionId=",
            "bkt/k?versionId=a%20b",
            "bkt/k?x=y",
            "bkt/%zz",
        ] {
            assert_eq!(
                parse_copy_source(bad).unwrap_err().code,
                S3ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(
            parse_copy_range("bytes=0-9", 10).unwrap(),
            ByteRange { first: 0, last: 9 }
        );
        for bad in [
            "bytes=0-10",
            "bytes=5-4",
            "bytes=-4",
            "bytes=3-",
            "0-1",
            "bytes=a-b",
        ] {
            assert_eq!(
                parse_copy_range(bad, 10).unwrap_err().code,
                S3ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn copy_result_document() {
        let info = ObjectInfo {
            version_id: crate::store::NULL_VERSION.to_owned(),
            key: "k".into(),
            size: 1,
            last_modified: std::time::UNIX_EPOCH,
            meta: ObjectMeta::default(),
        };
        assert_eq!(
            copy_result("CopyObjectResult", "abc", &info),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LastModified>1970-01-01T00:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag></CopyObjectResult>"
        );
    }
}
