//! One module per family of S3 operations; `run` sends each endpoint to its handler.

mod access_config;
mod acl;
mod attributes;
mod bucket;
mod config;
mod copy;
pub mod cors;
mod delete;
mod encryption;
pub mod lifecycle;
mod list;
mod list_versions;
mod multipart;
mod object;
mod object_lock;
pub mod post;
mod versions;

/// The pure parsers of request bodies and headers, reachable from the fuzz targets (fuzz/).
pub mod parsers {
    pub use super::bucket::check_create_configuration;
    pub use super::copy::{parse_copy_range, parse_copy_source};
    pub use super::delete::{parse_request as parse_delete, DeleteRequest};
    pub use super::multipart::parse_completion;
}

use actix_web::http::header::CONTENT_TYPE;
use actix_web::HttpResponse;

use crate::s3::access::ANONYMOUS_INITIATOR;
use crate::s3::body::RequestBody;
use crate::s3::error::S3Error;
use crate::s3::identity::Identity;
use crate::s3::router::{Endpoint, Operation};
use crate::s3::{objmeta, Ctx};
use crate::store::{ObjectMeta, ObjectStore, Principal};

pub async fn run<S: ObjectStore>(
    endpoint: Endpoint<'_>,
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    let operation = match endpoint {
        Endpoint::UploadPart {
            upload_id,
            part_number,
        } => return multipart::upload_part(ctx, upload_id, part_number, body).await,
        Endpoint::UploadPartCopy {
            upload_id,
            part_number,
        } => return copy::upload_part_copy(ctx, upload_id, part_number).await,
        Endpoint::CompleteMultipartUpload { upload_id } => {
            return multipart::complete(ctx, upload_id, body).await
        }
        Endpoint::AbortMultipartUpload { upload_id } => {
            return multipart::abort(ctx, upload_id).await
        }
        Endpoint::ListParts {
            upload_id,
            max_parts,
            part_number_marker,
        } => return multipart::list_parts(ctx, upload_id, max_parts, part_number_marker).await,
        Endpoint::ListMultipartUploads(params) => {
            return multipart::list_uploads(ctx, params).await
        }
        Endpoint::ListObjects { list, marker } => {
            return list::list_objects_v1(ctx, list, marker).await
        }
        Endpoint::ListObjectsV2(params) => return list::list_objects_v2(ctx, params).await,
        Endpoint::ListObjectVersions {
            list,
            key_marker,
            version_id_marker,
        } => {
            return list_versions::list_object_versions(ctx, list, key_marker, version_id_marker)
                .await
        }
        Endpoint::ListBuckets(params) => return bucket::list_buckets(ctx, params).await,
        Endpoint::GetObject(params) => return object::get_object(ctx, params, true).await,
        Endpoint::HeadObject(params) => return object::get_object(ctx, params, false).await,
        Endpoint::Other(operation) => operation,
    };
    match operation {
        Operation::CreateBucket => bucket::create_bucket(ctx, body).await,
        Operation::DeleteBucket => bucket::delete_bucket(ctx).await,
        Operation::HeadBucket => bucket::head_bucket(ctx).await,
        Operation::GetBucketLocation => bucket::get_bucket_location(ctx).await,
        Operation::DeleteObjects => delete::delete_objects(ctx, body).await,
        Operation::PutObject => object::put_object(ctx, body).await,
        Operation::DeleteObject => object::delete_object(ctx).await,
        Operation::CreateMultipartUpload => multipart::create(ctx).await,
        Operation::CopyObject => copy::copy_object(ctx).await,
        Operation::GetBucketAcl => acl::get_bucket_acl(ctx).await,
        Operation::PutBucketAcl => acl::put_bucket_acl(ctx, body).await,
        Operation::GetObjectAcl => acl::get_object_acl(ctx).await,
        Operation::PutObjectAcl => acl::put_object_acl(ctx, body).await,
        Operation::GetBucketPolicy => config::get_bucket_policy(ctx).await,
        Operation::PutBucketPolicy => config::put_bucket_policy(ctx, body).await,
        Operation::DeleteBucketPolicy => config::delete_bucket_policy(ctx).await,
        Operation::GetBucketCors => cors::get_bucket_cors(ctx).await,
        Operation::PutBucketCors => cors::put_bucket_cors(ctx, body).await,
        Operation::DeleteBucketCors => cors::delete_bucket_cors(ctx).await,
        Operation::GetBucketTagging => config::get_bucket_tagging(ctx).await,
        Operation::PutBucketTagging => config::put_bucket_tagging(ctx, body).await,
        Operation::DeleteBucketTagging => config::delete_bucket_tagging(ctx).await,
        Operation::GetObjectTagging => config::get_object_tagging(ctx).await,
        Operation::GetObjectAttributes => attributes::get_object_attributes(ctx).await,
        Operation::PutObjectTagging => config::put_object_tagging(ctx, body).await,
        Operation::DeleteObjectTagging => config::delete_object_tagging(ctx).await,
        Operation::GetBucketVersioning => config::get_bucket_versioning(ctx).await,
        Operation::PutBucketVersioning => config::put_bucket_versioning(ctx, body).await,
        Operation::BucketConfig("GetBucketEncryption") => encryption::get(ctx).await,
        Operation::BucketConfig("PutBucketEncryption") => encryption::put(ctx, body).await,
        Operation::BucketConfig("DeleteBucketEncryption") => encryption::delete(ctx).await,
        Operation::BucketConfig("GetBucketLifecycleConfiguration") => lifecycle::get(ctx).await,
        Operation::BucketConfig("PutBucketLifecycleConfiguration") => {
            lifecycle::put(ctx, body).await
        }
        Operation::BucketConfig("DeleteBucketLifecycle") => lifecycle::delete(ctx).await,
        Operation::BucketConfig("GetPublicAccessBlock") => {
            access_config::get_public_access_block(ctx).await
        }
        Operation::BucketConfig("PutPublicAccessBlock") => {
            access_config::put_public_access_block(ctx, body).await
        }
        Operation::BucketConfig("DeletePublicAccessBlock") => {
            access_config::delete_public_access_block(ctx).await
        }
        Operation::BucketConfig("GetBucketOwnershipControls") => {
            access_config::get_ownership_controls(ctx).await
        }
        Operation::BucketConfig("PutBucketOwnershipControls") => {
            access_config::put_ownership_controls(ctx, body).await
        }
        Operation::BucketConfig("DeleteBucketOwnershipControls") => {
            access_config::delete_ownership_controls(ctx).await
        }
        Operation::BucketConfig("GetBucketPolicyStatus") => {
            access_config::get_policy_status(ctx).await
        }
        Operation::BucketConfig(name) => config::bucket_config(ctx, name).await,
        Operation::ObjectLock(name) => object_lock::run(ctx, name, body).await,
        Operation::Unsupported("GetObjectTorrent") => object::get_object_torrent(ctx).await,
        Operation::PostObject | Operation::CorsPreflight | Operation::Unsupported(_) => {
            Err(S3Error::not_implemented(operation.name()))
        }
        // Endpoint::parse gives these their parameters: never `Endpoint::Other`.
        Operation::ListBuckets
        | Operation::UploadPart
        | Operation::UploadPartCopy
        | Operation::CompleteMultipartUpload
        | Operation::AbortMultipartUpload
        | Operation::ListParts
        | Operation::ListMultipartUploads
        | Operation::ListObjects
        | Operation::ListObjectsV2
        | Operation::ListObjectVersions
        | Operation::GetObject
        | Operation::HeadObject => Err(S3Error::internal(
            "an operation with parameters reached the handlers unparsed",
        )),
    }
}

fn xml_response(document: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/xml"))
        .body(document)
}

/// The user the store calls run as, as S3 documents show an owner. Handlers run as a user:
/// `access` turns every allowed request into one.
fn identity_of(who: &Principal) -> Identity {
    match who {
        Principal::User(name) => Identity::of(name),
        Principal::Anonymous => Identity::of("anonymous"),
    }
}

/// The user who started an upload (the bucket owner when none is recorded).
fn initiator<S>(ctx: &Ctx<'_, S>, upload: &ObjectMeta) -> Identity {
    match objmeta::get(upload, objmeta::INITIATOR) {
        Some(ANONYMOUS_INITIATOR) => identity_of(&Principal::Anonymous),
        Some(name) => Identity::of(name),
        None => identity_of(&ctx.who),
    }
}

/// Quotes an ETag for a header or an XML element.
fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}
