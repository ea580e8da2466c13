//! The lifecycle worker over SX: its version listing resumes from the last version of a page,
//! which the worker may be about to delete.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::{run_pass, LifecycleCounters, WorkerSettings};
use crate::s3::lifecycle::{parse_xml, to_xml, DOC_LIFECYCLE};
use crate::s3::versioning::DOC_VERSIONING;
use crate::store::sx::tests::alice_with_volume;
use crate::store::sx::tests::versions::put_v;
use crate::store::{ObjectStore, VersionStart, Versioning};

const DAY: Duration = Duration::from_secs(86_400);

/// A page that ends on a noncurrent `null` version due for expiry: the null goes, and the
/// listing goes on after it without taking the key's newer versions for older ones.
#[actix_web::test]
async fn a_page_ending_on_a_due_null_version_spares_the_newer_ones() {
    let (_fake, store, alice) = alice_with_volume("lc").await;
    put_v(&store, &alice, "lc", "a", b"a", Versioning::Unversioned).await;
    put_v(&store, &alice, "lc", "k", b"old", Versioning::Unversioned).await;
    put_v(&store, &alice, "lc", "z", b"z", Versioning::Unversioned).await;
    let current = put_v(&store, &alice, "lc", "k", b"new", Versioning::Enabled).await;
    let rules = parse_xml(
        b"<LifecycleConfiguration><Rule><ID>n</ID><Filter/><Status>Enabled</Status>\
          <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>\
          </NoncurrentVersionExpiration></Rule></LifecycleConfiguration>",
    )
    .unwrap();
    for (name, doc) in [
        (DOC_LIFECYCLE, to_xml(&rules)),
        (DOC_VERSIONING, "Enabled".to_owned()),
    ] {
        store
            .put_bucket_document(&alice, "lc", name, Some(doc))
            .await
            .unwrap();
    }
    let listed = |page| {
        let (store, alice) = (&store, &alice);
        async move {
            store
                .list_object_versions(alice, "lc", "", &VersionStart::Beginning, page, None)
                .await
                .unwrap()
                .into_iter()
                .map(|v| (v.key, v.version_id))
                .collect::<Vec<_>>()
        }
    };
    let null = |key: &str| (key.to_owned(), "null".to_owned());
    let k_current = ("k".to_owned(), current.version_id.clone());
    assert_eq!(
        listed(10).await,
        [null("a"), k_current.clone(), null("k"), null("z")]
    );
    // Pages of three: the first ends on k's null version.
    let settings = WorkerSettings {
        interval: Duration::from_secs(1),
        day: DAY,
        holder: "test".into(),
        page: 3,
    };
    let counters = LifecycleCounters::default();
    let later = SystemTime::now() + 3 * DAY;
    run_pass(&store, &counters, &settings, &mut HashMap::new(), later)
        .await
        .unwrap();
    assert_eq!(listed(10).await, [null("a"), k_current, null("z")]);
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(count(&counters.noncurrent_expired), 1);
    assert_eq!(count(&counters.errors), 0);
}
