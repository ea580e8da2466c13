//! ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation.

use actix_web::HttpResponse;

use super::xml_response;
use crate::config::ObjectOwnership;
use crate::s3::access::{self, ownership};
use crate::s3::acl;
use crate::s3::body::RequestBody;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::router::{encode_token, ListBucketsParams};
use crate::s3::xml::{self, XmlWriter};
use crate::s3::Ctx;
use crate::store::{BucketInfo, ListStart, ObjectStore, StoreError};
use crate::time::iso8601;

/// The region where re-creating a bucket one owns succeeds (AWS keeps it for legacy clients).
const LEGACY_REGION: &str = "us-east-1";

/// The largest CreateBucketConfiguration document we read.
const MAX_CREATE_BUCKET_BODY: usize = 64 * 1024;

pub async fn list_buckets<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    params: ListBucketsParams<'_>,
) -> Result<HttpResponse, S3Error> {
    let region = ctx.config.region.as_str();
    let mut buckets = ctx.store.list_buckets(&ctx.who).await?;
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    // Every bucket of this server is in its one region.
    let in_region = params.bucket_region.is_none_or(|r| r == region);
    let mut selected = buckets.iter().filter(|b| {
        in_region
            && params.prefix.is_none_or(|p| b.name.starts_with(p))
            && params.after.as_ref().is_none_or(|after| b.name > *after)
    });
    let page: Vec<&BucketInfo> = match params.max_buckets {
        Some(max) => selected.by_ref().take(max).collect(),
        None => selected.by_ref().collect(),
    };
    let more = selected.next().is_some();
    let mut w = XmlWriter::new();
    w.open_root("ListAllMyBucketsResult");
    super::identity_of(&ctx.who).write_owner(&mut w);
    w.open("Buckets");
    for bucket in &page {
        w.open("Bucket");
        w.elem("Name", &bucket.name);
        w.elem("CreationDate", &iso8601(bucket.created));
        w.elem("BucketRegion", region);
        w.close("Bucket");
    }
    w.close("Buckets");
    if let Some(last) = page.last().filter(|_| more) {
        w.elem(
            "ContinuationToken",
            &encode_token(&ListStart::After(last.name.clone())),
        );
    }
    if let Some(prefix) = params.prefix {
        w.elem("Prefix", prefix);
    }
    w.close("ListAllMyBucketsResult");
    Ok(xml_response(w.finish()))
}

pub async fn create_bucket<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    body: RequestBody,
) -> Result<HttpResponse, S3Error> {
    check_bucket_name(&ctx.bucket)?;
    let document = body.read_capped(MAX_CREATE_BUCKET_BODY).await?;
    check_create_configuration(&document, &ctx.config.region)?;
    let owner = ctx
        .access
        .requester
        .clone()
        .ok_or_else(|| S3Error::internal("CreateBucket reached its handler unsigned"))?;
    let ownership = match ctx.header("x-amz-object-ownership") {
        Some(value) => ownership::from_header(value)?,
        None => ctx.config.object_ownership,
    };
    let request = acl::from_headers(ctx.header_fn())?;
    let stored_acl = match request {
        Some(request) => {
            access::check_acl(&request, ownership, ctx.config.public_access_block).map_err(
                |e| match e.code {
                    S3ErrorCode::AccessControlListNotSupported => S3Error::new(
                        S3ErrorCode::InvalidBucketAclWithObjectOwnership,
                        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
                    ),
                    _ => e,
                },
            )?;
            ctx.access.stored_acl(request, &owner)?
        }
        None => None,
    };
    let mut documents = vec![(access::DOC_ACL, stored_acl)];
    documents.extend(super::object_lock::new_bucket_documents(ctx)?);
    if ownership != ObjectOwnership::ObjectWriter {
        documents.push((ownership::DOC_OWNERSHIP, Some(ownership::to_xml(ownership))));
    }
    match ctx.store.create_bucket(&ctx.who, &ctx.bucket).await {
        // Legacy us-east-1 behaviour (AWS, BucketAlreadyOwnedByYou): 200, and the bucket's
        // ACL is reset to what this request says (private when it says nothing).
        Err(StoreError::BucketAlreadyOwnedByYou) if ctx.config.region == LEGACY_REGION => {
            documents.truncate(1);
        }
        Err(e) => return Err(e.into()),
        Ok(()) => documents.retain(|(_, document)| document.is_some()),
    }
    for (name, document) in documents {
        ctx.store
            .put_bucket_document(&ctx.who, &ctx.bucket, name, document)
            .await?;
    }
    ctx.rules.forget(&ctx.bucket);
    Ok(HttpResponse::Ok()
        .insert_header(("Location", format!("/{}", ctx.bucket)))
        .finish())
}

/// Checks a CreateBucket body: empty, or a `CreateBucketConfiguration` whose
/// `LocationConstraint`, if any, is our `region`.
pub fn check_create_configuration(document: &[u8], region: &str) -> Result<(), S3Error> {
    if document.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let doc = xml::parse(document)?;
    let root = doc.root_element();
    if root.tag_name().name() != "CreateBucketConfiguration" {
        return Err(xml::malformed("expected CreateBucketConfiguration"));
    }
    let location = xml::child_text(root, "LocationConstraint").unwrap_or("");
    if !location.is_empty() && location != region {
        return Err(S3Error::new(
            S3ErrorCode::InvalidLocationConstraint,
            format!(
                "The specified location-constraint is not valid: this server's region is {region}"
            ),
        )
        .with_detail("LocationConstraint", location));
    }
    Ok(())
}

pub async fn delete_bucket<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store.delete_bucket(&ctx.who, &ctx.bucket).await?;
    ctx.sse.forget(&ctx.bucket);
    ctx.rules.forget(&ctx.bucket);
    Ok(HttpResponse::NoContent().finish())
}

pub async fn head_bucket<S: ObjectStore>(ctx: &Ctx<'_, S>) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("x-amz-bucket-region", ctx.config.region.as_str()))
        .finish())
}

pub async fn get_bucket_location<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
) -> Result<HttpResponse, S3Error> {
    ctx.store.bucket_info(&ctx.who, &ctx.bucket).await?;
    let mut w = XmlWriter::new();
    w.open_root("LocationConstraint");
    // AWS answers an empty constraint for its original region.
    if ctx.config.region != "us-east-1" {
        w.text(&ctx.config.region);
    }
    w.close("LocationConstraint");
    Ok(xml_response(w.finish()))
}

/// The bucket naming rules of S3 (general purpose buckets).
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let invalid = |why: &str| {
        Err(S3Error::new(
            S3ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {why}"),
        )
        .with_detail("BucketName", name))
    };
    if !(3..=63).contains(&name.len()) {
        return invalid("a bucket name has 3 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return invalid("only lower-case letters, digits, '.' and '-' are allowed");
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge_ok(name.bytes().next()) || !edge_ok(name.bytes().last()) {
        return invalid("a bucket name starts and ends with a letter or a digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return invalid("a bucket name has no '..', '.-' or '-.'");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return invalid("a bucket name is not an IP address");
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return invalid("the prefixes 'xn--' and 'sthree-' are reserved");
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        return invalid("the suffixes '-s3alias' and '--ol-s3' are reserved");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["abc", "my-bucket.1", "a1b", &"a".repeat(63), "1.2.3"] {
            assert!(check_bucket_name(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a b",
            "ab/",
        ] {
            let e = check_bucket_name(bad).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidBucketName, "{bad}");
        }
    }
}
