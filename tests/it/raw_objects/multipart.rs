//! Multipart uploads with the raw client: the whole flow and its errors.

use crate::common::raw::{obj_path, Auth};
use crate::common::{
    etag_of, multipart_etag, test_data, xml_child_texts, xml_text, xml_texts, TestServer,
};

use super::setup;

pub(crate) fn create_upload(c: &crate::common::RawClient, b: &str, k: &str) -> String {
    let text = c
        .post(&obj_path(b, k))
        .sub("uploads")
        .header("Content-Type", "application/x-multi")
        .header("x-amz-meta-origin", "multipart")
        .send()
        .ok()
        .text();
    xml_text(&text, "UploadId").expect("UploadId")
}

pub(crate) fn upload_part(
    c: &crate::common::RawClient,
    b: &str,
    k: &str,
    id: &str,
    n: u32,
    data: &[u8],
) -> String {
    let r = c
        .put(&obj_path(b, k))
        .query("partNumber", &n.to_string())
        .query("uploadId", id)
        .body(data.to_vec())
        .send()
        .ok();
    let etag = r.header("etag").expect("part ETag").to_string();
    assert_eq!(etag, etag_of(data), "part {n} ETag");
    etag
}

pub(crate) fn complete_xml(parts: &[(u32, &str)]) -> String {
    let mut x =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (n, e) in parts {
        x.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
        ));
    }
    x.push_str("</CompleteMultipartUpload>");
    x
}

const MIB: usize = 1024 * 1024;

pub(super) fn multipart_upload_raw(s: &TestServer) {
    let b = setup(s, "multipart-raw");
    let c = s.raw();
    let k = "big/ob ject";
    let id = create_upload(&c, &b, k);
    let p1 = test_data(5 * MIB, 20);
    let p2 = test_data(5 * MIB, 21);
    let p3 = test_data(MIB / 3, 22);
    let e1 = upload_part(&c, &b, k, &id, 1, &p1);
    // Re-uploading a part replaces it.
    upload_part(&c, &b, k, &id, 2, &p3);
    let e2 = upload_part(&c, &b, k, &id, 2, &p2);
    // Part 3 goes over aws-chunked, as the SDKs send it.
    let r = c
        .put(&obj_path(&b, k))
        .query("partNumber", "3")
        .query("uploadId", &id)
        .body(p3.clone())
        .auth(Auth::V4Chunked {
            chunk_size: 64 * 1024,
        })
        .send()
        .ok();
    let e3 = r.header("etag").unwrap().to_string();
    assert_eq!(e3, etag_of(&p3));

    let parts = c
        .get(&obj_path(&b, k))
        .query("uploadId", &id)
        .send()
        .ok()
        .text();
    assert_eq!(xml_texts(&parts, "PartNumber"), vec!["1", "2", "3"]);
    assert_eq!(
        xml_child_texts(&parts, "Part", "ETag"),
        vec![e1.clone(), e2.clone(), e3.clone()]
    );
    assert_eq!(
        xml_child_texts(&parts, "Part", "Size"),
        vec![
            p1.len().to_string(),
            p2.len().to_string(),
            p3.len().to_string()
        ]
    );
    let uploads = c.get(&format!("/{b}")).sub("uploads").send().ok().text();
    assert_eq!(
        xml_child_texts(&uploads, "Upload", "UploadId"),
        vec![id.clone()]
    );
    assert_eq!(
        xml_child_texts(&uploads, "Upload", "Key"),
        vec![k.to_string()]
    );
    // Not visible before completion.
    c.head(&obj_path(&b, k))
        .send()
        .assert_error(404, "NoSuchKey");

    // Wrong order, unknown part, wrong ETag.
    c.post(&obj_path(&b, k))
        .query("uploadId", &id)
        .body(complete_xml(&[(2, &e2), (1, &e1)]))
        .send()
        .assert_error(400, "InvalidPartOrder");
    c.post(&obj_path(&b, k))
        .query("uploadId", &id)
        .body(complete_xml(&[(1, &e1), (7, &e2)]))
        .send()
        .assert_error(400, "InvalidPart");
    c.post(&obj_path(&b, k))
        .query("uploadId", &id)
        .body(complete_xml(&[(1, &e1), (2, &e1)]))
        .send()
        .assert_error(400, "InvalidPart");
    c.post(&obj_path(&b, k))
        .query("uploadId", &id)
        .body("<CompleteMultipartUpload><Part><PartNumber>1")
        .send()
        .assert_error(400, "MalformedXML");

    let r = c
        .post(&obj_path(&b, k))
        .query("uploadId", &id)
        .body(complete_xml(&[(1, &e1), (2, &e2), (3, &e3)]))
        .send()
        .ok();
    let text = r.text();
    let want = multipart_etag(&[&p1, &p2, &p3]);
    assert_eq!(xml_text(&text, "ETag"), Some(want.clone()), "{text}");
    assert_eq!(xml_text(&text, "Key").as_deref(), Some(k));

    let got = c.get(&obj_path(&b, k)).send().ok();
    let mut all = p1.clone();
    all.extend_from_slice(&p2);
    all.extend_from_slice(&p3);
    crate::common::assert_bytes_eq(&got.body, &all, "completed multipart object");
    assert_eq!(got.header("etag"), Some(want.as_str()));
    assert_eq!(got.header("content-type"), Some("application/x-multi"));
    assert_eq!(got.header("x-amz-meta-origin"), Some("multipart"));
    let list = c
        .get(&format!("/{b}"))
        .query("list-type", "2")
        .send()
        .ok()
        .text();
    assert_eq!(xml_child_texts(&list, "Contents", "ETag"), vec![want]);
    // A range across the part boundary.
    let r = c
        .get(&obj_path(&b, k))
        .header("Range", &format!("bytes={}-{}", 5 * MIB - 2, 5 * MIB + 1))
        .send()
        .status(206);
    assert_eq!(r.body, &all[5 * MIB - 2..5 * MIB + 2]);
    // The upload is gone.
    c.get(&obj_path(&b, k))
        .query("uploadId", &id)
        .send()
        .assert_error(404, "NoSuchUpload");
    let uploads = c.get(&format!("/{b}")).sub("uploads").send().ok().text();
    assert!(xml_child_texts(&uploads, "Upload", "UploadId").is_empty());
}

pub(super) fn multipart_errors(s: &TestServer) {
    let b = setup(s, "multipart-errors");
    let c = s.raw();
    // A part under 5 MiB that is not the last.
    let id = create_upload(&c, &b, "small");
    let small = test_data(1000, 30);
    let e1 = upload_part(&c, &b, "small", &id, 1, &small);
    let e2 = upload_part(&c, &b, "small", &id, 2, &small);
    c.post(&obj_path(&b, "small"))
        .query("uploadId", &id)
        .body(complete_xml(&[(1, &e1), (2, &e2)]))
        .send()
        .assert_error(400, "EntityTooSmall");
    // A single small part is fine.
    let r = c
        .post(&obj_path(&b, "small"))
        .query("uploadId", &id)
        .body(complete_xml(&[(1, &e1)]))
        .send()
        .ok();
    assert_eq!(xml_text(&r.text(), "ETag"), Some(multipart_etag(&[&small])));
    assert_eq!(c.get_object(&b, "small"), small);

    // Abort.
    let id = create_upload(&c, &b, "aborted");
    upload_part(&c, &b, "aborted", &id, 1, &small);
    c.delete(&obj_path(&b, "aborted"))
        .query("uploadId", &id)
        .send()
        .status(204);
    c.put(&obj_path(&b, "aborted"))
        .query("partNumber", "2")
        .query("uploadId", &id)
        .body(small.clone())
        .send()
        .assert_error(404, "NoSuchUpload");
    c.post(&obj_path(&b, "aborted"))
        .query("uploadId", &id)
        .body(complete_xml(&[(1, &e1)]))
        .send()
        .assert_error(404, "NoSuchUpload");
    c.head(&obj_path(&b, "aborted"))
        .send()
        .assert_error(404, "NoSuchKey");
    // Unknown upload ids.
    c.get(&obj_path(&b, "x"))
        .query("uploadId", "no-such-upload")
        .send()
        .assert_error(404, "NoSuchUpload");
    // Part numbers are 1..=10000.
    let id = create_upload(&c, &b, "pn");
    for bad in ["0", "10001"] {
        let r = c
            .put(&obj_path(&b, "pn"))
            .query("partNumber", bad)
            .query("uploadId", &id)
            .body("x")
            .send();
        r.assert_error(400, "InvalidArgument");
    }
}
