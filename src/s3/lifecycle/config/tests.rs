use super::*;

fn config(rules: &str) -> String {
    format!("<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{rules}</LifecycleConfiguration>")
}

fn rule(body: &str) -> String {
    config(&format!("<Rule>{body}</Rule>"))
}

fn code(xml: &str) -> String {
    parse_xml(xml.as_bytes())
        .unwrap_err()
        .code
        .as_str()
        .to_string()
}

const EXPIRE: &str = "<Expiration><Days>3</Days></Expiration>";

#[test]
fn every_form_round_trips() {
    let xml = config(
        "<Rule><ID>legacy</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>\
         <Rule><ID>all</ID><Filter></Filter><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>\
         <Rule><ID>tag</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status>\
           <Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>\
           <NoncurrentVersionTransition><NoncurrentDays>5</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition></Rule>\
         <Rule><ID>and</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag>\
           <ObjectSizeGreaterThan>5</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter><Status>Enabled</Status>\
           <NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>\
         <Rule><ID>gt</ID><Filter><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
         <Rule><ID>marker</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>\
           <AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
    );
    let parsed = parse_xml(xml.as_bytes()).unwrap();
    assert_eq!(parsed.rules.len(), 6);
    let again = parse_xml(to_xml(&parsed).as_bytes()).unwrap();
    assert_eq!(again, parsed);
    assert_eq!(parsed.rules[0].filter, Filter::Legacy("old/".into()));
    assert_eq!(parsed.rules[1].filter, Filter::All);
    assert!(parsed.rules[2]
        .filter
        .matches("x", 0, &vec![("k".into(), "v".into())]));
    assert!(!parsed.rules[3].filter.matches(
        "p/x",
        10,
        &vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    ));
    assert!(parsed.rules[3].filter.matches(
        "p/x",
        6,
        &vec![("b".into(), "2".into()), ("a".into(), "1".into())]
    ));
}

#[test]
fn a_missing_id_is_made_up() {
    let parsed =
        parse_xml(rule(&format!("<Filter/><Status>Enabled</Status>{EXPIRE}")).as_bytes()).unwrap();
    assert_eq!(parsed.rules[0].id.len(), 48);
}

#[test]
fn refusals_as_s3() {
    let ok = |filter: &str, actions: &str| {
        rule(&format!(
            "<ID>r</ID>{filter}<Status>Enabled</Status>{actions}"
        ))
    };
    let cases: Vec<(String, &str)> = vec![
        (config(""), "MalformedXML"),
        ("<Other/>".into(), "MalformedXML"),
        (ok("<Filter/>", ""), "InvalidRequest"),
        (rule(&format!("<ID>r</ID><Filter/><Status>On</Status>{EXPIRE}")), "MalformedXML"),
        (rule(&format!("<ID>r</ID><Status>Enabled</Status>{EXPIRE}")), "MalformedXML"),
        (ok("<Filter/><Prefix>a</Prefix>", EXPIRE), "MalformedXML"),
        (ok("<Filter><Prefix>a</Prefix><Prefix>b</Prefix></Filter>", EXPIRE), "MalformedXML"),
        (ok("<Filter><Prefix>a</Prefix><ObjectSizeLessThan>3</ObjectSizeLessThan></Filter>", EXPIRE), "MalformedXML"),
        (ok("<Filter><And></And></Filter>", EXPIRE), "MalformedXML"),
        (ok("<Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>", EXPIRE), "InvalidArgument"),
        (ok("<Filter><And><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></And></Filter>", EXPIRE), "InvalidRequest"),
        (ok("<Filter><ObjectSizeGreaterThan>-1</ObjectSizeGreaterThan></Filter>", EXPIRE), "MalformedXML"),
        (ok("<Filter/>", "<Expiration><Days>0</Days></Expiration>"), "InvalidArgument"),
        (ok("<Filter/>", "<Expiration><Days>x</Days></Expiration>"), "MalformedXML"),
        (ok("<Filter/>", "<Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>"), "MalformedXML"),
        (ok("<Filter/>", "<Expiration><Date>2030-01-01T01:00:00Z</Date></Expiration>"), "InvalidArgument"),
        (ok("<Filter/>", "<Expiration></Expiration>"), "MalformedXML"),
        (ok("<Filter><Tag><Key>a</Key><Value>1</Value></Tag></Filter>", "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"), "InvalidArgument"),
        (ok("<Filter><Tag><Key>a</Key><Value>1</Value></Tag></Filter>", "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"), "InvalidRequest"),
        (ok("<Filter><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>", "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"), "InvalidRequest"),
        (ok("<Filter/>", "<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>"), "InvalidArgument"),
        (ok("<Filter/>", "<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>"), "InvalidArgument"),
        (ok("<Filter/>", "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>"), "InvalidArgument"),
        (ok("<Filter/>", "<Transition><Days>1</Days><StorageClass>STANDARD_IA</StorageClass></Transition>"), "InvalidArgument"),
        (ok("<Filter/>", "<Transition><Days>1</Days><StorageClass>STANDARD</StorageClass></Transition>"), "MalformedXML"),
        (ok("<Filter/>", "<Unknown/>"), "MalformedXML"),
        (rule(&format!("<ID>{}</ID><Filter/><Status>Enabled</Status>{EXPIRE}", "i".repeat(256))), "InvalidArgument"),
        (config(&format!("<Rule><ID>same</ID><Filter/><Status>Enabled</Status>{EXPIRE}</Rule>").repeat(2)), "InvalidArgument"),
        (config(&format!("<Rule><Filter/><Status>Enabled</Status>{EXPIRE}</Rule>").repeat(MAX_RULES + 1)), "InvalidArgument"),
    ];
    for (xml, expected) in cases {
        assert_eq!(code(&xml), expected, "{xml}");
    }
    // The limits themselves are accepted.
    let id = "i".repeat(MAX_ID_LEN);
    parse_xml(
        rule(&format!(
            "<ID>{id}</ID><Filter/><Status>Enabled</Status>{EXPIRE}"
        ))
        .as_bytes(),
    )
    .unwrap();
    let most = config(
        &format!("<Rule><Filter/><Status>Enabled</Status>{EXPIRE}</Rule>").repeat(MAX_RULES),
    );
    assert_eq!(parse_xml(most.as_bytes()).unwrap().rules.len(), MAX_RULES);
}
