//! ListObjects (v1) and ListObjectsV2: delimiter grouping and pagination, written once for
//! every backend on top of `ObjectStore::list_objects`.

use actix_web::HttpResponse;

use super::{identity_of, quoted, xml_response};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::identity::Identity;
use crate::s3::router::{encode_token, percent_encode, ListParams, ListV2Params};
use crate::s3::xml::{self, XmlWriter};
use crate::s3::{objmeta, Ctx};
use crate::store::{ListStart, ObjectStore, ObjectSummary};
use crate::time::iso8601;

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    /// Where the next page starts, when this one is truncated.
    pub next: Option<ListStart>,
}

/// The common prefix a key rolls up into, if the delimiter occurs after the prefix.
pub fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: &str) -> Option<&'k str> {
    if delimiter.is_empty() {
        return None;
    }
    let rest = key.get(prefix.len()..)?;
    let at = rest.find(delimiter)?;
    key.get(..prefix.len() + at + delimiter.len())
}

/// Lists up to `max_keys` entries (objects and common prefixes) from `start`; with `owners`,
/// each object with its recorded owner ([`ObjectSummary::header`]).
pub async fn list_page<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    prefix: &str,
    delimiter: &str,
    mut start: ListStart,
    max_keys: usize,
    owners: bool,
) -> Result<Page, S3Error> {
    let mut page = Page::default();
    let mut count = 0;
    if max_keys == 0 {
        return Ok(page);
    }
    'fetch: loop {
        // One more than needed tells whether the page is truncated.
        let batch = ctx
            .store
            .list_objects(
                &ctx.who,
                &ctx.bucket,
                prefix,
                &start,
                max_keys - count + 1,
                owners.then_some(objmeta::OWNER),
            )
            .await?;
        let exhausted = batch.len() < max_keys - count + 1;
        for object in batch {
            if count == max_keys {
                page.next = Some(start);
                return Ok(page);
            }
            if let Some(cp) = common_prefix(&object.key, prefix, delimiter) {
                let cp = cp.to_string();
                page.common_prefixes.push(cp.clone());
                count += 1;
                start = ListStart::AfterPrefix(cp);
                // The rest of this batch may lie under the prefix: ask again past it.
                continue 'fetch;
            }
            start = ListStart::After(object.key.clone());
            page.objects.push(object);
            count += 1;
        }
        if exhausted {
            return Ok(page);
        }
    }
}

/// Where a marker (v1 marker, v2 start-after, versions key-marker) starts: at the beginning
/// when empty, past the whole common prefix when the key is one, so a NextMarker that names
/// a prefix does not list that prefix again.
pub(super) fn start_after_key(key: &str, prefix: &str, delimiter: &str) -> ListStart {
    if key.is_empty() {
        return ListStart::Beginning;
    }
    match common_prefix(key, prefix, delimiter) {
        Some(cp) if cp == key => ListStart::AfterPrefix(key.to_string()),
        _ => ListStart::After(key.to_string()),
    }
}

/// Without `encoding-type=url`, a listing that would have to show a character XML 1.0 cannot
/// carry (a key stored before such keys were refused, or written to an SX volume by SX's own
/// tools) is refused whole rather than sent malformed or silently shortened.
fn check_listable<'a>(
    url: bool,
    texts: impl IntoIterator<Item = &'a str>,
    page: &'a Page,
) -> Result<(), S3Error> {
    let keys = page.objects.iter().map(|o| o.key.as_str());
    let prefixes = page.common_prefixes.iter().map(String::as_str);
    check_texts(url, texts.into_iter().chain(keys).chain(prefixes))
}

/// [`check_listable`] of any texts a listing shows.
pub(super) fn check_texts<'a>(
    url: bool,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<(), S3Error> {
    if url {
        return Ok(());
    }
    for text in texts {
        if let Some(c) = xml::uncarried(text) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!(
                    "This listing holds the key {:?}, whose character U+{:04X} XML 1.0 cannot \
                     carry; list with encoding-type=url.",
                    percent_encode(text, true),
                    c as u32
                ),
            )
            .with_detail("ArgumentName", "encoding-type"));
        }
    }
    Ok(())
}

/// Writes a key-like value, URL-encoded when the client asked for `encoding-type=url`.
pub(super) fn key_elem(w: &mut XmlWriter, name: &str, value: &str, url: bool) {
    if url {
        w.elem(name, &percent_encode(value, true));
    } else {
        w.elem(name, value);
    }
}

/// Who owns a listed object (listed with its recorded owner).
fn object_owner<S>(ctx: &Ctx<'_, S>, object: &ObjectSummary) -> Identity {
    ctx.access
        .owner_recorded_as(object.header.as_deref())
        .unwrap_or_else(|| identity_of(&ctx.who))
}

fn write_entries<S>(ctx: &Ctx<'_, S>, w: &mut XmlWriter, page: &Page, url: bool, owner: bool) {
    for object in &page.objects {
        w.open("Contents");
        key_elem(w, "Key", &object.key, url);
        w.elem("LastModified", &iso8601(object.last_modified));
        w.elem("ETag", &quoted(&object.etag));
        w.elem("Size", &object.size.to_string());
        if owner {
            object_owner(ctx, object).write_owner(w);
        }
        w.elem("StorageClass", "STANDARD");
        w.close("Contents");
    }
    for cp in &page.common_prefixes {
        w.open("CommonPrefixes");
        key_elem(w, "Prefix", cp, url);
        w.close("CommonPrefixes");
    }
}

pub async fn list_objects_v1<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    list: ListParams<'_>,
    marker: &str,
) -> Result<HttpResponse, S3Error> {
    let ListParams {
        prefix,
        delimiter,
        url,
        max_keys,
    } = list;
    let start = start_after_key(marker, prefix, delimiter);
    let page = list_page(ctx, prefix, delimiter, start, max_keys, true).await?;
    check_listable(url, [prefix, delimiter, marker], &page)?;

    let mut w = XmlWriter::new();
    w.open_root("ListBucketResult");
    w.elem("Name", &ctx.bucket);
    key_elem(&mut w, "Prefix", prefix, url);
    key_elem(&mut w, "Marker", marker, url);
    // Always sent when truncated (AWS only does with a delimiter): clients that page with
    // the last key still work, and those that read NextMarker work too.
    if let Some(ListStart::After(key) | ListStart::AfterPrefix(key)) = &page.next {
        key_elem(&mut w, "NextMarker", key, url);
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
    write_entries(ctx, &mut w, &page, url, true);
    w.close("ListBucketResult");
    Ok(xml_response(w.finish()))
}

pub async fn list_objects_v2<S: ObjectStore>(
    ctx: &Ctx<'_, S>,
    params: ListV2Params<'_>,
) -> Result<HttpResponse, S3Error> {
    let ListV2Params {
        list:
            ListParams {
                prefix,
                delimiter,
                url,
                max_keys,
            },
        continuation,
        start_after,
        fetch_owner,
    } = params;
    let token = continuation.as_ref().map(|c| c.token);
    let start = match (continuation, start_after) {
        (Some(continuation), _) => continuation.start,
        (None, Some(key)) if !key.is_empty() => start_after_key(key, prefix, delimiter),
        _ => ListStart::Beginning,
    };
    let page = list_page(ctx, prefix, delimiter, start, max_keys, fetch_owner).await?;
    check_listable(url, [prefix, delimiter, start_after.unwrap_or("")], &page)?;

    let mut w = XmlWriter::new();
    w.open_root("ListBucketResult");
    w.elem("Name", &ctx.bucket);
    key_elem(&mut w, "Prefix", prefix, url);
    if let Some(key) = start_after {
        key_elem(&mut w, "StartAfter", key, url);
    }
    if let Some(token) = token {
        w.elem("ContinuationToken", token);
    }
    if let Some(next) = &page.next {
        w.elem("NextContinuationToken", &encode_token(next));
    }
    w.elem(
        "KeyCount",
        &(page.objects.len() + page.common_prefixes.len()).to_string(),
    );
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
    write_entries(ctx, &mut w, &page, url, fetch_owner);
    w.close("ListBucketResult");
    Ok(xml_response(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix("a/b/c", "", "/"), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", "/"), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", "/"), None);
        assert_eq!(common_prefix("a--b--c", "", "--"), Some("a--"));
        assert_eq!(common_prefix("abc", "", ""), None);
        assert_eq!(common_prefix("x€/y", "x", "/"), Some("x€/"));
    }

    #[test]
    fn markers_naming_a_prefix_skip_it() {
        assert_eq!(
            start_after_key("a/", "", "/"),
            ListStart::AfterPrefix("a/".into())
        );
        assert_eq!(
            start_after_key("a/b", "", "/"),
            ListStart::After("a/b".into())
        );
        assert_eq!(start_after_key("a/", "", ""), ListStart::After("a/".into()));
    }
}

/// Pagination over a real store, checked against a direct computation over all keys.
#[cfg(test)]
mod paging_tests {
    use super::*;
    use crate::s3::router::Query;
    use crate::s3::S3Config;
    use crate::store::local::LocalStore;
    use crate::store::{ObjectMeta, Principal, WriteCondition};
    use futures_util::{stream, StreamExt};

    const KEYS: &[&str] = &[
        "a", "a/", "a/b", "a/c/d", "a0", "ab", "b--x", "b/x/y", "b/z", "c", "c/", "é/1", "é/2",
    ];

    /// Entries (keys and common prefixes) a listing must return, computed the obvious way.
    fn reference(prefix: &str, delimiter: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for key in KEYS.iter().filter(|k| k.starts_with(prefix)) {
            let entry = common_prefix(key, prefix, delimiter)
                .unwrap_or(key)
                .to_string();
            if out.last() != Some(&entry) {
                out.push(entry);
            }
        }
        out
    }

    #[actix_web::test]
    async fn every_page_size_lists_every_entry_once() {
        let dir = std::env::temp_dir().join(format!("libres3-list-{}", std::process::id()));
        let store = LocalStore::open(std::slice::from_ref(&dir)).unwrap();
        let who = Principal::User("u".into());
        store
            .add_user("u", "AK", &crate::store::SecretKey::new("s".into()))
            .await
            .unwrap();
        store.create_bucket(&who, "bkt").await.unwrap();
        for key in KEYS {
            let body = stream::iter(vec![Ok(bytes::Bytes::from_static(b"x"))]).boxed_local();
            let staged = store.stage(&who, "bkt", body, Some(1)).await.unwrap();
            let meta = ObjectMeta {
                etag: "e".into(),
                headers: vec![],
                size: None,
            };
            store
                .commit_object(
                    &who,
                    "bkt",
                    key,
                    staged,
                    meta,
                    WriteCondition::None,
                    crate::store::Versioning::Unversioned,
                )
                .await
                .unwrap();
        }
        let req = actix_web::test::TestRequest::default().to_http_request();
        let query = Query::default();
        let config = S3Config {
            region: "us-east-1".into(),
            s3_host: None,
            allow_sse_c_over_http: false,
            public_access_block: Default::default(),
            object_ownership: Default::default(),
            lifecycle_interval: std::time::Duration::ZERO,
            lifecycle_day: std::time::Duration::from_secs(86_400),
        };
        let keys = crate::s3::sse::keys::KeyStore::open(&dir.join("kms")).unwrap();
        let sse = crate::s3::sse::state::SseState::new(keys);
        let rules = crate::s3::access::RulesCache::default();
        let ctx = Ctx {
            store: &store,
            config: &config,
            sse: &sse,
            req: &req,
            query: &query,
            who: who.clone(),
            rules: &rules,
            access: crate::s3::access::Access::without_bucket(None),
            bucket: "bkt".into(),
            key: String::new(),
        };
        for prefix in ["", "a", "a/", "b", "é/", "zz"] {
            for delimiter in ["", "/", "--", "b"] {
                let expected = reference(prefix, delimiter);
                for max_keys in 1..=expected.len() + 1 {
                    let mut seen = Vec::new();
                    let mut start = ListStart::Beginning;
                    for _ in 0..=KEYS.len() {
                        let page =
                            list_page(&ctx, prefix, delimiter, start.clone(), max_keys, false)
                                .await
                                .unwrap();
                        assert!(page.objects.len() + page.common_prefixes.len() <= max_keys);
                        let mut entries: Vec<String> =
                            page.objects.iter().map(|o| o.key.clone()).collect();
                        entries.extend(page.common_prefixes.iter().cloned());
                        entries.sort();
                        seen.extend(entries);
                        match page.next {
                            Some(next) => start = next,
                            None => break,
                        }
                    }
                    assert_eq!(
                        seen, expected,
                        "prefix {prefix:?} delimiter {delimiter:?} max {max_keys}"
                    );
                }
            }
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
