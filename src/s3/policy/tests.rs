//! Policy engine tests. The behaviours follow the IAM User Guide ("IAM JSON policy elements",
//! "Condition operators", "Single-valued vs. multivalued context keys") and the Amazon S3
//! User Guide ("Bucket policy examples", "The meaning of public").

use super::*;
use crate::s3::error::S3ErrorCode;

const ALICE_ID: &str = "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90";
const BOB_ID: &str = "81b637d8fcd2c6da6359e6963113a1170de795e4b725b84d1e0b4cfd9ec58ce9";
const ALICE: Requester<'static> = Requester::User {
    name: "alice",
    canonical_id: ALICE_ID,
};
const BOB: Requester<'static> = Requester::User {
    name: "bob",
    canonical_id: BOB_ID,
};

fn policy(statements: &str) -> Policy {
    let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
    Policy::parse(&doc, "bkt").unwrap_or_else(|e| panic!("{doc}: {e}"))
}

/// One Allow of s3:GetObject on bkt/* to `principal` under `condition`.
fn allow_get(principal: &str, condition: &str) -> Policy {
    let condition = if condition.is_empty() {
        String::new()
    } else {
        format!(r#","Condition":{condition}"#)
    };
    policy(&format!(
        r#"{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::bkt/*"{condition}}}"#
    ))
}

fn decide(
    p: &Policy,
    who: Requester<'_>,
    action: &str,
    resource: &str,
    values: &[(&str, &[&str])],
) -> Decision {
    let mut conditions = ConditionValues::default();
    for (key, list) in values {
        conditions.set(key, list.iter().map(|v| v.to_string()).collect());
    }
    p.evaluate(&PolicyRequest {
        requester: who,
        action,
        resource,
        conditions: &conditions,
    })
}

fn get(p: &Policy, who: Requester<'_>, values: &[(&str, &[&str])]) -> Decision {
    decide(p, who, "s3:GetObject", "arn:aws:s3:::bkt/k", values)
}

/// Does a condition block let alice's GetObject through, for these request values?
fn cond(condition: &str, values: &[(&str, &[&str])]) -> bool {
    get(&allow_get(r#""*""#, condition), ALICE, values) == Decision::Allow
}

#[test]
fn wildcards() {
    assert!(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
    assert!(wildcard_match("a?c", "abc"));
    assert!(!wildcard_match("a?c", "ac"));
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("a*b*c", "aXbYbZc"));
    // Found by fuzz/fuzz_targets/bucket_policy.rs: a '*' in the text made the
    // pattern's '*' match only itself, so a Deny of bkt/* missed the key "*secret".
    assert!(wildcard_match(
        "arn:aws:s3:::bkt/*",
        "arn:aws:s3:::bkt/*secret"
    ));
    assert!(wildcard_match("*a*a*a*b", "*xaaab"));
    assert!(wildcard_match("a*", "a**"));
    assert!(!wildcard_match("a*b", "a/c"));
    assert!(wildcard_match("s3:get*", "s3:getobject"));
    // Outside ASCII, '?' is one character, not one byte.
    assert!(wildcard_match("bkt/?.txt", "bkt/é.txt"));
    assert!(!wildcard_match("bkt/??.txt", "bkt/é.txt"));
    assert!(wildcard_match("*ü*", "grün"));
}

/// JSON nesting is bounded by serde_json (128 levels) before anything here recurses, and
/// the document by MAX_POLICY_SIZE: a deep one is refused, not a stack overflow.
#[test]
fn policy_deep_documents_are_refused() {
    for depth in [200, 10_000] {
        let deep = format!("{{\"Statement\":{}", "[".repeat(depth));
        let e = Policy::parse(&deep, "bkt").unwrap_err();
        assert_eq!(e.code, S3ErrorCode::MalformedPolicy, "depth {depth}");
    }
    let e = Policy::parse(&"[".repeat(1 << 20), "bkt").unwrap_err();
    assert_eq!(e.code, S3ErrorCode::MalformedPolicy);
}

#[test]
fn policy_principals() {
    let everyone = allow_get(r#""*""#, "");
    let aws_everyone = allow_get(r#"{"AWS":["*"]}"#, "");
    for p in [&everyone, &aws_everyone] {
        assert_eq!(get(p, Requester::Anonymous, &[]), Decision::Allow);
        assert_eq!(get(p, ALICE, &[]), Decision::Allow);
    }
    let named = [
        format!(r#"{{"AWS":"arn:aws:iam::{ALICE_ID}:user/alice"}}"#),
        format!(r#"{{"AWS":"arn:aws:iam::{ALICE_ID}:root"}}"#),
        format!(r#"{{"AWS":"{ALICE_ID}"}}"#),
        format!(r#"{{"CanonicalUser":"{ALICE_ID}"}}"#),
        format!(
            r#"{{"AWS":["arn:aws:iam::{}:root","arn:aws:iam::{ALICE_ID}:user/alice"]}}"#,
            "f".repeat(64)
        ),
        format!(
            r#"{{"AWS":"arn:aws:iam::{}:user/alice"}}"#,
            ALICE_ID.to_uppercase()
        ),
    ];
    for principal in &named {
        let p = allow_get(principal, "");
        assert_eq!(get(&p, ALICE, &[]), Decision::Allow, "{principal}");
        assert_eq!(get(&p, BOB, &[]), Decision::NotSpecified, "{principal}");
        assert_eq!(
            get(&p, Requester::Anonymous, &[]),
            Decision::NotSpecified,
            "{principal}"
        );
    }
    // The user ARN names that user only, not another user of the same account id.
    let wrong_name = allow_get(
        &format!(r#"{{"AWS":"arn:aws:iam::{ALICE_ID}:user/bob"}}"#),
        "",
    );
    assert_eq!(get(&wrong_name, ALICE, &[]), Decision::NotSpecified);
}

#[test]
fn policy_not_principal() {
    let p = policy(&format!(
        r#"{{"Effect":"Deny","NotPrincipal":{{"AWS":"arn:aws:iam::{ALICE_ID}:root"}},
            "Action":"s3:*","Resource":"arn:aws:s3:::bkt/*"}}"#
    ));
    assert_eq!(get(&p, ALICE, &[]), Decision::NotSpecified);
    assert_eq!(get(&p, BOB, &[]), Decision::Deny);
    assert_eq!(get(&p, Requester::Anonymous, &[]), Decision::Deny);
}

#[test]
fn policy_actions_and_not_action() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":["S3:Get*","s3:?istBucket"],
            "Resource":["arn:aws:s3:::bkt","arn:aws:s3:::bkt/*"]}"#,
    );
    let on = |action, resource| decide(&p, ALICE, action, resource, &[]);
    assert_eq!(on("s3:GetObject", "arn:aws:s3:::bkt/k"), Decision::Allow);
    assert_eq!(on("s3:getobjectacl", "arn:aws:s3:::bkt/k"), Decision::Allow);
    assert_eq!(on("s3:ListBucket", "arn:aws:s3:::bkt"), Decision::Allow);
    assert_eq!(
        on("s3:PutObject", "arn:aws:s3:::bkt/k"),
        Decision::NotSpecified
    );
    let not = policy(
        r#"{"Effect":"Deny","Principal":"*","NotAction":"s3:Get*","Resource":"arn:aws:s3:::bkt/*"}"#,
    );
    assert_eq!(
        decide(&not, BOB, "s3:PutObject", "arn:aws:s3:::bkt/k", &[]),
        Decision::Deny
    );
    assert_eq!(
        decide(&not, BOB, "s3:GetObject", "arn:aws:s3:::bkt/k", &[]),
        Decision::NotSpecified
    );
}

#[test]
fn policy_resources_and_not_resource() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","NotResource":"arn:aws:s3:::bkt/private/*"}"#,
    );
    let on = |resource| decide(&p, BOB, "s3:GetObject", resource, &[]);
    assert_eq!(on("arn:aws:s3:::bkt/public/x"), Decision::Allow);
    assert_eq!(on("arn:aws:s3:::bkt"), Decision::Allow);
    assert_eq!(on("arn:aws:s3:::bkt/private/x"), Decision::NotSpecified);
    // "*" as Resource is this bucket and everything in it.
    let star =
        policy(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#);
    assert_eq!(get(&star, BOB, &[]), Decision::Allow);
}

#[test]
fn policy_explicit_deny_wins() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"},
           {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bkt/secret/*"},
           {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/secret/*"}"#,
    );
    let on = |resource| decide(&p, ALICE, "s3:GetObject", resource, &[]);
    assert_eq!(on("arn:aws:s3:::bkt/secret/x"), Decision::Deny);
    assert_eq!(on("arn:aws:s3:::bkt/open"), Decision::Allow);
}

#[test]
fn policy_string_operators() {
    let env = |v: &'static [&'static str]| [("s3:prefix", v)];
    let c = r#"{"StringEquals":{"s3:prefix":["home/","docs/"]}}"#;
    assert!(cond(c, &env(&["docs/"])));
    assert!(!cond(c, &env(&["Docs/"])));
    assert!(!cond(c, &[]), "a missing key fails a positive operator");
    let c = r#"{"StringNotEquals":{"s3:prefix":["home/","docs/"]}}"#;
    assert!(cond(c, &env(&["other/"])));
    assert!(!cond(c, &env(&["home/"])));
    assert!(cond(c, &[]), "a missing key satisfies a negated operator");
    let c = r#"{"StringEqualsIgnoreCase":{"s3:prefix":"Home/"}}"#;
    assert!(cond(c, &env(&["hOME/"])));
    let c = r#"{"StringNotEqualsIgnoreCase":{"s3:prefix":"Home/"}}"#;
    assert!(!cond(c, &env(&["hOME/"])));
    assert!(cond(c, &env(&["x"])));
    let c = r#"{"StringLike":{"aws:Referer":["http://www.example.com/*","http://example.com/?"]}}"#;
    assert!(cond(
        c,
        &[("aws:Referer", &["http://www.example.com/page"])]
    ));
    assert!(cond(c, &[("aws:referer", &["http://example.com/a"])]));
    assert!(!cond(c, &[("aws:Referer", &["http://example.com/ab"])]));
    let c = r#"{"StringNotLike":{"aws:UserAgent":"curl/*"}}"#;
    assert!(!cond(c, &[("aws:UserAgent", &["curl/8.0"])]));
    assert!(cond(c, &[("aws:UserAgent", &["aws-cli/2"])]));
    assert!(cond(c, &[]));
}

#[test]
fn policy_numeric_and_date_operators() {
    let keys = |v: &'static [&'static str]| [("s3:max-keys", v)];
    let table: &[(&str, &str, bool)] = &[
        ("NumericEquals", "10", true),
        ("NumericEquals", "10.0", true),
        ("NumericNotEquals", "10", false),
        ("NumericLessThan", "11", true),
        ("NumericLessThan", "10", false),
        ("NumericLessThanEquals", "10", true),
        ("NumericGreaterThan", "9", true),
        ("NumericGreaterThan", "10", false),
        ("NumericGreaterThanEquals", "10", true),
    ];
    for (op, value, expected) in table {
        let c = format!(r#"{{"{op}":{{"s3:max-keys":"{value}"}}}}"#);
        assert_eq!(cond(&c, &keys(&["10"])), *expected, "{op} {value}");
    }
    assert!(!cond(
        r#"{"NumericLessThan":{"s3:max-keys":100}}"#,
        &keys(&["ten"])
    ));
    assert!(cond(r#"{"NumericNotEquals":{"s3:max-keys":"5"}}"#, &[]));
    let now = [("aws:CurrentTime", &["2026-06-01T12:00:00Z"][..])];
    let table: &[(&str, &str, bool)] = &[
        ("DateLessThan", "2027-01-01T00:00:00Z", true),
        ("DateLessThan", "2026-01-01", false),
        ("DateGreaterThan", "2026-01-01T00:00:00Z", true),
        ("DateEquals", "2026-06-01T12:00:00.000Z", true),
        ("DateNotEquals", "2026-06-01T12:00:00Z", false),
        ("DateLessThanEquals", "2026-06-01T12:00:00Z", true),
        ("DateGreaterThanEquals", "1780315200", true),
    ];
    for (op, value, expected) in table {
        let c = format!(r#"{{"{op}":{{"aws:CurrentTime":"{value}"}}}}"#);
        assert_eq!(cond(&c, &now), *expected, "{op} {value}");
    }
    let epoch = r#"{"DateGreaterThan":{"aws:EpochTime":"2026-01-01T00:00:00Z"}}"#;
    assert!(cond(epoch, &[("aws:EpochTime", &["1780315200"])]));
}

#[test]
fn policy_bool_binary_null_operators() {
    let c = r#"{"Bool":{"aws:SecureTransport":"false"}}"#;
    assert!(cond(c, &[("aws:SecureTransport", &["false"])]));
    assert!(!cond(c, &[("aws:SecureTransport", &["true"])]));
    assert!(!cond(c, &[]));
    assert!(cond(
        r#"{"Bool":{"aws:SecureTransport":true}}"#,
        &[("aws:SecureTransport", &["TRUE"])]
    ));
    let c = r#"{"BinaryEquals":{"s3:x-amz-content-sha256":"QmluYXJ5"}}"#;
    assert!(cond(c, &[("s3:x-amz-content-sha256", &["QmluYXJ5"])]));
    assert!(!cond(c, &[("s3:x-amz-content-sha256", &["QmluYXJ6"])]));
    // Null: true = the key is absent, false = present.
    let absent = r#"{"Null":{"s3:x-amz-server-side-encryption":"true"}}"#;
    let present = r#"{"Null":{"s3:x-amz-server-side-encryption":"false"}}"#;
    let sse = [("s3:x-amz-server-side-encryption", &["AES256"][..])];
    assert!(cond(absent, &[]));
    assert!(!cond(absent, &sse));
    assert!(cond(present, &sse));
    assert!(!cond(present, &[]));
}

#[test]
fn policy_ip_and_arn_operators() {
    let c = r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}"#;
    let ip = |a: &'static [&'static str]| [("aws:SourceIp", a)];
    assert!(cond(c, &ip(&["192.0.2.77"])));
    assert!(!cond(c, &ip(&["192.0.3.1"])));
    assert!(cond(c, &ip(&["2001:db8:1::5"])));
    assert!(!cond(c, &ip(&["2001:db9::5"])));
    assert!(cond(c, &ip(&["::ffff:192.0.2.9"])));
    assert!(!cond(c, &ip(&["not an address"])));
    let not = r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.188/32"}}"#;
    assert!(!cond(not, &ip(&["192.0.2.188"])));
    assert!(cond(not, &ip(&["192.0.2.187"])));
    assert!(cond(
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        &ip(&["8.8.8.8"])
    ));
    let arn = format!("arn:aws:iam::{ALICE_ID}:user/alice");
    let like = r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/al*"}}"#;
    assert!(cond(like, &[("aws:PrincipalArn", &[arn.as_str()])]));
    // A wildcard stays within its ARN field.
    let field = r#"{"ArnLike":{"aws:PrincipalArn":"arn:*:user/alice"}}"#;
    assert!(!cond(field, &[("aws:PrincipalArn", &[arn.as_str()])]));
    let equals = format!(r#"{{"ArnEquals":{{"aws:PrincipalArn":"{arn}"}}}}"#);
    assert!(cond(&equals, &[("aws:PrincipalArn", &[arn.as_str()])]));
    let not_like = r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:root"}}"#;
    assert!(cond(not_like, &[("aws:PrincipalArn", &[arn.as_str()])]));
    assert!(cond(not_like, &[]));
}

#[test]
fn policy_if_exists() {
    let c = r#"{"StringEqualsIfExists":{"s3:x-amz-server-side-encryption":"AES256"}}"#;
    assert!(cond(c, &[]), "absent key: IfExists holds");
    assert!(cond(c, &[("s3:x-amz-server-side-encryption", &["AES256"])]));
    assert!(!cond(
        c,
        &[("s3:x-amz-server-side-encryption", &["aws:kms"])]
    ));
    let c = r#"{"NumericLessThanIfExists":{"s3:max-keys":"100"}}"#;
    assert!(cond(c, &[]));
    assert!(!cond(c, &[("s3:max-keys", &["500"])]));
    let c = r#"{"NotIpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#;
    assert!(cond(c, &[]));
    assert!(!cond(c, &[("aws:SourceIp", &["10.1.2.3"])]));
}

#[test]
fn policy_set_qualifiers() {
    let keys = |v: &'static [&'static str]| [("s3:RequestObjectTagKeys", v)];
    let all = r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["Owner","Project"]}}"#;
    assert!(cond(all, &keys(&["Owner", "Project"])));
    assert!(!cond(all, &keys(&["Owner", "Secret"])));
    assert!(cond(all, &[]), "ForAllValues holds with no values");
    let any = r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["Owner","Project"]}}"#;
    assert!(cond(any, &keys(&["Secret", "Owner"])));
    assert!(!cond(any, &keys(&["Secret"])));
    assert!(!cond(any, &[]), "ForAnyValue fails with no values");
    let any_not = r#"{"ForAnyValue:StringNotEquals":{"s3:RequestObjectTagKeys":"Owner"}}"#;
    assert!(cond(any_not, &keys(&["Owner", "Secret"])));
    assert!(!cond(any_not, &keys(&["Owner"])));
    let all_like = r#"{"ForAllValues:StringLike":{"s3:RequestObjectTagKeys":"team-*"}}"#;
    assert!(cond(all_like, &keys(&["team-a", "team-b"])));
    assert!(!cond(all_like, &keys(&["team-a", "x"])));
}

#[test]
fn policy_conditions_are_anded_values_ored() {
    let c = r#"{"StringEquals":{"s3:prefix":["a/","b/"],"s3:delimiter":"/"},
               "IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#;
    let ok: &[(&str, &[&str])] = &[
        ("s3:prefix", &["b/"]),
        ("s3:delimiter", &["/"]),
        ("aws:SourceIp", &["10.9.9.9"]),
    ];
    assert!(cond(c, ok));
    let wrong_ip: &[(&str, &[&str])] = &[
        ("s3:prefix", &["b/"]),
        ("s3:delimiter", &["/"]),
        ("aws:SourceIp", &["11.0.0.1"]),
    ];
    assert!(!cond(c, wrong_ip));
    let no_delimiter: &[(&str, &[&str])] =
        &[("s3:prefix", &["a/"]), ("aws:SourceIp", &["10.0.0.1"])];
    assert!(!cond(c, no_delimiter));
}

#[test]
fn policy_tag_keys_keep_their_case() {
    let c = r#"{"StringEquals":{"S3:ExistingObjectTag/Env":"prod"}}"#;
    assert!(cond(c, &[("s3:existingobjecttag/Env", &["prod"])]));
    assert!(!cond(c, &[("s3:existingobjecttag/env", &["prod"])]));
    let p = allow_get(r#""*""#, c);
    assert!(p.reads_key("s3:ExistingObjectTag"));
    assert!(p.reads_key("s3:existingobjecttag/Other"));
    assert!(!p.reads_key("s3:RequestObjectTag"));
    let mut values = ConditionValues::default();
    values.set("AWS:SourceIp", vec!["10.0.0.1".into()]);
    assert_eq!(
        values.get("aws:sourceip"),
        Some(&["10.0.0.1".to_string()][..])
    );
    assert_eq!(values.get("aws:userid"), None);
}

#[test]
fn policy_reads_the_keys_of_its_conditions_and_variables() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
        "Resource":"arn:aws:s3:::bkt/${aws:username}/${s3:ExistingObjectTag/team}/${$}*",
        "Condition":{"IpAddress":{"AWS:SourceIp":"10.0.0.0/8"},
                     "StringLike":{"aws:Referer":"https://${aws:userid}.example/*"}}}"#,
    );
    for key in [
        "aws:sourceip",
        "aws:Referer",
        "aws:username",
        "aws:userid",
        "s3:ExistingObjectTag",
    ] {
        assert!(p.reads_key(key), "{key}");
    }
    for key in ["aws:CurrentTime", "aws:UserAgent", "$", "s3:prefix"] {
        assert!(!p.reads_key(key), "{key}");
    }
}

#[test]
fn policy_malformed_documents() {
    const GOOD: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read",
        "Effect":"Allow","Principal":"*","Action":["s3:GetObject"],
        "Resource":["arn:aws:s3:::bkt/*"]}]}"#;
    assert!(Policy::parse(GOOD, "bkt").is_ok());
    let with_condition =
        |c: &str| GOOD.replace(r#""Effect""#, &format!(r#""Condition":{c},"Effect""#));
    let table: Vec<(String, &str)> = vec![
        ("not json".into(), "invalid Json"),
        ("[]".into(), "JSON objects"),
        (r#"{"Version":"2012-10-17"}"#.into(), "Statement"),
        (r#"{"Statement":[]}"#.into(), "Statement"),
        (GOOD.replace("2012-10-17", "2020-01-01"), "version"),
        (GOOD.replace(r#""Sid""#, r#""Foo":1,"Sid""#), "Unknown field Foo"),
        (GOOD.replace("Allow", "Maybe"), "effect"),
        (GOOD.replace(r#""Effect":"Allow","#, ""), "Effect"),
        (GOOD.replace(r#""Principal":"*","#, ""), "Principal"),
        (GOOD.replace(r#""Principal":"*""#, r#""Principal":"*","NotPrincipal":"*""#), "both"),
        (GOOD.replace(r#""Principal":"*""#, r#""Principal":{"AWS":"arn:aws:iam::123:user/x"}"#), "principal"),
        (GOOD.replace(r#""Principal":"*""#, r#""Principal":{"Service":"s3.amazonaws.com"}"#), "principal"),
        (GOOD.replace(r#""Principal":"*""#, r#""Principal":{}"#), "principal"),
        (GOOD.replace("s3:GetObject", "ec2:Run"), "invalid action"),
        (GOOD.replace("s3:GetObject", "s3:GetObjects"), "invalid action"),
        (GOOD.replace(r#"["s3:GetObject"]"#, "[]"), "Action"),
        (GOOD.replace("arn:aws:s3:::bkt/*", "arn:aws:s3:::other/*"), "invalid resource"),
        (GOOD.replace("arn:aws:s3:::bkt/*", "arn:aws:s3:::bktx/*"), "invalid resource"),
        (GOOD.replace(r#""Sid":"Read","#, r#""Sid":7,"#), "Sid"),
        (GOOD.replace("}]}", r#"},{"Sid":"Read","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#), "unique"),
        (with_condition(r#"{"StringEquals":{"aws:SourceVpc":"v"}}"#), "invalid condition key"),
        (with_condition(r#"{"StringEquals":{"s3:ExistingObjectTag/":"v"}}"#), "invalid condition key"),
        (with_condition(r#"{"StringSortOf":{"s3:prefix":"v"}}"#), "Condition type"),
        (with_condition(r#"{"NullIfExists":{"s3:prefix":"true"}}"#), "Condition type"),
        (with_condition(r#"{"NumericEquals":{"s3:max-keys":"ten"}}"#), "not a number"),
        (with_condition(r#"{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}"#), "not a date"),
        (with_condition(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#), "not an IP range"),
        (with_condition(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#), "true or false"),
        (with_condition(r#"{"StringEquals":{"s3:prefix":[]}}"#), "empty list"),
        (with_condition(r#"{"StringEquals":{"s3:prefix":{"a":1}}}"#), "strings"),
        (with_condition(r#"{"StringEquals":{}}"#), "no key"),
        (with_condition(r#""x""#), "JSON object"),
        ("x".repeat(MAX_POLICY_SIZE + 1), "20 KB"),
    ];
    for (doc, reason) in &table {
        let e = Policy::parse(doc, "bkt").expect_err(doc);
        assert_eq!(e.code, S3ErrorCode::MalformedPolicy, "{doc}");
        assert!(
            e.message.to_lowercase().contains(&reason.to_lowercase()),
            "{doc}: {}",
            e.message
        );
    }
}

#[test]
fn policy_is_public() {
    let statement = |principal: &str, condition: &str| {
        let condition = if condition.is_empty() {
            String::new()
        } else {
            format!(r#","Condition":{condition}"#)
        };
        format!(
            r#"{{"Effect":"Allow","Principal":{principal},"Action":"s3:PutObject","Resource":"*"{condition}}}"#
        )
    };
    let alice = format!(r#"{{"AWS":"arn:aws:iam::{ALICE_ID}:root"}}"#);
    let table: &[(String, bool)] = &[
        // The examples of "The meaning of public".
        (statement(r#""*""#, ""), true),
        (
            statement(r#""*""#, r#"{"StringLike":{"aws:userid":"AID*"}}"#),
            true,
        ),
        (
            statement(r#""*""#, r#"{"StringEquals":{"aws:userid":"AIDEXAMPLE"}}"#),
            false,
        ),
        (
            statement(
                r#"{"AWS":"*"}"#,
                r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#,
            ),
            false,
        ),
        (
            statement(r#""*""#, r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#),
            true,
        ),
        (
            statement(
                r#""*""#,
                r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#,
            ),
            true,
        ),
        (
            statement(
                r#""*""#,
                r#"{"StringEquals":{"aws:PrincipalArn":"${aws:username}"}}"#,
            ),
            true,
        ),
        (
            statement(
                r#""*""#,
                &format!(
                    r#"{{"ArnEquals":{{"aws:PrincipalArn":"arn:aws:iam::{ALICE_ID}:root"}}}}"#
                ),
            ),
            false,
        ),
        (
            statement(r#""*""#, r#"{"StringEquals":{"s3:x-amz-acl":"private"}}"#),
            true,
        ),
        (
            statement(r#""*""#, r#"{"Bool":{"aws:SecureTransport":"true"}}"#),
            true,
        ),
        (statement(&alice, ""), false),
        (statement(r#"{"AWS":["*"]}"#, ""), true),
        (
            statement(&format!(r#"{{"AWS":["{ALICE_ID}","*"]}}"#), ""),
            true,
        ),
        (
            statement(&alice, "").replace("Principal", "NotPrincipal"),
            true,
        ),
        (statement(r#""*""#, "").replace("Allow", "Deny"), false),
    ];
    for (statements, public) in table {
        assert_eq!(policy(statements).is_public(), *public, "{statements}");
    }
}

/// "IAM policy elements: Variables and tags": `${aws:username}` in a Resource is replaced by
/// the requester's value; without one the resource matches nothing.
#[test]
fn policy_variables_in_resources() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::bkt/home/${aws:username}/*"}"#,
    );
    let home = |user: &str, key: &str| {
        decide(
            &p,
            ALICE,
            "s3:GetObject",
            &format!("arn:aws:s3:::bkt/{key}"),
            &[("aws:username", &[user])],
        )
    };
    assert_eq!(home("alice", "home/alice/a"), Decision::Allow);
    assert_eq!(home("alice", "home/bob/a"), Decision::NotSpecified);
    // A value is itself, never a wildcard.
    assert_eq!(home("*", "home/bob/a"), Decision::NotSpecified);
    assert_eq!(
        decide(
            &p,
            Requester::Anonymous,
            "s3:GetObject",
            "arn:aws:s3:::bkt/home//a",
            &[]
        ),
        Decision::NotSpecified
    );
    let dollar = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::bkt/${$}x"}"#,
    );
    assert_eq!(
        decide(&dollar, ALICE, "s3:GetObject", "arn:aws:s3:::bkt/$x", &[]),
        Decision::Allow
    );
}

/// Policy variables in condition values (the s3:prefix example of "Bucket policy examples":
/// each user lists only its home).
#[test]
fn policy_variables_in_conditions() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket",
            "Resource":"arn:aws:s3:::bkt",
            "Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}}"#,
    );
    let list = |user: &[&str], prefix: &str| {
        decide(
            &p,
            ALICE,
            "s3:ListBucket",
            "arn:aws:s3:::bkt",
            &[("aws:username", user), ("s3:prefix", &[prefix])],
        )
    };
    assert_eq!(list(&["alice"], "home/alice/docs"), Decision::Allow);
    assert_eq!(list(&["alice"], "home/bob/docs"), Decision::NotSpecified);
    // No user name: the variable names nothing, so nothing matches.
    assert_eq!(list(&[], "home//docs"), Decision::NotSpecified);
}
