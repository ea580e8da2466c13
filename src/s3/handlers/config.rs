//! Bucket and object sub-resources: ACL, policy, tagging, versioning, and the configurations
//! we do not keep but clients probe.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::HttpResponse;

use super::object::open_readable;
use super::xml_response;
use crate::s3::access::{access_denied, DOC_POLICY, DOC_TAGGING};
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::objmeta;
use crate::s3::policy::{Policy, MAX_POLICY_SIZE};
use crate::s3::router::check_version_id;
use crate::s3::tagging::{self, MAX_BUCKET_TAGS, MAX_OBJECT_TAGS};
use crate::s3::xml::XmlWriter;
use crate::s3::Ctx;
use crate::store::{CopySource, ObjectInfo, ObjectReader, ObjectStore, StoreError, WriteCondition};

// ------------------------------------------------------------------------------------------
// Object metadata updates

/// Rewrites an object's stored headers (data untouched, shared) and returns the new info.
/// An object overwritten meanwhile is read again, so the change lands on the newest version.
pub(super) async fn update_object<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    change: impl Fn(&mut Vec<(String, String)>),
) -> Result<ObjectInfo, S3Error> {
    // Put requests read their document first: a bad document is reported before this.
    check_version_id(ctx.query)?;
    let mut attempt = 1;
    loop {
        let reader = open_readable(ctx).await?;
        let read = reader.info().meta.clone();
        drop(reader);
        let mut meta = read.clone();
        change(&mut meta.headers);
        let source = CopySource {
            bucket: &ctx.bucket,
            key: &ctx.key,
            if_meta: Some(&read),
        };
        let result = ctx
            .store
            .copy_object(
                &ctx.who,
                &source,
                &ctx.bucket,
                &ctx.key,
                meta,
                WriteCondition::None,
            )
            .await;
        match result {
            Err(StoreError::SourceChanged) if attempt < super::copy::COPY_ATTEMPTS => attempt += 1,
            result => return Ok(result?),
        }
    }
}

pub async fn get_object_tagging<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let reader = open_readable(ctx).await?;
    let tags = objmeta::get(&reader.info().meta, objmeta::TAGGING)
        .map(tagging::decode)
        .unwrap_or_default();
    Ok(xml_response(tagging::to_xml(&tags)))
}

pub async fn put_object_tagging<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let tags = tagging::parse_xml(&document, MAX_OBJECT_TAGS)?;
    let stored = (!tags.is_empty()).then(|| tagging::encode(&tags));
    update_object(ctx, |headers| {
        objmeta::set(headers, objmeta::TAGGING, stored.clone())
    })
    .await?;
    Ok(HttpResponse::Ok().finish())
}

pub async fn delete_object_tagging<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    update_object(ctx, |headers| objmeta::set(headers, objmeta::TAGGING, None)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ------------------------------------------------------------------------------------------
// Bucket documents

async fn bucket_document<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    name: &str,
) -> Result<Option<String>, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    let docs = ctx.store.bucket_documents(&ctx.bucket).await?;
    Ok(docs.get(name).map(str::to_string))
}

pub(super) async fn set_bucket_document<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    name: &str,
    document: Option<String>,
) -> Result<(), S3Error> {
    ctx.store
        .put_bucket_document(&ctx.who, &ctx.bucket, name, document)
        .await?;
    ctx.rules.forget(&ctx.bucket);
    Ok(())
}

pub async fn get_bucket_policy<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    match bucket_document(ctx, DOC_POLICY).await? {
        Some(policy) => Ok(HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/json"))
            .body(policy)),
        None => Err(S3Error::new(
            S3ErrorCode::NoSuchBucketPolicy,
            "The bucket policy does not exist",
        )
        .with_detail("BucketName", ctx.bucket.clone())),
    }
}

pub async fn put_bucket_policy<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_POLICY_SIZE).await?;
    let text = std::str::from_utf8(&document)
        .map_err(|_| S3Error::new(S3ErrorCode::MalformedPolicy, "Policies must be UTF-8 JSON"))?;
    let policy = Policy::parse(text, &ctx.bucket)?;
    let blocked = ctx
        .access
        .rules()
        .is_some_and(|rules| rules.public_block.block_public_policy);
    if blocked && policy.is_public() {
        return Err(access_denied());
    }
    set_bucket_document(ctx, DOC_POLICY, Some(text.to_string())).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn delete_bucket_policy<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    set_bucket_document(ctx, DOC_POLICY, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn get_bucket_tagging<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    match bucket_document(ctx, DOC_TAGGING).await? {
        Some(stored) => Ok(xml_response(tagging::to_xml(&tagging::decode(&stored)))),
        None => Err(
            S3Error::new(S3ErrorCode::NoSuchTagSet, "The TagSet does not exist")
                .with_detail("BucketName", ctx.bucket.clone()),
        ),
    }
}

pub async fn put_bucket_tagging<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let tags = tagging::parse_xml(&document, MAX_BUCKET_TAGS)?;
    set_bucket_document(ctx, DOC_TAGGING, Some(tagging::encode(&tags))).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn delete_bucket_tagging<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    set_bucket_document(ctx, DOC_TAGGING, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ------------------------------------------------------------------------------------------
// Versioning and the configurations we do not keep

/// Our buckets are never versioned: an empty VersioningConfiguration, as AWS answers for a
/// bucket whose versioning was never enabled.
pub async fn get_bucket_versioning<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    let mut w = XmlWriter::new();
    w.empty_root("VersioningConfiguration");
    Ok(xml_response(w.finish()))
}

/// GET: the AWS error for "never configured" or the documented empty answer. PUT:
/// NotImplemented. DELETE: nothing is configured, so nothing is left configured: 204.
pub async fn bucket_config<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    name: &'static str,
) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    if name.starts_with("Put") {
        return Err(S3Error::not_implemented(name));
    }
    if name.starts_with("Delete") {
        return Ok(HttpResponse::NoContent().finish());
    }
    use S3ErrorCode::*;
    let missing = |code, message: &'static str| {
        Err(S3Error::new(code, message).with_detail("BucketName", ctx.bucket.clone()))
    };
    let mut w = XmlWriter::new();
    match name {
        "GetBucketWebsite" => {
            return missing(
                NoSuchWebsiteConfiguration,
                "The specified bucket does not have a website configuration",
            )
        }
        "GetBucketReplication" => {
            return missing(
                ReplicationConfigurationNotFoundError,
                "The replication configuration was not found",
            )
        }
        "GetObjectLockConfiguration" => {
            return missing(
                ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket",
            )
        }
        "GetBucketLogging" => w.empty_root("BucketLoggingStatus"),
        "GetBucketNotificationConfiguration" => w.empty_root("NotificationConfiguration"),
        "GetBucketAccelerateConfiguration" => w.empty_root("AccelerateConfiguration"),
        "GetBucketRequestPayment" => {
            w.open_root("RequestPaymentConfiguration");
            w.elem("Payer", "BucketOwner");
            w.close("RequestPaymentConfiguration");
        }
        _ => return Err(S3Error::not_implemented(name)),
    }
    Ok(xml_response(w.finish()))
}
