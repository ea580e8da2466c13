//! DeleteObjects: quiet and verbose answers, malformed requests.

use crate::common::{md5_bytes, xml_child_texts, xml_texts, TestServer};

use super::{b64, setup};

pub(super) fn delete_objects_quiet_verbose_and_malformed(s: &TestServer) {
    let b = setup(s, "delete-objects");
    let c = s.raw();
    for k in ["a", "b", "c", "d", "dir/e"] {
        c.put_object(&b, k, k.as_bytes());
    }
    let body = "<Delete><Object><Key>a</Key></Object><Object><Key>dir/e</Key></Object>\
                <Object><Key>missing</Key></Object></Delete>";
    let r = c
        .post(&format!("/{b}"))
        .sub("delete")
        .header("Content-MD5", &b64(&md5_bytes(body.as_bytes())))
        .body(body)
        .send()
        .ok();
    let mut deleted = xml_child_texts(&r.text(), "Deleted", "Key");
    deleted.sort();
    assert_eq!(deleted, vec!["a", "dir/e", "missing"]);
    assert!(xml_texts(&r.text(), "Error").is_empty());
    let body = "<Delete><Quiet>true</Quiet><Object><Key>b</Key></Object></Delete>";
    let r = c
        .post(&format!("/{b}"))
        .sub("delete")
        .header("Content-MD5", &b64(&md5_bytes(body.as_bytes())))
        .body(body)
        .send()
        .ok();
    assert!(
        xml_texts(&r.text(), "Deleted").is_empty(),
        "quiet mode lists nothing: {}",
        r.text()
    );
    assert_eq!(c.list_keys(&b, ""), vec!["c", "d"]);
    for bad in [
        "<Delete><Object><Key>c</Key></Object>",
        "not xml at all",
        "<Other/>",
        "",
    ] {
        c.post(&format!("/{b}"))
            .sub("delete")
            .header("Content-MD5", &b64(&md5_bytes(bad.as_bytes())))
            .body(bad)
            .send()
            .assert_error(400, "MalformedXML");
    }
    assert_eq!(c.list_keys(&b, ""), vec!["c", "d"]);
}
