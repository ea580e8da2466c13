//! Versioned buckets: each rule of the seam, the states a crash can leave between the steps
//! of a versioned write or delete, and two gateways writing one key. The scenarios take a
//! store and a bucket, so `real_cluster_versions` runs them against real SX too.

use super::*;
use crate::store::sx::versioned::now_micros;
use crate::store::sx::versions::{record_path, records_prefix, TIME_KEY, VID_KEY};
use crate::store::{Deleted, ObjectInfo, VersionStart, VersionSummary, Versioning, NULL_VERSION};

use Versioning::{Enabled, Suspended, Unversioned};

pub(crate) async fn put_v(
    store: &SxStore,
    who: &Principal,
    bucket: &str,
    key: &str,
    data: &[u8],
    versioning: Versioning,
) -> ObjectInfo {
    let staged = store
        .stage(who, bucket, body(data, 70_001), Some(data.len() as u64))
        .await
        .unwrap();
    let etag = format!("e-{}", String::from_utf8_lossy(data));
    store
        .commit_object(
            who,
            bucket,
            key,
            staged,
            meta(&etag),
            WriteCondition::None,
            versioning,
        )
        .await
        .unwrap()
}

async fn get_v(
    store: &SxStore,
    who: &Principal,
    bucket: &str,
    key: &str,
    id: Option<&str>,
) -> Result<Vec<u8>, StoreError> {
    read(store.open_object(who, bucket, key, id).await?, None).await
}

/// Every version of keys under `prefix`, read in pages of `page`: (key, id, latest, marker).
async fn versions_paged(
    store: &SxStore,
    who: &Principal,
    bucket: &str,
    prefix: &str,
    page: usize,
) -> Vec<(String, String, bool, bool)> {
    let mut out: Vec<VersionSummary> = Vec::new();
    let mut start = VersionStart::Beginning;
    loop {
        let got = store
            .list_object_versions(who, bucket, prefix, &start, page, None)
            .await
            .unwrap();
        let done = got.len() < page;
        out.extend(got);
        match out.last() {
            Some(last) if !done => {
                start = VersionStart::AfterVersion {
                    key: last.key.clone(),
                    version_id: last.version_id.clone(),
                }
            }
            _ => break,
        }
    }
    out.into_iter()
        .map(|v| (v.key, v.version_id, v.is_latest, v.delete_marker))
        .collect()
}

async fn versions_of(store: &SxStore, who: &Principal, bucket: &str, key: &str) -> Vec<String> {
    versions_paged(store, who, bucket, key, 1000)
        .await
        .into_iter()
        .filter(|(k, ..)| k == key)
        .map(|(_, id, ..)| id)
        .collect()
}

fn entry(key: &str, id: &str, latest: bool, marker: bool) -> (String, String, bool, bool) {
    (key.to_owned(), id.to_owned(), latest, marker)
}

/// Enabled: every write a new version; markers; deleting versions brings the next back.
pub(super) async fn enabled_rules(store: &SxStore, who: &Principal, b: &str) {
    let v0 = put_v(store, who, b, "k", b"zero", Unversioned).await;
    assert_eq!(v0.version_id, NULL_VERSION);
    let v1 = put_v(store, who, b, "k", b"one", Enabled).await.version_id;
    let v2 = put_v(store, who, b, "k", b"two", Enabled).await.version_id;
    assert_ne!(v1, v2);
    assert!(v1 != NULL_VERSION && v2 != NULL_VERSION);
    assert_eq!(get_v(store, who, b, "k", None).await.unwrap(), b"two");
    assert_eq!(get_v(store, who, b, "k", Some(&v1)).await.unwrap(), b"one");
    assert_eq!(
        get_v(store, who, b, "k", Some("null")).await.unwrap(),
        b"zero"
    );
    let reader = store.open_object(who, b, "k", None).await.unwrap();
    assert_eq!(reader.info().version_id, v2);
    assert_eq!(reader.info().meta.etag, "e-two");
    assert_eq!(
        versions_paged(store, who, b, "", 1000).await,
        [
            entry("k", &v2, true, false),
            entry("k", &v1, false, false),
            entry("k", NULL_VERSION, false, false)
        ]
    );
    let listed = store
        .list_objects(who, b, "", &ListStart::Beginning, 1000, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].etag, "e-two");

    let Deleted {
        version_id: Some(m),
        delete_marker: true,
    } = store.delete_object(who, b, "k", Enabled).await.unwrap()
    else {
        panic!("no marker");
    };
    for id in [None, Some(m.as_str())] {
        match store.open_object(who, b, "k", id).await {
            Err(StoreError::DeleteMarker { version_id, .. }) => assert_eq!(version_id, m),
            other => panic!("{id:?}: {:?}", other.map(|r| r.info().clone())),
        }
    }
    assert!(list_all(store, who, b, "", 10).await.is_empty());
    assert_eq!(
        versions_paged(store, who, b, "k", 2).await,
        [
            entry("k", &m, true, true),
            entry("k", &v2, false, false),
            entry("k", &v1, false, false),
            entry("k", NULL_VERSION, false, false)
        ]
    );
    assert!(matches!(
        store.delete_bucket(who, b).await,
        Err(StoreError::BucketNotEmpty)
    ));
    let gone = store.delete_version(who, b, "k", &m, None).await.unwrap();
    assert_eq!(
        (gone.version_id.as_deref(), gone.delete_marker),
        (Some(m.as_str()), true)
    );
    assert_eq!(get_v(store, who, b, "k", None).await.unwrap(), b"two");
    store.delete_version(who, b, "k", &v2, None).await.unwrap();
    assert_eq!(get_v(store, who, b, "k", None).await.unwrap(), b"one");
    assert_eq!(
        versions_of(store, who, b, "k").await,
        [v1.clone(), NULL_VERSION.into()]
    );
    let again = store.delete_version(who, b, "k", &v2, None).await.unwrap();
    assert_eq!(
        (again.version_id, again.delete_marker),
        (Some(v2.clone()), false)
    );
    assert!(matches!(
        get_v(store, who, b, "k", Some(&v2)).await,
        Err(StoreError::NoSuchVersion)
    ));
    store
        .delete_version(who, b, "k", NULL_VERSION, None)
        .await
        .unwrap();
    assert_eq!(get_v(store, who, b, "k", None).await.unwrap(), b"one");
    store.delete_version(who, b, "k", &v1, None).await.unwrap();
    assert!(matches!(
        get_v(store, who, b, "k", None).await,
        Err(StoreError::NoSuchKey)
    ));
    assert!(versions_paged(store, who, b, "", 1000).await.is_empty());
    // A marker even where the key has no version.
    let marker = store.delete_object(who, b, "never", Enabled).await.unwrap();
    assert!(marker.delete_marker);
    store
        .delete_version(who, b, "never", &marker.version_id.unwrap(), None)
        .await
        .unwrap();
}

/// Suspended: the null version is replaced, current or not, and a delete adds a null marker.
pub(super) async fn suspended_rules(store: &SxStore, who: &Principal, b: &str) {
    let a = put_v(store, who, b, "s", b"a", Enabled).await.version_id;
    assert_eq!(
        put_v(store, who, b, "s", b"b", Suspended).await.version_id,
        NULL_VERSION
    );
    assert_eq!(
        put_v(store, who, b, "s", b"c", Suspended).await.version_id,
        NULL_VERSION
    );
    assert_eq!(versions_of(store, who, b, "s").await, [NULL_VERSION, &a]);
    assert_eq!(get_v(store, who, b, "s", Some("null")).await.unwrap(), b"c");
    assert_eq!(get_v(store, who, b, "s", None).await.unwrap(), b"c");
    let d = store.delete_object(who, b, "s", Suspended).await.unwrap();
    assert_eq!(
        (d.version_id.as_deref(), d.delete_marker),
        (Some("null"), true)
    );
    assert_eq!(
        versions_paged(store, who, b, "s", 1000).await,
        [entry("s", "null", true, true), entry("s", &a, false, false)]
    );
    match store.open_object(who, b, "s", None).await {
        Err(StoreError::DeleteMarker { version_id, .. }) => assert_eq!(version_id, "null"),
        other => panic!("{:?}", other.map(|r| r.info().clone())),
    }
    let e = put_v(store, who, b, "s", b"e", Enabled).await.version_id;
    assert_eq!(
        versions_of(store, who, b, "s").await,
        [&e, NULL_VERSION, &a]
    );
    store
        .delete_version(who, b, "s", NULL_VERSION, None)
        .await
        .unwrap();
    assert_eq!(
        versions_of(store, who, b, "s").await,
        [e.as_str(), a.as_str()]
    );
    assert_eq!(get_v(store, who, b, "s", None).await.unwrap(), b"e");
    for id in [e, a] {
        store.delete_version(who, b, "s", &id, None).await.unwrap();
    }
}

/// Paging by (key, version) gives the same listing at every page size, in key order, with
/// escaped keys and objects written before versioning among them.
pub(super) async fn paging_rules(store: &SxStore, who: &Principal, b: &str) {
    let keys = ["a", "a/", "a/b", "a/b/c", "b", ".libres3x", "c d", "é"];
    put_v(store, who, b, "a/b", b"old", Unversioned).await;
    for key in keys {
        put_v(store, who, b, key, b"1", Enabled).await;
        put_v(store, who, b, key, b"2", Enabled).await;
    }
    put_v(store, who, b, "z-plain", b"old", Unversioned).await;
    store.delete_object(who, b, "b", Enabled).await.unwrap();
    let full = versions_paged(store, who, b, "", 1000).await;
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.push("z-plain");
    sorted.sort();
    let mut seen: Vec<&str> = full.iter().map(|(k, ..)| k.as_str()).collect();
    seen.dedup();
    assert_eq!(seen, sorted);
    assert_eq!(full.len(), keys.len() * 2 + 1 + 1 + 1);
    for (i, (key, _, latest, _)) in full.iter().enumerate() {
        assert_eq!(*latest, i == 0 || full[i - 1].0 != *key, "{i} {key}");
    }
    assert_eq!(
        full.iter()
            .filter(|(k, ..)| k == "a/b")
            .map(|(_, id, ..)| id.as_str())
            .next_back(),
        Some(NULL_VERSION)
    );
    for page in [1, 2, 3] {
        assert_eq!(
            versions_paged(store, who, b, "", page).await,
            full,
            "page {page}"
        );
    }
    let under_a: Vec<_> = full
        .iter()
        .filter(|(k, ..)| k.starts_with("a/"))
        .cloned()
        .collect();
    assert_eq!(versions_paged(store, who, b, "a/", 2).await, under_a);
    let after_a = store
        .list_object_versions(
            who,
            b,
            "",
            &VersionStart::AfterPrefix("a/".into()),
            1000,
            None,
        )
        .await
        .unwrap();
    assert_eq!(after_a.first().map(|v| v.key.as_str()), Some("b"));
    let after_key = store
        .list_object_versions(who, b, "", &VersionStart::AfterKey("a".into()), 1, None)
        .await
        .unwrap();
    assert_eq!(after_key[0].key, "a/");
    assert!(after_key[0].is_latest);
}

/// What a crash between the steps of a versioned write or delete leaves is read sensibly and
/// set right by the next write.
pub(super) async fn crash_states(store: &SxStore, who: &Principal, b: &str) {
    let cluster = store.cluster().unwrap();
    let vol = cluster.data_volume(who, b).await.unwrap();
    let path = key_to_path_for_test("c");
    let prefix = records_prefix("c").unwrap();
    // A write that stopped after its record: the current file is still the one before.
    // The record is listed as the latest and read by its id; a plain GET reads the older
    // current file until the next write or version delete of the key settles it (README).
    let v1 = put_v(store, who, b, "c", b"one", Enabled).await.version_id;
    let one = record_path(&prefix, 0, &v1);
    let (file, sx_meta) = cluster.file_with_meta(&vol, &one).await.unwrap();
    let hashes = file.hashes();
    let v2 = put_v(store, who, b, "c", b"two", Enabled).await.version_id;
    cluster
        .create_from_hashes(&vol, &path, file.file_size, &hashes, Some(&sx_meta))
        .await
        .unwrap();
    assert_eq!(get_v(store, who, b, "c", None).await.unwrap(), b"one");
    assert_eq!(get_v(store, who, b, "c", Some(&v2)).await.unwrap(), b"two");
    assert_eq!(
        versions_of(store, who, b, "c").await,
        [v2.as_str(), v1.as_str()]
    );
    // A version delete that stopped after setting the current file: v2 is still listed and
    // readable, and deleting it again finishes the job.
    cluster.settle_current(&vol, &path, &prefix).await.unwrap();
    assert_eq!(get_v(store, who, b, "c", None).await.unwrap(), b"two");
    cluster
        .create_from_hashes(&vol, &path, file.file_size, &hashes, Some(&sx_meta))
        .await
        .unwrap();
    assert_eq!(get_v(store, who, b, "c", None).await.unwrap(), b"one");
    assert_eq!(get_v(store, who, b, "c", Some(&v2)).await.unwrap(), b"two");
    store.delete_version(who, b, "c", &v2, None).await.unwrap();
    assert_eq!(versions_of(store, who, b, "c").await, [v1.as_str()]);
    assert_eq!(get_v(store, who, b, "c", None).await.unwrap(), b"one");
    // A record newer than the current file (another write stopped after it): a marker
    // still hides the key.
    let early = now_micros() + 1_000_000;
    let v3 = crate::store::sx::versions::version_id(early, "0000000000000000");
    let mut m3 = sx_meta.clone();
    m3.insert(VID_KEY, v3.as_bytes());
    m3.insert(TIME_KEY, early.to_string().as_bytes());
    cluster
        .create_from_hashes(
            &vol,
            &record_path(&prefix, 0, &v3),
            file.file_size,
            &hashes,
            Some(&m3),
        )
        .await
        .unwrap();
    assert_eq!(
        versions_of(store, who, b, "c").await,
        [v3.as_str(), v1.as_str()]
    );
    let m = store.delete_object(who, b, "c", Enabled).await.unwrap();
    assert_eq!(
        versions_of(store, who, b, "c").await[0],
        m.version_id.clone().unwrap()
    );
    assert!(matches!(
        store.open_object(who, b, "c", None).await,
        Err(StoreError::DeleteMarker { .. })
    ));
    // A suspended write that stopped before removing the older null record: the newest
    // null is the null version, and the next suspended write removes both.
    put_v(store, who, b, "c", b"n1", Suspended).await;
    let old_null = record_path(&prefix, 1_000_000, NULL_VERSION);
    let mut mn = sx_meta.clone();
    mn.insert(VID_KEY, NULL_VERSION.as_bytes());
    mn.insert(TIME_KEY, b"1000000");
    cluster
        .create_from_hashes(&vol, &old_null, file.file_size, &hashes, Some(&mn))
        .await
        .unwrap();
    let nulls = |list: Vec<String>| list.iter().filter(|id| *id == NULL_VERSION).count();
    assert_eq!(nulls(versions_of(store, who, b, "c").await), 1);
    assert_eq!(
        get_v(store, who, b, "c", Some("null")).await.unwrap(),
        b"n1"
    );
    put_v(store, who, b, "c", b"n2", Suspended).await;
    assert!(matches!(
        cluster.file_meta(&vol, &old_null).await,
        Err(StoreError::NoSuchKey)
    ));
    for id in versions_of(store, who, b, "c").await {
        store.delete_version(who, b, "c", &id, None).await.unwrap();
    }
    assert!(versions_of(store, who, b, "c").await.is_empty());
}

fn key_to_path_for_test(key: &str) -> crate::store::sx::mapping::SxPath {
    crate::store::sx::mapping::key_to_path(key).unwrap()
}

/// Metadata replaced in place: same version, same time; others untouched.
pub(super) async fn update_meta_rules(store: &SxStore, who: &Principal, b: &str) {
    let v1 = put_v(store, who, b, "u", b"one", Enabled).await;
    let v2 = put_v(store, who, b, "u", b"two", Enabled).await;
    let before = store
        .open_object(who, b, "u", Some(&v1.version_id))
        .await
        .unwrap();
    let changed = store
        .update_meta(
            who,
            b,
            "u",
            Some(&v1.version_id),
            meta("x1"),
            &meta("e-one"),
        )
        .await
        .unwrap();
    assert_eq!(changed.version_id, v1.version_id);
    let after = store
        .open_object(who, b, "u", Some(&v1.version_id))
        .await
        .unwrap();
    assert_eq!(after.info().meta, meta("x1"));
    assert_eq!(after.info().last_modified, before.info().last_modified);
    assert_eq!(
        store
            .open_object(who, b, "u", None)
            .await
            .unwrap()
            .info()
            .meta,
        meta("e-two")
    );
    assert!(matches!(
        store
            .update_meta(who, b, "u", None, meta("x2"), &meta("e-one"))
            .await,
        Err(StoreError::SourceChanged)
    ));
    store
        .update_meta(who, b, "u", None, meta("x2"), &meta("e-two"))
        .await
        .unwrap();
    for id in [None, Some(v2.version_id.as_str())] {
        let reader = store.open_object(who, b, "u", id).await.unwrap();
        assert_eq!(reader.info().meta, meta("x2"));
        assert_eq!(reader.info().version_id, v2.version_id);
    }
    assert_eq!(versions_of(store, who, b, "u").await.len(), 2);
    // Copies read a version by id; a key whose latest is a marker has nothing to copy.
    let source = CopySource {
        bucket: b,
        key: "u",
        if_meta: None,
        version_id: Some(&v1.version_id),
    };
    let copy = store
        .copy_object(
            who,
            &source,
            b,
            "u2",
            meta("c"),
            WriteCondition::None,
            Enabled,
        )
        .await
        .unwrap();
    assert_ne!(copy.version_id, NULL_VERSION);
    assert_eq!(get_v(store, who, b, "u2", None).await.unwrap(), b"one");
    store.delete_object(who, b, "u", Enabled).await.unwrap();
    let latest = CopySource {
        version_id: None,
        ..source
    };
    assert!(matches!(
        store
            .copy_object(
                who,
                &latest,
                b,
                "u3",
                meta("c"),
                WriteCondition::None,
                Enabled
            )
            .await,
        Err(StoreError::DeleteMarker { .. })
    ));
    // A write condition sees a latest marker as absent.
    let staged = store
        .stage(who, b, body(b"new", 10), Some(3))
        .await
        .unwrap();
    store
        .commit_object(
            who,
            b,
            "u",
            staged,
            meta("n"),
            WriteCondition::IfAbsent,
            Enabled,
        )
        .await
        .unwrap();
    let staged = store
        .stage(who, b, body(b"newer", 10), Some(5))
        .await
        .unwrap();
    assert!(matches!(
        store
            .commit_object(
                who,
                b,
                "u",
                staged,
                meta("n"),
                WriteCondition::IfAbsent,
                Enabled
            )
            .await,
        Err(StoreError::PreconditionFailed)
    ));
    assert_eq!(versions_of(store, who, b, "u").await.len(), 4);
    for key in ["u", "u2"] {
        for id in versions_of(store, who, b, key).await {
            store.delete_version(who, b, key, &id, None).await.unwrap();
        }
    }
}

async fn run_all(store: &SxStore, who: &Principal, b: &str) {
    enabled_rules(store, who, b).await;
    suspended_rules(store, who, b).await;
    update_meta_rules(store, who, b).await;
    crash_states(store, who, b).await;
    paging_rules(store, who, b).await;
    long_key_rules(store, who, b).await;
}

#[actix_web::test]
async fn versioned_bucket_rules() {
    let (fake, store, alice) = alice_with_volume("v").await;
    run_all(&store, &alice, "v").await;
    // Objects of a plain bucket are written without a record.
    put_v(&store, &alice, "v", "plain", b"p", Unversioned).await;
    let (_, meta) = fake.file("v", "plain").unwrap();
    assert!(!meta.contains_key(VID_KEY));
}

/// Two gateways writing one key at once: no version is lost, and the current file is the
/// newest version.
async fn two_gateways(first: &SxStore, second: &SxStore, who: &Principal, b: &str) {
    let writes = (0..8).map(|i| {
        let store = if i % 2 == 0 { first } else { second };
        async move { put_v(store, who, b, "k2", format!("w{i}").as_bytes(), Enabled).await }
    });
    let written = futures_util::future::join_all(writes).await;
    let listed = versions_of(first, who, b, "k2").await;
    assert_eq!(listed.len(), 8);
    for info in &written {
        assert!(listed.contains(&info.version_id));
    }
    for store in [first, second] {
        let reader = store.open_object(who, b, "k2", None).await.unwrap();
        assert_eq!(reader.info().version_id, listed[0]);
    }
    for id in listed {
        second
            .delete_version(who, b, "k2", &id, None)
            .await
            .unwrap();
    }
}

#[actix_web::test]
async fn two_gateways_keep_every_version() {
    let (fake, first, alice) = alice_with_volume("v").await;
    let second = connect(&fake).await;
    two_gateways(&first, &second, &alice, "v").await;
}

/// Another gateway writes a newer version of the key between our record and our current
/// file, so ours replaces its current file: ours then puts the newest version back.
#[actix_web::test]
async fn a_write_overtaken_by_another_gateway_settles_the_current_file() {
    let (fake, store, alice) = alice_with_volume("v").await;
    put_v(&store, &alice, "v", "k3", b"first", Enabled).await;
    let later = now_micros() + 10_000_000;
    let theirs = crate::store::sx::versions::version_id(later, "000000000000abcd");
    let record = record_path(&records_prefix("k3").unwrap(), 0, &theirs);
    let hook_id = theirs.clone();
    fake.before_next(
        |method, uri, _| method == "PUT" && uri == "/v/k3",
        Box::new(move |st| {
            let s3 = serde_json::to_vec(&meta("e-theirs")).unwrap();
            let time = later.to_string();
            let m: [(&str, &[u8]); 3] = [
                (crate::store::sx::mapping::META_KEY, &s3),
                (VID_KEY, hook_id.as_bytes()),
                (TIME_KEY, time.as_bytes()),
            ];
            st.write_file("v", record.as_str(), b"theirs", &m);
            st.write_file("v", "k3", b"theirs", &m);
        }),
    );
    let ours = put_v(&store, &alice, "v", "k3", b"ours", Enabled).await;
    assert_eq!(fake.pending_hooks(), 0);
    let listed = versions_of(&store, &alice, "v", "k3").await;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[..2], [theirs.clone(), ours.version_id]);
    let reader = store.open_object(&alice, "v", "k3", None).await.unwrap();
    assert_eq!(reader.info().version_id, theirs);
    assert_eq!(read(reader, None).await.unwrap(), b"theirs");
}

/// Another gateway's version of a record: its file and meta as that gateway writes them.
fn their_version(
    st: &mut super::sx_fake::State,
    key: &str,
    id: &str,
    micros: u64,
    data: &[u8],
    current_too: bool,
) {
    let s3 = serde_json::to_vec(&meta(&format!("e-{}", String::from_utf8_lossy(data)))).unwrap();
    let time = micros.to_string();
    let m: [(&str, &[u8]); 3] = [
        (crate::store::sx::mapping::META_KEY, &s3),
        (VID_KEY, id.as_bytes()),
        (TIME_KEY, time.as_bytes()),
    ];
    let record = record_path(&records_prefix(key).unwrap(), micros, id);
    st.write_file("v", record.as_str(), data, &m);
    if current_too {
        st.write_file("v", key, data, &m);
    }
}

/// Two gateways writing the null version at once (Suspended): the newest stays, whichever
/// gateway cleans up last (each used to drop every null record but its own).
#[actix_web::test]
async fn two_gateways_writing_the_null_version_keep_the_newest() {
    let (fake, store, alice) = alice_with_volume("v").await;
    let later = now_micros() + 10_000_000;
    fake.before_next(
        |method, uri, _| method == "PUT" && uri == "/v/kn",
        Box::new(move |st| their_version(st, "kn", NULL_VERSION, later, b"theirs", true)),
    );
    put_v(&store, &alice, "v", "kn", b"ours", Suspended).await;
    assert_eq!(fake.pending_hooks(), 0);
    assert_eq!(versions_of(&store, &alice, "v", "kn").await, [NULL_VERSION]);
    for id in [None, Some(NULL_VERSION)] {
        assert_eq!(
            get_v(&store, &alice, "v", "kn", id).await.unwrap(),
            b"theirs"
        );
    }
}

/// A tagging (update_meta) of a version that another gateway deletes between the tagging's
/// read and its rewrite does not bring the deleted version back.
#[actix_web::test]
async fn a_rewrite_racing_with_a_version_delete_does_not_resurrect_it() {
    let (fake, store, alice) = alice_with_volume("v").await;
    let v1 = put_v(&store, &alice, "v", "ku", b"one", Enabled).await;
    let v2 = put_v(&store, &alice, "v", "ku", b"two", Enabled).await;
    let record = record_path(&records_prefix("ku").unwrap(), 0, &v1.version_id);
    let tombstone = crate::store::sx::versions::tombstone_of(&record);
    fake.before_next(
        |method, uri, _| method == "PUT" && uri.contains("libres3/ver/"),
        Box::new(move |st| {
            // What the other gateway's delete_version leaves: a tombstone, no record.
            st.write_file("v", tombstone.as_str(), b"", &[]);
            st.remove_file("v", record.as_str());
        }),
    );
    store
        .update_meta(
            &alice,
            "v",
            "ku",
            Some(&v1.version_id),
            meta("e-tagged"),
            &v1.meta,
        )
        .await
        .unwrap();
    assert_eq!(fake.pending_hooks(), 0);
    assert_eq!(
        versions_of(&store, &alice, "v", "ku").await,
        [v2.version_id]
    );
    assert!(matches!(
        get_v(&store, &alice, "v", "ku", Some(&v1.version_id)).await,
        Err(StoreError::NoSuchVersion)
    ));
    assert_eq!(
        get_v(&store, &alice, "v", "ku", None).await.unwrap(),
        b"two"
    );
}

/// A version delete of the latest picks the next version while another gateway writes a
/// newer one: the newer one stays the current file.
#[actix_web::test]
async fn a_version_delete_overtaken_by_a_write_keeps_the_newest_current() {
    let (fake, store, alice) = alice_with_volume("v").await;
    put_v(&store, &alice, "v", "kd", b"one", Enabled).await;
    let v2 = put_v(&store, &alice, "v", "kd", b"two", Enabled).await;
    let later = now_micros() + 10_000_000;
    let theirs = crate::store::sx::versions::version_id(later, "000000000000abcd");
    let hook_id = theirs.clone();
    fake.before_next(
        |method, uri, _| method == "PUT" && uri == "/v/kd",
        Box::new(move |st| their_version(st, "kd", &hook_id, later, b"three", true)),
    );
    store
        .delete_version(&alice, "v", "kd", &v2.version_id, None)
        .await
        .unwrap();
    assert_eq!(fake.pending_hooks(), 0);
    let reader = store.open_object(&alice, "v", "kd", None).await.unwrap();
    assert_eq!(reader.info().version_id, theirs);
    assert_eq!(read(reader, None).await.unwrap(), b"three");
}

/// A key too long for version records (written before versioning) keeps working as its
/// null version: deleted while suspended or by version id, listed across pages.
pub(super) async fn long_key_rules(store: &SxStore, who: &Principal, b: &str) {
    let long = format!(
        "long/{}",
        "x".repeat(crate::store::sx::versions::max_versioned_key_len())
    );
    put_v(store, who, b, &long, b"old", Unversioned).await;
    put_v(store, who, b, "long/y", b"m1", Enabled).await;
    put_v(store, who, b, "long/y", b"m2", Enabled).await;
    // A page ending on the long key goes on with the next key.
    let listed = versions_paged(store, who, b, "long/", 1).await;
    let keys: Vec<&str> = listed.iter().map(|(k, ..)| k.as_str()).collect();
    assert_eq!(keys, [long.as_str(), "long/y", "long/y"]);
    assert!(matches!(
        store.delete_object(who, b, &long, Enabled).await,
        Err(StoreError::KeyTooLong(_))
    ));
    store
        .delete_version(who, b, &long, NULL_VERSION, None)
        .await
        .unwrap();
    assert!(matches!(
        get_v(store, who, b, &long, None).await,
        Err(StoreError::NoSuchKey)
    ));
    let info = put_v(store, who, b, &long, b"new", Suspended).await;
    assert_eq!(info.version_id, NULL_VERSION);
    assert_eq!(get_v(store, who, b, &long, None).await.unwrap(), b"new");
    store.delete_object(who, b, &long, Suspended).await.unwrap();
    let listed = versions_paged(store, who, b, "long/", 1000).await;
    assert!(listed.iter().all(|(k, ..)| *k != long));
    for (key, id, ..) in listed.into_iter().filter(|(k, ..)| k == "long/y") {
        store.delete_version(who, b, &key, &id, None).await.unwrap();
    }
}

/// Opt-in: the same scenarios against a real SX cluster (see `real_cluster`).
#[actix_web::test]
async fn real_cluster_versions() {
    let Some(store) = super::real_cluster::real_store().await else {
        eprintln!("real_cluster_versions: skipped (no LIBRES3_TEST_SX_URL)");
        return;
    };
    let admin = user("admin");
    let bucket = format!("libres3-ver-{}", random_hex(4).unwrap());
    store.create_bucket(&admin, &bucket).await.unwrap();
    run_all(&store, &admin, &bucket).await;
    let second = super::real_cluster::real_store().await.unwrap();
    two_gateways(&store, &second, &admin, &bucket).await;
    for key in list_all(&store, &admin, &bucket, "", 1000).await {
        store
            .delete_object(&admin, &bucket, &key, Unversioned)
            .await
            .unwrap();
    }
    for v in versions_paged(&store, &admin, &bucket, "", 1000).await {
        store
            .delete_version(&admin, &bucket, &v.0, &v.1, None)
            .await
            .unwrap();
    }
    store.delete_bucket(&admin, &bucket).await.unwrap();
}
