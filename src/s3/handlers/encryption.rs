//! Put/Get/DeleteBucketEncryption: the default encryption of new objects in a bucket.

use actix_web::HttpResponse;

use super::xml_response;
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::sse::bucket::{self, DefaultEncryption, DOC_ENCRYPTION};
use crate::s3::sse::sealing::key_error;
use crate::s3::Ctx;
use crate::store::ObjectStore;

pub async fn get<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    let docs = ctx.store.bucket_documents(&ctx.bucket).await?;
    match docs.get(DOC_ENCRYPTION) {
        Some(document) => Ok(xml_response(document.to_string())),
        None => Err(S3Error::new(
            S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
            "The server side encryption configuration was not found",
        )
        .with_detail("BucketName", ctx.bucket.clone())),
    }
}

pub async fn put<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let default = bucket::parse_xml(&document)?;
    // A key that does not exist would fail every later write: refused now.
    if let DefaultEncryption::Kms {
        key_ref: Some(key_ref),
        ..
    } = &default
    {
        ctx.sse.keys.resolve(key_ref).map_err(key_error)?;
    }
    ctx.store
        .put_bucket_document(
            &ctx.who,
            &ctx.bucket,
            DOC_ENCRYPTION,
            Some(bucket::to_xml(&default)),
        )
        .await?;
    ctx.sse.forget(&ctx.bucket);
    Ok(HttpResponse::Ok().finish())
}

pub async fn delete<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store
        .put_bucket_document(&ctx.who, &ctx.bucket, DOC_ENCRYPTION, None)
        .await?;
    ctx.sse.forget(&ctx.bucket);
    Ok(HttpResponse::NoContent().finish())
}
