//! What fits in an SX volume: SX counts every file against its volume, hidden ones too, and
//! checks a file's whole size when it is created. An object up to the free space of its bucket
//! must fit, whether it comes in one PUT (staged first) or in parts (stored first).

use base64::Engine as _;

use crate::common::raw::{crc32, obj_path};
use crate::common::{
    assert_bytes_eq, multipart_etag, test_data, unique_bucket, xml_text, xml_texts, RawClient,
    TestServer,
};
use crate::raw_objects::multipart::complete_xml;

const MIB: usize = 1 << 20;

/// A bucket of 20 MiB, made by the test (the gateway's buckets are larger).
fn small_bucket(s: &TestServer, name: &str) -> String {
    let sx = s.sx().expect("an SX server");
    let vol = unique_bucket(name);
    let body = serde_json::json!({
        "volumeSize": 20 * MIB,
        "owner": s.opts.access_key,
        "replicaCount": sx.replica_count(),
    });
    let answer = sx.admin("PUT", &format!("/{vol}"), body.to_string().as_bytes());
    sx.wait_job(&answer, "creating a volume of 20 MiB");
    vol
}

/// A single PUT of an object up to the free space of its bucket fits: the body staged before
/// the commit does not count against the volume a second time while the object is written.
#[test]
fn sx_an_object_larger_than_half_its_volume_fits() {
    let s = TestServer::start_sx();
    let vol = small_bucket(&s, "sx-half");
    let c = s.raw();
    let data = test_data(12 * MIB, 7);
    c.put_object(&vol, "big", &data);
    assert_bytes_eq(&c.get_object(&vol, "big"), &data, "GET of the big object");
}

/// Uploads 12 MiB in three parts (5, 5 and 2 MiB), each with its CRC32: the volume of 20 MiB
/// cannot hold the object beside them. Returns the upload id, the parts, their ETags and their
/// checksums.
fn upload_parts(
    c: &RawClient,
    vol: &str,
    key: &str,
) -> (String, Vec<Vec<u8>>, Vec<String>, Vec<String>) {
    let created = c
        .post(&obj_path(vol, key))
        .sub("uploads")
        .header("x-amz-checksum-algorithm", "CRC32")
        .send()
        .ok()
        .text();
    let id = xml_text(&created, "UploadId").expect("UploadId");
    let parts: Vec<Vec<u8>> = [5, 5, 2]
        .iter()
        .enumerate()
        .map(|(i, mib)| test_data(mib * MIB, 40 + i as u64))
        .collect();
    let checksums: Vec<String> = parts
        .iter()
        .map(|p| base64::engine::general_purpose::STANDARD.encode(crc32(p).to_be_bytes()))
        .collect();
    let etags = parts
        .iter()
        .zip(&checksums)
        .enumerate()
        .map(|(i, (p, checksum))| {
            let r = c
                .put(&obj_path(vol, key))
                .query("partNumber", &(i + 1).to_string())
                .query("uploadId", &id)
                .header("x-amz-checksum-crc32", checksum)
                .body(p.clone())
                .send()
                .ok();
            r.header("etag").expect("part ETag").to_string()
        })
        .collect();
    (id, parts, etags, checksums)
}

/// CompleteMultipartUpload of an object larger than half its bucket: the parts' files make
/// room for the object, which is made of their blocks. If the completion fails after that
/// (here a conditional completion whose key another writer took in the meantime, on the fake
/// where the moment can be chosen), the parts are back and the upload can still be completed.
#[test]
fn sx_a_multipart_object_larger_than_half_its_volume_completes() {
    let s = TestServer::start_sx();
    let vol = small_bucket(&s, "sx-half-mp");
    let c = s.raw();
    let key = "big";
    let (id, parts, etags, checksums) = upload_parts(&c, &vol, key);
    let numbered: Vec<(u32, &str)> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| (i as u32 + 1, e.as_str()))
        .collect();
    let path = obj_path(&vol, key);
    if let Some(fake) = s.sx().and_then(|c| c.fake()) {
        // Another writer stores the key right after the parts' files were removed.
        let (v, k) = (vol.clone(), key.to_owned());
        fake.after_next(
            |method, uri, _| method == "DELETE" && uri.contains("recursive"),
            Box::new(move |st| st.write_file(&v, &k, b"another writer", &[])),
        );
        c.post(&path)
            .query("uploadId", &id)
            .header("If-None-Match", "*")
            .body(complete_xml(&numbered))
            .send()
            // The key was absent when the request started: a conflict, not a failed condition
            // (CompleteMultipartUpload page, If-None-Match).
            .assert_error(409, "ConditionalRequestConflict");
        assert_eq!(fake.pending_hooks(), 0);
        let listed = c.get(&path).query("uploadId", &id).send().ok().text();
        assert_eq!(
            xml_texts(&listed, "ETag"),
            etags,
            "parts after the failed completion"
        );
        assert_eq!(
            xml_texts(&listed, "ChecksumCRC32"),
            checksums,
            "part checksums after the failed completion"
        );
        assert_eq!(c.get_object(&vol, key), b"another writer");
    }
    let done = c
        .post(&path)
        .query("uploadId", &id)
        .body(complete_xml(&numbered))
        .send()
        .ok()
        .text();
    assert_eq!(xml_texts(&done, "ETag"), [multipart_etag(&parts)]);
    assert_bytes_eq(
        &c.get_object(&vol, key),
        &parts.concat(),
        "GET of the object",
    );
    let uploads = c.get(&format!("/{vol}")).sub("uploads").send().ok().text();
    assert!(xml_texts(&uploads, "UploadId").is_empty(), "{uploads}");
}
