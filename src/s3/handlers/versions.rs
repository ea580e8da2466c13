//! What versioning adds to object requests: the version a request names, the errors a
//! version or a delete marker answers, and the version headers of answers.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::versioning::version_id_param;
use crate::s3::Ctx;
use crate::store::{Deleted, StoreError, Versioning};
use crate::time::http_date;

/// The `versionId` of the request, None for the latest version.
pub fn requested<'q, S>(ctx: &Ctx<'q, S>) -> Result<Option<&'q str>, S3Error> {
    version_id_param(ctx.query.get("versionId"))
}

/// A store error of a read that named `requested` (None: the latest), as AWS answers it: a
/// delete marker is 404 NoSuchKey when it is the latest, 405 MethodNotAllowed when named by
/// id, both with `x-amz-delete-marker: true` and its version id; a version id naming nothing
/// is NoSuchVersion.
pub fn read_error(e: StoreError, requested: Option<&str>) -> S3Error {
    match (e, requested) {
        (
            StoreError::DeleteMarker {
                version_id,
                last_modified,
            },
            by_id,
        ) => {
            let error = match by_id {
                None => S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist."),
                Some(_) => S3Error::new(
                    S3ErrorCode::MethodNotAllowed,
                    "The specified method is not allowed against this resource.",
                )
                .with_detail("Method", "GET")
                .with_detail("ResourceType", "DeleteMarker")
                .with_header("Last-Modified", http_date(last_modified)),
            };
            error
                .with_header("x-amz-delete-marker", "true")
                .with_header("x-amz-version-id", version_id)
        }
        (StoreError::NoSuchKey | StoreError::NoSuchVersion, Some(id)) => no_such_version(id),
        (e, _) => e.into(),
    }
}

pub fn no_such_version(id: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchVersion,
        "The specified version does not exist.",
    )
    .with_detail("VersionId", id.to_owned())
}

/// Whether answers about objects of this bucket carry `x-amz-version-id` (AWS leaves it out
/// in buckets that were never versioned, unless the request named a version).
pub fn answers_version<S>(ctx: &Ctx<'_, S>) -> bool {
    ctx.versioning() != Versioning::Unversioned || ctx.query.get("versionId").is_some()
}

/// `x-amz-version-id: id` when [`answers_version`].
pub fn version_header<S>(ctx: &Ctx<'_, S>, builder: &mut HttpResponseBuilder, id: &str) {
    if answers_version(ctx) {
        builder.insert_header(("x-amz-version-id", id));
    }
}

/// [`version_header`] on an answer already made.
pub fn add_version_header<S>(ctx: &Ctx<'_, S>, response: &mut HttpResponse, id: &str) {
    if answers_version(ctx) {
        insert_header(response, "x-amz-version-id", id);
    }
}

/// Adds a header to an answer already made (an id that is no header value is left out).
pub fn insert_header(response: &mut HttpResponse, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// What a delete that found nothing to do (or removed an unversioned object) did.
pub const NOTHING_DELETED: Deleted = Deleted {
    version_id: None,
    delete_marker: false,
};

/// The headers of a delete's answer: the version removed or the marker written.
pub fn deleted_headers(builder: &mut HttpResponseBuilder, deleted: &Deleted) {
    if let Some(id) = &deleted.version_id {
        builder.insert_header(("x-amz-version-id", id.as_str()));
    }
    if deleted.delete_marker {
        builder.insert_header(("x-amz-delete-marker", "true"));
    }
}
