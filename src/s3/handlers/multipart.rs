//! Multipart upload: create, upload parts, complete, abort, and the two listings.

use crate::md5_digest::Md5;
use actix_web::HttpResponse;

use super::list::common_prefix;
use super::object::{
    apply_request_documents, check_write_options, condition_conflict, describe_write, meta_headers,
    stage_body, write_condition, written_xml,
};
use super::{initiator, quoted, xml_response};
use crate::encoding::{hex, unhex};
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::checksum::{self, Algorithm, Expected, UploadChecksum};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::objmeta;
use crate::s3::router::ListUploadsParams;
use crate::s3::sse::chunked;
use crate::s3::sse::object as sse_object;
use crate::s3::sse::sealing::{self, encode_part_numbers, Keyed, Sealing};
use crate::s3::xml::{self, XmlWriter};
use crate::s3::Ctx;
use crate::store::{
    part_list_digest, ObjectMeta, ObjectReader, ObjectStore, PartInfo, StoreError, UploadInfo,
};
use crate::time::iso8601;

pub use crate::s3::router::MAX_PART_NUMBER;
/// Every part but the last has at least this many bytes (as S3).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest part (as S3).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Maps store errors, naming the upload in NoSuchUpload.
pub fn upload_error(id: &str) -> impl Fn(StoreError) -> S3Error + '_ {
    move |e| match e {
        StoreError::NoSuchUpload => S3Error::from(e).with_detail("UploadId", id),
        e => e.into(),
    }
}

pub async fn create<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    check_write_options(ctx.req.headers())?;
    let mut headers = meta_headers(ctx)?;
    apply_request_documents(ctx, &mut headers, true, None)?;
    super::object_lock::upload_lock_headers(ctx, &mut headers);
    let wanted = sse_object::wanted(ctx, &ctx.header_fn()).await?;
    let keyed = sse_object::begin(ctx, &wanted)?;
    let sealing = keyed.map(|k| k.sealing);
    objmeta::set(
        &mut headers,
        sealing::DOCUMENT,
        sealing.as_ref().map(Sealing::encode),
    );
    let upload_checksum = UploadChecksum::from_request(
        ctx.header("x-amz-checksum-algorithm"),
        ctx.header("x-amz-checksum-type"),
    )?;
    objmeta::set(
        &mut headers,
        objmeta::UPLOAD_CHECKSUM,
        upload_checksum.map(UploadChecksum::encode),
    );
    objmeta::set(&mut headers, objmeta::INITIATOR, ctx.access.initiator());
    let meta = ObjectMeta {
        etag: String::new(),
        headers,
        size: None,
    };
    let upload_id = ctx
        .store
        .create_multipart(&ctx.who, &ctx.bucket, &ctx.key, meta)
        .await?;
    let mut w = XmlWriter::new();
    w.open_root("InitiateMultipartUploadResult");
    w.elem("Bucket", &ctx.bucket);
    w.elem("Key", &ctx.key);
    w.elem("UploadId", &upload_id);
    w.close("InitiateMultipartUploadResult");
    let mut response = written_xml(ctx, w.finish(), sealing.as_ref());
    if let Some(upload_checksum) = upload_checksum {
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-amz-checksum-algorithm", upload_checksum.algorithm.name()),
            ("x-amz-checksum-type", upload_checksum.kind.name()),
        ] {
            headers.insert(
                actix_web::http::header::HeaderName::from_static(name),
                actix_web::http::header::HeaderValue::from_static(value),
            );
        }
    }
    Ok(response)
}

/// The checksum an upload was created with, if any.
fn upload_checksum(upload: &UploadInfo) -> Option<UploadChecksum> {
    objmeta::get(&upload.meta, objmeta::UPLOAD_CHECKSUM).and_then(UploadChecksum::decode)
}

/// The (algorithm, base64 value) of a part's stored checksum.
fn part_checksum(part: &PartInfo) -> Option<(Algorithm, &str)> {
    let (header, value) = objmeta::decode_checksum(part.checksum.as_deref()?)?;
    Some((Algorithm::from_header(header)?, value))
}

/// What a new part of an upload gets: the checksum algorithm the upload was created with,
/// if any, and its sealing, opened with the customer key the part request sends for an SSE-C
/// upload. Looked up before the part's body is read, so that a part for an unknown upload
/// (or with the wrong key) transfers nothing.
pub struct PartTarget {
    pub algorithm: Option<Algorithm>,
    pub keyed: Option<Keyed>,
}

pub async fn part_target<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
) -> Result<PartTarget, S3Error> {
    let upload = ctx
        .store
        .upload(&ctx.who, &ctx.bucket, &ctx.key, id)
        .await
        .map_err(upload_error(id))?;
    ctx.access.check_upload(&upload.meta, false)?;
    let customer = sse_object::request_customer_key(ctx, false)?;
    let keyed = match sse_object::sealing_of(&upload.meta)? {
        Some(sealing) => Some(Keyed::open(sealing, customer.as_ref(), &ctx.sse.keys)?),
        None if customer.is_some() => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The multipart upload was not initiated with a customer-provided key: the encryption parameters are not applicable to its parts.",
            ))
        }
        None => None,
    };
    Ok(PartTarget {
        algorithm: upload_checksum(&upload).map(|c| c.algorithm),
        keyed,
    })
}

/// Gives the parts of a sealed upload the plain sizes S3 reports (the store holds them
/// sealed, a little larger).
fn plain_part_sizes(upload: &UploadInfo, parts: &mut [PartInfo]) -> Result<(), S3Error> {
    if sse_object::sealing_of(&upload.meta)?.is_none() {
        return Ok(());
    }
    for part in parts {
        part.size = chunked::plain_size(part.size)
            .ok_or_else(|| S3Error::internal("a sealed part has an impossible size"))?;
    }
    Ok(())
}

/// UploadPart. In an upload created with a checksum algorithm, a part sent with another
/// algorithm's checksum is refused and one sent without is given its checksum by the server
/// (UploadPart and "Checking object integrity" in the AWS S3 documentation).
pub async fn upload_part<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
    number: u32,
    mut body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let target = part_target(ctx, id).await?;
    if let Some(algorithm) = target.algorithm {
        match &body.checksum {
            Some(sent) if sent.algorithm != algorithm => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "Checksum Type mismatch occurred, expected checksum Type: {}, \
                         actual checksum Type: {}",
                        algorithm.name().to_ascii_lowercase(),
                        sent.algorithm.name().to_ascii_lowercase()
                    ),
                ));
            }
            Some(_) => {}
            None => body.checksum = Some(Expected::computed(algorithm)),
        }
    }
    let seal = target.keyed.as_ref().map(|k| (k, number));
    let body = stage_body(ctx, body, MAX_PART_SIZE, seal).await?;
    let mut response = HttpResponse::Ok();
    body.echo_checksum(&mut response);
    describe_write(
        ctx,
        &mut response,
        target.keyed.as_ref().map(|k| &k.sealing),
    );
    // Kept with the part for ListParts and the object's checksum at completion.
    let checksum = body
        .checksum
        .as_ref()
        .map(|(header, value)| objmeta::encode_checksum(header, value));
    let part = ctx
        .store
        .commit_part(
            &ctx.who,
            &ctx.bucket,
            &ctx.key,
            id,
            number,
            body.staged,
            body.etag,
            checksum,
        )
        .await
        .map_err(upload_error(id))?;
    Ok(response
        .insert_header(("ETag", quoted(&part.etag)))
        .finish())
}

/// The (part number, unquoted ETag) list of a CompleteMultipartUpload document.
pub fn parse_completion(body: &[u8]) -> Result<Vec<(u32, String)>, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "CompleteMultipartUpload" {
        return Err(xml::malformed("expected CompleteMultipartUpload"));
    }
    let mut parts = Vec::new();
    for part in xml::children(root, "Part") {
        let number = xml::child_text(part, "PartNumber")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .ok_or_else(|| xml::malformed("every Part has a numeric PartNumber"))?;
        let etag = xml::child_text(part, "ETag")
            .ok_or_else(|| xml::malformed("every Part has an ETag"))?;
        parts.push((number, etag.trim().trim_matches('"').to_string()));
    }
    if parts.is_empty() {
        return Err(xml::malformed("You must specify at least one part"));
    }
    Ok(parts)
}

/// Checks a completion against the stored parts and computes the object's ETag:
/// the MD5 of the parts' binary MD5s, a dash, and the number of parts.
/// Also returns the size of each requested part, in order.
fn completion_etag(
    requested: &[(u32, String)],
    stored: &[PartInfo],
) -> Result<(String, Vec<u64>), S3Error> {
    if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        ));
    }
    let mut md5 = Md5::new();
    let mut sizes = Vec::with_capacity(requested.len());
    for (i, (number, etag)) in requested.iter().enumerate() {
        let invalid = || {
            S3Error::from(StoreError::InvalidPart(*number))
                .with_detail("PartNumber", number.to_string())
                .with_detail("ETag", etag.clone())
        };
        let part = stored
            .iter()
            .find(|p| p.number == *number && p.etag == *etag)
            .ok_or_else(invalid)?;
        let is_last = i + 1 == requested.len();
        if !is_last && part.size < MIN_PART_SIZE {
            return Err(S3Error::new(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
            .with_detail("PartNumber", number.to_string())
            .with_detail("ProposedSize", part.size.to_string())
            .with_detail("MinSizeAllowed", MIN_PART_SIZE.to_string()));
        }
        md5.update(unhex(&part.etag).ok_or_else(invalid)?);
        sizes.push(part.size);
    }
    Ok((
        format!("{}-{}", hex(&md5.finalize()), requested.len()),
        sizes,
    ))
}

pub async fn complete<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let condition = write_condition(ctx).await?;
    let document = body.read_capped(MAX_XML_BODY).await?;
    let requested = parse_completion(&document)?;
    let (upload, mut stored) = match ctx
        .store
        .list_parts(&ctx.who, &ctx.bucket, &ctx.key, id)
        .await
    {
        Err(StoreError::NoSuchUpload) => {
            let object = repeated_completion(ctx, id, &requested).await?;
            let checksum = objmeta::checksum(&object)
                .and_then(|(header, value)| Some((Algorithm::from_header(header)?, value)));
            let sealing = sse_object::sealing_of(&object)?;
            return Ok(completion_result(
                ctx,
                &object.etag,
                checksum,
                sealing.as_ref(),
            ));
        }
        found => found.map_err(upload_error(id))?,
    };
    ctx.access.check_upload(&upload.meta, false)?;
    plain_part_sizes(&upload, &mut stored)?;
    let (etag, sizes) = completion_etag(&requested, &stored)?;
    let mut sealing = sse_object::sealing_of(&upload.meta)?;
    let object_checksum = match upload_checksum(&upload) {
        Some(wanted) => object_checksum(ctx, wanted, &document, &requested, &stored)?,
        None => None,
    };
    let mut headers = upload.meta.headers;
    // Remembered for GetObject/HeadObject with partNumber.
    objmeta::set(
        &mut headers,
        objmeta::PARTS,
        Some(objmeta::encode_parts(&sizes)),
    );
    objmeta::set(&mut headers, objmeta::UPLOAD_CHECKSUM, None);
    objmeta::set(&mut headers, objmeta::INITIATOR, None);
    super::object_lock::default_retention_at_completion(ctx, &mut headers);
    objmeta::set(
        &mut headers,
        objmeta::CHECKSUM,
        object_checksum
            .as_ref()
            .map(|c| objmeta::encode_checksum(c.algorithm.header(), &c.value)),
    );
    objmeta::set(
        &mut headers,
        objmeta::PART_CHECKSUMS,
        object_checksum
            .as_ref()
            .and_then(|c| objmeta::encode_part_checksums(&c.parts)),
    );
    // A sealed object's chunks are bound to the numbers of the parts they came in.
    if let Some(sealing) = &mut sealing {
        let numbers: Vec<u32> = requested.iter().map(|(number, _)| *number).collect();
        sealing.parts = Some(encode_part_numbers(&numbers));
    }
    objmeta::set(
        &mut headers,
        sealing::DOCUMENT,
        sealing.as_ref().map(Sealing::encode),
    );
    let meta = ObjectMeta {
        etag,
        headers,
        size: sealing.as_ref().map(|_| sizes.iter().sum()),
    };
    let info = ctx
        .store
        .complete_multipart(
            &ctx.who,
            &ctx.bucket,
            &ctx.key,
            id,
            &requested,
            meta,
            condition,
            ctx.versioning(),
        )
        .await
        .map_err(condition_conflict)?;
    let checksum = object_checksum
        .as_ref()
        .map(|c| (c.algorithm, c.value.as_str()));
    let mut response = completion_result(ctx, &info.meta.etag, checksum, sealing.as_ref());
    if let Some(value) = super::lifecycle::expiration(ctx, &info) {
        let name = actix_web::http::header::HeaderName::from_static("x-amz-expiration");
        response.headers_mut().insert(name, value);
    }
    super::versions::add_version_header(ctx, &mut response, &info.version_id);
    Ok(response)
}

/// A multipart object's checksum, and its parts' (binary) ones.
struct ObjectChecksum {
    algorithm: Algorithm,
    value: String,
    parts: Vec<Vec<u8>>,
}

/// The checksum of the object an upload created with a checksum makes: every part named
/// must have been uploaded with a checksum of the upload's algorithm, matching the one the
/// completion document gives for it, if any (else InvalidPart, as for a wrong ETag). A full
/// object checksum sent with the completion must match (else BadDigest).
/// None when a part has no checksum at all (stored by a version that did not compute the
/// checksums of parts sent without one): the object then gets no checksum, not a wrong one.
fn object_checksum<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    wanted: UploadChecksum,
    document: &[u8],
    requested: &[(u32, String)],
    stored: &[PartInfo],
) -> Result<Option<ObjectChecksum>, S3Error> {
    let algorithm = wanted.algorithm;
    let given = completion_checksums(document, algorithm)?;
    let mut parts = Vec::with_capacity(requested.len());
    for (number, etag) in requested {
        let Some(part) = stored.iter().find(|p| p.number == *number) else {
            return Err(S3Error::from(StoreError::InvalidPart(*number)));
        };
        let Some((part_algorithm, value)) = part_checksum(part) else {
            return Ok(None);
        };
        if part_algorithm != algorithm {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!(
                    "The upload was created using a {} checksum, part {number} was uploaded \
                     with a {} checksum.",
                    algorithm.name().to_ascii_lowercase(),
                    part_algorithm.name().to_ascii_lowercase()
                ),
            ));
        }
        if given.iter().any(|(n, v)| n == number && v.trim() != value) {
            return Err(S3Error::from(StoreError::InvalidPart(*number))
                .with_detail("PartNumber", number.to_string())
                .with_detail("ETag", etag.clone()));
        }
        let binary = checksum::decode_value(algorithm, value)
            .ok_or_else(|| S3Error::internal(format!("part {number}: damaged checksum")))?;
        parts.push((binary, part.size));
    }
    let value = wanted.of_parts(&parts);
    if let Some(declared) = ctx.header(algorithm.header()) {
        if declared.trim() != value {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    algorithm.name()
                ),
            ));
        }
    }
    Ok(Some(ObjectChecksum {
        algorithm,
        value,
        parts: parts.into_iter().map(|(binary, _)| binary).collect(),
    }))
}

/// The (part number, checksum) pairs a completion document gives for `algorithm`.
fn completion_checksums(body: &[u8], algorithm: Algorithm) -> Result<Vec<(u32, String)>, S3Error> {
    let doc = xml::parse(body)?;
    Ok(xml::children(doc.root_element(), "Part")
        .filter_map(|part| {
            let number = xml::child_text(part, "PartNumber")?.trim().parse().ok()?;
            Some((
                number,
                xml::child_text(part, algorithm.element())?.to_string(),
            ))
        })
        .collect())
}

fn completion_result<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    etag: &str,
    checksum: Option<(Algorithm, &str)>,
    sealing: Option<&Sealing>,
) -> HttpResponse {
    let mut w = XmlWriter::new();
    w.open_root("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{}/{}", ctx.bucket, ctx.key));
    w.elem("Bucket", &ctx.bucket);
    w.elem("Key", &ctx.key);
    w.elem("ETag", &quoted(etag));
    if let Some((algorithm, value)) = checksum {
        w.elem(algorithm.element(), value);
        w.elem(
            "ChecksumType",
            checksum::ChecksumType::of_value(value).name(),
        );
    }
    w.close("CompleteMultipartUploadResult");
    written_xml(ctx, w.finish(), sealing)
}

/// A completion of an upload that is gone: the metadata of the object to answer with again
/// (its ETag and checksum) when it repeats a recent successful completion (same part list,
/// and the object it made is still there), else NoSuchUpload, as AWS says of an upload
/// "aborted or completed".
async fn repeated_completion<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
    requested: &[(u32, String)],
) -> Result<ObjectMeta, S3Error> {
    let no_such_upload = || S3Error::from(StoreError::NoSuchUpload).with_detail("UploadId", id);
    let Some(record) = ctx
        .store
        .completed_upload(&ctx.who, &ctx.bucket, &ctx.key, id)
        .await?
    else {
        return Err(no_such_upload());
    };
    if record.parts_digest != part_list_digest(requested) {
        return Err(no_such_upload());
    }
    match ctx
        .store
        .open_object(&ctx.who, &ctx.bucket, &ctx.key, None)
        .await
    {
        Ok(reader) if reader.info().meta.etag == record.etag => Ok(reader.info().meta.clone()),
        Ok(_) | Err(StoreError::NoSuchKey | StoreError::DeleteMarker { .. }) => {
            Err(no_such_upload())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn abort<S: ObjectStore>(ctx: &Ctx<'_, S>, id: &str) -> Result<HttpResponse, S3Error> {
    // The bucket owner may abort any upload; anyone else only the uploads it started.
    if !ctx.access.is_owner {
        let upload = ctx
            .store
            .upload(&ctx.who, &ctx.bucket, &ctx.key, id)
            .await
            .map_err(upload_error(id))?;
        ctx.access.check_upload(&upload.meta, true)?;
    }
    ctx.store
        .abort_multipart(&ctx.who, &ctx.bucket, &ctx.key, id)
        .await
        .map_err(upload_error(id))?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_parts<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    id: &str,
    max_parts: usize,
    marker: u64,
) -> Result<HttpResponse, S3Error> {
    let (upload, mut parts) = ctx
        .store
        .list_parts(&ctx.who, &ctx.bucket, &ctx.key, id)
        .await
        .map_err(upload_error(id))?;
    ctx.access.check_upload(&upload.meta, true)?;
    plain_part_sizes(&upload, &mut parts)?;
    let remaining: Vec<&PartInfo> = parts.iter().filter(|p| p.number as u64 > marker).collect();
    let page = &remaining[..remaining.len().min(max_parts)];
    let truncated = remaining.len() > page.len();
    let owner = initiator(ctx, &upload.meta);

    let mut w = XmlWriter::new();
    w.open_root("ListPartsResult");
    w.elem("Bucket", &ctx.bucket);
    w.elem("Key", &ctx.key);
    w.elem("UploadId", id);
    owner.write_as(&mut w, "Initiator");
    owner.write_as(&mut w, "Owner");
    w.elem("StorageClass", "STANDARD");
    w.elem("PartNumberMarker", &marker.to_string());
    if let Some(last) = page.last() {
        w.elem("NextPartNumberMarker", &last.number.to_string());
    }
    w.elem("MaxParts", &max_parts.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for part in page {
        w.open("Part");
        w.elem("PartNumber", &part.number.to_string());
        w.elem("LastModified", &iso8601(part.last_modified));
        w.elem("ETag", &quoted(&part.etag));
        w.elem("Size", &part.size.to_string());
        if let Some((algorithm, value)) = part_checksum(part) {
            w.elem(algorithm.element(), value);
        }
        w.close("Part");
    }
    if let Some(upload_checksum) = upload_checksum(&upload) {
        w.elem("ChecksumAlgorithm", upload_checksum.algorithm.name());
        w.elem("ChecksumType", upload_checksum.kind.name());
    }
    w.close("ListPartsResult");
    Ok(xml_response(w.finish()))
}

/// One page of ListMultipartUploads: uploads and common prefixes, and whether more follow.
struct UploadPage {
    uploads: Vec<crate::store::UploadInfo>,
    prefixes: Vec<String>,
    truncated: bool,
}

async fn list_upload_page<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    prefix: &str,
    delimiter: &str,
    mut after: Option<(String, Option<String>)>,
    max: usize,
) -> Result<UploadPage, S3Error> {
    let mut page = UploadPage {
        uploads: Vec::new(),
        prefixes: Vec::new(),
        truncated: false,
    };
    if max == 0 {
        return Ok(page);
    }
    loop {
        let want = max - page.uploads.len() - page.prefixes.len() + 1;
        let batch = ctx
            .store
            .list_multipart_uploads(
                &ctx.who,
                &ctx.bucket,
                prefix,
                after.as_ref().map(|(k, id)| (k.as_str(), id.as_deref())),
                want,
            )
            .await?;
        let exhausted = batch.len() < want;
        let mut refetch = false;
        for upload in batch {
            let cp = common_prefix(&upload.key, prefix, delimiter).map(str::to_string);
            if let Some(cp) = &cp {
                if page.prefixes.last() == Some(cp) {
                    // Rare: a key sorting past the skip point below, under the same prefix.
                    after = Some((upload.key.clone(), None));
                    continue;
                }
            }
            if page.uploads.len() + page.prefixes.len() == max {
                page.truncated = true;
                return Ok(page);
            }
            match cp {
                Some(cp) => {
                    // Skip everything under the prefix: no valid UTF-8 key continues it with
                    // a character above U+10FFFF.
                    after = Some((format!("{cp}{}", char::MAX), None));
                    page.prefixes.push(cp);
                    refetch = true;
                    break;
                }
                None => {
                    after = Some((upload.key.clone(), Some(upload.upload_id.clone())));
                    page.uploads.push(upload);
                }
            }
        }
        if exhausted && !refetch {
            return Ok(page);
        }
    }
}

pub async fn list_uploads<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    params: ListUploadsParams<'_>,
) -> Result<HttpResponse, S3Error> {
    let ListUploadsParams {
        prefix,
        delimiter,
        key_marker,
        upload_id_marker: id_marker,
        max_uploads,
    } = params;
    let after = if key_marker.is_empty() {
        None
    } else if id_marker.is_none()
        && common_prefix(key_marker, prefix, delimiter) == Some(key_marker)
    {
        // A NextKeyMarker naming a common prefix: continue past the whole prefix.
        Some((format!("{key_marker}{}", char::MAX), None))
    } else {
        Some((key_marker.to_string(), id_marker.map(str::to_string)))
    };
    let page = list_upload_page(ctx, prefix, delimiter, after, max_uploads).await?;

    let mut w = XmlWriter::new();
    w.open_root("ListMultipartUploadsResult");
    w.elem("Bucket", &ctx.bucket);
    w.elem("KeyMarker", key_marker);
    w.elem("UploadIdMarker", id_marker.unwrap_or(""));
    if page.truncated {
        // The last entry of the page, upload or prefix, whichever sorts last.
        let last_upload = page
            .uploads
            .last()
            .map(|u| (u.key.as_str(), u.upload_id.as_str()));
        let last_prefix = page.prefixes.last().map(|p| (p.as_str(), ""));
        let next = match (last_upload, last_prefix) {
            (Some(u), Some(p)) => Some(if p.0 > u.0 { p } else { u }),
            (u, p) => u.or(p),
        };
        if let Some((key, id)) = next {
            w.elem("NextKeyMarker", key);
            w.elem("NextUploadIdMarker", id);
        }
    }
    if !delimiter.is_empty() {
        w.elem("Delimiter", delimiter);
    }
    w.elem("Prefix", prefix);
    w.elem("MaxUploads", &max_uploads.to_string());
    w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    for upload in &page.uploads {
        w.open("Upload");
        w.elem("Key", &upload.key);
        w.elem("UploadId", &upload.upload_id);
        let owner = initiator(ctx, &upload.meta);
        owner.write_as(&mut w, "Initiator");
        owner.write_as(&mut w, "Owner");
        w.elem("StorageClass", "STANDARD");
        w.elem("Initiated", &iso8601(upload.initiated));
        w.close("Upload");
    }
    for cp in &page.prefixes {
        w.open("CommonPrefixes");
        w.elem("Prefix", cp);
        w.close("CommonPrefixes");
    }
    w.close("ListMultipartUploadsResult");
    Ok(xml_response(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn part(number: u32, size: u64, etag: &str) -> PartInfo {
        PartInfo {
            number,
            size,
            etag: etag.into(),
            last_modified: UNIX_EPOCH,
            checksum: None,
        }
    }

    const MD5_A: &str = "0cc175b9c0f1b6a831c399e269772661"; // md5("a")
    const MD5_B: &str = "92eb5ffee6ae2fec3ad71c777531578f"; // md5("b")

    #[test]
    fn completion_etag_is_md5_of_part_md5s() {
        let stored = [part(1, MIN_PART_SIZE, MD5_A), part(2, 1, MD5_B)];
        let requested = [(1, MD5_A.to_string()), (2, MD5_B.to_string())];
        let mut md5 = Md5::new();
        md5.update(unhex(MD5_A).unwrap());
        md5.update(unhex(MD5_B).unwrap());
        let expected = format!("{}-2", hex(&md5.finalize()));
        let (etag, sizes) = completion_etag(&requested, &stored).unwrap();
        assert_eq!(etag, expected);
        assert_eq!(sizes, [MIN_PART_SIZE, 1]);
    }

    #[test]
    fn completion_errors() {
        let stored = [part(1, 10, MD5_A), part(2, 1, MD5_B)];
        let code = |req: &[(u32, &str)]| {
            let req: Vec<(u32, String)> = req.iter().map(|(n, e)| (*n, e.to_string())).collect();
            completion_etag(&req, &stored).unwrap_err().code
        };
        assert_eq!(
            code(&[(2, MD5_B), (1, MD5_A)]),
            S3ErrorCode::InvalidPartOrder
        );
        assert_eq!(
            code(&[(1, MD5_A), (1, MD5_A)]),
            S3ErrorCode::InvalidPartOrder
        );
        assert_eq!(code(&[(3, MD5_A)]), S3ErrorCode::InvalidPart);
        assert_eq!(code(&[(1, MD5_B)]), S3ErrorCode::InvalidPart);
        assert_eq!(code(&[(1, MD5_A), (2, MD5_B)]), S3ErrorCode::EntityTooSmall);
        // A single small part is fine: it is the last.
        let (ok, _) = completion_etag(&[(1, MD5_A.to_string())], &stored).unwrap();
        assert!(ok.ends_with("-1"));
    }

    #[test]
    fn completion_documents() {
        let parts = parse_completion(
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"abc\"</ETag></Part>\
              <Part><ETag>def</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>",
        )
        .unwrap();
        assert_eq!(parts, vec![(1, "abc".to_string()), (2, "def".to_string())]);
        for bad in [
            &b"<CompleteMultipartUpload/>"[..],
            b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
            b"not xml",
        ] {
            assert_eq!(parse_completion(bad).unwrap_err().code, S3ErrorCode::MalformedXML);
        }
    }
}
