//! Users run as themselves on SX, and volumes SX clients filter are refused.

use super::*;

#[actix_web::test]
async fn users_are_isolated() {
    let fake = FakeSx::start(1);
    fake.add_user("alice");
    fake.add_user("bob");
    let store = connect(&fake).await;
    let (alice, bob) = (user("alice"), user("bob"));
    store.create_bucket(&alice, "private").await.unwrap();
    put(&store, &alice, "private", "secret", b"alice's").await;
    assert!(matches!(
        get(&store, &bob, "private", "secret").await,
        Err(StoreError::AccessDenied)
    ));
    assert!(matches!(
        store
            .list_objects(&bob, "private", "", &ListStart::Beginning, 10, None)
            .await,
        Err(StoreError::AccessDenied)
    ));
    assert!(matches!(
        store.stage(&bob, "private", body(b"x", 1), Some(1)).await,
        Err(StoreError::AccessDenied)
    ));
    assert!(matches!(
        store.delete_bucket(&bob, "private").await,
        Err(StoreError::AccessDenied)
    ));
    assert!(store.list_buckets(&bob).await.unwrap().is_empty());
    // The admin (keyid) sees everything.
    let admin = user("admin");
    assert_eq!(
        get(&store, &admin, "private", "secret").await.unwrap(),
        b"alice's"
    );
    assert!(matches!(
        store.list_buckets(&Principal::Anonymous).await,
        Err(StoreError::AccessDenied)
    ));
}

#[actix_web::test]
async fn filtered_volumes_are_listed_but_refused() {
    let fake = FakeSx::start(1);
    fake.add_user("alice");
    // `sxvol create -f zcomp` stores the filter's UUID as 16 raw bytes.
    let zcomp = crate::encoding::unhex("d5dbdf0afb174d1ba9ce4060317af5b5").unwrap();
    fake.add_volume("packed", "alice", 1, &[("filterActive", &zcomp)]);
    let store = connect(&fake).await;
    let alice = user("alice");
    let names: Vec<String> = store
        .list_buckets(&alice)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["packed"]);
    for result in [
        get(&store, &alice, "packed", "x").await.map(|_| ()),
        store
            .list_objects(&alice, "packed", "", &ListStart::Beginning, 10, None)
            .await
            .map(|_| ()),
        store
            .stage(&alice, "packed", body(b"x", 1), Some(1))
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(StoreError::Unsupported(why)) => {
                assert!(why.contains("zcomp (compression)"), "{why}")
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }
}
