//! Put/Get/DeletePublicAccessBlock, Put/Get/DeleteBucketOwnershipControls and
//! GetBucketPolicyStatus: the bucket settings that shape what `s3::access` decides.

use actix_web::HttpResponse;

use super::config::set_bucket_document;
use super::xml_response;
use crate::config::ObjectOwnership;
use crate::s3::access::ownership::{self, DOC_OWNERSHIP};
use crate::s3::access::public_block::{self, DOC_PUBLIC_ACCESS_BLOCK};
use crate::s3::access::BucketRules;
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::XmlWriter;
use crate::s3::Ctx;
use crate::store::ObjectStore;

/// The rules the request was decided with (fresh: changes made here forget them at once).
async fn rules<'c, S: ObjectStore>(ctx: &'c Ctx<'_, S>) -> Result<&'c BucketRules, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    ctx.access.rules().ok_or_else(|| {
        S3Error::internal("a bucket request reached its handler without its bucket's rules")
    })
}

fn not_found(ctx: &Ctx<'_, impl ObjectStore>, code: S3ErrorCode, message: &'static str) -> S3Error {
    S3Error::new(code, message).with_detail("BucketName", ctx.bucket.clone())
}

pub async fn get_public_access_block<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    match rules(ctx).await?.own_public_block {
        Some(block) => Ok(xml_response(public_block::to_xml(block))),
        None => Err(not_found(
            ctx,
            S3ErrorCode::NoSuchPublicAccessBlockConfiguration,
            "The public access block configuration was not found",
        )),
    }
}

pub async fn put_public_access_block<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let block = public_block::parse_xml(&document)?;
    let stored = public_block::to_xml(block);
    set_bucket_document(ctx, DOC_PUBLIC_ACCESS_BLOCK, Some(stored)).await?;
    Ok(HttpResponse::Ok().finish())
}

pub async fn delete_public_access_block<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    set_bucket_document(ctx, DOC_PUBLIC_ACCESS_BLOCK, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn get_ownership_controls<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    let rules = rules(ctx).await?;
    if !rules.ownership_set {
        return Err(not_found(
            ctx,
            S3ErrorCode::OwnershipControlsNotFoundError,
            "The bucket ownership controls were not found",
        ));
    }
    Ok(xml_response(ownership::to_xml(rules.ownership)))
}

pub async fn put_ownership_controls<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let chosen = ownership::parse_xml(&document)?;
    // ACLs cannot be disabled while they give anyone but the owner something (AWS: "Bucket
    // cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting").
    if chosen == ObjectOwnership::BucketOwnerEnforced && rules(ctx).await?.acl_shared {
        return Err(S3Error::new(
            S3ErrorCode::InvalidBucketAclWithObjectOwnership,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        ));
    }
    set_bucket_document(ctx, DOC_OWNERSHIP, Some(ownership::to_xml(chosen))).await?;
    Ok(HttpResponse::Ok().finish())
}

pub async fn delete_ownership_controls<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    set_bucket_document(ctx, DOC_OWNERSHIP, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Whether the bucket's policy makes it public (AWS's definition, `Policy::is_public`).
pub async fn get_policy_status<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let Some(policy) = &rules(ctx).await?.policy else {
        return Err(not_found(
            ctx,
            S3ErrorCode::NoSuchBucketPolicy,
            "The bucket policy does not exist",
        ));
    };
    let mut w = XmlWriter::new();
    w.open_root("PolicyStatus");
    w.elem(
        "IsPublic",
        if policy.is_public() { "true" } else { "false" },
    );
    w.close("PolicyStatus");
    Ok(xml_response(w.finish()))
}
