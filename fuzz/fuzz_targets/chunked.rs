//! The aws-chunked decoder with trailers (src/s3/auth/chunked.rs), reached as the server
//! reaches it: a SigV4 request with a `STREAMING-*` x-amz-content-sha256 verifies into a
//! chunked body, which then decodes the fuzz bytes delivered in fuzzer-chosen pieces.
//!
//! Input: byte 0 picks the variant (bits 0-1) and the mode (bit 2); bytes 1-4 are the
//! decoded length (little endian), byte 5 the number of cuts, then the cuts, then one line
//! of x-amz-trailer, then the body.
//!
//! Raw mode feeds the body as is. Encode mode reads the body as chunk sizes, data and
//! trailers, encodes them with signatures computed here from the AWS documentation (not
//! with the decoder's code), and checks the decoder gives back exactly that data and those
//! trailers, wherever the stream is cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::auth::{self, sigv4, PayloadCheck, SignedRequest};
use libres3::s3::error::S3ErrorCode;
use libres3::store::SecretKey;
use libres3_fuzz::{body, detail, drain, example_time, hex, pieces, REGION, SECRET};
use ring::{digest, hmac};

const MODES: [&str; 3] = [
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
];
const AMZ_DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let mode = usize::from(data[0] & 3) % MODES.len();
    let encode = data[0] & 4 != 0;
    let declared_length = u64::from(u32::from_le_bytes([data[1], data[2], data[3], data[4]]));
    let ncuts = usize::from(data[5] % 8).min(data.len() - 6);
    let cuts = &data[6..6 + ncuts];
    let rest = &data[6 + ncuts..];
    let (trailer_header, rest) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&b""[..], rest),
    };
    let Ok(trailer_header) = std::str::from_utf8(trailer_header) else {
        return;
    };
    if encode {
        round_trip(mode, cuts, rest);
        return;
    }
    let Some((mut chunked, _)) = chunked_body(mode, declared_length) else {
        return;
    };
    if chunked.declare_trailers(Some(trailer_header)).is_err() {
        return;
    }
    let trailers = chunked.trailers();
    let (decoded, error) = drain(chunked.decode(body(pieces(rest, cuts))));
    assert!(
        decoded.len() as u64 <= declared_length,
        "more data than declared"
    );
    if error.is_none() {
        assert_eq!(
            decoded.len() as u64,
            declared_length,
            "a short body accepted"
        );
    }
    // After a failure the trailers may be set (bytes after a complete body fail it once the
    // trailers are in): the server discards a failed body whole, trailers included.
    let _ = trailers.all();
});

/// A chunked body for a PUT signed the way the AWS chunked-upload example is, and its seed
/// signature.
fn chunked_body(mode: usize, decoded_length: u64) -> Option<(auth::chunked::ChunkedBody, String)> {
    let secret = SecretKey::new(SECRET.to_owned());
    let length = decoded_length.to_string();
    let request = |signature: &str| {
        let mut headers = actix_web::http::header::HeaderMap::new();
        let authorization = format!(
            "{} Credential={}/{SCOPE},SignedHeaders=content-encoding;host;x-amz-content-sha256;\
             x-amz-date;x-amz-decoded-content-length,Signature={signature}",
            sigv4::ALGORITHM,
            libres3_fuzz::ACCESS_KEY
        );
        for (name, value) in [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-content-sha256", MODES[mode]),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", &length),
            ("authorization", &authorization),
        ] {
            headers.insert(
                actix_web::http::header::HeaderName::from_static(name),
                value.parse().expect("ASCII"),
            );
        }
        headers
    };
    let check = |headers: &actix_web::http::header::HeaderMap| {
        let req = SignedRequest {
            method: "PUT",
            raw_path: "/examplebucket/chunkObject.txt",
            raw_query: "",
            headers,
            virtual_bucket: None,
        };
        let creds = auth::parse(&req, example_time(), REGION).expect("a well-formed request");
        auth::verify(&creds, &req, &secret)
    };
    let unsigned = request(&"0".repeat(64));
    let to_sign = match check(&unsigned) {
        Err(e) if e.code == S3ErrorCode::SignatureDoesNotMatch => {
            detail(&e, "StringToSign").expect("reported").to_owned()
        }
        other => panic!("a zero signature: {other:?}"),
    };
    let key = sigv4::signing_key(&secret, "20130524", REGION);
    let seed = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
    match check(&request(&seed)) {
        Ok(PayloadCheck::Chunked(body)) => Some((body, seed)),
        other => panic!("the seed signature: {other:?}"),
    }
}

/// Encodes chunks and trailers read from `spec`, decodes them, and compares.
fn round_trip(mode: usize, cuts: &[u8], spec: &[u8]) {
    // Chunks: a size byte, then that many data bytes; a zero size ends the data.
    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    while let Some(&size) = spec.get(at) {
        at += 1;
        if size == 0 {
            break;
        }
        let end = (at + usize::from(size)).min(spec.len());
        if end > at {
            chunks.push(&spec[at..end]); // an empty chunk would be the final one
        }
        at = end;
    }
    // Trailers from what remains: `name=value` per line, names made safe.
    let with_trailer = mode != 1;
    let mut trailers: Vec<(String, String)> = Vec::new();
    if with_trailer {
        for line in spec[at..].split(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(line);
            let (name, value) = text.split_once('=').unwrap_or((&text, ""));
            let name: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .map(|c| c.to_ascii_lowercase())
                .collect();
            let value: String = value.chars().filter(|c| c.is_ascii_graphic()).collect();
            let taken =
                name == "x-amz-trailer-signature" || trailers.iter().any(|(n, _)| *n == name);
            if !name.is_empty() && !taken {
                trailers.push((name, value));
            }
            if trailers.len() == 8 {
                break;
            }
        }
    }
    let data: Vec<u8> = chunks.concat();
    let Some((mut chunked, seed)) = chunked_body(mode, data.len() as u64) else {
        return;
    };
    let names: Vec<&str> = trailers.iter().map(|(n, _)| n.as_str()).collect();
    chunked
        .declare_trailers(Some(&names.join(",")))
        .expect("x-amz-trailer with a trailing variant");
    let handle = chunked.trailers();

    let signing_key = sigv4::signing_key(&SecretKey::new(SECRET.to_owned()), "20130524", REGION);
    let mut previous = seed;
    let mut encoded = Vec::new();
    let empty_hash = hex(digest::digest(&digest::SHA256, b"").as_ref());
    for chunk in chunks.iter().copied().chain([&b""[..]]) {
        encoded.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        if mode != 0 {
            let to_sign = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{AMZ_DATE}\n{SCOPE}\n{previous}\n{empty_hash}\n{}",
                hex(digest::digest(&digest::SHA256, chunk).as_ref())
            );
            previous = hex(hmac::sign(&signing_key, to_sign.as_bytes()).as_ref());
            encoded.extend_from_slice(format!(";chunk-signature={previous}").as_bytes());
        }
        encoded.extend_from_slice(b"\r\n");
        if !chunk.is_empty() {
            encoded.extend_from_slice(chunk);
            encoded.extend_from_slice(b"\r\n");
        }
    }
    if with_trailer {
        let mut canonical = String::new();
        for (name, value) in &trailers {
            encoded.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            canonical.push_str(&format!("{name}:{value}\n"));
        }
        if mode == 2 {
            let to_sign = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{AMZ_DATE}\n{SCOPE}\n{previous}\n{}",
                hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
            );
            let signature = hex(hmac::sign(&signing_key, to_sign.as_bytes()).as_ref());
            encoded
                .extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
    }
    encoded.extend_from_slice(b"\r\n");

    let (decoded, error) = drain(chunked.decode(body(pieces(&encoded, cuts))));
    assert!(error.is_none(), "a well-formed body refused: {error:?}");
    assert_eq!(decoded, data, "decoded data differs");
    assert_eq!(handle.all(), trailers, "decoded trailers differ");
}
