//! Who may do what (issue 17): every action × {owner, other user, anonymous} × {no grant, ACL
//! grant, policy allow, policy deny, public access block}, on both backends, and a few cases
//! beside the table. Driven by boto3 (`py/boto3_access_matrix.py`): the script holds a small
//! model of AWS's rules, runs every cell, prints one table of the cells that differ from it
//! and fails if any do. `ACCESS_MATRIX_TABLE=<file>` in the test's environment also writes the
//! whole table there as JSON (the panic message shows only its tail).
//!
//! AWS pages followed: User Guide "Access control list (ACL) overview" (the mapping of ACL
//! permissions to policy actions), "Policies and permissions in Amazon S3", "Blocking public
//! access to your Amazon S3 storage", "Controlling ownership of objects and disabling ACLs for
//! your bucket"; API reference PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy,
//! GetBucketPolicyStatus, PutPublicAccessBlock, PutBucketOwnershipControls, GetObjectAcl and
//! the page of each action of the table; IAM User Guide "IAM JSON policy elements: Condition".

use serde_json::{json, Value};

use crate::common::clients::boto3;
use crate::common::{unique_bucket, TestServer};

crate::backend_tests! {
    every_action_by_every_requester_in_every_mode,
    policy_status_tells_public_policies,
    objects_of_another_writer_are_owned_as_the_bucket_says,
    block_public_acls_refuses_public_acls,
    malformed_policies_are_refused,
}

/// Runs one case of the script (`ACCESS_CASE`) as the server's first user, with the keys of
/// a second user of the server for the "other" requester.
fn run_case(s: &TestServer, case: &str) -> Value {
    let other = s.add_user("matrix");
    let table = std::env::var("ACCESS_MATRIX_TABLE").unwrap_or_default();
    let mut env = vec![
        ("ACCESS_CASE", case),
        ("OTHER_ACCESS_KEY", other.access.as_str()),
        ("OTHER_SECRET_KEY", other.secret.as_str()),
    ];
    if !table.is_empty() {
        env.push(("ACCESS_MATRIX_TABLE", table.as_str()));
    }
    boto3(
        s,
        include_str!("py/boto3_access_matrix.py"),
        &unique_bucket("acm"),
        &env,
    )
}

/// A refused call as the script records it: `[code, HTTP status]`.
fn refused(code: &str, status: u16) -> Value {
    json!([code, status])
}

// The table of issue 17's done-when: 35 actions (a GET of a missing key among them) × 3
// requesters × 5 modes, DeleteBucket per requester and the owner under a Deny of everything.
// The script exits non-zero and prints the differing cells when any differs from its model of
// AWS (GetObject: a missing key is 404 NoSuchKey only to who may list the bucket).
fn every_action_by_every_requester_in_every_mode(s: &TestServer) {
    let v = run_case(s, "matrix");
    assert_eq!(v["mismatches"], json!(0), "{v}");
    assert_eq!(v["setup_failures"], json!(0), "{v}");
}

// GetBucketPolicyStatus; "The meaning of "public"": a policy granting to Principal "*" without
// a fixed-value condition is public, one naming a user is not.
fn policy_status_tells_public_policies(s: &TestServer) {
    let v = run_case(s, "policy-status");
    assert_eq!(v["public_put"], json!(["no error", 200]), "{v}");
    assert_eq!(v["named_put"], json!(["no error", 200]), "{v}");
    assert_eq!(v["public"], json!({ "IsPublic": true }), "{v}");
    assert_eq!(v["named"], json!({ "IsPublic": false }), "{v}");
}

// "Controlling ownership of objects and disabling ACLs for your bucket": under ObjectWriter
// the writer owns what it writes into another's bucket; under BucketOwnerEnforced ACLs are off
// (the right to write comes from a policy) and the bucket owner owns every object.
// GetObjectAcl answers the Owner's canonical ID, and ListObjects, ListObjectsV2 (fetch-owner)
// and ListObjectVersions each object's Owner; "If you apply the bucket owner enforced setting
// ... the bucket owner automatically owns ... every object", older ones too.
fn objects_of_another_writer_are_owned_as_the_bucket_says(s: &TestServer) {
    let v = run_case(s, "ownership");
    assert_eq!(v["writer_grant"], json!(["no error", 200]), "{v}");
    assert_eq!(v["writer_put"], json!(["no error", 200]), "{v}");
    assert_eq!(v["writer_owner"], v["other_id"], "ObjectWriter: {v}");
    // ListObjects, ListObjectsV2 (fetch-owner) and ListObjectVersions show each object's
    // owner; ListMultipartUploads each upload's initiator.
    let mine_and_theirs = json!({"k": v["other_id"], "mine": v["owner_id"]});
    for listing in ["v1", "v2", "versions"] {
        assert_eq!(
            v["writer_listed"][listing], mine_and_theirs,
            "{listing}: {v}"
        );
    }
    assert_eq!(v["writer_upload"], json!(["no error", 200]), "{v}");
    assert_eq!(v["writer_initiators"], json!([v["other_id"]]), "{v}");
    let all_mine = json!({"k": v["owner_id"], "mine": v["owner_id"]});
    for listing in ["v1", "v2", "versions"] {
        assert_eq!(v["enforced_listed"][listing], all_mine, "{listing}: {v}");
    }
    assert_eq!(v["controls"], json!(["no error", 200]), "{v}");
    assert_eq!(v["enforced_policy"], json!(["no error", 200]), "{v}");
    assert_eq!(v["enforced_put"], json!(["no error", 200]), "{v}");
    assert_eq!(
        v["enforced_owner"], v["owner_id"],
        "BucketOwnerEnforced: {v}"
    );
    assert_ne!(v["owner_id"], v["other_id"], "{v}");
}

// PutPublicAccessBlock, BlockPublicAcls: "PutBucketAcl and PutObjectAcl calls fail if the
// specified ACL is public", "PUT Object calls fail if the request includes a public ACL".
fn block_public_acls_refuses_public_acls(s: &TestServer) {
    let v = run_case(s, "block-public-acls");
    assert_eq!(v["block"], json!(["no error", 200]), "{v}");
    assert_eq!(v["bucket_acl"], refused("AccessDenied", 403), "{v}");
    assert_eq!(v["object_acl"], refused("AccessDenied", 403), "{v}");
    assert_eq!(v["private_acl"], json!(["no error", 200]), "{v}");
}

// PutBucketPolicy: a document that is not JSON, or whose Resource is not this bucket, is
// 400 MalformedPolicy and stores nothing (GetBucketPolicy: 404 NoSuchBucketPolicy).
fn malformed_policies_are_refused(s: &TestServer) {
    let v = run_case(s, "malformed-policy");
    assert_eq!(v["not_json"], refused("MalformedPolicy", 400), "{v}");
    assert_eq!(v["other_bucket"], refused("MalformedPolicy", 400), "{v}");
    assert_eq!(v["stored"], refused("NoSuchBucketPolicy", 404), "{v}");
}
