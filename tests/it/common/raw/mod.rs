//! A raw S3 client: HTTP/1.1 spoken by hand over a `TcpStream`, with its own
//! SigV4 (header, presigned, aws-chunked) and SigV2 (header, query) signers built
//! on `ring` and `base64`. It shares no code with the server, so a bug in the
//! server's verifier cannot be mirrored here. It exists for what stock clients
//! never send: broken signatures, skewed clocks, odd keys, malformed bodies.
//!
//! Here: the credentials, the auth modes and the client; `sign` builds and signs a request,
//! `wire` sends it and parses the answer into a `response::Response`.

mod primitives;
mod response;
mod sign;
mod wire;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use ring::{digest, hmac};

use super::{hex, now_secs, parse_xml};

pub use primitives::{
    amz_date, crc32, http_date, obj_path, percent_decode, sha256_hex, uri_encode,
};
pub use response::{Prepared, Response};
pub use sign::Req;
pub use wire::{parse_response, send_raw};

// Shared by the submodules (each takes `super::*`).
use primitives::{damage, hmac_sha1_b64, hmac_sha256, signing_key};
use wire::request_head;

pub const REGION: &str = "us-east-1";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Clone, Debug)]
pub struct Creds {
    pub access: String,
    pub secret: String,
}

impl Creds {
    pub fn new(access: &str, secret: &str) -> Creds {
        Creds {
            access: access.into(),
            secret: secret.into(),
        }
    }
}

/// How a request is authenticated.
#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    /// No credentials at all.
    Anonymous,
    /// SigV4 `Authorization` header, payload hash signed (or the declared
    /// `x-amz-content-sha256` header when the test set one).
    V4,
    /// SigV4 header with `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
    V4Unsigned,
    /// SigV4 presigned URL valid for this many seconds.
    V4Presigned { expires: u64 },
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` with chunks of this size.
    V4Chunked { chunk_size: usize },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned aws-chunked body with an
    /// `x-amz-checksum-crc32` trailer, as recent SDKs send it.
    V4UnsignedTrailer { chunk_size: usize },
    /// SigV2 `Authorization: AWS key:sig` header.
    V2,
    /// SigV2 query string (`AWSAccessKeyId`, `Expires`, `Signature`).
    V2Query { expires_in: i64 },
}

/// Deliberate damage done to an otherwise valid request.
#[derive(Clone, Debug, Default)]
pub struct Tamper {
    /// Change one character of the request signature.
    pub signature: bool,
    /// Change one character of the signature of this chunk (0-based; the final
    /// empty chunk is index `n_chunks`).
    pub chunk_signature: Option<usize>,
    /// Change one byte of this chunk's data after signing it.
    pub chunk_data: Option<usize>,
    /// Sign for this region instead of `REGION`.
    pub region: Option<&'static str>,
    /// Declare this `x-amz-decoded-content-length` instead of the real one.
    pub decoded_length: Option<usize>,
    /// Send this trailer checksum instead of the real CRC32.
    pub trailer_checksum: Option<&'static str>,
    /// Announce this in `x-amz-trailer` instead of `x-amz-checksum-crc32` ("": no header).
    pub trailer_declared: Option<&'static str>,
    /// Add this header after signing (SigV4 header auth).
    pub unsigned_header: Option<(&'static str, &'static str)>,
}

/// A client speaking to one server as one user.
#[derive(Clone)]
pub struct RawClient {
    pub addr: SocketAddr,
    pub creds: Creds,
}

impl RawClient {
    pub fn new(addr: SocketAddr, creds: Creds) -> RawClient {
        RawClient { addr, creds }
    }

    pub fn with_creds(&self, creds: Creds) -> RawClient {
        RawClient {
            addr: self.addr,
            creds,
        }
    }

    pub fn req(&self, method: &str, path: &str) -> Req<'_> {
        Req::new(self, method, path)
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req("GET", path)
    }
    pub fn put(&self, path: &str) -> Req<'_> {
        self.req("PUT", path)
    }
    pub fn head(&self, path: &str) -> Req<'_> {
        self.req("HEAD", path)
    }
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.req("DELETE", path)
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        self.req("POST", path)
    }

    /// Creates a bucket, asserting success.
    pub fn create_bucket(&self, bucket: &str) {
        self.put(&format!("/{bucket}")).send().ok();
    }

    /// PUTs an object, asserting success; returns the response.
    pub fn put_object(&self, bucket: &str, key: &str, data: &[u8]) -> Response {
        self.put(&obj_path(bucket, key)).body(data).send().ok()
    }

    /// GETs an object's bytes, asserting success.
    pub fn get_object(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.get(&obj_path(bucket, key)).send().ok().body
    }

    /// Every key of a bucket through ListObjectsV2, following continuation tokens.
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..10_000 {
            let mut r = self
                .get(&format!("/{bucket}"))
                .query("list-type", "2")
                .query("prefix", prefix);
            if let Some(t) = &token {
                r = r.query("continuation-token", t);
            }
            let text = r.send().ok().text();
            keys.extend(super::xml_child_texts(&text, "Contents", "Key"));
            if super::xml_text(&text, "IsTruncated").as_deref() == Some("true") {
                token = Some(
                    super::xml_text(&text, "NextContinuationToken")
                        .expect("truncated listing without NextContinuationToken"),
                );
            } else {
                return keys;
            }
        }
        panic!("listing never ended");
    }
}
