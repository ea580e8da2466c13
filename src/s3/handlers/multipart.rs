//! Multipart upload: create, upload parts, complete, abort, and the two listings.

use actix_web::HttpResponse;
use md5::{Digest, Md5};

use super::object::{meta_headers, stage_body, write_condition};
use super::{owner_name, query_number, quoted, xml_response};
use crate::s3::body::{hex, unhex, RequestBody, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, XmlWriter};
use crate::s3::Ctx;
use crate::store::{ObjectMeta, ObjectStore, PartInfo, StoreError};
use crate::time::iso8601;

/// Part numbers run from 1 to this (as S3).
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Every part but the last has at least this many bytes (as S3).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest part (as S3).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// The most parts or uploads one listing page returns.
pub const MAX_LISTED: usize = 1000;

fn upload_id<'a, S>(ctx: &Ctx<'a, S>) -> &'a str {
    ctx.query.get("uploadId").unwrap_or("")
}

/// Maps store errors, naming the upload in NoSuchUpload.
fn upload_error(id: &str) -> impl Fn(StoreError) -> S3Error + '_ {
    move |e| match e {
        StoreError::NoSuchUpload => S3Error::from(e).with_detail("UploadId", id),
        e => e.into(),
    }
}

fn owner_elems(w: &mut XmlWriter, element: &str, name: &str) {
    w.open(element);
    w.elem("ID", name);
    w.elem("DisplayName", name);
    w.close(element);
}

pub async fn create<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let meta = ObjectMeta {
        etag: String::new(),
        headers: meta_headers(ctx)?,
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
    Ok(xml_response(w.finish()))
}

fn part_number<S>(ctx: &Ctx<'_, S>) -> Result<u32, S3Error> {
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"),
        )
        .with_detail("ArgumentName", "partNumber")
    };
    let n = query_number(ctx, "partNumber").map_err(|_| invalid())?;
    match n {
        Some(n) if (1..=MAX_PART_NUMBER as u64).contains(&n) => Ok(n as u32),
        _ => Err(invalid()),
    }
}

pub async fn upload_part<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let number = part_number(ctx)?;
    let id = upload_id(ctx);
    let body = stage_body(ctx, body, MAX_PART_SIZE).await?;
    let mut response = HttpResponse::Ok();
    body.echo_checksum(&mut response);
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
        )
        .await
        .map_err(upload_error(id))?;
    Ok(response
        .insert_header(("ETag", quoted(&part.etag)))
        .finish())
}

/// The (part number, unquoted ETag) list of a CompleteMultipartUpload document.
fn parse_completion(body: &[u8]) -> Result<Vec<(u32, String)>, S3Error> {
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
fn completion_etag(requested: &[(u32, String)], stored: &[PartInfo]) -> Result<String, S3Error> {
    if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        ));
    }
    let mut md5 = Md5::new();
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
    }
    Ok(format!("{}-{}", hex(&md5.finalize()), requested.len()))
}

pub async fn complete<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let id = upload_id(ctx);
    let condition = write_condition(ctx)?;
    let document = body.read_capped(MAX_XML_BODY).await?;
    let requested = parse_completion(&document)?;
    let (upload, stored) = ctx
        .store
        .list_parts(&ctx.who, &ctx.bucket, &ctx.key, id)
        .await
        .map_err(upload_error(id))?;
    let etag = completion_etag(&requested, &stored)?;
    let meta = ObjectMeta {
        etag,
        headers: upload.meta.headers,
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
        )
        .await?;
    let mut w = XmlWriter::new();
    w.open_root("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{}/{}", ctx.bucket, ctx.key));
    w.elem("Bucket", &ctx.bucket);
    w.elem("Key", &ctx.key);
    w.elem("ETag", &quoted(&info.meta.etag));
    w.close("CompleteMultipartUploadResult");
    Ok(xml_response(w.finish()))
}

pub async fn abort<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let id = upload_id(ctx);
    ctx.store
        .abort_multipart(&ctx.who, &ctx.bucket, &ctx.key, id)
        .await
        .map_err(upload_error(id))?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_parts<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let id = upload_id(ctx);
    let max_parts =
        query_number(ctx, "max-parts")?.map_or(MAX_LISTED, |n| n.min(MAX_LISTED as u64) as usize);
    let marker = query_number(ctx, "part-number-marker")?.unwrap_or(0);
    let (_upload, parts) = ctx
        .store
        .list_parts(&ctx.who, &ctx.bucket, &ctx.key, id)
        .await
        .map_err(upload_error(id))?;
    let remaining: Vec<&PartInfo> = parts.iter().filter(|p| p.number as u64 > marker).collect();
    let page = &remaining[..remaining.len().min(max_parts)];
    let truncated = remaining.len() > page.len();
    let owner = owner_name(&ctx.who);

    let mut w = XmlWriter::new();
    w.open_root("ListPartsResult");
    w.elem("Bucket", &ctx.bucket);
    w.elem("Key", &ctx.key);
    w.elem("UploadId", id);
    owner_elems(&mut w, "Initiator", owner);
    owner_elems(&mut w, "Owner", owner);
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
        w.close("Part");
    }
    w.close("ListPartsResult");
    Ok(xml_response(w.finish()))
}

pub async fn list_uploads<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let prefix = ctx.query.get("prefix").unwrap_or("");
    let key_marker = ctx.query.get("key-marker").unwrap_or("");
    let id_marker = ctx.query.get("upload-id-marker").filter(|m| !m.is_empty());
    let max_uploads =
        query_number(ctx, "max-uploads")?.map_or(MAX_LISTED, |n| n.min(MAX_LISTED as u64) as usize);
    let after = (!key_marker.is_empty()).then_some((key_marker, id_marker));
    let mut uploads = ctx
        .store
        .list_multipart_uploads(&ctx.who, &ctx.bucket, prefix, after, max_uploads + 1)
        .await?;
    let truncated = uploads.len() > max_uploads;
    uploads.truncate(max_uploads);
    let owner = owner_name(&ctx.who);

    let mut w = XmlWriter::new();
    w.open_root("ListMultipartUploadsResult");
    w.elem("Bucket", &ctx.bucket);
    w.elem("KeyMarker", key_marker);
    w.elem("UploadIdMarker", id_marker.unwrap_or(""));
    if truncated {
        if let Some(last) = uploads.last() {
            w.elem("NextKeyMarker", &last.key);
            w.elem("NextUploadIdMarker", &last.upload_id);
        }
    }
    w.elem("Prefix", prefix);
    w.elem("MaxUploads", &max_uploads.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for upload in &uploads {
        w.open("Upload");
        w.elem("Key", &upload.key);
        w.elem("UploadId", &upload.upload_id);
        owner_elems(&mut w, "Initiator", owner);
        owner_elems(&mut w, "Owner", owner);
        w.elem("StorageClass", "STANDARD");
        w.elem("Initiated", &iso8601(upload.initiated));
        w.close("Upload");
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
        assert_eq!(completion_etag(&requested, &stored).unwrap(), expected);
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
        let ok = completion_etag(&[(1, MD5_A.to_string())], &stored).unwrap();
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
