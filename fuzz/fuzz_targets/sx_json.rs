//! The JSON answers of an SX cluster (src/store/sx/proto.rs), read as the gateway reads
//! them, then the values it takes from them: hex metadata, listed names, times. A cluster is
//! trusted, but a broken or hostile node must not be able to crash the gateway.
//! Byte 0 picks the answer type; the rest is its body.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use libres3::encoding::hex;
use libres3::store::sx::mapping::{self, meta_from_sx, path_to_key, revision_etag};
use libres3::store::sx::proto::*;
use serde::de::DeserializeOwned;

fn read<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

/// What the gateway does with a metadata map: read every value, and S3 metadata from it.
fn use_meta(meta: &HexMeta, revision: &str) {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(meta) else {
        panic!("HexMeta serialises to an object");
    };
    for (key, value) in &map {
        let value = value.as_str().expect("hex values are strings");
        match meta.get(key) {
            Some(bytes) => {
                assert_eq!(hex(&bytes), value.to_ascii_lowercase(), "{value:?}");
                let mut copy = HexMeta::default();
                copy.insert(key, &bytes);
                assert_eq!(copy.get(key), Some(bytes));
            }
            None => assert!(
                value.len() % 2 == 1 || !value.bytes().all(|b| b.is_ascii_hexdigit()),
                "{value:?} is hex"
            ),
        }
    }
    let _ = meta_from_sx(Some(meta), revision);
}

/// As `from_secs` in src/store/sx/cluster.rs, then formatted as listings and headers do.
fn use_time(secs: i64) {
    let t = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    let _ = libres3::time::iso8601(t);
    let _ = libres3::time::http_date(t);
}

fn use_name(name: &str) {
    if let mapping::Listed::Key(key) = path_to_key(name) {
        if let Some(path) = mapping::key_to_path(&key) {
            let _ = path.url();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 12 {
        0 => {
            if let Some(job) = read::<Job>(body) {
                let _ = job.min_poll_interval.min(job.max_poll_interval);
            }
        }
        1 => {
            let _ = read::<JobStatus>(body);
        }
        2 => {
            let _ = read::<NodeList>(body);
        }
        3 => {
            if let Some(locate) = read::<Locate>(body) {
                if let Some(meta) = &locate.volume_meta {
                    use_meta(meta, "");
                }
            }
        }
        4 => {
            if let Some(list) = read::<VolumeList>(body) {
                for (name, entry) in &list.volume_list {
                    if let Some(meta) = &entry.volume_meta {
                        use_meta(meta, name);
                    }
                }
            }
        }
        5 => {
            if let Some(listing) = read::<Listing>(body) {
                for (name, entry) in &listing.file_list {
                    use_name(name);
                    use_time(entry.created_at.unwrap_or(0));
                    let revision = entry.file_revision.as_deref().unwrap_or("");
                    let _ = revision_etag(revision);
                    if let Some(meta) = &entry.file_meta {
                        use_meta(meta, revision);
                    }
                }
            }
        }
        6 => {
            if let Some(file) = read::<File>(body) {
                use_time(file.created_at);
                let bs = file.block_size.max(1);
                let _ = mapping::block_count(file.file_size, bs);
            }
        }
        7 => {
            if let Some(meta) = read::<FileMeta>(body) {
                use_meta(&meta.file_meta, "");
            }
        }
        8 => {
            let _ = read::<Upload>(body);
        }
        9 => {
            let _ = read::<UserRecord>(body);
        }
        10 => {
            let _ = read::<ErrorBody>(body);
        }
        _ => {
            let _ = read::<SelfInfo>(body);
        }
    }
});
