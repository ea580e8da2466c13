//! Object Lock operations: Put/GetObjectLockConfiguration on a bucket, and
//! Put/GetObjectRetention and Put/GetObjectLegalHold on one version (`versionId`, else the
//! latest). The rules themselves are in `s3::object_lock`.

use std::time::SystemTime;

use actix_web::HttpResponse;

use super::config::set_bucket_document;
use super::object::open_readable;
use super::xml_response;
use crate::s3::body::{RequestBody, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::object_lock::{self, LockConfig, VersionLock, DOC_OBJECT_LOCK};
use crate::s3::{versioning, Ctx};
use crate::store::{Deleted, ObjectMeta, ObjectReader, ObjectStore, StoreError, Versioning};

/// How often a lock change is tried again when the version's metadata changed under it.
const UPDATE_ATTEMPTS: u32 = 3;

pub async fn run<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    name: &'static str,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    match name {
        "GetObjectLockConfiguration" => get_configuration(ctx).await,
        "PutObjectLockConfiguration" => put_configuration(ctx, body).await,
        "GetObjectRetention" => get_retention(ctx).await,
        "PutObjectRetention" => put_retention(ctx, body).await,
        "GetObjectLegalHold" => get_legal_hold(ctx).await,
        "PutObjectLegalHold" => put_legal_hold(ctx, body).await,
        _ => Err(S3Error::not_implemented(name)),
    }
}

/// The bucket's lock configuration; ObjectLockConfigurationNotFoundError unless enabled.
fn bucket_lock<'c, S>(ctx: &'c Ctx<'_, S>) -> Result<&'c LockConfig, S3Error> {
    ctx.access
        .rules()
        .and_then(|rules| rules.object_lock.as_ref())
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket",
            )
            .with_detail("BucketName", ctx.bucket.clone())
        })
}

/// AWS takes lock documents only with a digest of their body.
fn require_integrity(body: &RequestBody) -> Result<(), S3Error> {
    if body.content_md5.is_none() && body.checksum.is_none() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters",
        ));
    }
    Ok(())
}

/// Whether the request asks to bypass GOVERNANCE retention on `key` and may.
fn bypasses_governance<S>(ctx: &Ctx<'_, S>, key: &str) -> bool {
    ctx.header("x-amz-bypass-governance-retention")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        && ctx
            .access
            .allows_on_object("s3:BypassGovernanceRetention", key)
}

async fn get_configuration<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    Ok(xml_response(object_lock::config_to_xml(bucket_lock(ctx)?)))
}

async fn put_configuration<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    require_integrity(&body)?;
    let document = body.read_capped(MAX_XML_BODY).await?;
    let config = object_lock::parse_config(&document)?;
    if ctx.versioning() != Versioning::Enabled {
        return Err(S3Error::new(
            S3ErrorCode::InvalidBucketState,
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
        )
        .with_detail("BucketName", ctx.bucket.clone()));
    }
    let stored = object_lock::config_to_xml(&config);
    set_bucket_document(ctx, DOC_OBJECT_LOCK, Some(stored)).await?;
    Ok(HttpResponse::Ok().finish())
}

/// The documents a new bucket gets when its CreateBucket says
/// `x-amz-bucket-object-lock-enabled: true`: versioning on, lock enabled without a default
/// retention.
pub fn new_bucket_documents<S>(
    ctx: &Ctx<'_, S>,
) -> Result<Vec<(&'static str, Option<String>)>, S3Error> {
    let enabled = match ctx
        .header("x-amz-bucket-object-lock-enabled")
        .map(str::trim)
    {
        None => false,
        Some(value) if value.eq_ignore_ascii_case("true") => true,
        Some(value) if value.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-bucket-object-lock-enabled is true or false",
            ))
        }
    };
    if !enabled {
        return Ok(Vec::new());
    }
    Ok(vec![
        (
            versioning::DOC_VERSIONING,
            versioning::to_stored(Versioning::Enabled).map(str::to_owned),
        ),
        (
            DOC_OBJECT_LOCK,
            Some(object_lock::config_to_xml(&LockConfig::default())),
        ),
    ])
}

/// The version the request names, with the lock it has now.
async fn version_lock<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<(VersionLock, crate::store::ObjectInfo), S3Error> {
    bucket_lock(ctx).map_err(|_| missing_bucket_lock())?;
    let reader = open_readable(ctx).await?;
    let info = reader.info().clone();
    Ok((VersionLock::of(&info.meta), info))
}

fn missing_bucket_lock() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        "Bucket is missing Object Lock Configuration",
    )
}

fn no_lock_on_object() -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchObjectLockConfiguration,
        "The specified object does not have a ObjectLock configuration",
    )
}

async fn get_retention<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let (lock, _) = version_lock(ctx).await?;
    let retention = lock.retention.ok_or_else(no_lock_on_object)?;
    Ok(xml_response(object_lock::retention_to_xml(&retention)))
}

async fn get_legal_hold<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    let (lock, _) = version_lock(ctx).await?;
    // A version that never had a hold set answers as AWS does: no configuration.
    let on = lock.legal_hold.ok_or_else(no_lock_on_object)?;
    Ok(xml_response(object_lock::legal_hold_to_xml(on)))
}

async fn put_retention<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    require_integrity(&body)?;
    let document = body.read_capped(MAX_XML_BODY).await?;
    let retention = object_lock::parse_retention(&document)?;
    let now = SystemTime::now();
    if retention.is_some_and(|r| r.until <= now) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The retain until date must be in the future!",
        ));
    }
    let bypass = bypasses_governance(ctx, &ctx.key);
    update_lock(ctx, |lock: &mut VersionLock| {
        lock.check_retention_change(retention.as_ref(), now, bypass)?;
        lock.retention = retention;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().finish())
}

async fn put_legal_hold<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    require_integrity(&body)?;
    let document = body.read_capped(MAX_XML_BODY).await?;
    let on = object_lock::parse_legal_hold(&document)?;
    update_lock(ctx, |lock: &mut VersionLock| {
        lock.legal_hold = Some(on);
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().finish())
}

/// Changes the lock of the version the request names, in place (no new version); read again
/// and retried when its metadata changed meanwhile.
async fn update_lock<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    change: impl Fn(&mut VersionLock) -> Result<(), S3Error>,
) -> Result<(), S3Error> {
    let mut attempt = 1;
    loop {
        let (mut lock, info) = version_lock(ctx).await?;
        change(&mut lock)?;
        let mut meta = info.meta.clone();
        lock.store(&mut meta.headers);
        // The version read, by id: the latest may change meanwhile, this one may not.
        let result = ctx
            .store
            .update_meta(
                &ctx.who,
                &ctx.bucket,
                &ctx.key,
                Some(&info.version_id),
                meta,
                &info.meta,
            )
            .await;
        match result {
            Ok(_) => return Ok(()),
            Err(StoreError::SourceChanged) if attempt < UPDATE_ATTEMPTS => attempt += 1,
            Err(e) => return Err(S3Error::from(e).with_detail("Key", ctx.key.clone())),
        }
    }
}

/// Deletes one version for good unless its lock protects it (DeleteObject and DeleteObjects
/// with a `versionId`). The store removes it only while it still has the metadata the lock
/// was read from, so a hold or retention set meanwhile is never lost: the lock is read again.
pub async fn delete_unlocked_version<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    key: &str,
    version_id: &str,
) -> Result<Deleted, S3Error> {
    let locking = ctx
        .access
        .rules()
        .is_some_and(|rules| rules.object_lock.is_some());
    let mut attempt = 1;
    loop {
        let checked = if locking {
            unlocked_meta(ctx, key, version_id).await?
        } else {
            None
        };
        let result = ctx
            .store
            .delete_version(&ctx.who, &ctx.bucket, key, version_id, checked.as_ref())
            .await;
        match result {
            Err(StoreError::SourceChanged) if attempt < UPDATE_ATTEMPTS => attempt += 1,
            result => return Ok(result?),
        }
    }
}

/// The metadata of a version no lock protects now (None: no such version, or a marker);
/// AccessDenied when its lock forbids the delete.
async fn unlocked_meta<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    key: &str,
    version_id: &str,
) -> Result<Option<ObjectMeta>, S3Error> {
    let opened = ctx
        .store
        .open_object(&ctx.who, &ctx.bucket, key, Some(version_id))
        .await;
    let meta = match opened {
        Ok(reader) => reader.info().meta.clone(),
        // Markers and missing versions carry no lock.
        Err(
            StoreError::NoSuchKey | StoreError::NoSuchVersion | StoreError::DeleteMarker { .. },
        ) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    VersionLock::of(&meta).check_delete(SystemTime::now(), bypasses_governance(ctx, key))?;
    Ok(Some(meta))
}

/// The lock a write asks for, or the bucket's default; refuses lock headers on a bucket
/// without lock, lock headers the requester may not set (`s3:PutObjectRetention`,
/// `s3:PutObjectLegalHold`), and, for a request carrying the object (`body_digest` is
/// whether it came with Content-MD5 or a checksum), a locked write without a digest.
pub fn lock_for_write<'a, S>(
    ctx: &Ctx<'_, S>,
    header: impl Fn(&str) -> Option<&'a str>,
    body_digest: Option<bool>,
) -> Result<Option<VersionLock>, S3Error> {
    let config = ctx.access.rules().and_then(|r| r.object_lock.as_ref());
    let lock = object_lock::lock_for_write(&header, config, SystemTime::now())?;
    let Some(lock) = lock else {
        return Ok(None);
    };
    let asks = |name: &str| header(name).is_some();
    let may = |action: &'static str| ctx.access.allows_on_object(action, &ctx.key);
    if (asks(object_lock::MODE_HEADER) && !may("s3:PutObjectRetention"))
        || (asks(object_lock::LEGAL_HOLD_HEADER) && !may("s3:PutObjectLegalHold"))
    {
        return Err(crate::s3::access::access_denied());
    }
    if body_digest == Some(false) && lock != VersionLock::default() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters",
        ));
    }
    Ok(Some(lock))
}

/// A multipart upload's version is created at its completion, so a default retention runs
/// from then, not from CreateMultipartUpload: the upload keeps only what its request named
/// ([`upload_lock_headers`]), and the completion adds the bucket's default, as it is then,
/// when the request named no retention.
pub fn default_retention_at_completion<S>(ctx: &Ctx<'_, S>, headers: &mut Vec<(String, String)>) {
    if headers
        .iter()
        .any(|(name, _)| name == object_lock::MODE_HEADER)
    {
        return;
    }
    let config = ctx.access.rules().and_then(|r| r.object_lock.as_ref());
    let Some(default) = config.and_then(|c| c.default) else {
        return;
    };
    let mut lock = VersionLock::of(&ObjectMeta {
        headers: headers.clone(),
        ..ObjectMeta::default()
    });
    lock.retention = Some(default.from(SystemTime::now()));
    lock.store(headers);
}

/// The lock headers a CreateMultipartUpload keeps: without the default retention
/// [`crate::s3::handlers::object::apply_request_documents`] put in, which the completion
/// works out again ([`default_retention_at_completion`]).
pub fn upload_lock_headers<S>(ctx: &Ctx<'_, S>, headers: &mut Vec<(String, String)>) {
    if ctx.header(object_lock::MODE_HEADER).is_none() {
        headers.retain(|(name, _)| {
            name != object_lock::MODE_HEADER && name != object_lock::UNTIL_HEADER
        });
    }
}
