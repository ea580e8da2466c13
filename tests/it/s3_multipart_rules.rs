//! Multipart completion rules on both backends: repeated completions and part lists.

use crate::common::raw::obj_path;
use crate::common::{etag_of, multipart_etag, unique_bucket, xml_text, TestServer};
use crate::raw_objects::multipart::{complete_xml, create_upload, upload_part};

fn setup(s: &TestServer, test: &str) -> String {
    let b = unique_bucket(test);
    s.raw().create_bucket(&b);
    b
}

/// AWS API reference, CompleteMultipartUpload: a completion repeated after it succeeded (a
/// client retrying after a lost answer) is answered again with the object's ETag; once the
/// part list differs or the key holds another object, the upload is gone: 404 NoSuchUpload
/// ("the multipart upload might have been aborted or completed").
fn repeated_completion_answers_the_same(s: &TestServer) {
    let b = setup(s, "mp-repeat");
    let c = s.raw();
    let k = "re/peat";
    let id = create_upload(&c, &b, k);
    let data = b"the only part".to_vec();
    let e1 = upload_part(&c, &b, k, &id, 1, &data);
    let complete = |parts: &[(u32, &str)]| {
        c.post(&obj_path(&b, k))
            .query("uploadId", &id)
            .body(complete_xml(parts))
            .send()
    };
    let first = complete(&[(1, &e1)]).ok().text();
    let etag = xml_text(&first, "ETag").expect("ETag");
    assert_eq!(etag, multipart_etag(&[&data]));
    // The same list again (ETag quoted or not): 200, the same ETag, the object unchanged.
    for _ in 0..2 {
        let again = complete(&[(1, &e1)]).ok().text();
        assert_eq!(xml_text(&again, "ETag").as_deref(), Some(etag.as_str()));
        assert_eq!(xml_text(&again, "Key").as_deref(), Some(k));
    }
    let again = complete(&[(1, e1.trim_matches('"'))]).ok().text();
    assert_eq!(xml_text(&again, "ETag").as_deref(), Some(etag.as_str()));
    assert_eq!(c.get_object(&b, k), data);
    // Another part list: the upload no longer exists.
    complete(&[(1, &etag_of(b"other"))]).assert_error(404, "NoSuchUpload");
    complete(&[(1, &e1), (2, &e1)]).assert_error(404, "NoSuchUpload");
    // The record belongs to this key only.
    c.post(&obj_path(&b, "another-key"))
        .query("uploadId", &id)
        .body(complete_xml(&[(1, &e1)]))
        .send()
        .assert_error(404, "NoSuchUpload");
    // Once the key holds another object, the completion is not repeated.
    c.put_object(&b, k, b"overwritten");
    complete(&[(1, &e1)]).assert_error(404, "NoSuchUpload");
    assert_eq!(c.get_object(&b, k), b"overwritten");
    // An upload that never existed, and an aborted one, stay NoSuchUpload.
    let aborted = create_upload(&c, &b, k);
    let ea = upload_part(&c, &b, k, &aborted, 1, b"x");
    c.delete(&obj_path(&b, k))
        .query("uploadId", &aborted)
        .send()
        .status(204);
    c.post(&obj_path(&b, k))
        .query("uploadId", &aborted)
        .body(complete_xml(&[(1, &ea)]))
        .send()
        .assert_error(404, "NoSuchUpload");
}

/// AWS API reference, CompleteMultipartUpload (InvalidPartOrder: "The list of parts was not in
/// ascending order. The parts list must be specified in order by part number.") and UploadPart
/// ("If you upload a new part using the same part number that was used with a previous part,
/// the previously uploaded part is overwritten").
fn part_order_and_reuploaded_parts(s: &TestServer) {
    let b = setup(s, "mp-order");
    let c = s.raw();
    let k = "ordered";
    let id = create_upload(&c, &b, k);
    let e1 = upload_part(&c, &b, k, &id, 1, b"first");
    let e2 = upload_part(&c, &b, k, &id, 2, b"second");
    let complete = |parts: &[(u32, &str)]| {
        c.post(&obj_path(&b, k))
            .query("uploadId", &id)
            .body(complete_xml(parts))
            .send()
    };
    complete(&[(2, &e2), (1, &e1)]).assert_error(400, "InvalidPartOrder");
    complete(&[(1, &e1), (1, &e1)]).assert_error(400, "InvalidPartOrder");
    complete(&[(1, &e1), (2, &e2), (2, &e2)]).assert_error(400, "InvalidPartOrder");
    // The errors left the upload in place; part 1 uploaded again replaces the first one.
    let replaced = upload_part(&c, &b, k, &id, 1, b"first, again");
    complete(&[(1, &e1)]).assert_error(400, "InvalidPart");
    let done = complete(&[(1, &replaced)]).ok().text();
    assert_eq!(
        xml_text(&done, "ETag"),
        Some(multipart_etag(&[b"first, again"]))
    );
    assert_eq!(c.get_object(&b, k), b"first, again");
}

crate::backend_tests! {
    repeated_completion_answers_the_same,
    part_order_and_reuploaded_parts,
}
