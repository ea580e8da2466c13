//! CORS: Put/Get/DeleteBucketCors, OPTIONS preflight, and the headers added to actual
//! requests that carry an Origin.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use super::xml_response;
use crate::s3::access::DOC_CORS;
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::cors::{self, CorsRule};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::Ctx;
use crate::store::{ObjectStore, StoreError};

fn forbidden(why: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::AccessForbidden, why)
}

/// The bucket's rules; None when it has no CORS configuration (or a damaged one).
fn stored_rules(document: Option<&str>) -> Option<Vec<CorsRule>> {
    let document = document?;
    match cors::parse_xml(document.as_bytes()) {
        Ok(rules) => Some(rules),
        Err(e) => {
            log::error!("stored CORS configuration no longer parses: {e}");
            None
        }
    }
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub async fn preflight<S: ObjectStore>(
    store: &S,
    req: &HttpRequest,
    bucket: Option<&str>,
) -> Result<HttpResponse, S3Error> {
    let Some(bucket) = bucket else {
        return Err(forbidden("CORSResponse: this request is not for a bucket."));
    };
    let Some(origin) = header(req, "origin") else {
        return Err(S3Error::new(
            S3ErrorCode::BadRequest,
            "Insufficient information. Origin request header needed.",
        ));
    };
    let Some(method) = header(req, "access-control-request-method") else {
        return Err(S3Error::new(
            S3ErrorCode::BadRequest,
            "Invalid Access-Control-Request-Method: null",
        ));
    };
    let docs = store.bucket_documents(bucket).await?;
    let Some(rules) = stored_rules(docs.get(DOC_CORS)) else {
        return Err(forbidden(
            "CORSResponse: CORS is not enabled for this bucket.",
        ));
    };
    let requested = cors::split_header_list(header(req, "access-control-request-headers"));
    let Some(rule) = cors::find(&rules, origin, method, &requested) else {
        return Err(forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ));
    };
    let mut response = HttpResponse::Ok();
    for (name, value) in cors::response_headers(rule, origin, &requested, true) {
        response.insert_header((name, value));
    }
    Ok(response.finish())
}

/// Adds CORS headers to the answer of an actual request from `origin`, when a rule allows it.
pub async fn add_actual_headers<S: ObjectStore>(
    store: &S,
    req: &HttpRequest,
    bucket: &str,
    origin: &str,
    response: &mut HttpResponse,
) {
    let docs = match store.bucket_documents(bucket).await {
        Ok(docs) => docs,
        Err(StoreError::NoSuchBucket) => return,
        Err(e) => {
            log::warn!("CORS headers for {bucket}: {e}");
            return;
        }
    };
    let Some(rules) = stored_rules(docs.get(DOC_CORS)) else {
        return;
    };
    let Some(rule) = cors::find(&rules, origin, req.method().as_str(), &[]) else {
        return;
    };
    let headers = response.headers_mut();
    for (name, value) in cors::response_headers(rule, origin, &[], false) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(lower(name)), value);
        }
    }
}

/// Header names as `HeaderName::from_static` wants them.
fn lower(name: &'static str) -> &'static str {
    match name {
        "Access-Control-Allow-Origin" => "access-control-allow-origin",
        "Access-Control-Allow-Credentials" => "access-control-allow-credentials",
        "Access-Control-Allow-Methods" => "access-control-allow-methods",
        "Access-Control-Expose-Headers" => "access-control-expose-headers",
        "Access-Control-Allow-Headers" => "access-control-allow-headers",
        "Access-Control-Max-Age" => "access-control-max-age",
        _ => "vary",
    }
}

pub async fn get_bucket_cors<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    let docs = ctx.store.bucket_documents(&ctx.bucket).await?;
    match docs.get(DOC_CORS) {
        Some(document) => Ok(xml_response(document.to_string())),
        None => Err(S3Error::new(
            S3ErrorCode::NoSuchCORSConfiguration,
            "The CORS configuration does not exist",
        )
        .with_detail("BucketName", ctx.bucket.clone())),
    }
}

pub async fn put_bucket_cors<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let document = body.read_capped(MAX_XML_BODY).await?;
    let rules = cors::parse_xml(&document)?;
    ctx.store
        .put_bucket_document(&ctx.who, &ctx.bucket, DOC_CORS, Some(cors::to_xml(&rules)))
        .await?;
    Ok(HttpResponse::Ok().finish())
}

pub async fn delete_bucket_cors<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store
        .put_bucket_document(&ctx.who, &ctx.bucket, DOC_CORS, None)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
