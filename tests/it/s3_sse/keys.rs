//! The key store of SSE-S3 and SSE-KMS: `libres3 kms create-key|list-keys` and the key ids
//! (UUIDs) and ARNs the server answers.

use std::collections::BTreeSet;

use crate::common::clients::assert_success;
use crate::common::TestServer;

/// Whether `s` is a UUID in its text form (8-4-4-4-12 hex digits).
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every UUID in a text, in order of appearance.
fn uuids_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .filter(|word| is_uuid(word))
        .map(str::to_owned)
        .collect()
}

/// The key id of a KMS key ARN, `arn:aws:kms:REGION:ACCOUNT:key/UUID` ("Key ARN", AWS KMS
/// "Key identifiers"); fails the test when the ARN has another form.
#[track_caller]
pub fn key_id_of_arn(arn: &str) -> String {
    let id = arn
        .strip_prefix("arn:aws:kms:")
        .and_then(|rest| rest.split_once(":key/"))
        .map(|(_, id)| id)
        .filter(|id| is_uuid(id))
        .unwrap_or_else(|| panic!("not a KMS key ARN arn:aws:kms:...:key/<uuid>: {arn:?}"));
    id.to_owned()
}

/// `libres3 kms create-key --description D` on the server's data directories: the new key's
/// id, the one thing it prints on stdout.
pub fn create_kms_key(s: &TestServer, description: &str) -> String {
    let out = s.admin_output(&["kms", "create-key", "--description", description]);
    assert_success(&out, "libres3 kms create-key");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(is_uuid(&id), "kms create-key printed {id:?}, not a key id");
    id
}

/// The key ids `libres3 kms list-keys` lists, and its whole output.
fn list_keys(s: &TestServer) -> (BTreeSet<String>, String) {
    let out = s.admin(&["kms", "list-keys"]);
    (uuids_in(&out), out)
}

/// A hex string's bytes.
pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

// Issue 19: keys by id in a local key store, `libres3 kms create-key|list-keys`, and, as
// AWS's managed key (SSE-KMS: "the AWS managed key (aws/s3)", made the first time it is
// needed), a default key the server makes on first use. PutObject answers the key's ARN in
// x-amz-server-side-encryption-aws-kms-key-id.
#[test]
fn kms_cli_creates_and_lists_keys() {
    let s = TestServer::start();
    let first = create_kms_key(&s, "first test key");
    let second = create_kms_key(&s, "second test key");
    assert_ne!(first, second);
    let (listed, text) = list_keys(&s);
    assert_eq!(
        listed,
        BTreeSet::from([first.clone(), second.clone()]),
        "{text}"
    );
    assert!(
        text.contains("first test key") && text.contains("second test key"),
        "list-keys shows no descriptions:\n{text}"
    );

    // The first SSE-S3 object makes the default key.
    let raw = s.raw();
    let bucket = crate::common::unique_bucket("kms-cli");
    raw.create_bucket(&bucket);
    let put = raw
        .put(&format!("/{bucket}/sse-s3"))
        .header("x-amz-server-side-encryption", "AES256")
        .body("made the default key")
        .send()
        .ok();
    assert_eq!(put.header("x-amz-server-side-encryption"), Some("AES256"));
    let (listed, text) = list_keys(&s);
    let made: Vec<&String> = listed
        .iter()
        .filter(|id| **id != first && **id != second)
        .collect();
    assert_eq!(made.len(), 1, "one default key expected:\n{text}");
    assert_eq!(listed.len(), 3, "{text}");
    let default = made[0].clone();

    // SSE-KMS without a key id uses it, and makes no other.
    let put = raw
        .put(&format!("/{bucket}/sse-kms"))
        .header("x-amz-server-side-encryption", "aws:kms")
        .body("the default key")
        .send()
        .ok();
    assert_eq!(put.header("x-amz-server-side-encryption"), Some("aws:kms"));
    let arn = put
        .header("x-amz-server-side-encryption-aws-kms-key-id")
        .unwrap_or_default();
    assert_eq!(key_id_of_arn(arn), default, "SSE-KMS's default key");
    assert_eq!(list_keys(&s).0.len(), 3, "another key was made");
}
