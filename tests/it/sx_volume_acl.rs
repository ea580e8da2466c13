//! SX volume ACLs count as bucket grants (issue 17): the rights an SX admin gives a user on a
//! volume with SX's own tools let that user use the bucket through the gateway, and the
//! owner's GetBucketAcl shows them as grants (read -> READ, write -> WRITE).
//!
//! AWS pages followed: User Guide "Access control list (ACL) overview" (READ on a bucket lists
//! its objects, WRITE creates objects in it); API reference GetBucketAcl, ListObjectsV2,
//! GetObject, PutObject (403 AccessDenied without the right).

use serde_json::{json, Value};

use crate::common::raw::obj_path;
use crate::common::{unique_bucket, xml_child_texts, xml_text, SxCluster, TestServer};

/// The permissions the bucket's ACL grants the user of canonical ID `id`, as GetBucketAcl
/// answers them to the owner.
fn granted_to(owner: &crate::common::RawClient, bucket: &str, id: &str) -> Vec<String> {
    let acl = owner
        .get(&format!("/{bucket}"))
        .sub("acl")
        .send()
        .ok()
        .text();
    let grantees = xml_child_texts(&acl, "Grantee", "ID");
    let permissions = xml_child_texts(&acl, "Grant", "Permission");
    grantees
        .into_iter()
        .zip(permissions)
        .filter(|(grantee, _)| grantee == id)
        .map(|(_, permission)| permission)
        .collect()
}

/// Each volume's rights are given before the gateway first reads the bucket's rules (it
/// caches them 10 s), so the test does not depend on that cache: one bucket whose volume
/// the other user may read, one it may read and write.
#[test]
fn sx_volume_rights_are_bucket_grants() {
    let s = TestServer::start_sx();
    let sx = s.sx().expect("an SX server");
    let owner = s.raw();
    let creds = s.add_user("volacl");
    let user = creds.access.clone();
    let other = owner.with_creds(creds);
    // ListBuckets answers the caller's own canonical ID as the Owner.
    let other_id = xml_text(&other.get("/").send().ok().text(), "ID").expect("Owner ID");

    let readable = unique_bucket("sx-volacl-r");
    owner.create_bucket(&readable);
    sx.grant(&readable, &user, &["read"]);
    owner.put_object(&readable, "shared", b"the owner's object");
    assert_eq!(other.list_keys(&readable, ""), ["shared"]);
    assert_eq!(other.get_object(&readable, "shared"), b"the owner's object");
    other
        .put(&obj_path(&readable, "theirs"))
        .body(b"refused".to_vec())
        .send()
        .assert_error(403, "AccessDenied");
    assert_eq!(granted_to(&owner, &readable, &other_id), ["READ"]);

    let writable = unique_bucket("sx-volacl-rw");
    owner.create_bucket(&writable);
    sx.grant(&writable, &user, &["read", "write"]);
    other.put_object(&writable, "theirs", b"written by the grantee");
    assert_eq!(
        other.get_object(&writable, "theirs"),
        b"written by the grantee"
    );
    assert_eq!(other.list_keys(&writable, ""), ["theirs"]);
    assert_eq!(granted_to(&owner, &writable, &other_id), ["READ", "WRITE"]);
}

/// The volume ACL endpoints as the fake serves them and SX 2.3 answers them (seen on a real
/// cluster; fcgi-actions-volume.c): the admin sees every user with a right and the owner;
/// "manager" only with `&manager`, the owner's included; a body's changes apply in its order;
/// keys SX does not know and list items that are not names are ignored.
#[test]
fn sx_volume_acl_endpoints_answer_as_sx_does() {
    let sx = SxCluster::for_tests();
    let (owner, _) = sx.add_user("acl-own");
    let (reader, _) = sx.add_user("acl-read");
    let (manager, _) = sx.add_user("acl-mgr");
    let vol = unique_bucket("sx-acl-proto");
    let body = json!({
        "volumeSize": 20 << 20, "owner": owner, "replicaCount": sx.replica_count(),
    });
    let answer = sx.admin("PUT", &format!("/{vol}"), body.to_string().as_bytes());
    sx.wait_job(&answer, "creating a volume");
    sx.grant(&vol, &reader, &["read"]);
    sx.grant(&vol, &manager, &["manager"]);
    // Bodies as text: serde_json's maps would sort the keys.
    let change = |body: String, what: &str| {
        let answer = sx.admin("PUT", &format!("/{vol}?o=acl"), body.as_bytes());
        sx.wait_job(&answer, what);
    };
    change(
        format!(r#"{{"revoke-write":["{reader}"],"grant-write":["{reader}"]}}"#),
        "a revoke, then a grant",
    );
    change(
        format!(r#"{{"grant-owner":["{manager}"],"grant-read":[1,{{"user":"{manager}"}}]}}"#),
        "nothing SX reads",
    );
    let acl = |query: &str| -> Value {
        let answer = sx.admin("GET", &format!("/{vol}{query}"), b"");
        serde_json::from_slice(&answer.response.body)
            .unwrap_or_else(|e| panic!("GET {query}: {e}: {}", answer.response.text()))
    };
    assert_eq!(
        acl("?o=acl&manager"),
        json!({
            "admin": ["read", "write", "manager"],
            owner.clone(): ["read", "write", "manager", "owner"],
            reader.clone(): ["read", "write"],
            manager.clone(): ["manager"],
        })
    );
    assert_eq!(
        acl("?o=acl"),
        json!({
            "admin": ["read", "write"],
            owner: ["read", "write", "owner"],
            reader: ["read", "write"],
            manager: [],
        })
    );
}
