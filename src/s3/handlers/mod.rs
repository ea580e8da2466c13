//! One module per family of S3 operations; `run` sends each endpoint to its handler.

mod bucket;
mod config;
mod copy;
pub mod cors;
mod delete;
mod list;
mod multipart;
mod object;
pub mod post;

/// The pure parsers of request bodies and headers, reachable from the fuzz targets (fuzz/).
pub mod parsers {
    pub use super::bucket::check_create_configuration;
    pub use super::copy::{parse_copy_range, parse_copy_source};
    pub use super::delete::{parse_request as parse_delete, DeleteRequest};
    pub use super::multipart::parse_completion;
}

use actix_web::http::header::CONTENT_TYPE;
use actix_web::HttpResponse;

use crate::s3::body::RequestBody;
use crate::s3::error::S3Error;
use crate::s3::router::Endpoint;
use crate::s3::Ctx;
use crate::store::{ObjectStore, Principal};

pub async fn run<S: ObjectStore>(
    endpoint: Endpoint,
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    match endpoint {
        Endpoint::ListBuckets => bucket::list_buckets(ctx).await,
        Endpoint::CreateBucket => bucket::create_bucket(ctx, body).await,
        Endpoint::DeleteBucket => bucket::delete_bucket(ctx).await,
        Endpoint::HeadBucket => bucket::head_bucket(ctx).await,
        Endpoint::GetBucketLocation => bucket::get_bucket_location(ctx).await,
        Endpoint::ListObjects => list::list_objects_v1(ctx).await,
        Endpoint::ListObjectsV2 => list::list_objects_v2(ctx).await,
        Endpoint::DeleteObjects => delete::delete_objects(ctx, body).await,
        Endpoint::GetObject => object::get_object(ctx, true).await,
        Endpoint::HeadObject => object::get_object(ctx, false).await,
        Endpoint::PutObject => object::put_object(ctx, body).await,
        Endpoint::DeleteObject => object::delete_object(ctx).await,
        Endpoint::CreateMultipartUpload => multipart::create(ctx).await,
        Endpoint::UploadPart => multipart::upload_part(ctx, body).await,
        Endpoint::CompleteMultipartUpload => multipart::complete(ctx, body).await,
        Endpoint::AbortMultipartUpload => multipart::abort(ctx).await,
        Endpoint::ListParts => multipart::list_parts(ctx).await,
        Endpoint::ListMultipartUploads => multipart::list_uploads(ctx).await,
        Endpoint::CopyObject => copy::copy_object(ctx).await,
        Endpoint::UploadPartCopy => copy::upload_part_copy(ctx).await,
        Endpoint::ListObjectVersions => list::list_object_versions(ctx).await,
        Endpoint::GetBucketAcl => config::get_bucket_acl(ctx).await,
        Endpoint::PutBucketAcl => config::put_bucket_acl(ctx, body).await,
        Endpoint::GetObjectAcl => config::get_object_acl(ctx).await,
        Endpoint::PutObjectAcl => config::put_object_acl(ctx, body).await,
        Endpoint::GetBucketPolicy => config::get_bucket_policy(ctx).await,
        Endpoint::PutBucketPolicy => config::put_bucket_policy(ctx, body).await,
        Endpoint::DeleteBucketPolicy => config::delete_bucket_policy(ctx).await,
        Endpoint::GetBucketCors => cors::get_bucket_cors(ctx).await,
        Endpoint::PutBucketCors => cors::put_bucket_cors(ctx, body).await,
        Endpoint::DeleteBucketCors => cors::delete_bucket_cors(ctx).await,
        Endpoint::GetBucketTagging => config::get_bucket_tagging(ctx).await,
        Endpoint::PutBucketTagging => config::put_bucket_tagging(ctx, body).await,
        Endpoint::DeleteBucketTagging => config::delete_bucket_tagging(ctx).await,
        Endpoint::GetObjectTagging => config::get_object_tagging(ctx).await,
        Endpoint::GetObjectAttributes => object::get_object_attributes(ctx).await,
        Endpoint::PutObjectTagging => config::put_object_tagging(ctx, body).await,
        Endpoint::DeleteObjectTagging => config::delete_object_tagging(ctx).await,
        Endpoint::GetBucketVersioning => config::get_bucket_versioning(ctx).await,
        Endpoint::BucketConfig(name) => config::bucket_config(ctx, name).await,
        Endpoint::PutBucketVersioning
        | Endpoint::PostObject
        | Endpoint::CorsPreflight
        | Endpoint::Unsupported(_) => Err(S3Error::not_implemented(endpoint.name())),
    }
}

fn xml_response(document: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/xml"))
        .body(document)
}

/// The ID and display name S3 documents show for an owner.
fn owner_name(who: &Principal) -> &str {
    match who {
        Principal::User(name) => name,
        Principal::Anonymous => "anonymous",
    }
}

/// Parses a decimal query parameter, InvalidArgument when it is not one.
fn query_number<S>(ctx: &Ctx<'_, S>, name: &str) -> Result<Option<u64>, S3Error> {
    match ctx.query.get(name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            S3Error::new(
                crate::s3::error::S3ErrorCode::InvalidArgument,
                format!("{name} must be a non-negative integer"),
            )
            .with_detail("ArgumentName", name)
            .with_detail("ArgumentValue", v)
        }),
    }
}

/// Quotes an ETag for a header or an XML element.
fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}
