//! SX volume ACLs count as bucket grants (issue 17): the rights an SX admin gives a user on a
//! volume with SX's own tools let that user use the bucket through the gateway, and the
//! owner's GetBucketAcl shows them as grants (read -> READ, write -> WRITE).
//!
//! AWS pages followed: User Guide "Access control list (ACL) overview" (READ on a bucket lists
//! its objects, WRITE creates objects in it); API reference GetBucketAcl, ListObjectsV2,
//! GetObject, PutObject (403 AccessDenied without the right).

use crate::common::raw::obj_path;
use crate::common::{unique_bucket, xml_child_texts, xml_text, TestServer};

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
