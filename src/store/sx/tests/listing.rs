//! Listings in key order, escaped keys included.

use super::*;

#[actix_web::test]
async fn odd_keys_round_trip_and_list_in_order() {
    let (_fake, store, alice) = alice_with_volume("odd").await;
    for key in ODD_KEYS {
        put(&store, &alice, "odd", key, key.as_bytes()).await;
    }
    for key in ODD_KEYS {
        assert_eq!(
            get(&store, &alice, "odd", key).await.unwrap(),
            key.as_bytes(),
            "{key:?}"
        );
    }
    let mut sorted: Vec<String> = ODD_KEYS.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    for page in [1, 2, 3, 1000] {
        assert_eq!(
            list_all(&store, &alice, "odd", "", page).await,
            sorted,
            "page {page}"
        );
    }
    for prefix in ["a/", "a", ".", ".libres3", "/", "a/b", "é"] {
        let want: Vec<String> = sorted
            .iter()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        assert_eq!(
            list_all(&store, &alice, "odd", prefix, 2).await,
            want,
            "prefix {prefix:?}"
        );
    }
    // Skipping a common prefix (delimiter listings) is exact too.
    let got = store
        .list_objects(
            &alice,
            "odd",
            "",
            &ListStart::AfterPrefix("a/".into()),
            1000,
            None,
        )
        .await
        .unwrap();
    let want: Vec<&String> = sorted
        .iter()
        .filter(|k| k.as_str() > "a/" && !k.starts_with("a/"))
        .collect();
    assert_eq!(got.iter().map(|o| &o.key).collect::<Vec<_>>(), want);
    for key in ODD_KEYS {
        store
            .delete_object(&alice, "odd", key, crate::store::Versioning::Unversioned)
            .await
            .unwrap();
    }
    assert!(list_all(&store, &alice, "odd", "", 10).await.is_empty());
}

/// Delimiter listings the way the S3 layer pages them (a common prefix is skipped with
/// `AfterPrefix`, small batches), escaped keys included: every entry once, in order.
#[actix_web::test]
async fn delimiter_listings_over_escaped_keys_are_exact() {
    const KEYS: &[&str] = &[
        "a", "a/", "a//b", "a/./c", "a/b", "a/c/d", "a0", "ab", "b--x", "b/x/y", "b/z", "c", "c/",
        "/x", "..", "é/1", "é/2",
    ];
    fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: &str) -> Option<&'k str> {
        if delimiter.is_empty() {
            return None;
        }
        let at = key.get(prefix.len()..)?.find(delimiter)?;
        key.get(..prefix.len() + at + delimiter.len())
    }
    let (_fake, store, who) = alice_with_volume("bkt").await;
    for key in KEYS {
        put(&store, &who, "bkt", key, b"x").await;
    }
    let mut sorted: Vec<&str> = KEYS.to_vec();
    sorted.sort();
    for prefix in ["", "a", "a/", "/", "."] {
        for delimiter in ["", "/", "--", "."] {
            let mut expected: Vec<String> = Vec::new();
            for key in sorted.iter().filter(|k| k.starts_with(prefix)) {
                let entry = common_prefix(key, prefix, delimiter)
                    .unwrap_or(key)
                    .to_string();
                if expected.last() != Some(&entry) {
                    expected.push(entry);
                }
            }
            for batch in [1, 2, 1000] {
                let mut seen = Vec::new();
                let mut start = ListStart::Beginning;
                'pages: loop {
                    let got = store
                        .list_objects(&who, "bkt", prefix, &start, batch, None)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        break;
                    }
                    for o in got {
                        match common_prefix(&o.key, prefix, delimiter) {
                            Some(cp) => {
                                seen.push(cp.to_owned());
                                start = ListStart::AfterPrefix(cp.to_owned());
                                continue 'pages;
                            }
                            None => {
                                seen.push(o.key.clone());
                                start = ListStart::After(o.key);
                            }
                        }
                    }
                }
                assert_eq!(
                    seen, expected,
                    "prefix {prefix:?} delimiter {delimiter:?} batch {batch}"
                );
            }
        }
    }
}
