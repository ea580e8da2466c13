use std::collections::HashMap;

use super::*;

const ALICE: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const BOB: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
const CAROL: &str = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";

fn owner(id: &str, name: &str) -> Owner {
    Owner {
        id: id.into(),
        display_name: name.into(),
    }
}

fn alice() -> Owner {
    owner(ALICE, "alice")
}

fn bob() -> Owner {
    owner(BOB, "bob")
}

fn user(id: &str, permission: Permission) -> Grant {
    Grant::user(id, permission)
}

fn group(group: Group, permission: Permission) -> Grant {
    Grant::group(group, permission)
}

fn header<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

fn headers(pairs: &[(&str, &str)]) -> Result<Option<AclRequest>, S3Error> {
    from_headers(header(pairs))
}

fn header_error(pairs: &[(&str, &str)]) -> S3Error {
    headers(pairs).unwrap_err()
}

// AWS "Access control list (ACL) overview", "Canned ACL": an object of Bob's in Alice's bucket.
#[test]
fn canned_acls_expand_as_the_aws_table() {
    use Permission::*;
    let expected = |canned| match canned {
        CannedAcl::Private | CannedAcl::AwsExecRead => vec![user(BOB, FullControl)],
        CannedAcl::PublicRead => vec![user(BOB, FullControl), group(Group::AllUsers, Read)],
        CannedAcl::PublicReadWrite => vec![
            user(BOB, FullControl),
            group(Group::AllUsers, Read),
            group(Group::AllUsers, Write),
        ],
        CannedAcl::AuthenticatedRead => vec![
            user(BOB, FullControl),
            group(Group::AuthenticatedUsers, Read),
        ],
        CannedAcl::BucketOwnerRead => vec![user(BOB, FullControl), user(ALICE, Read)],
        CannedAcl::BucketOwnerFullControl => {
            vec![user(BOB, FullControl), user(ALICE, FullControl)]
        }
        CannedAcl::LogDeliveryWrite => vec![
            user(BOB, FullControl),
            group(Group::LogDelivery, Write),
            group(Group::LogDelivery, ReadAcp),
        ],
    };
    for canned in CannedAcl::ALL {
        assert_eq!(CannedAcl::from_name(canned.as_str()), Some(canned));
        let acl = AclRequest::Canned(canned)
            .resolve(&bob(), &alice(), &HashMap::new())
            .unwrap();
        assert_eq!(acl.owner, bob());
        assert_eq!(acl.grants, expected(canned), "{}", canned.as_str());
        assert_eq!(
            acl.is_public(),
            AclRequest::Canned(canned).is_public(),
            "{}",
            canned.as_str()
        );
    }
    // On a bucket (owner = bucket owner) the bucket-owner-* ACLs act as private.
    for canned in [
        CannedAcl::BucketOwnerRead,
        CannedAcl::BucketOwnerFullControl,
    ] {
        assert_eq!(
            canned.grants(&alice(), &alice()),
            vec![user(ALICE, FullControl)]
        );
    }
    assert_eq!(
        Acl::private(&alice()).grants,
        vec![user(ALICE, FullControl)]
    );
}

// AWS PutObjectAcl, "Request headers": x-amz-acl and x-amz-grant-*.
#[test]
fn headers_read_canned_and_grants() {
    assert_eq!(headers(&[]).unwrap(), None);
    for canned in CannedAcl::ALL {
        assert_eq!(
            headers(&[("x-amz-acl", canned.as_str())]).unwrap(),
            Some(AclRequest::Canned(canned))
        );
    }
    let sent = format!(
        "id=\"{BOB}\", emailAddress=\"carol@example.com\",uri=\"{}\"",
        Group::AuthenticatedUsers.uri()
    );
    let unquoted = format!("id={CAROL}");
    let request = headers(&[
        ("x-amz-grant-full-control", &unquoted),
        ("x-amz-grant-read", &sent),
        (
            "x-amz-grant-write-acp",
            &format!("uri={}", Group::LogDelivery.uri()),
        ),
    ])
    .unwrap()
    .unwrap();
    let requested = |grantee, permission| RequestedGrant {
        grantee,
        permission,
    };
    assert_eq!(
        request,
        AclRequest::Grants(vec![
            requested(RequestedGrantee::Id(BOB.into()), Permission::Read),
            requested(
                RequestedGrantee::Email("carol@example.com".into()),
                Permission::Read
            ),
            requested(
                RequestedGrantee::Group(Group::AuthenticatedUsers),
                Permission::Read
            ),
            requested(
                RequestedGrantee::Group(Group::LogDelivery),
                Permission::WriteAcp
            ),
            requested(RequestedGrantee::Id(CAROL.into()), Permission::FullControl),
        ])
    );
    assert_eq!(request.emails(), vec!["carol@example.com"]);
    assert!(request.is_public());
    assert_eq!(request.canned(), None);
    // Header grants replace the ACL: the owner gets nothing it was not given.
    let emails = HashMap::from([("carol@example.com".to_string(), CAROL.to_string())]);
    let acl = request.resolve(&alice(), &alice(), &emails).unwrap();
    assert_eq!(acl.grants.len(), 5);
    assert_eq!(acl.grants[1], user(CAROL, Permission::Read));
    assert!(!acl.grants.contains(&user(ALICE, Permission::FullControl)));
}

#[test]
fn header_errors() {
    use S3ErrorCode::*;
    let all_users = format!("uri=\"{}\"", Group::AllUsers.uri());
    let both = header_error(&[("x-amz-acl", "private"), ("x-amz-grant-read", &all_users)]);
    assert_eq!(both.code, InvalidRequest);
    assert_eq!(
        both.message,
        "Specifying both Canned ACLs and Header Grants is not allowed"
    );
    assert_eq!(
        header_error(&[("x-amz-acl", "bogus")]).code,
        InvalidArgument
    );
    for malformed in [
        "",
        "id",
        "id=",
        "id=\"\"",
        "name=\"x\"",
        "id=\"unterminated",
        "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\" x",
        "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\",",
    ] {
        let error = header_error(&[("x-amz-grant-write", malformed)]);
        assert_eq!(error.code, InvalidArgument, "{malformed:?}");
    }
    // A canonical ID is 64 lowercase hex digits.
    for id in [
        &ALICE[1..],
        &ALICE.to_uppercase(),
        &format!("{}g", &ALICE[1..]),
    ] {
        let error = header_error(&[("x-amz-grant-read", &format!("id=\"{id}\""))]);
        assert_eq!(
            (error.code, &*error.message),
            (InvalidArgument, "Invalid id")
        );
    }
    let other_group = "uri=\"http://acs.amazonaws.com/groups/global/Everyone\"";
    assert_eq!(
        header_error(&[("x-amz-grant-read", other_group)]).code,
        InvalidArgument
    );
    // At most 100 grants, over all the grant headers.
    let fifty = vec![all_users.as_str(); 50].join(",");
    let hundred = [
        ("x-amz-grant-read", &*fifty),
        ("x-amz-grant-write", &*fifty),
    ];
    assert!(headers(&hundred).is_ok());
    let too_many = [
        ("x-amz-grant-read", &*fifty),
        ("x-amz-grant-write", &*fifty),
        ("x-amz-grant-read-acp", &*all_users),
    ];
    assert_eq!(header_error(&too_many).code, MalformedACLError);
}

#[test]
fn unknown_email_is_unresolvable() {
    let request = headers(&[("x-amz-grant-read", "emailAddress=\"nobody@example.com\"")])
        .unwrap()
        .unwrap();
    let error = request
        .resolve(&alice(), &alice(), &HashMap::new())
        .unwrap_err();
    assert_eq!(error.code, S3ErrorCode::UnresolvableGrantByEmailAddress);
    assert_eq!(error.code.status().as_u16(), 400);
}

fn acl_of_every_kind() -> Acl {
    Acl {
        owner: alice(),
        grants: vec![
            user(ALICE, Permission::FullControl),
            user(BOB, Permission::Write),
            user(CAROL, Permission::ReadAcp),
            group(Group::AllUsers, Permission::Read),
            group(Group::AuthenticatedUsers, Permission::WriteAcp),
            group(Group::LogDelivery, Permission::Write),
        ],
    }
}

// AWS GetBucketAcl "Response syntax" and PutBucketAcl "Request syntax".
#[test]
fn xml_answer_reads_back() {
    let acl = acl_of_every_kind();
    let document = acl.to_xml();
    let request = from_xml(document.as_bytes(), ALICE).unwrap();
    assert_eq!(
        request
            .resolve(&alice(), &alice(), &HashMap::new())
            .unwrap(),
        acl
    );
    let private = Acl::private(&bob()).to_xml();
    assert_eq!(
        private,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Owner><ID>{BOB}</ID><DisplayName>bob</DisplayName></Owner><AccessControlList>\
             <Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">\
             <ID>{BOB}</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>\
             </AccessControlList></AccessControlPolicy>"
        )
    );
}

fn policy(owner_id: &str, grants: &str) -> String {
    format!(
        "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Owner><ID>{owner_id}</ID></Owner><AccessControlList>{grants}</AccessControlList>\
         </AccessControlPolicy>"
    )
}

fn grant_xml(kind: &str, element: &str, value: &str, permission: &str) -> String {
    format!(
        "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"{kind}\">\
         <{element}>{value}</{element}></Grantee><Permission>{permission}</Permission></Grant>"
    )
}

#[test]
fn xml_body_reads_every_grantee_type() {
    let grants = [
        grant_xml("CanonicalUser", "ID", BOB, "READ"),
        grant_xml(
            "AmazonCustomerByEmail",
            "EmailAddress",
            "c@example.com",
            "WRITE",
        ),
        grant_xml("Group", "URI", Group::AllUsers.uri(), "READ_ACP"),
    ]
    .concat();
    let request = from_xml(policy(ALICE, &grants).as_bytes(), ALICE).unwrap();
    assert_eq!(request.emails(), vec!["c@example.com"]);
    assert!(request.is_public());
    let emails = HashMap::from([("c@example.com".to_string(), CAROL.to_string())]);
    let acl = request.resolve(&alice(), &alice(), &emails).unwrap();
    assert_eq!(
        acl.grants,
        vec![
            user(BOB, Permission::Read),
            user(CAROL, Permission::Write),
            group(Group::AllUsers, Permission::ReadAcp),
        ]
    );
    // An empty list is an ACL without grants.
    assert_eq!(
        from_xml(policy(ALICE, "").as_bytes(), ALICE).unwrap(),
        AclRequest::Grants(Vec::new())
    );
}

#[test]
fn xml_body_errors() {
    use S3ErrorCode::*;
    let code = |document: &str| from_xml(document.as_bytes(), ALICE).unwrap_err().code;
    let good = grant_xml("CanonicalUser", "ID", BOB, "READ");
    // Someone else's document cannot give the resource away.
    assert_eq!(code(&policy(BOB, &good)), AccessDenied);
    assert_eq!(AccessDenied.status().as_u16(), 403);
    for malformed in [
        "not xml".to_string(),
        "<Nope/>".to_string(),
        "<AccessControlPolicy><AccessControlList/></AccessControlPolicy>".to_string(),
        format!("<AccessControlPolicy><Owner><ID>{ALICE}</ID></Owner></AccessControlPolicy>"),
        policy(ALICE, &grant_xml("CanonicalUser", "ID", BOB, "EVERYTHING")),
        policy(ALICE, &grant_xml("Martian", "ID", BOB, "READ")),
        policy(ALICE, &grant_xml("CanonicalUser", "URI", BOB, "READ")),
        policy(ALICE, &good.replace(" xsi:type=\"CanonicalUser\"", "")),
        policy(ALICE, "<Grant><Permission>READ</Permission></Grant>"),
    ] {
        assert_eq!(code(&malformed), MalformedACLError, "{malformed}");
    }
    assert_eq!(
        code(&policy(
            ALICE,
            &grant_xml("CanonicalUser", "ID", "bob", "READ")
        )),
        InvalidArgument
    );
    let other_group = grant_xml("Group", "URI", "http://example.com/Everyone", "READ");
    assert_eq!(code(&policy(ALICE, &other_group)), InvalidArgument);
    // AWS: at most 100 grants, else MalformedACLError.
    assert!(from_xml(policy(ALICE, &good.repeat(100)).as_bytes(), ALICE).is_ok());
    assert_eq!(code(&policy(ALICE, &good.repeat(101))), MalformedACLError);
}

#[test]
fn stored_form_round_trips() {
    let acl = acl_of_every_kind();
    let stored = acl.to_stored();
    assert_eq!(
        stored,
        format!("v1 FC:{ALICE} W:{BOB} RA:{CAROL} R:AllUsers WA:AuthenticatedUsers W:LogDelivery")
    );
    assert_eq!(Acl::from_stored(Some(&stored), &alice()), acl);
    for canned in CannedAcl::ALL {
        let acl = AclRequest::Canned(canned)
            .resolve(&bob(), &alice(), &HashMap::new())
            .unwrap();
        assert_eq!(Acl::from_stored(Some(&acl.to_stored()), &bob()), acl);
    }
    let empty = Acl {
        owner: alice(),
        grants: Vec::new(),
    };
    assert_eq!(empty.to_stored(), "v1");
    assert_eq!(Acl::from_stored(Some("v1"), &alice()), empty);
    // 100 grants to IDs: the longest stored form, still read.
    let full = Acl {
        owner: alice(),
        grants: vec![user(BOB, Permission::FullControl); MAX_GRANTS],
    };
    assert_eq!(Acl::from_stored(Some(&full.to_stored()), &alice()), full);
    let mut over = full.clone();
    over.grants.push(user(CAROL, Permission::Read));
    assert_eq!(over.to_stored(), full.to_stored());
}

#[test]
fn stored_legacy_and_unreadable_values() {
    let private = Acl::private(&alice());
    assert_eq!(Acl::from_stored(None, &alice()), private);
    assert_eq!(Acl::from_stored(Some("private"), &alice()), private);
    let public = Acl::from_stored(Some("public-read"), &alice());
    assert_eq!(
        public.grants,
        vec![
            user(ALICE, Permission::FullControl),
            group(Group::AllUsers, Permission::Read)
        ]
    );
    let too_long = format!("v1{}", format!(" R:{BOB}").repeat(MAX_GRANTS + 1));
    let not_an_id = format!("v1 R:{}", &BOB[1..]);
    for unreadable in [
        "",
        "public-read-write",
        "v2 R:AllUsers",
        "v1 X:AllUsers",
        "v1 R:Everyone",
        "v1  R:AllUsers",
        "v1 R:AllUsers\n",
        &not_an_id,
        &too_long,
    ] {
        assert_eq!(
            Acl::from_stored(Some(unreadable), &alice()),
            private,
            "{unreadable:?}"
        );
    }
}

#[test]
fn permits_table() {
    use Permission::*;
    let acl = acl_of_every_kind();
    // (requester, permission, ignore_public, expected)
    let table: &[(Option<&str>, Permission, bool, bool)] = &[
        // FULL_CONTROL gives every permission.
        (Some(ALICE), Read, false, true),
        (Some(ALICE), Write, true, true),
        (Some(ALICE), FullControl, false, true),
        // Bob: WRITE only (READ through AllUsers).
        (Some(BOB), Write, false, true),
        (Some(BOB), Read, false, true),
        (Some(BOB), Read, true, false),
        (Some(BOB), ReadAcp, false, false),
        (Some(BOB), FullControl, false, false),
        // Carol: READ_ACP, and WRITE_ACP as an authenticated user.
        (Some(CAROL), ReadAcp, false, true),
        (Some(CAROL), WriteAcp, false, true),
        (Some(CAROL), WriteAcp, true, false),
        (Some(CAROL), Write, false, false),
        // Anonymous: AllUsers only; LogDelivery's WRITE is nobody's.
        (None, Read, false, true),
        (None, Read, true, false),
        (None, WriteAcp, false, false),
        (None, Write, false, false),
        (None, ReadAcp, false, false),
    ];
    for &(requester, permission, ignore_public, expected) in table {
        assert_eq!(
            acl.permits(requester, permission, ignore_public),
            expected,
            "{requester:?} {permission:?} ignore_public={ignore_public}"
        );
    }
    // The owner keeps READ_ACP and WRITE_ACP on an ACL that grants it nothing.
    let bare = Acl {
        owner: alice(),
        grants: Vec::new(),
    };
    assert!(bare.permits(Some(ALICE), ReadAcp, true));
    assert!(bare.permits(Some(ALICE), WriteAcp, true));
    assert!(!bare.permits(Some(ALICE), Read, false));
    assert!(!bare.is_public());
    assert!(acl.is_public());
    let log_only = Acl {
        owner: alice(),
        grants: vec![group(Group::LogDelivery, FullControl)],
    };
    assert!(!log_only.is_public());
    assert!(!log_only.permits(Some(BOB), Read, false));
}
