//! GetObjectAttributes: what HEAD and ListParts would say of an object, as one XML document.

use actix_web::HttpResponse;

use super::object::open_readable;
use crate::s3::checksum::{Algorithm, ChecksumType};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::handlers::multipart::MAX_PART_NUMBER;
use crate::s3::objmeta;
use crate::s3::sse::object as sse_object;
use crate::s3::xml::XmlWriter;
use crate::s3::Ctx;
use crate::store::{ObjectInfo, ObjectReader, ObjectStore};
use crate::time::http_date;

/// Attributes GetObjectAttributes can be asked for.
const OBJECT_ATTRIBUTES: &[&str] = &[
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];

/// The most parts one answer lists (`x-amz-max-parts`), as ListParts.
const MAX_PARTS: usize = 1000;

pub async fn get_object_attributes<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    let wanted: Vec<&str> = ctx
        .header("x-amz-object-attributes")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    if wanted.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
        ));
    }
    if let Some(unknown) = wanted.iter().find(|name| !OBJECT_ATTRIBUTES.contains(name)) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Invalid attribute name specified: {unknown}"),
        )
        .with_detail("ArgumentName", "x-amz-object-attributes")
        .with_detail("ArgumentValue", *unknown));
    }
    let page = PartPage::from_request(ctx)?;
    let reader = open_readable(ctx).await?;
    let info = reader.info();
    // An SSE-C object tells its attributes only to who has its key (as AWS).
    sse_object::open(ctx, info, false)?;
    let mut w = XmlWriter::new();
    w.open_root("GetObjectAttributesResponse");
    for name in OBJECT_ATTRIBUTES
        .iter()
        .filter(|name| wanted.contains(name))
    {
        match *name {
            // Unquoted here, unlike in every header and listing.
            "ETag" => w.elem("ETag", &info.meta.etag),
            "Checksum" => {
                if let Some((algorithm, value)) = object_checksum(info) {
                    w.open("Checksum");
                    w.elem(algorithm.element(), value);
                    w.elem("ChecksumType", ChecksumType::of_value(value).name());
                    w.close("Checksum");
                }
            }
            "ObjectParts" => object_parts(&mut w, info, page),
            "StorageClass" => w.elem("StorageClass", "STANDARD"),
            _ => w.elem("ObjectSize", &sse_object::plain_size(info).to_string()),
        }
    }
    w.close("GetObjectAttributesResponse");
    let mut response = HttpResponse::Ok();
    super::versions::version_header(ctx, &mut response, &info.version_id);
    Ok(response
        .insert_header(("Content-Type", "application/xml"))
        .insert_header(("Last-Modified", http_date(info.last_modified)))
        .body(w.finish()))
}

fn object_checksum(info: &ObjectInfo) -> Option<(Algorithm, &str)> {
    let (header, value) = objmeta::checksum(&info.meta)?;
    Some((Algorithm::from_header(header)?, value))
}

/// Which parts to list: `x-amz-max-parts` after `x-amz-part-number-marker`.
#[derive(Clone, Copy)]
struct PartPage {
    max: usize,
    marker: usize,
}

impl PartPage {
    fn from_request<S>(ctx: &Ctx<'_, S>) -> Result<PartPage, S3Error> {
        let number = |header: &str, default: usize| -> Result<usize, S3Error> {
            match ctx.header(header) {
                None => Ok(default),
                Some(text) => text.trim().parse().map_err(|_| {
                    S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        format!("{header} must be a non-negative integer"),
                    )
                    .with_detail("ArgumentName", header)
                    .with_detail("ArgumentValue", text)
                }),
            }
        };
        Ok(PartPage {
            max: number("x-amz-max-parts", MAX_PARTS)?.min(MAX_PARTS),
            marker: number("x-amz-part-number-marker", 0)?,
        })
    }
}

/// ObjectParts of a multipart object. The parts themselves are listed only for an object
/// with a checksum, as AWS does for general purpose buckets (GetObjectAttributesParts).
fn object_parts(w: &mut XmlWriter, info: &ObjectInfo, page: PartPage) {
    let Some(sizes) = objmeta::get(&info.meta, objmeta::PARTS)
        .and_then(|text| objmeta::decode_parts(text, MAX_PART_NUMBER as usize))
    else {
        return;
    };
    w.open("ObjectParts");
    w.elem("PartsCount", &sizes.len().to_string());
    if let Some((algorithm, _)) = object_checksum(info) {
        let checksums = objmeta::get(&info.meta, objmeta::PART_CHECKSUMS)
            .and_then(|text| objmeta::decode_part_checksums(text, algorithm, sizes.len()));
        let first = page.marker.min(sizes.len());
        let last = first.saturating_add(page.max).min(sizes.len());
        w.elem("PartNumberMarker", &page.marker.to_string());
        if last > first {
            w.elem("NextPartNumberMarker", &last.to_string());
        }
        w.elem("MaxParts", &page.max.to_string());
        w.elem(
            "IsTruncated",
            if last < sizes.len() { "true" } else { "false" },
        );
        for index in first..last {
            w.open("Part");
            w.elem("PartNumber", &(index + 1).to_string());
            w.elem("Size", &sizes[index].to_string());
            if let Some(checksums) = &checksums {
                w.elem(algorithm.element(), &checksums[index]);
            }
            w.close("Part");
        }
    }
    w.close("ObjectParts");
}
