//! Unit tests of the aws-chunked decoder: AWS's example vectors, every split of a body,
//! broken framing, trailers.

use super::*;
use crate::s3::auth::sigv4::signing_key;
use crate::s3::auth::test_support::*;
use crate::s3::auth::{self, PayloadCheck, SignedRequest};
use crate::store::SecretKey;
use futures_util::FutureExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const SIG1: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
const SIG2: &str = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
const SIG3: &str = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

fn example_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_369_353_600)
}

fn secret() -> SecretKey {
    SecretKey::new(SECRET.to_owned())
}

fn signing(seed: &str) -> ChunkSigning {
    ChunkSigning {
        key: signing_key(&secret(), "20130524", "us-east-1"),
        amz_date: "20130524T000000Z".to_owned(),
        scope: SCOPE.to_owned(),
        seed_signature: unhex_array(seed).expect("hex"),
    }
}

/// The 65 KiB body of the AWS chunked-upload example, encoded.
fn example_body() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("10000;chunk-signature={SIG1}\r\n").as_bytes());
    body.extend_from_slice(&[b'a'; 65_536]);
    body.extend_from_slice(format!("\r\n400;chunk-signature={SIG2}\r\n").as_bytes());
    body.extend_from_slice(&[b'a'; 1024]);
    body.extend_from_slice(format!("\r\n0;chunk-signature={SIG3}\r\n\r\n").as_bytes());
    body
}

fn run(body: ChunkedBody, parts: Vec<Vec<u8>>) -> (Vec<u8>, Vec<usize>, Option<S3Error>) {
    let input: Vec<Result<Bytes, S3Error>> =
        parts.into_iter().map(|p| Ok(Bytes::from(p))).collect();
    let out = body
        .decode(stream::iter(input).boxed_local())
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("test streams are always ready");
    let mut data = Vec::new();
    let mut sizes = Vec::new();
    let mut error = None;
    for item in out {
        match item {
            Ok(bytes) => {
                sizes.push(bytes.len());
                data.extend_from_slice(&bytes);
            }
            Err(e) => {
                assert!(error.is_none(), "only one error, at the end");
                error = Some(e);
            }
        }
    }
    (data, sizes, error)
}

// S3 API reference, "Transferring Payload in Multiple Chunks", example "PUT Object":
// the seed signature from the headers, then the chained chunk signatures.
#[test]
fn aws_example_seed_and_chunks() {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{SCOPE},SignedHeaders=content-encoding;\
         content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;\
         x-amz-storage-class,Signature={SEED}"
    );
    let h = headers(&[
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("authorization", &auth),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
    ]);
    let req = SignedRequest {
        method: "PUT",
        raw_path: "/examplebucket/chunkObject.txt",
        raw_query: "",
        headers: &h,
        virtual_bucket: None,
    };
    let creds = auth::parse(&req, example_time(), "us-east-1").expect("parses");
    let check = auth::verify(&creds, &req, &secret()).expect("seed signature verifies");
    assert_eq!(check.decoded_length(), Some(66_560));
    let PayloadCheck::Chunked(body) = check else {
        panic!("expected a chunked body");
    };
    let encoded = example_body();
    assert_eq!(encoded.len(), 66_824);
    let (data, sizes, error) = run(body, vec![encoded]);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(sizes, vec![65_536, 1024]);
    assert!(data.len() == 66_560 && data.iter().all(|&b| b == b'a'));
}

fn small_signed_body() -> (Vec<u8>, String, Vec<u8>) {
    // Builds a small valid body with our own chain, checked against the AWS example
    // by the test above.
    let seed = SEED;
    let mut chain = Chain {
        signing: Box::new(signing(seed)),
        previous: seed.to_owned(),
    };
    let mut body = Vec::new();
    let mut data = Vec::new();
    for chunk in [&b"hello "[..], b"world", b""] {
        let hash = digest::digest(&digest::SHA256, chunk);
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n{SCOPE}\n{}\n{EMPTY_SHA256_HEX}\n{}",
            chain.previous,
            hex(hash.as_ref())
        );
        let sig = hmac::sign(&chain.signing.key, to_sign.as_bytes());
        chain.previous = hex(sig.as_ref());
        body.extend_from_slice(
            format!("{:x};chunk-signature={}\r\n", chunk.len(), chain.previous).as_bytes(),
        );
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
        data.extend_from_slice(chunk);
    }
    (body, seed.to_owned(), data)
}

#[test]
fn every_split_of_the_stream() {
    let (body, seed, expected) = small_signed_body();
    for split in 0..=body.len() {
        let parts = vec![body[..split].to_vec(), body[split..].to_vec()];
        let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
        let (data, _, error) = run(decoder, parts);
        assert!(error.is_none(), "split at {split}: {error:?}");
        assert_eq!(data, expected, "split at {split}");
    }
    // One byte at a time.
    let parts = body.iter().map(|&b| vec![b]).collect();
    let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
    let (data, sizes, error) = run(decoder, parts);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(data, expected);
    assert_eq!(
        sizes,
        vec![6, 5],
        "signed data comes whole chunk by whole chunk"
    );
}

#[test]
fn bad_chunk_signature_yields_nothing() {
    let (mut body, seed, expected) = small_signed_body();
    // Flip one data byte of the first chunk.
    let at = body.windows(5).position(|w| w == b"hello").expect("data");
    body[at] = b'j';
    let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
    let (data, _, error) = run(decoder, vec![body]);
    assert!(data.is_empty());
    assert_eq!(
        error.map(|e| e.code),
        Some(S3ErrorCode::SignatureDoesNotMatch)
    );

    // A wrong seed breaks the chain from the start.
    let (body, _, expected) = small_signed_body();
    let decoder = ChunkedBody::signed(signing(SIG1), false, expected.len() as u64);
    let (data, _, error) = run(decoder, vec![body]);
    assert!(data.is_empty());
    assert_eq!(
        error.map(|e| e.code),
        Some(S3ErrorCode::SignatureDoesNotMatch)
    );
}

#[test]
fn truncated_body() {
    let (body, seed, expected) = small_signed_body();
    for cut in 0..body.len() - 2 {
        let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
        let (_, _, error) = run(decoder, vec![body[..cut].to_vec()]);
        let error = error.unwrap_or_else(|| panic!("cut at {cut} accepted"));
        assert_eq!(error.code, S3ErrorCode::IncompleteBody, "cut at {cut}");
    }
    // Only the final CRLF missing: tolerated.
    let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
    let (data, _, error) = run(decoder, vec![body[..body.len() - 2].to_vec()]);
    assert!(error.is_none());
    assert_eq!(data, expected);
}

#[test]
fn decoded_length_mismatch() {
    let (body, seed, expected) = small_signed_body();
    for declared in [expected.len() as u64 - 1, expected.len() as u64 + 1, 0] {
        let decoder = ChunkedBody::signed(signing(&seed), false, declared);
        let (_, _, error) = run(decoder, vec![body.clone()]);
        assert_eq!(
            error.map(|e| e.code),
            Some(S3ErrorCode::IncompleteBody),
            "{declared}"
        );
    }
}

#[test]
fn garbage_framing() {
    let (body, seed, expected) = small_signed_body();
    let cases: Vec<Vec<u8>> = vec![
        b"zz;chunk-signature=00\r\n".to_vec(),
        b"6\r\nhello \r\n".to_vec(),
        vec![b'1'; 5000],
        [&body[..], b"extra"].concat(),
        body.iter()
            .map(|&b| if b == b'\r' { b'\n' } else { b })
            .collect(),
    ];
    for case in cases {
        let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
        let (data, _, error) = run(decoder, vec![case.clone()]);
        let code = error.map(|e| e.code);
        assert!(
            matches!(
                code,
                Some(S3ErrorCode::InvalidRequest | S3ErrorCode::IncompleteBody)
            ),
            "{:?}: {code:?}",
            String::from_utf8_lossy(&case[..case.len().min(40)])
        );
        assert!(data.len() <= expected.len());
    }
    let oversized = format!("1000001;chunk-signature={SIG1}\r\n");
    let decoder = ChunkedBody::signed(signing(&seed), false, 1 << 30);
    let (_, _, error) = run(decoder, vec![oversized.into_bytes()]);
    assert_eq!(error.map(|e| e.code), Some(S3ErrorCode::InvalidRequest));
}

#[test]
fn unsigned_with_trailer() {
    let body = b"6\r\nhello \r\n5\r\nworld\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    for split in 0..=body.len() {
        let mut decoder = ChunkedBody::unsigned_with_trailer(11);
        decoder
            .declare_trailers(Some("x-amz-checksum-crc32"))
            .expect("declared");
        let trailers = decoder.trailers();
        let (data, _, error) = run(
            decoder,
            vec![body[..split].to_vec(), body[split..].to_vec()],
        );
        assert!(error.is_none(), "split at {split}: {error:?}");
        assert_eq!(data, b"hello world");
        assert_eq!(
            trailers.get("x-amz-checksum-crc32").as_deref(),
            Some("AAAAAA==")
        );
    }
    // No trailers at all is fine too.
    let decoder = ChunkedBody::unsigned_with_trailer(5);
    let (data, _, error) = run(decoder, vec![b"5\r\nworld\r\n0\r\n\r\n".to_vec()]);
    assert!(error.is_none());
    assert_eq!(data, b"world");
}

/// A trailer must be announced in x-amz-trailer, and an announced one must come: either
/// way the body fails at its end, before the store commits anything.
#[test]
fn trailers_must_match_their_declaration() {
    let with_crc = b"5\r\nworld\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".to_vec();
    let without = b"5\r\nworld\r\n0\r\n\r\n".to_vec();
    let cases: [(Option<&str>, &Vec<u8>, bool); 5] = [
        (None, &with_crc, false),
        (Some("x-amz-checksum-sha256"), &with_crc, false),
        (Some("x-amz-checksum-crc32"), &without, false),
        (Some("x-amz-checksum-crc32"), &with_crc, true),
        (Some(" X-Amz-Checksum-CRC32 "), &with_crc, true),
    ];
    for (declared, body, ok) in cases {
        let mut decoder = ChunkedBody::unsigned_with_trailer(5);
        decoder.declare_trailers(declared).expect("declared");
        let (_, _, error) = run(decoder, vec![body.clone()]);
        match error {
            None => assert!(ok, "{declared:?} accepted"),
            Some(e) => {
                assert!(!ok, "{declared:?}: {e}");
                assert_eq!(e.code, S3ErrorCode::InvalidRequest, "{declared:?}");
            }
        }
    }
    // Announcing a trailer on a body that cannot carry one.
    let mut plain = ChunkedBody::signed(signing(SEED), false, 5);
    let e = plain
        .declare_trailers(Some("x-amz-checksum-crc32"))
        .unwrap_err();
    assert_eq!(e.code, S3ErrorCode::InvalidRequest);
}

fn signed_trailer_body(tamper: bool) -> (Vec<u8>, Vec<u8>) {
    let (body, seed, data) = small_signed_body();
    // Replace the final "\r\n" by trailers and their signature.
    let mut body = body[..body.len() - 2].to_vec();
    let last_sig_at = body.len() - 2 - 64;
    let previous = String::from_utf8(body[last_sig_at..body.len() - 2].to_vec()).expect("hex");
    let trailer = "x-amz-checksum-crc32c:sOO8/Q==\n";
    let hash = digest::digest(&digest::SHA256, trailer.as_bytes());
    let to_sign = format!(
        "AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\n{SCOPE}\n{previous}\n{}",
        hex(hash.as_ref())
    );
    let key = signing(&seed).key;
    let sig = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
    let value = if tamper { "AAAAAA==" } else { "sOO8/Q==" };
    body.extend_from_slice(
        format!("x-amz-checksum-crc32c:{value}\r\nx-amz-trailer-signature:{sig}\r\n\r\n")
            .as_bytes(),
    );
    (body, data)
}

#[test]
fn signed_with_trailer() {
    let (body, expected) = signed_trailer_body(false);
    let declared = |mut decoder: ChunkedBody| {
        decoder
            .declare_trailers(Some("x-amz-checksum-crc32c"))
            .expect("declared");
        decoder
    };
    for split in 0..=body.len() {
        let decoder = declared(ChunkedBody::signed(
            signing(SEED),
            true,
            expected.len() as u64,
        ));
        let trailers = decoder.trailers();
        let (data, _, error) = run(
            decoder,
            vec![body[..split].to_vec(), body[split..].to_vec()],
        );
        assert!(error.is_none(), "split at {split}: {error:?}");
        assert_eq!(data, expected);
        assert_eq!(
            trailers.all(),
            vec![("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
        );
    }
    let (body, expected) = signed_trailer_body(true);
    let decoder = declared(ChunkedBody::signed(
        signing(SEED),
        true,
        expected.len() as u64,
    ));
    let trailers = decoder.trailers();
    let (_, _, error) = run(decoder, vec![body]);
    assert_eq!(
        error.map(|e| e.code),
        Some(S3ErrorCode::SignatureDoesNotMatch)
    );
    assert!(trailers.all().is_empty());

    // Trailers without their signature.
    let (body, seed, expected) = small_signed_body();
    let mut body = body[..body.len() - 2].to_vec();
    body.extend_from_slice(b"x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
    let decoder = declared(ChunkedBody::signed(
        signing(&seed),
        true,
        expected.len() as u64,
    ));
    let (_, _, error) = run(decoder, vec![body]);
    assert_eq!(
        error.map(|e| e.code),
        Some(S3ErrorCode::SignatureDoesNotMatch)
    );
}

#[test]
fn upstream_errors_pass_through() {
    let (body, seed, expected) = small_signed_body();
    let input: Vec<Result<Bytes, S3Error>> = vec![
        Ok(Bytes::from(body[..10].to_vec())),
        Err(S3Error::new(S3ErrorCode::RequestTimeout, "slow")),
    ];
    let out = ChunkedBody::signed(signing(&seed), false, expected.len() as u64)
        .decode(stream::iter(input).boxed_local())
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("ready");
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0], Err(e) if e.code == S3ErrorCode::RequestTimeout));
}
