//! The query string and the router (src/s3/router.rs): `Query::parse` and `resolve` for
//! every method, plus the other request-line and header values decoded with them: the
//! x-amz-tagging header and x-amz-copy-source. Input: `path?query` on the first line, the
//! header value on the second, the virtual-hosted bucket (if any) on the third.
#![no_main]

use actix_web::http::Method;
use libfuzzer_sys::fuzz_target;
use libres3::s3::handlers::parsers::parse_copy_source;
use libres3::s3::router::{self, Query, MAX_KEY_LEN};
use libres3::s3::tagging;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let target = lines.next().unwrap_or("");
    let header = lines.next().unwrap_or("");
    let virtual_bucket = lines.next();
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    if let Ok(query) = Query::parse(raw_query) {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
            Method::PATCH,
        ] {
            for copy in [false, true] {
                if let Ok(route) = router::resolve(&method, path, virtual_bucket, &query, copy) {
                    let _ = route.operation.name();
                    let _ = route.operation.anonymous_action();
                    if let Some(key) = &route.key {
                        assert!(!key.is_empty() && key.len() <= MAX_KEY_LEN);
                        if matches!(method, Method::PUT | Method::POST) {
                            assert!(router::check_writable_key(key).is_ok());
                        }
                    }
                }
            }
        }
        // Encoding every decoded pair and parsing again gives the same pairs.
        let encoded: Vec<String> = query
            .iter()
            .map(|(n, v)| {
                format!(
                    "{}={}",
                    router::percent_encode(n, false),
                    router::percent_encode(v, false)
                )
            })
            .collect();
        let again = Query::parse(&encoded.join("&")).expect("our encoding parses");
        assert!(again.iter().eq(query.iter()), "{raw_query:?}");
    }
    if let Ok(tags) = tagging::parse_header(header) {
        assert_eq!(tagging::decode(&tagging::encode(&tags)), tags);
    }
    if let Ok((bucket, key, _version)) = parse_copy_source(header) {
        assert!(!bucket.is_empty() && !key.is_empty() && key.len() <= MAX_KEY_LEN);
    }
});
