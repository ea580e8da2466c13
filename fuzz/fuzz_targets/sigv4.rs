//! SigV4: the Authorization header and presigned URLs (src/s3/auth/sigv4.rs), through the
//! same `auth::parse` and `auth::verify` the dispatcher calls.
//!
//! Besides "no panic": when the signature is refused, signing the StringToSign the server
//! reports back (what clients show to debug a mismatch) with the user's secret must give a
//! signature the server accepts. That ties the parser, the canonical request and the verifier
//! together without reusing their code for the signing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::auth::{self, sigv4, Credentials};
use libres3::s3::error::S3ErrorCode;
use libres3::store::SecretKey;
use libres3_fuzz::{body, detail, drain, example_time, hex, Request, REGION, SECRET};
use ring::hmac;

fuzz_target!(|data: &[u8]| {
    let Some(request) = Request::parse(data) else {
        return;
    };
    let secret = SecretKey::new(SECRET.to_owned());
    let mut times = vec![example_time()];
    times.extend(request.claimed_time());
    for now in times {
        let signed = request.signed();
        let Ok(creds) = auth::parse(&signed, now, REGION) else {
            continue;
        };
        let Credentials::V4(v4) = &creds else {
            continue;
        };
        let error = match auth::verify(&creds, &signed, &secret) {
            Ok(check) => {
                let _ = drain(check.wrap(body(vec![b"data".to_vec()])));
                continue;
            }
            Err(e) => e,
        };
        assert_eq!(error.code, S3ErrorCode::SignatureDoesNotMatch, "{error:?}");
        let to_sign = detail(&error, "StringToSign").expect("a mismatch names its StringToSign");
        let date = to_sign
            .lines()
            .nth(2)
            .and_then(|scope| scope.split('/').next())
            .expect("the string to sign holds the scope");
        let key = sigv4::signing_key(&secret, date, REGION);
        let signature = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
        let resigned = with_signature(&request, v4.is_presigned(), &signature);
        let signed = resigned.signed();
        let creds = auth::parse(&signed, now, REGION)
            .unwrap_or_else(|e| panic!("a new signature made the request unparseable: {e:?}"));
        if let Err(e) = auth::verify(&creds, &signed, &secret) {
            // Only acceptable if the signature itself is signed (a signed Authorization header).
            assert_ne!(
                detail(&e, "StringToSign"),
                Some(to_sign),
                "the reported StringToSign, signed, is refused: {e:?}"
            );
        }
    }
});

/// The request with its signature replaced: the `Signature=` field of the Authorization
/// header, or the first `X-Amz-Signature` query parameter.
fn with_signature(request: &Request, presigned: bool, signature: &str) -> Request {
    let mut out = Request {
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers: request.headers.clone(),
        virtual_bucket: request.virtual_bucket.clone(),
    };
    if presigned {
        let mut done = false;
        let parts: Vec<String> = request
            .query
            .split('&')
            .map(|part| {
                let name = part.split_once('=').map_or(part, |(n, _)| n);
                let decoded = libres3_fuzz::reference_percent_decode(name.as_bytes());
                if !done && decoded.as_deref() == Some(b"X-Amz-Signature") {
                    done = true;
                    format!("{name}={signature}")
                } else {
                    part.to_owned()
                }
            })
            .collect();
        out.query = parts.join("&");
    } else {
        let header = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .expect("a header-signed request has an Authorization header");
        let fields = header
            .strip_prefix(sigv4::ALGORITHM)
            .expect("parsed as SigV4")
            .split(',')
            .map(|field| match field.trim().split_once('=') {
                Some(("Signature", _)) => format!("Signature={signature}"),
                _ => field.trim().to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",");
        out.headers.insert(
            actix_web::http::header::AUTHORIZATION,
            format!("{} {fields}", sigv4::ALGORITHM)
                .parse()
                .expect("ASCII in, ASCII out"),
        );
    }
    out
}
