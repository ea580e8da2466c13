//! SigV2: `Authorization: AWS AK:SIG` and query authentication (src/s3/auth/sigv2.rs), through
//! `auth::parse` and `auth::verify` as the dispatcher calls them.
//!
//! As for SigV4: a refused signature, replaced by the HMAC-SHA1 of the StringToSign the
//! server reports, must be accepted.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use libres3::s3::auth::{self, Credentials};
use libres3::s3::error::S3ErrorCode;
use libres3::store::SecretKey;
use libres3_fuzz::{detail, example_time, Request, REGION, SECRET};
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
        let Credentials::V2(v2) = &creds else {
            continue;
        };
        let error = match auth::verify(&creds, &signed, &secret) {
            Ok(_) => continue,
            Err(e) => e,
        };
        assert_eq!(error.code, S3ErrorCode::SignatureDoesNotMatch, "{error:?}");
        let to_sign = detail(&error, "StringToSign").expect("a mismatch names its StringToSign");
        if to_sign.contains('\u{FFFD}') {
            continue; // reported lossily: header bytes that are not UTF-8
        }
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SECRET.as_bytes());
        let signature = base64::engine::general_purpose::STANDARD
            .encode(hmac::sign(&key, to_sign.as_bytes()).as_ref());
        let mut resigned = Request {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            headers: request.headers.clone(),
            virtual_bucket: request.virtual_bucket.clone(),
        };
        if v2.is_presigned() {
            let mut done = false;
            resigned.query = request
                .query
                .split('&')
                .map(|part| {
                    let name = part.split_once('=').map_or(part, |(n, _)| n);
                    let decoded = libres3_fuzz::reference_percent_decode(name.as_bytes());
                    if !done && decoded.as_deref() == Some(b"Signature") {
                        done = true;
                        format!("{name}={signature}")
                    } else {
                        part.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("&");
        } else {
            resigned.headers.insert(
                actix_web::http::header::AUTHORIZATION,
                format!("AWS {}:{signature}", v2.access_key())
                    .parse()
                    .expect("ASCII"),
            );
        }
        let signed = resigned.signed();
        let creds = auth::parse(&signed, now, REGION)
            .unwrap_or_else(|e| panic!("a new signature made the request unparseable: {e:?}"));
        if let Err(e) = auth::verify(&creds, &signed, &secret) {
            assert_ne!(
                detail(&e, "StringToSign"),
                Some(to_sign),
                "the reported StringToSign, signed, is refused: {e:?}"
            );
        }
    }
});
