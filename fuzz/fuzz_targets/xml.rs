//! Every XML request body: `xml::parse` with its depth and node bounds (src/s3/xml.rs) and
//! each of its users, fed the same bytes: Tagging, AccessControlPolicy, CORSConfiguration,
//! Delete (DeleteObjects), CompleteMultipartUpload, CreateBucketConfiguration,
//! ServerSideEncryptionConfiguration, PublicAccessBlockConfiguration, OwnershipControls,
//! VersioningConfiguration, the Object Lock documents (ObjectLockConfiguration, Retention,
//! LegalHold) and LifecycleConfiguration.
//!
//! Checks: a parsed document nests no deeper than MAX_DEPTH; a document refused by the depth
//! scan is refused by `parse`; tag sets, ACLs, CORS rules and default encryption read back the
//! same from the document we write for them, and so do public access blocks, ownership and
//! lifecycle configurations (which also stay within their rule bound).
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::handlers::parsers::{check_create_configuration, parse_completion, parse_delete};
use libres3::s3::access::{ownership, public_block};
use libres3::s3::sse::bucket as encryption;
use libres3::s3::{acl, cors, lifecycle, object_lock, tagging, versioning, xml};

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
    let owner = acl::Owner {
        id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into(),
        display_name: "owner".into(),
    };
    let resolve = |request: acl::AclRequest| request.resolve(&owner, &owner, &Default::default());
    if let Ok(Ok(read)) = acl::from_xml(data, &owner.id).map(resolve) {
        let again = acl::from_xml(read.to_xml().as_bytes(), &owner.id)
            .map(resolve)
            .expect("our AccessControlPolicy parses")
            .expect("our AccessControlPolicy resolves");
        assert_eq!(again, read);
    }
    if let Ok(block) = public_block::parse_xml(data) {
        let again = public_block::parse_xml(public_block::to_xml(block).as_bytes())
            .expect("our PublicAccessBlockConfiguration parses");
        assert_eq!(again, block);
    }
    if let Ok(chosen) = ownership::parse_xml(data) {
        let again = ownership::parse_xml(ownership::to_xml(chosen).as_bytes())
            .expect("our OwnershipControls parses");
        assert_eq!(again, chosen);
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
    if let Ok(rules) = lifecycle::parse_xml(data) {
        assert!(!rules.rules.is_empty() && rules.rules.len() <= lifecycle::config::MAX_RULES);
        let again = lifecycle::parse_xml(lifecycle::to_xml(&rules).as_bytes())
            .expect("our LifecycleConfiguration parses");
        assert_eq!(again, rules);
    }
    if let Ok(request) = parse_delete(data) {
        assert!(!request.objects.is_empty() && request.objects.len() <= 1000);
    }
    if let Ok(request) = versioning::parse_xml(data) {
        if let Some(state) = request.status {
            let again = versioning::parse_xml(versioning::to_xml(state).as_bytes())
                .expect("our VersioningConfiguration parses");
            assert_eq!(again.status, Some(state));
        }
    }
    if let Ok(config) = object_lock::parse_config(data) {
        let again = object_lock::parse_config(object_lock::config_to_xml(&config).as_bytes())
            .expect("our ObjectLockConfiguration parses");
        assert_eq!(again, config);
    }
    if let Ok(Some(retention)) = object_lock::parse_retention(data) {
        // Dates are written to the millisecond: compare once normalised.
        let written = object_lock::retention_to_xml(&retention);
        let again = object_lock::parse_retention(written.as_bytes())
            .expect("our Retention parses")
            .expect("with its mode and date");
        assert_eq!(again.mode, retention.mode);
        assert_eq!(object_lock::retention_to_xml(&again), written);
    }
    if let Ok(on) = object_lock::parse_legal_hold(data) {
        let again = object_lock::parse_legal_hold(object_lock::legal_hold_to_xml(on).as_bytes());
        assert_eq!(again.ok(), Some(on));
    }
    if let Ok(parts) = parse_completion(data) {
        assert!(!parts.is_empty());
    }
    let _ = check_create_configuration(data, "us-east-1");
});
