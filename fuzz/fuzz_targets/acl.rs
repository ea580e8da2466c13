//! The ACL model (src/s3/acl/): the `x-amz-acl` / `x-amz-grant-*` headers, the
//! AccessControlPolicy body, and the stored form. Input: `name: value` header lines, then
//! after a NUL byte the XML body, then after another NUL byte a stored ACL.
//!
//! Checks: every ACL a request resolves to reads back the same from its stored form and from
//! the answer document, and is public exactly when the request was; any stored text reads
//! (unreadable text as private) into an ACL whose stored form reads back the same.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use libres3::s3::acl::{self, Acl, AclRequest, Owner};

const OWNER_ID: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const BUCKET_OWNER_ID: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
/// Who every e-mail grantee resolves to.
const EMAIL_ID: &str = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";

fn owner(id: &str, name: &str) -> Owner {
    Owner {
        id: id.into(),
        display_name: name.into(),
    }
}

fn check_stored_round_trip(acl: &Acl) {
    let stored = acl.to_stored();
    assert!(stored.is_ascii() && !stored.contains('\n'), "{stored:?}");
    assert_eq!(&Acl::from_stored(Some(&stored), &acl.owner), acl, "{stored:?}");
}

fn check_request(request: AclRequest, object_owner: &Owner, bucket_owner: &Owner) {
    let public = request.is_public();
    let emails: HashMap<String, String> = request
        .emails()
        .into_iter()
        .map(|email| (email.to_string(), EMAIL_ID.to_string()))
        .collect();
    let acl = match request.resolve(object_owner, bucket_owner, &emails) {
        Ok(acl) => acl,
        Err(e) => panic!("every e-mail was given an ID: {}", e.message),
    };
    assert!(acl.grants.len() <= acl::MAX_GRANTS);
    assert_eq!(acl.is_public(), public);
    check_stored_round_trip(&acl);
    let answer = acl.to_xml();
    let again = acl::from_xml(answer.as_bytes(), &object_owner.id)
        .and_then(|r| r.resolve(object_owner, bucket_owner, &HashMap::new()));
    match again {
        Ok(again) => assert_eq!(again, acl, "{answer}"),
        Err(e) => panic!("our answer does not read back: {} {answer}", e.message),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let headers = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();
    let stored = String::from_utf8_lossy(parts.next().unwrap_or_default());

    let object_owner = owner(OWNER_ID, "owner");
    let bucket_owner = owner(BUCKET_OWNER_ID, "bucket owner");
    let header = |name: &str| {
        headers.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    if let Ok(Some(request)) = acl::from_headers(header) {
        check_request(request, &object_owner, &bucket_owner);
    }
    if let Ok(request) = acl::from_xml(body, OWNER_ID) {
        check_request(request, &object_owner, &bucket_owner);
    }
    let read = Acl::from_stored(Some(&stored), &object_owner);
    assert!(read.grants.len() <= acl::MAX_GRANTS);
    check_stored_round_trip(&read);
});
