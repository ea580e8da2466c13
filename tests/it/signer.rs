//! The raw client's signer against AWS's published examples (Amazon S3 API
//! reference, "Signature Calculations for the Authorization Header" and
//! "Authenticating Requests: Using Query Parameters" / "Transferring Payload in
//! Multiple Chunks"). These need no server: they show the test client signs as
//! AWS does, so a server that rejects it is wrong.

use std::net::SocketAddr;

use crate::common::raw::{amz_date, http_date, Auth, Creds, RawClient};

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2013-05-24T00:00:00Z
const T: i64 = 1_369_353_600;

fn client() -> RawClient {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    RawClient::new(addr, Creds::new(AK, SK))
}

fn signature(auth: &str) -> &str {
    auth.rsplit("Signature=").next().unwrap()
}

#[test]
fn dates_format() {
    assert_eq!(amz_date(T), "20130524T000000Z");
    assert_eq!(http_date(T), "Fri, 24 May 2013 00:00:00 GMT");
    assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

#[test]
fn sigv4_header_get_object_example() {
    let c = client();
    let p = c
        .get("/test.txt")
        .host("examplebucket.s3.amazonaws.com")
        .header("Range", "bytes=0-9")
        .at(T)
        .prepare();
    let auth = p.header("authorization").unwrap();
    assert!(
        auth.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"),
        "{auth}"
    );
    assert_eq!(
        signature(auth),
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn sigv4_header_put_object_example() {
    let c = client();
    let p = c
        .put("/test%24file.text")
        .host("examplebucket.s3.amazonaws.com")
        .header("Date", "Fri, 24 May 2013 00:00:00 GMT")
        .header("x-amz-storage-class", "REDUCED_REDUNDANCY")
        .body("Welcome to Amazon S3.")
        .at(T)
        .prepare();
    assert_eq!(
        signature(p.header("authorization").unwrap()),
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
}

#[test]
fn sigv4_presigned_example() {
    let c = client();
    let url = c
        .get("/test.txt")
        .host("examplebucket.s3.amazonaws.com")
        .auth(Auth::V4Presigned { expires: 86_400 })
        .at(T)
        .presigned_url();
    assert!(
        url.ends_with(
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        ),
        "{url}"
    );
    assert!(url.contains(
        "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    ));
}

#[test]
fn sigv4_chunked_example() {
    let c = client();
    let p = c
        .put("/examplebucket/chunkObject.txt")
        .host("s3.amazonaws.com")
        .header("x-amz-storage-class", "REDUCED_REDUNDANCY")
        .header("Content-Length", "66824")
        .body(vec![b'a'; 65_536 + 1024])
        .auth(Auth::V4Chunked { chunk_size: 65_536 })
        .at(T)
        .prepare();
    assert_eq!(
        signature(p.header("authorization").unwrap()),
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    );
    assert_eq!(p.body.len(), 66_824);
    let body = String::from_utf8_lossy(&p.body);
    for sig in [
        "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
        "400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n",
        "0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
    ] {
        assert!(body.contains(sig), "chunk line {sig:?} missing");
    }
}

#[test]
fn sigv2_header_example() {
    // Amazon S3 Developer Guide, "Signing and Authenticating REST Requests", Object GET.
    let c = RawClient::new("127.0.0.1:9".parse().unwrap(), Creds::new(AK, SK));
    let p = c
        .get("/awsexamplebucket1/photos/puppy.jpg")
        .header("Date", "Tue, 27 Mar 2007 19:36:42 +0000")
        .auth(Auth::V2)
        .prepare();
    assert_eq!(
        p.header("authorization"),
        Some("AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=")
    );
}

#[test]
fn crc32_check_value() {
    assert_eq!(crate::common::raw::crc32(b"123456789"), 0xCBF4_3926);
}
