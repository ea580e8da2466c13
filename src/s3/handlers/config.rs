//! Bucket and object sub-resources: ACL, policy, tagging, versioning, and the configurations
//! we do not keep but clients probe.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::HttpResponse;

use super::object::open_readable;
use super::versions;
use super::xml_response;
use crate::s3::access::{access_denied, DOC_POLICY, DOC_TAGGING};
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::objmeta;
use crate::s3::policy::{Policy, MAX_POLICY_SIZE};
use crate::s3::tagging::{self, MAX_BUCKET_TAGS, MAX_OBJECT_TAGS};
use crate::s3::versioning;
use crate::s3::xml::XmlWriter;
use crate::s3::Ctx;
use crate::store::{ObjectInfo, ObjectReader, ObjectStore, StoreError};

// ------------------------------------------------------------------------------------------
// Object metadata updates

/// Rewrites the stored headers of the request's version (`versionId`, else the latest) in
/// place (no new version, data untouched) and returns the new info. An object overwritten
/// meanwhile is read again, so the change lands on the newest version.
pub(super) async fn update_object<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    change: impl Fn(&mut Vec<(String, String)>),
) -> Result<ObjectInfo, S3Error> {
    // Put requests read their document first: a bad document is reported before this.
    let version_id = versions::requested(ctx)?;
    let mut attempt = 1;
    loop {
        let reader = open_readable(ctx).await?;
        let read = reader.info().meta.clone();
        drop(reader);
        let mut meta = read.clone();
        change(&mut meta.headers);
        let result = ctx
            .store
            .update_meta(&ctx.who, &ctx.bucket, &ctx.key, version_id, meta, &read)
            .await;
        match result {
            Err(StoreError::SourceChanged) if attempt < super::copy::COPY_ATTEMPTS => attempt += 1,
            Err(e) => {
                return Err(versions::read_error(e, version_id).with_detail("Key", ctx.key.clone()))
            }
            Ok(info) => return Ok(info),
        }
    }
}

pub async fn get_object_tagging<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let reader = open_readable(ctx).await?;
    let tags = objmeta::get(&reader.info().meta, objmeta::TAGGING)
        .map(tagging::decode)
        .unwrap_or_default();
    let mut response = HttpResponse::Ok();
    versions::version_header(ctx, &mut response, &reader.info().version_id);
    Ok(response
        .insert_header((CONTENT_TYPE, "application/xml"))
        .body(tagging::to_xml(&tags)))
}

pub async fn put_object_tagging<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let tags = tagging::parse_xml(&document, MAX_OBJECT_TAGS)?;
    let stored = (!tags.is_empty()).then(|| tagging::encode(&tags));
    let info = update_object(ctx, |headers| {
        objmeta::set(headers, objmeta::TAGGING, stored.clone())
    })
    .await?;
    let mut response = HttpResponse::Ok();
    versions::version_header(ctx, &mut response, &info.version_id);
    Ok(response.finish())
}

pub async fn delete_object_tagging<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    let info = update_object(ctx, |headers| objmeta::set(headers, objmeta::TAGGING, None)).await?;
    let mut response = HttpResponse::NoContent();
    versions::version_header(ctx, &mut response, &info.version_id);
    Ok(response.finish())
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

/// The bucket's versioning state; an empty VersioningConfiguration for a bucket whose
/// versioning was never enabled, as AWS answers.
pub async fn get_bucket_versioning<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    Ok(xml_response(versioning::to_xml(ctx.versioning())))
}

/// Enabled or Suspended; a bucket never goes back to unversioned (no body says so). MFA
/// delete is not offered: without the `x-amz-mfa` header AWS refuses it as this does, with
/// one this server says it does not implement it.
pub async fn put_bucket_versioning<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let request = versioning::parse_xml(&document)?;
    if request.mfa_delete {
        return Err(match ctx.header("x-amz-mfa") {
            None => S3Error::new(
                S3ErrorCode::AccessDenied,
                "Mfa Authentication must be used for this request",
            ),
            Some(_) => S3Error::new(
                S3ErrorCode::NotImplemented,
                "MFA delete is not offered by this server",
            ),
        });
    }
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    let locked = ctx
        .access
        .rules()
        .is_some_and(|rules| rules.object_lock.is_some());
    if locked && request.status == Some(crate::store::Versioning::Suspended) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidBucketState,
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
        ));
    }
    if let Some(state) = request.status {
        let stored = versioning::to_stored(state).map(str::to_owned);
        set_bucket_document(ctx, versioning::DOC_VERSIONING, stored).await?;
    }
    Ok(HttpResponse::Ok().finish())
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
