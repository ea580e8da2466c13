//! The request builder and its signers: SigV4 (header, presigned, aws-chunked) and SigV2
//! (header, query), with deliberate damage for the tests of rejection.

use super::*;

/// A request being built.
pub struct Req<'a> {
    pub(super) client: &'a RawClient,
    method: String,
    /// Already URI-encoded path.
    path: String,
    /// Decoded query parameters; `None` value = bare key (`?uploads`).
    query: Vec<(String, Option<String>)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    auth: Auth,
    host: Option<String>,
    time: i64,
    tamper: Tamper,
    creds: Option<Creds>,
    /// The bucket named by the Host header (virtual-hosted-style), which
    /// SigV2 puts in front of the path in the resource it signs.
    vhost_bucket: Option<String>,
}

impl<'a> Req<'a> {
    /// A request signed with SigV4 by the client's user, now, unless told otherwise.
    pub(super) fn new(client: &'a RawClient, method: &str, path: &str) -> Req<'a> {
        Req {
            client,
            method: method.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            auth: Auth::V4,
            host: None,
            time: now_secs(),
            tamper: Tamper::default(),
            creds: None,
            vhost_bucket: None,
        }
    }

    /// Virtual-hosted-style: `Host: {bucket}.{s3_host}:{port}`.
    pub fn vhost(mut self, bucket: &str, s3_host: &str) -> Self {
        self.host = Some(format!("{bucket}.{s3_host}:{}", self.client.addr.port()));
        self.vhost_bucket = Some(bucket.to_string());
        self
    }
    pub fn query(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.into(), Some(v.into())));
        self
    }
    /// A bare subresource such as `?uploads` or `?delete`.
    pub fn sub(mut self, k: &str) -> Self {
        self.query.push((k.into(), None));
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    pub fn auth(mut self, a: Auth) -> Self {
        self.auth = a;
        self
    }
    /// The `Host` header (default `127.0.0.1:PORT`).
    pub fn host(mut self, h: &str) -> Self {
        self.host = Some(h.into());
        self
    }
    /// Signs at this Unix time.
    pub fn at(mut self, t: i64) -> Self {
        self.time = t;
        self
    }
    /// Signs as if the client clock were `secs` seconds off.
    pub fn skew(mut self, secs: i64) -> Self {
        self.time += secs;
        self
    }
    pub fn tamper(mut self, t: Tamper) -> Self {
        self.tamper = t;
        self
    }
    pub fn creds(mut self, c: Creds) -> Self {
        self.creds = Some(c);
        self
    }

    fn creds_ref(&self) -> &Creds {
        self.creds.as_ref().unwrap_or(&self.client.creds)
    }

    fn host_value(&self) -> String {
        self.host
            .clone()
            .unwrap_or_else(|| self.client.addr.to_string())
    }

    /// Canonical query string of SigV4 over `params`.
    fn v4_query(params: &[(String, Option<String>)]) -> String {
        let mut enc: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| {
                (
                    uri_encode(k.as_bytes(), false),
                    uri_encode(v.as_deref().unwrap_or("").as_bytes(), false),
                )
            })
            .collect();
        enc.sort();
        enc.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The query string as sent on the request line.
    fn wire_query(params: &[(String, Option<String>)]) -> String {
        params
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!(
                    "{}={}",
                    uri_encode(k.as_bytes(), false),
                    uri_encode(v.as_bytes(), false)
                ),
                None => uri_encode(k.as_bytes(), false),
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// SigV4 signature over the canonical request.
    fn v4_sign(
        &self,
        query: &[(String, Option<String>)],
        headers: &[(String, String)],
        payload_hash: &str,
    ) -> (String, String) {
        let mut canon: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        canon.sort();
        let signed = canon
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical_headers: String = canon.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let creq = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method,
            self.path,
            Self::v4_query(query),
            canonical_headers,
            signed,
            payload_hash
        );
        let date = amz_date(self.time);
        let region = self.tamper.region.unwrap_or(REGION);
        let scope = format!("{}/{region}/s3/aws4_request", &date[..8]);
        let sts = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            sha256_hex(creq.as_bytes())
        );
        let key = signing_key(&self.creds_ref().secret, &date[..8], region);
        let sig = hex(&hmac_sha256(&key, sts.as_bytes()));
        (sig, signed)
    }

    /// SigV2 string to sign and signature.
    fn v2_sign(&self, headers: &[(String, String)], date_or_expires: &str) -> String {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let mut amz: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-amz-"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        amz.sort();
        let amz: String = amz.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        const SUB: &[&str] = &[
            "acl",
            "cors",
            "delete",
            "lifecycle",
            "location",
            "logging",
            "notification",
            "partNumber",
            "policy",
            "requestPayment",
            "response-cache-control",
            "response-content-disposition",
            "response-content-encoding",
            "response-content-language",
            "response-content-type",
            "response-expires",
            "restore",
            "tagging",
            "torrent",
            "uploadId",
            "uploads",
            "versionId",
            "versioning",
            "versions",
            "website",
        ];
        let mut subs: Vec<&(String, Option<String>)> = self
            .query
            .iter()
            .filter(|(k, _)| SUB.contains(&k.as_str()))
            .collect();
        subs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut resource = match &self.vhost_bucket {
            Some(b) => format!("/{b}{}", self.path),
            None => self.path.clone(),
        };
        for (i, (k, v)) in subs.iter().enumerate() {
            resource.push(if i == 0 { '?' } else { '&' });
            resource.push_str(k);
            if let Some(v) = v {
                resource.push('=');
                resource.push_str(v);
            }
        }
        let sts = format!(
            "{}\n{}\n{}\n{}\n{}{}",
            self.method,
            get("content-md5"),
            get("content-type"),
            date_or_expires,
            amz,
            resource
        );
        hmac_sha1_b64(self.creds_ref().secret.as_bytes(), sts.as_bytes())
    }

    /// Signs and sends the request; reads the whole response.
    pub fn send(self) -> Response {
        let addr = self.client.addr;
        let p = self.prepare();
        send_raw(addr, &p.method, &p.target, &p.host, &p.headers, &p.body)
    }

    /// Signs the request without sending it.
    pub fn prepare(self) -> Prepared {
        let creds = self.creds_ref().clone();
        let host = self.host_value();
        let mut query = self.query.clone();
        let mut headers = self.headers.clone();
        let mut body = self.body.clone();
        let date = amz_date(self.time);
        let region = self.tamper.region.unwrap_or(REGION);
        let scope = format!("{}/{region}/s3/aws4_request", &date[..8]);
        let has =
            |hs: &[(String, String)], n: &str| hs.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));

        match &self.auth {
            Auth::Anonymous => {}
            Auth::V4
            | Auth::V4Unsigned
            | Auth::V4Chunked { .. }
            | Auth::V4UnsignedTrailer { .. } => {
                let payload_hash = match &self.auth {
                    Auth::V4Unsigned => "UNSIGNED-PAYLOAD".to_string(),
                    Auth::V4UnsignedTrailer { .. } => {
                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER".to_string()
                    }
                    Auth::V4Chunked { .. } => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".to_string(),
                    _ => headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-content-sha256"))
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| sha256_hex(&body)),
                };
                if !has(&headers, "x-amz-content-sha256") {
                    headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
                }
                if let Auth::V4Chunked { .. } | Auth::V4UnsignedTrailer { .. } = self.auth {
                    headers.push(("content-encoding".into(), "aws-chunked".into()));
                    headers.push((
                        "x-amz-decoded-content-length".into(),
                        self.tamper.decoded_length.unwrap_or(body.len()).to_string(),
                    ));
                }
                if let Auth::V4UnsignedTrailer { .. } = self.auth {
                    match self.tamper.trailer_declared {
                        Some("") => {}
                        declared => headers.push((
                            "x-amz-trailer".into(),
                            declared.unwrap_or("x-amz-checksum-crc32").into(),
                        )),
                    }
                }
                headers.push(("x-amz-date".into(), date.clone()));
                let mut to_sign = headers.clone();
                to_sign.push(("host".into(), host.clone()));
                let (mut sig, signed) = self.v4_sign(&query, &to_sign, &payload_hash);
                if self.tamper.signature {
                    sig = damage(&sig);
                }
                headers.push((
                    "authorization".into(),
                    format!(
                        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}",
                        creds.access
                    ),
                ));
                if let Some((k, v)) = self.tamper.unsigned_header {
                    headers.push((k.into(), v.into()));
                }
                if let Auth::V4Chunked { chunk_size } = self.auth {
                    body = self.encode_chunks(&body, chunk_size, &sig, &date, &scope);
                }
                if let Auth::V4UnsignedTrailer { chunk_size } = self.auth {
                    body = self.encode_unsigned_trailer(&body, chunk_size);
                }
            }
            Auth::V4Presigned { expires } => {
                query.push(("X-Amz-Algorithm".into(), Some("AWS4-HMAC-SHA256".into())));
                query.push((
                    "X-Amz-Credential".into(),
                    Some(format!("{}/{scope}", creds.access)),
                ));
                query.push(("X-Amz-Date".into(), Some(date.clone())));
                query.push(("X-Amz-Expires".into(), Some(expires.to_string())));
                query.push(("X-Amz-SignedHeaders".into(), Some("host".into())));
                let (mut sig, _) =
                    self.v4_sign(&query, &[("host".into(), host.clone())], "UNSIGNED-PAYLOAD");
                if self.tamper.signature {
                    sig = damage(&sig);
                }
                query.push(("X-Amz-Signature".into(), Some(sig)));
            }
            Auth::V2 => {
                let d = match headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("date")) {
                    Some((_, v)) => v.clone(),
                    None => {
                        let d = http_date(self.time);
                        headers.push(("date".into(), d.clone()));
                        d
                    }
                };
                let mut sig = self.v2_sign(&headers, &d);
                if self.tamper.signature {
                    sig = damage(&sig);
                }
                headers.push((
                    "authorization".into(),
                    format!("AWS {}:{sig}", creds.access),
                ));
            }
            Auth::V2Query { expires_in } => {
                let expires = (self.time + expires_in).to_string();
                let mut sig = self.v2_sign(&headers, &expires);
                if self.tamper.signature {
                    sig = damage(&sig);
                }
                query.push(("AWSAccessKeyId".into(), Some(creds.access.clone())));
                query.push(("Expires".into(), Some(expires)));
                query.push(("Signature".into(), Some(sig)));
            }
        }

        let mut target = self.path.clone();
        if !query.is_empty() {
            target.push('?');
            target.push_str(&Self::wire_query(&query));
        }
        Prepared {
            method: self.method,
            target,
            host,
            headers,
            body,
        }
    }

    /// The URL of a presigned request (`Auth::V4Presigned` or `Auth::V2Query`).
    pub fn presigned_url(self) -> String {
        assert!(
            matches!(self.auth, Auth::V4Presigned { .. } | Auth::V2Query { .. }),
            "presigned_url needs query authentication"
        );
        let addr = self.client.addr;
        let p = self.prepare();
        format!("http://{addr}{}", p.target)
    }

    /// Unsigned aws-chunked body with a CRC32 trailer:
    /// `hex(len)\r\nDATA\r\n` ... `0\r\nx-amz-checksum-crc32:B64\r\n\r\n`.
    fn encode_unsigned_trailer(&self, data: &[u8], chunk_size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 256);
        for chunk in data.chunks(chunk_size.max(1)) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        let crc = base64::engine::general_purpose::STANDARD.encode(crc32(data).to_be_bytes());
        let crc = self
            .tamper
            .trailer_checksum
            .map(str::to_string)
            .unwrap_or(crc);
        out.extend_from_slice(format!("0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes());
        out
    }

    /// aws-chunked body: `hex(len);chunk-signature=SIG\r\nDATA\r\n` ... `0;chunk-signature=SIG\r\n\r\n`.
    fn encode_chunks(
        &self,
        data: &[u8],
        chunk_size: usize,
        seed: &str,
        date: &str,
        scope: &str,
    ) -> Vec<u8> {
        let key = signing_key(&self.creds_ref().secret, &date[..8], REGION);
        let mut out = Vec::with_capacity(data.len() + 256);
        let mut prev = seed.to_string();
        let mut chunks: Vec<&[u8]> = data.chunks(chunk_size.max(1)).collect();
        chunks.push(&[]);
        for (i, chunk) in chunks.iter().enumerate() {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{date}\n{scope}\n{prev}\n{EMPTY_SHA256}\n{}",
                sha256_hex(chunk)
            );
            let sig = hex(&hmac_sha256(&key, sts.as_bytes()));
            prev = sig.clone();
            let sent_sig = if self.tamper.chunk_signature == Some(i) {
                damage(&sig)
            } else {
                sig
            };
            out.extend_from_slice(
                format!("{:x};chunk-signature={sent_sig}\r\n", chunk.len()).as_bytes(),
            );
            let start = out.len();
            out.extend_from_slice(chunk);
            if self.tamper.chunk_data == Some(i) && !chunk.is_empty() {
                out[start] ^= 0xff;
            }
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}
