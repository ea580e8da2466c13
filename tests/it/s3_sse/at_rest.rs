//! Issue 19's at-rest check: objects holding a marker string, written with SSE-S3, SSE-KMS
//! and SSE-C by a single PUT, a multipart upload and a copy, leave the marker nowhere in the
//! storage — the embedded store's data directories, or the SX cluster's blocks and meta (and
//! the gateway's own directories). A plain object holding another marker is found by the same
//! scan, so the scan can fail. The same idea as `tests/it/encryption.rs`, for S3's own
//! encryption interface ("Protecting data with server-side encryption": data is encrypted
//! before it is written to disk).

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::json;

use super::keys::unhex;
use crate::common::clients::boto3;
use crate::common::{files_containing, random_suffix, unique_bucket, Backend, TestServer};

/// The storage directories of a real SX cluster's nodes, when the harness names them
/// (`LIBRES3_TEST_SX_NODE_DIRS`, from scripts/sx-cluster).
fn real_node_dirs() -> Vec<PathBuf> {
    std::env::var("LIBRES3_TEST_SX_NODE_DIRS")
        .map(|dirs| dirs.split_whitespace().map(PathBuf::from).collect())
        .unwrap_or_default()
}

/// Where a byte string is stored: file paths (embedded, gateway, a real SX cluster's nodes
/// when named) or fake SX items.
fn places_holding(s: &TestServer, needle: &[u8]) -> Vec<String> {
    let mut dirs = s.data_dirs.clone();
    if s.backend() == Backend::Sx && s.sx().and_then(|c| c.fake()).is_none() {
        dirs.extend(real_node_dirs());
    }
    let mut found: Vec<String> = files_containing(&dirs, needle)
        .iter()
        .map(|f: &PathBuf| f.display().to_string())
        .collect();
    if let Some(fake) = s.sx().and_then(|cluster| cluster.fake()) {
        found.extend(fake.stored_items_containing(needle));
    }
    found
}

/// Writes the objects of `py/boto3_sse_at_rest.py` with this SSE-C key, checks they read back,
/// then scans the storage for their marker and for the key.
pub fn scan_after_writes(s: &TestServer, sse_c_key_hex: &str) {
    // Unique to this run: a server shared with other tests may hold older markers.
    let marker = format!(
        "==libres3 sse at-rest marker {}{}==",
        random_suffix(),
        random_suffix()
    );
    let control = format!(
        "==libres3 sse plain control {}{}==",
        random_suffix(),
        random_suffix()
    );
    let v = boto3(
        s,
        include_str!("../py/boto3_sse_at_rest.py"),
        &unique_bucket("sse-at-rest"),
        &[
            ("SSE_C_KEY", sse_c_key_hex),
            ("MARKER", &marker),
            ("CONTROL_MARKER", &control),
        ],
    );
    assert_eq!(
        v["control"],
        json!(true),
        "the plain control object reads back"
    );
    for mode in ["sse-s3", "sse-kms", "sse-c"] {
        let r = &v[mode];
        assert!(
            r.get("error").is_none(),
            "{mode}: a write was refused: {}",
            r["error"]
        );
        for name in ["single", "multi", "copy"] {
            assert_eq!(r[name], v["expected"][name], "{mode}/{name}: read back");
        }
    }

    let on_real_cluster = s.backend() == Backend::Sx && s.sx().and_then(|c| c.fake()).is_none();
    if on_real_cluster && real_node_dirs().is_empty() {
        // A cluster the harness did not build: its disks are not ours to read.
        eprintln!("s3_sse: a real SX cluster without LIBRES3_TEST_SX_NODE_DIRS: scanning the gateway's directories only");
    } else {
        assert_ne!(
            places_holding(s, control.as_bytes()),
            Vec::<String>::new(),
            "the scan does not find the plain object's marker: it could not find anything"
        );
    }
    assert_eq!(
        places_holding(s, marker.as_bytes()),
        Vec::<String>::new(),
        "plaintext of an encrypted object at rest"
    );
    // The customer key is never stored, in any form.
    let key = unhex(sse_c_key_hex);
    for (form, needle) in [
        ("raw", key.clone()),
        ("base64", BASE64.encode(&key).into_bytes()),
        ("hex", sse_c_key_hex.as_bytes().to_vec()),
    ] {
        assert_eq!(
            places_holding(s, &needle),
            Vec::<String>::new(),
            "the SSE-C key ({form}) at rest"
        );
    }
}
