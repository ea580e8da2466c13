use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{stream, StreamExt};

use super::*;
use crate::store::local::LocalStore;
use crate::store::{BodyError, ObjectMeta, Versioning, WriteCondition};

const DAY: Duration = Duration::from_secs(86_400);

struct World {
    store: LocalStore,
    dir: std::path::PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn who() -> Principal {
    Principal::User("alice".into())
}

async fn world(name: &str) -> World {
    let dir = std::env::temp_dir().join(format!(
        "libres3-lifecycle-{name}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let store = LocalStore::open(std::slice::from_ref(&dir)).unwrap();
    store.create_bucket(&who(), "b").await.unwrap();
    World { store, dir }
}

async fn put(store: &LocalStore, key: &str, data: &[u8], tags: Option<&str>) -> String {
    let mut headers = Vec::new();
    objmeta::set(&mut headers, objmeta::TAGGING, tags.map(str::to_string));
    put_with(store, key, data, headers, Versioning::Unversioned)
        .await
        .meta
        .etag
}

async fn put_with(
    store: &LocalStore,
    key: &str,
    data: &[u8],
    headers: Vec<(String, String)>,
    versioning: Versioning,
) -> crate::store::ObjectInfo {
    let chunks: Vec<Result<Bytes, BodyError>> = vec![Ok(Bytes::copy_from_slice(data))];
    let staged = store
        .stage(
            &who(),
            "b",
            stream::iter(chunks).boxed_local(),
            Some(data.len() as u64),
        )
        .await
        .unwrap();
    let meta = ObjectMeta {
        etag: format!("{:x}", md5::Md5::digest(data)),
        headers,
        size: None,
    };
    store
        .commit_object(
            &who(),
            "b",
            key,
            staged,
            meta,
            WriteCondition::None,
            versioning,
        )
        .await
        .unwrap()
}

async fn keys(store: &LocalStore) -> Vec<String> {
    store
        .list_objects(&who(), "b", "", &ListStart::Beginning, 100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        interval: Duration::from_secs(1),
        day: DAY,
        holder: holder_name(&[]),
        // Pages of two: every listing below spans several.
        page: 2,
    }
}

async fn enable_versioning(store: &LocalStore) {
    store
        .put_bucket_document(
            &who(),
            "b",
            versioning::DOC_VERSIONING,
            Some("Enabled".into()),
        )
        .await
        .unwrap();
}

async fn configure(store: &LocalStore, xml: &str) {
    let lifecycle = crate::s3::lifecycle::parse_xml(xml.as_bytes()).unwrap();
    store
        .put_bucket_document(
            &who(),
            "b",
            DOC_LIFECYCLE,
            Some(crate::s3::lifecycle::to_xml(&lifecycle)),
        )
        .await
        .unwrap();
}

use md5::Digest;

#[actix_web::test]
async fn due_objects_go_and_the_others_stay() {
    let w = world("due").await;
    configure(
        &w.store,
        "<LifecycleConfiguration>\
         <Rule><ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
         <Rule><ID>tmp</ID><Filter><Tag><Key>tmp</Key><Value>yes</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
         <Rule><ID>big</ID><Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
         <Rule><ID>off</ID><Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
         <Rule><ID>uploads</ID><Filter><Prefix>up/</Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>\
         </LifecycleConfiguration>",
    )
    .await;
    put(&w.store, "logs/a", b"x", None).await;
    put(&w.store, "keep", b"x", None).await;
    put(&w.store, "tagged", b"x", Some("tmp=yes")).await;
    put(&w.store, "other-tag", b"x", Some("tmp=no")).await;
    put(&w.store, "large", b"more than ten bytes", None).await;
    let old_upload = w
        .store
        .create_multipart(&who(), "b", "up/x", ObjectMeta::default())
        .await
        .unwrap();
    w.store
        .create_multipart(&who(), "b", "elsewhere", ObjectMeta::default())
        .await
        .unwrap();

    let counters = LifecycleCounters::default();
    let mut parsed = Parsed::new();
    // Today nothing is due.
    let now = SystemTime::now();
    run_pass(&w.store, &counters, &settings(), &mut parsed, now)
        .await
        .unwrap();
    assert_eq!(keys(&w.store).await.len(), 5);
    // Two days later: the objects one day rules match (rounded up to midnight).
    let later = now + 2 * DAY + Duration::from_secs(1);
    run_pass(&w.store, &counters, &settings(), &mut parsed, later)
        .await
        .unwrap();
    assert_eq!(keys(&w.store).await, vec!["keep", "other-tag"]);
    assert_eq!(counters.expired.load(Ordering::Relaxed), 3);
    // Three days later (rounded up) the upload under up/ goes, the other stays.
    let much_later = now + 4 * DAY;
    run_pass(&w.store, &counters, &settings(), &mut parsed, much_later)
        .await
        .unwrap();
    let left = w
        .store
        .list_multipart_uploads(&who(), "b", "", None, 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key, "elsewhere");
    assert_ne!(left[0].upload_id, old_upload);
    assert_eq!(counters.aborted.load(Ordering::Relaxed), 1);
    assert_eq!(counters.errors.load(Ordering::Relaxed), 0);
    assert_eq!(parsed.len(), 1, "the parsed configuration is kept");
}

#[actix_web::test]
async fn an_object_written_again_after_judgement_survives() {
    let w = world("rewrite").await;
    let judged = put(&w.store, "k", b"old", None).await;
    // The worker judged `k` (ETag `judged`) due; a client writes it again before the delete.
    put(&w.store, "k", b"new", None).await;
    let deleted = w
        .store
        .delete_object_if_etag(&who(), "b", "k", &judged)
        .await;
    assert!(
        matches!(deleted, Err(StoreError::PreconditionFailed)),
        "{deleted:?}"
    );
    assert_eq!(keys(&w.store).await, vec!["k"]);
}

async fn listed(store: &LocalStore, key: &str) -> Judged {
    let page = store
        .list_objects(&who(), "b", key, &ListStart::Beginning, 1, None)
        .await
        .unwrap();
    Judged {
        etag: page[0].etag.clone(),
        last_modified: page[0].last_modified,
    }
}

#[actix_web::test]
async fn the_same_bytes_written_again_after_judgement_survive() {
    let w = world("same-bytes").await;
    put(&w.store, "k", b"same", None).await;
    let judged = listed(&w.store, "k").await;
    // Written again with the same bytes (same ETag) at a later millisecond.
    let mut rewritten = judged.clone();
    for _ in 0..1000 {
        put(&w.store, "k", b"same", None).await;
        rewritten = listed(&w.store, "k").await;
        if rewritten.last_modified != judged.last_modified {
            break;
        }
    }
    assert_eq!(rewritten.etag, judged.etag);
    assert_ne!(rewritten.last_modified, judged.last_modified);
    let deleted = w
        .store
        .delete_object_if_unchanged(&who(), "b", "k", &judged, Versioning::Unversioned)
        .await;
    assert!(
        matches!(deleted, Err(StoreError::PreconditionFailed)),
        "{deleted:?}"
    );
    assert_eq!(keys(&w.store).await, vec!["k"]);
}

#[actix_web::test]
async fn expiration_in_a_versioned_bucket_adds_a_delete_marker() {
    let w = world("versioned").await;
    enable_versioning(&w.store).await;
    configure(
        &w.store,
        "<LifecycleConfiguration><Rule><ID>all</ID><Filter/><Status>Enabled</Status>\
         <Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
    )
    .await;
    put(&w.store, "k", b"x", None).await;
    let counters = LifecycleCounters::default();
    let later = SystemTime::now() + 2 * DAY + Duration::from_secs(1);
    run_pass(&w.store, &counters, &settings(), &mut Parsed::new(), later)
        .await
        .unwrap();
    assert!(keys(&w.store).await.is_empty());
    let versions = w
        .store
        .list_object_versions(
            &who(),
            "b",
            "",
            &crate::store::VersionStart::Beginning,
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(versions[0].is_latest && versions[0].delete_marker);
    assert!(!versions[1].delete_marker);
    assert_eq!(counters.expired.load(Ordering::Relaxed), 1);
}

#[test]
fn common_prefixes() {
    assert_eq!(common_prefix(["logs/a", "logs/b"].into_iter()), "logs/");
    assert_eq!(common_prefix(["logs/", ""].into_iter()), "");
    assert_eq!(common_prefix(["é1", "é2"].into_iter()), "é");
    assert_eq!(common_prefix(["éa", "è"].into_iter()), "");
    assert_eq!(common_prefix(["ab", "abc"].into_iter()), "ab");
    assert_eq!(common_prefix(std::iter::empty()), "");
}

#[test]
fn counters_read_as_prometheus() {
    let counters = LifecycleCounters::default();
    LifecycleCounters::add(&counters.expired, 3);
    let text = counters.prometheus();
    assert!(
        text.contains("\nlibres3_lifecycle_expired_objects_total 3\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE libres3_lifecycle_passes_total counter\n"),
        "{text}"
    );
}

#[actix_web::test]
async fn a_panicking_pass_is_counted_and_the_worker_goes_on() {
    let counters = LifecycleCounters::default();
    let panicking = async {
        if counters.passes.load(Ordering::Relaxed) == 0 {
            panic!("a bug inside a lifecycle pass");
        }
        Ok(())
    };
    assert!(!guarded(1, &counters, panicking).await);
    assert!(
        guarded(2, &counters, async {
            Err(StoreError::Unavailable("down".into()))
        })
        .await
    );
    assert!(guarded(3, &counters, async { Ok(()) }).await);
    assert_eq!(counters.passes.load(Ordering::Relaxed), 3);
    assert_eq!(counters.errors.load(Ordering::Relaxed), 2);
}

#[actix_web::test]
async fn a_date_in_the_past_expires_at_once() {
    let w = world("date").await;
    configure(
        &w.store,
        "<LifecycleConfiguration><Rule><ID>old</ID><Filter><Prefix>old/</Prefix></Filter><Status>Enabled</Status>\
         <Expiration><Date>2020-01-01T00:00:00Z</Date></Expiration></Rule>\
         <Rule><ID>future</ID><Filter><Prefix>new/</Prefix></Filter><Status>Enabled</Status>\
         <Expiration><Date>2999-01-01T00:00:00Z</Date></Expiration></Rule></LifecycleConfiguration>",
    )
    .await;
    put(&w.store, "old/a", b"x", None).await;
    put(&w.store, "new/a", b"x", None).await;
    let counters = LifecycleCounters::default();
    run_pass(
        &w.store,
        &counters,
        &settings(),
        &mut Parsed::new(),
        SystemTime::now(),
    )
    .await
    .unwrap();
    assert_eq!(keys(&w.store).await, vec!["new/a"]);
}

/// The versions of "b"'s keys, newest first per key, as "key id" ("key id marker").
async fn versions(store: &LocalStore) -> Vec<String> {
    store
        .list_object_versions(
            &who(),
            "b",
            "",
            &crate::store::VersionStart::Beginning,
            100,
            None,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|v| {
            let marker = if v.delete_marker { " marker" } else { "" };
            format!("{} {}{marker}", v.key, v.version_id)
        })
        .collect()
}

#[actix_web::test]
async fn noncurrent_versions_go_unless_locked_and_lone_markers_after_them() {
    let w = world("noncurrent").await;
    enable_versioning(&w.store).await;
    configure(
        &w.store,
        "<LifecycleConfiguration>\
         <Rule><ID>a</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration>\
         <NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>1</NewerNoncurrentVersions>\
         </NoncurrentVersionExpiration></Rule>\
         <Rule><ID>b</ID><Filter><Prefix>b</Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration>\
         <NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>\
         <Rule><ID>m</ID><Filter/><Status>Enabled</Status>\
         <Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>\
         </LifecycleConfiguration>",
    )
    .await;
    let enabled = Versioning::Enabled;
    let held = vec![(
        crate::s3::object_lock::LEGAL_HOLD_HEADER.to_string(),
        "ON".to_string(),
    )];
    let a1 = put_with(&w.store, "a", b"1", held, enabled).await;
    let a2 = put_with(&w.store, "a", b"2", vec![], enabled).await;
    let a3 = put_with(&w.store, "a", b"3", vec![], enabled).await;
    let a4 = put_with(&w.store, "a", b"4", vec![], enabled).await;
    let b1 = put_with(&w.store, "b", b"1", vec![], enabled).await;
    let b_marker = w
        .store
        .delete_object(&who(), "b", "b", enabled)
        .await
        .unwrap()
        .version_id
        .unwrap();
    let (a1, a2, a3, a4, b1) = (
        a1.version_id,
        a2.version_id,
        a3.version_id,
        a4.version_id,
        b1.version_id,
    );
    let all = vec![
        format!("a {a4}"),
        format!("a {a3}"),
        format!("a {a2}"),
        format!("a {a1}"),
        format!("b {b_marker} marker"),
        format!("b {b1}"),
    ];
    let counters = LifecycleCounters::default();
    let mut parsed = Parsed::new();
    let now = SystemTime::now();
    run_pass(&w.store, &counters, &settings(), &mut parsed, now)
        .await
        .unwrap();
    assert_eq!(versions(&w.store).await, all, "nothing is a day noncurrent");

    // Two days on: a's newest noncurrent version stays (NewerNoncurrentVersions), a2 and
    // b1 go, a1 is under a legal hold; b's marker still had b1 when it was listed.
    let later = now + 2 * DAY + Duration::from_secs(1);
    run_pass(&w.store, &counters, &settings(), &mut parsed, later)
        .await
        .unwrap();
    assert_eq!(
        versions(&w.store).await,
        vec![
            format!("a {a4}"),
            format!("a {a3}"),
            format!("a {a1}"),
            format!("b {b_marker} marker"),
        ]
    );
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    assert_eq!(count(&counters.noncurrent_expired), 2);
    assert_eq!(count(&counters.locked), 1);

    // The next pass: b's marker is alone now and goes; a1 is still held.
    run_pass(&w.store, &counters, &settings(), &mut parsed, later)
        .await
        .unwrap();
    assert_eq!(
        versions(&w.store).await,
        vec![format!("a {a4}"), format!("a {a3}"), format!("a {a1}")]
    );
    assert_eq!(count(&counters.markers_removed), 1);
    assert_eq!(count(&counters.locked), 2);

    // Once the hold is lifted a1 goes too.
    use crate::store::ObjectReader;
    let info = w
        .store
        .open_object(&who(), "b", "a", Some(&a1))
        .await
        .unwrap()
        .info()
        .clone();
    let mut lifted = info.meta.clone();
    lifted
        .headers
        .retain(|(n, _)| n != crate::s3::object_lock::LEGAL_HOLD_HEADER);
    w.store
        .update_meta(&who(), "b", "a", Some(&a1), lifted, &info.meta)
        .await
        .unwrap();
    run_pass(&w.store, &counters, &settings(), &mut parsed, later)
        .await
        .unwrap();
    assert_eq!(
        versions(&w.store).await,
        vec![format!("a {a4}"), format!("a {a3}")]
    );
    assert_eq!(count(&counters.noncurrent_expired), 3);
    assert_eq!(count(&counters.errors), 0);
}
