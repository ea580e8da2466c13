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
use crate::store::{ObjectReader, ObjectStore, StoreError, Versioning};

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
        && ctx.access.may_bypass_governance(key)
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
    let (lock, info) = version_lock(ctx).await?;
    // A version that never had a hold set answers as AWS does: no configuration.
    let ever_set = info
        .meta
        .headers
        .iter()
        .any(|(name, _)| name == object_lock::LEGAL_HOLD_HEADER);
    if !ever_set && !lock.legal_hold {
        return Err(no_lock_on_object());
    }
    Ok(xml_response(object_lock::legal_hold_to_xml(
        lock.legal_hold,
    )))
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
        lock.legal_hold = on;
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

/// Refuses to delete a version its lock protects (DeleteObject and DeleteObjects with a
/// `versionId`).
pub async fn check_version_delete<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    key: &str,
    version_id: &str,
) -> Result<(), S3Error> {
    if ctx
        .access
        .rules()
        .is_none_or(|rules| rules.object_lock.is_none())
    {
        return Ok(());
    }
    let opened = ctx
        .store
        .open_object(&ctx.who, &ctx.bucket, key, Some(version_id))
        .await;
    let info = match opened {
        Ok(reader) => reader.info().clone(),
        // Markers and missing versions carry no lock.
        Err(
            StoreError::NoSuchKey | StoreError::NoSuchVersion | StoreError::DeleteMarker { .. },
        ) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    VersionLock::of(&info.meta).check_delete(SystemTime::now(), bypasses_governance(ctx, key))
}

/// The lock a write asks for, or the bucket's default; refuses lock headers on a bucket
/// without lock, and a lock write without a digest of its body.
pub fn lock_for_write<'a, S>(
    ctx: &Ctx<'_, S>,
    header: impl Fn(&str) -> Option<&'a str>,
    has_digest: bool,
) -> Result<Option<VersionLock>, S3Error> {
    let config = ctx.access.rules().and_then(|r| r.object_lock.as_ref());
    if object_lock::write_names_lock(&header) && config.is_some() && !has_digest {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters",
        ));
    }
    object_lock::lock_for_write(header, config, SystemTime::now())
}
