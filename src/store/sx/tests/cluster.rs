//! Connecting to a cluster, failover between nodes, clock skew, sharing the store.

use super::*;

#[test]
fn the_store_can_be_shared_by_server_workers() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<SxStore>();
}

/// Settings for `fake` whose admin key is not the cluster's.
fn not_the_admin_key(fake: &FakeSx) -> SxConfig {
    SxConfig::from_pairs(&pairs(&[
        ("sx_host", fake.ips.join(",")),
        ("sx_port", fake.port.to_string()),
        (
            "secret_key",
            "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckAAAA".into(),
        ),
        ("sx_use_ssl", "no".into()),
    ]))
    .unwrap()
}

#[actix_web::test]
async fn connect_names_the_host_when_it_fails() {
    let fake = FakeSx::start(1);
    let mut cfg = config(&fake, &[]);
    cfg.port = 1;
    let e = SxStore::connect(cfg).await.err().unwrap();
    assert!(e.contains("127.0.0.1"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    let e = SxStore::connect(not_the_admin_key(&fake))
        .await
        .err()
        .unwrap();
    assert!(e.contains("secret_key"), "{e}");
}

#[actix_web::test]
async fn a_stopped_node_is_skipped() {
    let mut fake = FakeSx::start(3);
    fake.add_user("alice");
    fake.add_volume("ha", "alice", 2, &[]);
    let store = connect(&fake).await;
    let alice = user("alice");
    let data = random(300_000);
    put(&store, &alice, "ha", "before", &data).await;
    let first = fake.volume_nodes("ha")[0];
    fake.stop_node(first).await;
    assert_eq!(get(&store, &alice, "ha", "before").await.unwrap(), data);
    put(&store, &alice, "ha", "after", &data[..1000]).await;
    assert_eq!(
        list_all(&store, &alice, "ha", "", 10).await,
        ["after", "before"]
    );
    // With every node down the backend is unavailable, not hanging.
    for i in 0..3 {
        fake.stop_node(i).await;
    }
    store
        .cluster()
        .expect("connected")
        .inner
        .volumes
        .invalidate_all();
    store
        .cluster()
        .expect("connected")
        .inner
        .users
        .invalidate_all();
    assert!(matches!(
        store
            .list_objects(&alice, "ha", "", &ListStart::Beginning, 10, None)
            .await,
        Err(StoreError::Unavailable(_))
    ));
}

#[actix_web::test]
async fn clock_skew_is_corrected() {
    let fake = FakeSx::start(1);
    fake.add_user("alice");
    fake.add_volume("vol", "alice", 1, &[]);
    let store = connect(&fake).await;
    fake.set_clock_offset(3600);
    let alice = user("alice");
    put(&store, &alice, "vol", "k", b"data").await;
    assert_eq!(get(&store, &alice, "vol", "k").await.unwrap(), b"data");
}

#[actix_web::test]
async fn a_store_started_before_its_cluster_serves_once_a_node_answers() {
    let mut fake = FakeSx::start(2);
    fake.add_user("alice");
    fake.add_volume("vol", "alice", 2, &[]);
    fake.stop_node(0).await;
    fake.stop_node(1).await;
    let store = SxStore::start(config(&fake, &[]))
        .await
        .expect("starts while no node answers");
    let alice = user("alice");
    assert!(matches!(
        store.list_buckets(&alice).await,
        Err(StoreError::Unavailable(_))
    ));
    let state = store.backend_state().await;
    assert_eq!(state.parts.len(), 2);
    assert!(state
        .parts
        .iter()
        .all(|p| p.required && p.ok == Some(false)));
    fake.start_node(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let buckets = loop {
        match store.list_buckets(&alice).await {
            Ok(buckets) => break buckets,
            Err(StoreError::Unavailable(why)) => {
                assert!(std::time::Instant::now() < deadline, "{why}");
                // Polling interval: the loop ends on the answer.
                actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(
        buckets.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["vol"]
    );
}

#[actix_web::test]
async fn settings_sx_refuses_still_stop_the_start() {
    let fake = FakeSx::start(1);
    let e = SxStore::start(not_the_admin_key(&fake))
        .await
        .err()
        .unwrap();
    assert!(e.contains("secret_key"), "{e}");
}
