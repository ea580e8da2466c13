//! Leases between gateways (`try_lease`), on the fake and, opt-in, on a real cluster.

use std::time::Duration;

use super::*;

/// Two gateways (two stores) contend for one lease: the first holds it and renews it, the
/// second is refused until it expires, and the record never shows in a listing.
pub(super) async fn check_leases(first: &SxStore, second: &SxStore, who: &Principal, bucket: &str) {
    let long = Duration::from_secs(600);
    assert!(first.try_lease(bucket, "job", "gw-1", long).await.unwrap());
    assert!(!second.try_lease(bucket, "job", "gw-2", long).await.unwrap());
    // Renewing one's own lease works, and another name is another lease.
    assert!(first.try_lease(bucket, "job", "gw-1", long).await.unwrap());
    assert!(second
        .try_lease(bucket, "other", "gw-2", long)
        .await
        .unwrap());
    // A lease that expired (a TTL of zero: at once) is taken over.
    assert!(first
        .try_lease(bucket, "job", "gw-1", Duration::ZERO)
        .await
        .unwrap());
    assert!(second.try_lease(bucket, "job", "gw-2", long).await.unwrap());
    assert!(!first.try_lease(bucket, "job", "gw-1", long).await.unwrap());
    let listed = first
        .list_objects(who, bucket, "", &ListStart::Beginning, 100, None)
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    assert!(matches!(
        first.try_lease(bucket, "a/b", "gw-1", long).await,
        Err(StoreError::Internal(_))
    ));
}

#[actix_web::test]
async fn one_gateway_at_a_time_holds_a_lease() {
    let (fake, first, alice) = alice_with_volume("leased").await;
    let second = connect(&fake).await;
    check_leases(&first, &second, &alice, "leased").await;
    assert!(fake
        .files("leased")
        .iter()
        .all(|f| f.starts_with(".libres3/lease/")));
    // The gateway's own files do not keep the bucket.
    first.delete_bucket(&alice, "leased").await.unwrap();
}
