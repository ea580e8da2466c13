//! ListObjectVersions: every version and delete marker, by key then newest first, grouped by
//! delimiter and paged by key-marker / version-id-marker, on top of
//! `ObjectStore::list_object_versions`.

use actix_web::HttpResponse;

use super::list::{check_texts, common_prefix, key_elem, start_after_key};
use super::{identity_of, quoted, xml_response};
use crate::s3::error::S3Error;
use crate::s3::router::ListParams;
use crate::s3::xml::XmlWriter;
use crate::s3::{objmeta, Ctx};
use crate::store::{ListStart, ObjectStore, VersionStart, VersionSummary};
use crate::time::iso8601;

/// One page of a version listing.
#[derive(Debug, Default)]
struct VersionPage {
    versions: Vec<VersionSummary>,
    common_prefixes: Vec<String>,
    /// Where the next page starts, when this one is truncated.
    next: Option<VersionStart>,
}

/// Up to `max_keys` entries (versions, markers and common prefixes) from `start`.
async fn versions_page<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    prefix: &str,
    delimiter: &str,
    mut start: VersionStart,
    max_keys: usize,
) -> Result<VersionPage, S3Error> {
    let mut page = VersionPage::default();
    let mut count = 0;
    if max_keys == 0 {
        return Ok(page);
    }
    'fetch: loop {
        // One more than needed tells whether the page is truncated.
        let wanted = max_keys - count + 1;
        let batch = ctx
            .store
            .list_object_versions(
                &ctx.who,
                &ctx.bucket,
                prefix,
                &start,
                wanted,
                Some(objmeta::OWNER),
            )
            .await?;
        let exhausted = batch.len() < wanted;
        for version in batch {
            if count == max_keys {
                page.next = Some(start);
                return Ok(page);
            }
            if let Some(cp) = common_prefix(&version.key, prefix, delimiter) {
                let cp = cp.to_string();
                page.common_prefixes.push(cp.clone());
                count += 1;
                start = VersionStart::AfterPrefix(cp);
                // The rest of this batch may lie under the prefix: ask again past it.
                continue 'fetch;
            }
            start = VersionStart::AfterVersion {
                key: version.key.clone(),
                version_id: version.version_id.clone(),
            };
            page.versions.push(version);
            count += 1;
        }
        if exhausted {
            return Ok(page);
        }
    }
}

/// Where the request's markers start the listing.
fn start_of(key_marker: &str, version_marker: &str, prefix: &str, delimiter: &str) -> VersionStart {
    if !version_marker.is_empty() {
        return VersionStart::AfterVersion {
            key: key_marker.to_owned(),
            version_id: version_marker.to_owned(),
        };
    }
    match start_after_key(key_marker, prefix, delimiter) {
        ListStart::Beginning => VersionStart::Beginning,
        ListStart::After(key) => VersionStart::AfterKey(key),
        ListStart::AfterPrefix(cp) => VersionStart::AfterPrefix(cp),
    }
}

pub async fn list_object_versions<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    list: ListParams<'_>,
    key_marker: &str,
    version_marker: &str,
) -> Result<HttpResponse, S3Error> {
    let ListParams {
        prefix,
        delimiter,
        url,
        max_keys,
    } = list;
    let start = start_of(key_marker, version_marker, prefix, delimiter);
    let page = versions_page(ctx, prefix, delimiter, start, max_keys).await?;
    let keys = page.versions.iter().map(|v| v.key.as_str());
    let prefixes = page.common_prefixes.iter().map(String::as_str);
    let asked = [prefix, delimiter, key_marker];
    check_texts(url, asked.into_iter().chain(keys).chain(prefixes))?;

    let mut w = XmlWriter::new();
    w.open_root("ListVersionsResult");
    w.elem("Name", &ctx.bucket);
    key_elem(&mut w, "Prefix", prefix, url);
    key_elem(&mut w, "KeyMarker", key_marker, url);
    w.elem("VersionIdMarker", version_marker);
    match &page.next {
        Some(VersionStart::AfterVersion { key, version_id }) => {
            key_elem(&mut w, "NextKeyMarker", key, url);
            w.elem("NextVersionIdMarker", version_id);
        }
        Some(VersionStart::AfterPrefix(key) | VersionStart::AfterKey(key)) => {
            key_elem(&mut w, "NextKeyMarker", key, url);
        }
        Some(VersionStart::Beginning) | None => {}
    }
    w.elem("MaxKeys", &max_keys.to_string());
    if !delimiter.is_empty() {
        key_elem(&mut w, "Delimiter", delimiter, url);
    }
    w.elem(
        "IsTruncated",
        if page.next.is_some() { "true" } else { "false" },
    );
    if url {
        w.elem("EncodingType", "url");
    }
    // In listing order: each key's versions and markers interleaved, newest first.
    for version in &page.versions {
        let element = if version.delete_marker {
            "DeleteMarker"
        } else {
            "Version"
        };
        w.open(element);
        key_elem(&mut w, "Key", &version.key, url);
        w.elem("VersionId", &version.version_id);
        w.elem("IsLatest", if version.is_latest { "true" } else { "false" });
        w.elem("LastModified", &iso8601(version.last_modified));
        if !version.delete_marker {
            w.elem("ETag", &quoted(&version.etag));
            w.elem("Size", &version.size.to_string());
        }
        ctx.access
            .owner_recorded_as(version.header.as_deref())
            .unwrap_or_else(|| identity_of(&ctx.who))
            .write_owner(&mut w);
        if !version.delete_marker {
            w.elem("StorageClass", "STANDARD");
        }
        w.close(element);
    }
    for cp in &page.common_prefixes {
        w.open("CommonPrefixes");
        key_elem(&mut w, "Prefix", cp, url);
        w.close("CommonPrefixes");
    }
    w.close("ListVersionsResult");
    Ok(xml_response(w.finish()))
}
