//! Put/Get/DeleteBucketLifecycleConfiguration, and the `x-amz-expiration` header of objects
//! a rule will expire.

use crate::md5_digest::Md5;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::config::set_bucket_document;
use super::xml_response;
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::lifecycle::{self, expiry, DOC_LIFECYCLE};
use crate::s3::{objmeta, tagging, Ctx};
use crate::store::{ObjectInfo, ObjectStore};

/// Bytes of a lifecycle configuration as stored (rewritten by `to_xml`): SX keeps a bucket
/// document in one file meta value of at most 64 KiB, so both backends refuse more, with
/// room left for the meta's key.
pub const MAX_STORED_LIFECYCLE: usize = 60 * 1024;

pub async fn get<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    let docs = ctx.store.bucket_documents(&ctx.bucket).await?;
    match docs.get(DOC_LIFECYCLE) {
        Some(document) => Ok(xml_response(document.to_string())),
        None => Err(S3Error::new(
            S3ErrorCode::NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist",
        )
        .with_detail("BucketName", ctx.bucket.clone())),
    }
}

/// S3 requires the body's integrity to be declared: Content-MD5 or a flexible checksum
/// (`x-amz-checksum-*` or its trailer, which the body reader verifies).
pub async fn put<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let md5 = super::object::content_md5(ctx)?;
    if md5.is_none() && body.checksum.is_none() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: Content-MD5",
        ));
    }
    let document = body.read_capped(MAX_XML_BODY).await?;
    if md5.is_some_and(|md5| md5[..] != Md5::digest(&document)[..]) {
        return Err(S3Error::new(
            S3ErrorCode::BadDigest,
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    let parsed = lifecycle::parse_xml(&document)?;
    let stored = lifecycle::to_xml(&parsed);
    if stored.len() > MAX_STORED_LIFECYCLE {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!(
                "The lifecycle configuration is {} bytes once stored, over the {MAX_STORED_LIFECYCLE} this server keeps per bucket",
                stored.len()
            ),
        ));
    }
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    set_bucket_document(ctx, DOC_LIFECYCLE, Some(stored)).await?;
    Ok(HttpResponse::Ok().finish())
}

pub async fn delete<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    set_bucket_document(ctx, DOC_LIFECYCLE, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds `x-amz-expiration` when an enabled rule of the bucket will expire this object.
pub fn add_expiration<S>(ctx: &Ctx<'_, S>, info: &ObjectInfo, builder: &mut HttpResponseBuilder) {
    if let Some(value) = expiration(ctx, info) {
        builder.insert_header(("x-amz-expiration", value));
    }
}

/// The `x-amz-expiration` of an object, if an enabled rule of its bucket will expire it
/// (from the parsed configuration cached with the bucket's rules).
pub fn expiration<S>(ctx: &Ctx<'_, S>, info: &ObjectInfo) -> Option<HeaderValue> {
    let lifecycle = ctx.access.rules()?.lifecycle.as_deref()?;
    let tags = objmeta::get(&info.meta, objmeta::TAGGING)
        .map(tagging::decode)
        .unwrap_or_default();
    let size = info.meta.size.unwrap_or(info.size);
    let found = expiry::object_expiry(
        lifecycle,
        &info.key,
        size,
        &tags,
        info.last_modified,
        ctx.config.lifecycle_day,
    );
    let (when, rule_id) = found?;
    HeaderValue::from_str(&expiry::expiration_header(when, rule_id)).ok()
}
