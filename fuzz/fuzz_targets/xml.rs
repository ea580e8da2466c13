//! Every XML request body: `xml::parse` with its depth and node bounds (src/s3/xml.rs) and
//! each of its users, fed the same bytes: Tagging, AccessControlPolicy, CORSConfiguration,
//! Delete (DeleteObjects), CompleteMultipartUpload, CreateBucketConfiguration and
//! ServerSideEncryptionConfiguration.
//!
//! Checks: a parsed document nests no deeper than MAX_DEPTH; a document refused by the depth
//! scan is refused by `parse`; tag sets, ACLs, CORS rules and default encryption read back the
//! same from the document we write for them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::handlers::parsers::{check_create_configuration, parse_completion, parse_delete};
use libres3::s3::sse::bucket as encryption;
use libres3::s3::{acl, cors, tagging, xml};

fuzz_target!(|data: &[u8]| {
    let depth_ok = xml::check_depth(data).is_ok();
    match xml::parse(data) {
        Ok(doc) => {
            assert!(depth_ok, "parsed past the depth scan");
            let deepest = doc
                .descendants()
                .filter(|n| n.is_element())
                .map(|n| n.ancestors().filter(|a| a.is_element()).count())
                .max()
                .unwrap_or(0);
            assert!(deepest <= xml::MAX_DEPTH, "depth {deepest}");
        }
        Err(e) => assert_eq!(e.code.as_str(), "MalformedXML"),
    }

    if let Ok(tags) = tagging::parse_xml(data, tagging::MAX_BUCKET_TAGS) {
        let again = tagging::parse_xml(tagging::to_xml(&tags).as_bytes(), tagging::MAX_BUCKET_TAGS)
            .expect("our Tagging document parses");
        assert_eq!(again, tags);
        assert_eq!(
            tagging::decode(&tagging::encode(&tags)),
            tags,
            "stored form"
        );
    }
    for owner in [
        "owner",
        "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
    ] {
        if let Ok(canned) = acl::parse_policy_xml(data, owner) {
            let again = acl::parse_policy_xml(acl::to_xml(owner, canned).as_bytes(), owner)
                .expect("our AccessControlPolicy parses");
            assert_eq!(again, canned);
        }
    }
    if let Ok(rules) = cors::parse_xml(data) {
        let again = cors::parse_xml(cors::to_xml(&rules).as_bytes()).expect("our CORS parses");
        assert_eq!(again, rules);
    }
    if let Ok(default) = encryption::parse_xml(data) {
        let again = encryption::parse_xml(encryption::to_xml(&default).as_bytes())
            .expect("our ServerSideEncryptionConfiguration parses");
        assert_eq!(again, default);
    }
    if let Ok(request) = parse_delete(data) {
        assert!(!request.objects.is_empty() && request.objects.len() <= 1000);
    }
    if let Ok(parts) = parse_completion(data) {
        assert!(!parts.is_empty());
    }
    let _ = check_create_configuration(data, "us-east-1");
});
