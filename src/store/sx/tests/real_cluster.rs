//! Opt-in: the same workflows against a real SX cluster.

use super::*;

/// Opt-in: the same workflows against a real SX cluster, when `LIBRES3_TEST_SX_URL`
/// (`http[s]://node[:port]`) and `LIBRES3_TEST_SX_ADMIN_KEY` are set (`LIBRES3_TEST_SX_CA_FILE`
/// for a self-signed cluster certificate).
/// A store connected to the real cluster `LIBRES3_TEST_SX_URL` names, if it is set.
pub(super) async fn real_store() -> Option<SxStore> {
    real_store_with(&[("volume_size", "100M")]).await
}

/// [`real_store`] with these settings (`volume_size` among them).
pub(super) async fn real_store_with(settings: &[(&str, &str)]) -> Option<SxStore> {
    let (Ok(url), Ok(key)) = (
        std::env::var("LIBRES3_TEST_SX_URL"),
        std::env::var("LIBRES3_TEST_SX_ADMIN_KEY"),
    ) else {
        return None;
    };
    let (ssl, rest) = match url.split_once("://") {
        Some(("https", rest)) => ("yes", rest),
        Some((_, rest)) => ("no", rest),
        None => ("no", url.as_str()),
    };
    let rest = rest.trim_end_matches('/');
    let mut list = vec![("secret_key", key), ("sx_use_ssl", ssl.to_owned())];
    list.extend(settings.iter().map(|(k, v)| (*k, v.to_string())));
    match rest.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            list.push(("sx_host", host.to_owned()));
            list.push(("sx_port", port.to_owned()));
        }
        _ => list.push(("sx_host", rest.to_owned())),
    }
    if let Ok(ca) = std::env::var("LIBRES3_TEST_SX_CA_FILE") {
        list.push(("sx_ca_file", ca));
    }
    Some(
        SxStore::connect(SxConfig::from_pairs(&pairs(&list)).unwrap())
            .await
            .unwrap(),
    )
}

#[actix_web::test]
async fn real_cluster() {
    let Some(store) = real_store().await else {
        eprintln!(
            "real_cluster: skipped (set LIBRES3_TEST_SX_URL and LIBRES3_TEST_SX_ADMIN_KEY to run it)"
        );
        return;
    };
    let admin = user("admin");
    let bucket = format!("libres3-test-{}", random_hex(4).unwrap());
    store.create_bucket(&admin, &bucket).await.unwrap();
    // A second gateway on the same cluster.
    let second = real_store()
        .await
        .expect("the cluster answered the first store");
    super::lease::check_leases(&store, &second, &admin, &bucket).await;
    let data = random(300_000);
    for key in ODD_KEYS {
        put(&store, &admin, &bucket, key, &data[..key.len() * 1000]).await;
    }
    let mut sorted: Vec<String> = ODD_KEYS.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    assert_eq!(list_all(&store, &admin, &bucket, "", 3).await, sorted);
    for key in ODD_KEYS {
        assert_eq!(
            get(&store, &admin, &bucket, key).await.unwrap(),
            &data[..key.len() * 1000]
        );
    }
    let id = store
        .create_multipart(&admin, &bucket, "mp", meta(""))
        .await
        .unwrap();
    let parts = [random(5 << 20), random(1000)];
    for (i, part) in parts.iter().enumerate() {
        let staged = store
            .stage(&admin, &bucket, body(part, 65536), Some(part.len() as u64))
            .await
            .unwrap();
        store
            .commit_part(
                &admin,
                &bucket,
                "mp",
                &id,
                i as u32 + 1,
                staged,
                format!("p{i}"),
                None,
            )
            .await
            .unwrap();
    }
    let chosen = vec![(1, "p0".to_owned()), (2, "p1".to_owned())];
    store
        .complete_multipart(
            &admin,
            &bucket,
            "mp",
            &id,
            &chosen,
            meta("m"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    assert_eq!(
        get(&store, &admin, &bucket, "mp").await.unwrap(),
        parts.concat()
    );
    for key in ODD_KEYS.iter().chain(&["mp"]) {
        store
            .delete_object(&admin, &bucket, key, crate::store::Versioning::Unversioned)
            .await
            .unwrap();
    }
    // Staged bodies over 8 MiB are removed in the background; none was staged here, and the
    // gateway's own files do not keep the bucket.
    store.delete_bucket(&admin, &bucket).await.unwrap();
}
