//! GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl. What the ACLs allow is decided in
//! `s3::access`; here they are read and written.

use actix_web::HttpResponse;

use super::config::{set_bucket_document, update_object};
use super::object::open_readable;
use super::xml_response;
use crate::s3::access::DOC_ACL;
use crate::s3::acl::{self, AclRequest};
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::identity::Identity;
use crate::s3::objmeta;
use crate::s3::Ctx;
use crate::store::{ObjectReader, ObjectStore};

/// The ACL a Put*Acl request sets: from the `x-amz-acl` / `x-amz-grant-*` headers or from an
/// `AccessControlPolicy` body, never both. `owner` owns the resource.
async fn requested_acl<S>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
    owner: &Identity,
) -> Result<AclRequest, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let has_body = !document.iter().all(u8::is_ascii_whitespace);
    let request = match (acl::from_headers(ctx.header_fn())?, has_body) {
        (Some(_), true) => {
            return Err(S3Error::new(
                S3ErrorCode::UnexpectedContent,
                "This request does not support content: send the ACL in headers or in the body, not both",
            ))
        }
        (Some(request), false) => request,
        (None, true) => acl::from_xml(&document, &owner.canonical_id)?,
        (None, false) => {
            return Err(S3Error::new(
                S3ErrorCode::MissingRequestBodyError,
                "Request Body is empty: send an x-amz-acl header or an AccessControlPolicy",
            ))
        }
    };
    ctx.access.check_acl_request(&request)?;
    Ok(request)
}

fn no_rules() -> S3Error {
    S3Error::internal("a bucket request reached the ACL handlers without its bucket's rules")
}

pub async fn get_bucket_acl<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    let acl = ctx.access.bucket_acl().ok_or_else(no_rules)?;
    Ok(xml_response(acl.to_xml()))
}

pub async fn put_bucket_acl<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let owner = ctx.access.rules().ok_or_else(no_rules)?.owner.clone();
    let request = requested_acl(ctx, body, &owner).await?;
    let stored = ctx.access.stored_acl(request, &owner)?;
    set_bucket_document(ctx, DOC_ACL, stored).await?;
    Ok(HttpResponse::Ok().finish())
}

pub async fn get_object_acl<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let reader = open_readable(ctx).await?;
    let acl = ctx
        .access
        .object_acl(&reader.info().meta)
        .ok_or_else(no_rules)?;
    Ok(xml_response(acl.to_xml()))
}

pub async fn put_object_acl<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    // The ACL names the object's owner: read it first (access is checked there too).
    let reader = open_readable(ctx).await?;
    let owner = ctx
        .access
        .object_owner(&reader.info().meta)
        .ok_or_else(no_rules)?;
    drop(reader);
    let request = requested_acl(ctx, body, &owner).await?;
    let stored = ctx.access.stored_acl(request, &owner)?;
    update_object(ctx, |headers| {
        objmeta::set(headers, objmeta::ACL, stored.clone())
    })
    .await?;
    Ok(HttpResponse::Ok().finish())
}
