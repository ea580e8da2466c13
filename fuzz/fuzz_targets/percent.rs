//! Percent-decoding, in both of its forms: the router's strict one (src/s3/router.rs:
//! paths, query strings, x-amz-copy-source, x-amz-tagging) and the signer's lenient one
//! behind SigV4's canonical URI and query (src/s3/auth).
//!
//! Checks: the router decodes exactly as RFC 3986 says (compared with a decoder written
//! here), its encoder is the decoder's inverse, and canonicalisation is idempotent, since a
//! canonical URI is by construction one the client would have sent as is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::auth::sigv4::{canonical_query, canonical_uri};
use libres3::s3::router::{percent_decode, percent_encode};
use libres3_fuzz::reference_percent_decode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expected = reference_percent_decode(data).and_then(|b| String::from_utf8(b).ok());
    let decoded = percent_decode(text);
    assert_eq!(decoded, expected, "{text:?}");
    for keep_slash in [false, true] {
        let encoded = percent_encode(text, keep_slash);
        assert_eq!(percent_decode(&encoded).as_deref(), Some(text));
    }
    let uri = canonical_uri(text);
    assert_eq!(canonical_uri(&uri), uri, "{text:?}");
    for presigned in [false, true] {
        let query = canonical_query(text, presigned);
        assert_eq!(canonical_query(&query, presigned), query, "{text:?}");
    }
});
