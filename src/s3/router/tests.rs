//! The router against the requests of the AWS S3 API reference, and malformed requests.

use super::*;

fn route(method: Method, url: &str, copy: bool) -> Result<Route, S3Error> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    resolve(&method, path, None, &Query::parse(query)?, copy)
}

/// Requests as written in the examples of the AWS S3 API reference.
#[test]
fn aws_doc_examples() {
    let table: &[(Method, &str, bool, Operation)] = &[
        (Method::GET, "/", false, Operation::ListBuckets),
        (Method::PUT, "/bucket", false, Operation::CreateBucket),
        (Method::HEAD, "/bucket", false, Operation::HeadBucket),
        (Method::DELETE, "/bucket", false, Operation::DeleteBucket),
        (
            Method::GET,
            "/bucket?location",
            false,
            Operation::GetBucketLocation,
        ),
        (Method::GET, "/bucket", false, Operation::ListObjects),
        (
            Method::GET,
            "/bucket?prefix=p&marker=m&max-keys=5",
            false,
            Operation::ListObjects,
        ),
        (
            Method::GET,
            "/bucket?list-type=2&start-after=x",
            false,
            Operation::ListObjectsV2,
        ),
        (
            Method::GET,
            "/bucket?uploads&max-uploads=3",
            false,
            Operation::ListMultipartUploads,
        ),
        (
            Method::POST,
            "/bucket?delete",
            false,
            Operation::DeleteObjects,
        ),
        (Method::GET, "/bucket/my/key", false, Operation::GetObject),
        (Method::HEAD, "/bucket/key", false, Operation::HeadObject),
        (Method::PUT, "/bucket/key", false, Operation::PutObject),
        (Method::PUT, "/bucket/key", true, Operation::CopyObject),
        (
            Method::DELETE,
            "/bucket/key",
            false,
            Operation::DeleteObject,
        ),
        (
            Method::POST,
            "/bucket/key?uploads",
            false,
            Operation::CreateMultipartUpload,
        ),
        (
            Method::PUT,
            "/bucket/key?partNumber=1&uploadId=u",
            false,
            Operation::UploadPart,
        ),
        (
            Method::PUT,
            "/bucket/key?partNumber=1&uploadId=u",
            true,
            Operation::UploadPartCopy,
        ),
        (
            Method::POST,
            "/bucket/key?uploadId=u",
            false,
            Operation::CompleteMultipartUpload,
        ),
        (
            Method::DELETE,
            "/bucket/key?uploadId=u",
            false,
            Operation::AbortMultipartUpload,
        ),
        (
            Method::GET,
            "/bucket/key?uploadId=u",
            false,
            Operation::ListParts,
        ),
        (
            Method::GET,
            "/bucket?logging",
            false,
            Operation::BucketConfig("GetBucketLogging"),
        ),
        (
            Method::PUT,
            "/bucket?replication",
            false,
            Operation::BucketConfig("PutBucketReplication"),
        ),
        (
            Method::GET,
            "/bucket?versions",
            false,
            Operation::ListObjectVersions,
        ),
        (
            Method::PUT,
            "/bucket/key?tagging",
            false,
            Operation::PutObjectTagging,
        ),
        (
            Method::GET,
            "/bucket/key?acl",
            false,
            Operation::GetObjectAcl,
        ),
        (
            Method::GET,
            "/bucket/key?attributes",
            false,
            Operation::GetObjectAttributes,
        ),
        (Method::POST, "/bucket", false, Operation::PostObject),
        (
            Method::OPTIONS,
            "/bucket/key",
            false,
            Operation::CorsPreflight,
        ),
        (
            Method::DELETE,
            "/bucket?cors",
            false,
            Operation::DeleteBucketCors,
        ),
        (
            Method::GET,
            "/bucket?torrent",
            false,
            Operation::ListObjects,
        ),
        (
            Method::GET,
            "/bucket/key?torrent",
            false,
            Operation::Unsupported("GetObjectTorrent"),
        ),
    ];
    for (method, url, copy, expected) in table {
        let got = route(method.clone(), url, *copy).unwrap();
        assert_eq!(got.operation, *expected, "{method} {url}");
    }
}

#[test]
fn keys_are_decoded_once_and_kept_verbatim() {
    let r = route(Method::GET, "/b/a%2520b/..//c%2B+/", false).unwrap();
    assert_eq!(r.bucket.as_deref(), Some("b"));
    assert_eq!(r.key.as_deref(), Some("a%20b/..//c++/"));
    let r = route(Method::GET, "/b/%E2%82%AC", false).unwrap();
    assert_eq!(r.key.as_deref(), Some("€"));
    assert_eq!(route(Method::GET, "/b/", false).unwrap().key, None);
}

#[test]
fn virtual_host_bucket_takes_the_whole_path_as_key() {
    let q = Query::default();
    let r = resolve(&Method::GET, "/x/y", Some("vb"), &q, false).unwrap();
    assert_eq!(r.bucket.as_deref(), Some("vb"));
    assert_eq!(r.key.as_deref(), Some("x/y"));
    let r = resolve(&Method::GET, "/", Some("vb"), &q, false).unwrap();
    assert_eq!(r.operation, Operation::ListObjects);
}

#[test]
fn bad_requests() {
    let long = format!("/b/{}", "k".repeat(MAX_KEY_LEN + 1));
    let e = route(Method::GET, &long, false).unwrap_err();
    assert_eq!(e.code, S3ErrorCode::KeyTooLongError);
    let ok = format!("/b/{}", "k".repeat(MAX_KEY_LEN));
    assert!(route(Method::GET, &ok, false).is_ok());
    // Keys XML cannot carry are refused when written, still reachable when read.
    for method in [Method::PUT, Method::POST] {
        let e = route(method, "/b/a%00b", false).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidArgument);
    }
    assert!(route(Method::PUT, "/b/a%0D%09b", false).is_ok());
    assert!(route(Method::GET, "/b/a%00b", false).is_ok());
    assert!(route(Method::DELETE, "/b/a%01b", false).is_ok());
    assert_eq!(
        route(Method::GET, "/b/%zz", false).unwrap_err().code,
        S3ErrorCode::InvalidURI
    );
    assert_eq!(
        route(Method::GET, "/b/%ff", false).unwrap_err().code,
        S3ErrorCode::InvalidURI
    );
    // Found by fuzz/fuzz_targets/percent.rs: a sign is not a hex digit.
    for bad in ["/b/%+01", "/b/a%+f", "/b/%-1"] {
        assert_eq!(
            route(Method::GET, bad, false).unwrap_err().code,
            S3ErrorCode::InvalidURI,
            "{bad}"
        );
    }
    assert_eq!(percent_decode("%+01%00"), None);
    assert!(Query::parse("prefix=%+2F").is_err());
    assert_eq!(
        route(Method::PATCH, "/b/k", false).unwrap_err().code,
        S3ErrorCode::MethodNotAllowed
    );
    assert_eq!(
        route(Method::POST, "/", false).unwrap_err().code,
        S3ErrorCode::MethodNotAllowed
    );
}

#[test]
fn query_decoding() {
    let q = Query::parse("prefix=a%2Fb+c&delimiter=%2F&uploads&empty=").unwrap();
    assert_eq!(q.get("prefix"), Some("a/b c"));
    assert_eq!(q.get("delimiter"), Some("/"));
    assert!(q.has("uploads"));
    assert_eq!(q.get("empty"), Some(""));
    assert!(Query::parse("tag=%2B&key=%zz").is_err());
    // Only a literal `+` is a space; an escaped one is a `+`.
    let q = Query::parse("tag=%2B+%2b&key=%C3%A9&plus+name=1").unwrap();
    assert_eq!(q.get("tag"), Some("+ +"));
    assert_eq!(q.get("key"), Some("é"));
    assert_eq!(q.get("plus name"), Some("1"));
    assert_eq!(percent_decode("a+b%2B"), Some("a+b+".to_owned()));
    assert_eq!(percent_decode("%C3"), None, "not UTF-8");
    assert_eq!(percent_decode("%4"), None);
    assert_eq!(percent_encode("a b/€~", true), "a%20b/%E2%82%AC~");
    assert_eq!(percent_encode("a/b", false), "a%2Fb");
}

fn endpoint_error(op: Operation, query: &str) -> S3Error {
    let query = Query::parse(query).unwrap();
    Endpoint::parse(op, &query).unwrap_err()
}

#[test]
fn multipart_parameters() {
    let query = Query::parse("uploadId=u1&partNumber=7").unwrap();
    assert_eq!(
        Endpoint::parse(Operation::UploadPart, &query).unwrap(),
        Endpoint::UploadPart {
            upload_id: "u1",
            part_number: 7
        }
    );
    for bad in [
        "partNumber=0",
        "partNumber=10001",
        "partNumber=x",
        "partNumber=",
    ] {
        let e = endpoint_error(Operation::UploadPartCopy, &format!("uploadId=u&{bad}"));
        assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{bad}");
        assert_eq!(e.details, vec![("ArgumentName", "partNumber".to_owned())]);
    }
    let query = Query::parse("uploadId=u&max-parts=5000&part-number-marker=3").unwrap();
    let endpoint = Endpoint::parse(Operation::ListParts, &query).unwrap();
    assert_eq!(
        endpoint,
        Endpoint::ListParts {
            upload_id: "u",
            max_parts: MAX_LISTED,
            part_number_marker: 3
        }
    );
    assert_eq!(endpoint.name(), "ListParts");
    let e = endpoint_error(Operation::ListParts, "uploadId=u&max-parts=-1");
    assert_eq!(e.message, "max-parts must be a non-negative integer");
    let e = endpoint_error(Operation::ListMultipartUploads, "uploads&max-uploads=z");
    assert_eq!(e.message, "max-uploads must be a non-negative integer");
    let query = Query::parse("uploads&upload-id-marker=&key-marker=k").unwrap();
    let Endpoint::ListMultipartUploads(params) =
        Endpoint::parse(Operation::ListMultipartUploads, &query).unwrap()
    else {
        panic!("not a ListMultipartUploads");
    };
    assert_eq!(params.upload_id_marker, None);
    assert_eq!(params.key_marker, "k");
    assert_eq!(params.max_uploads, MAX_LISTED);
}

#[test]
fn list_parameters() {
    let query = Query::parse("list-type=2&prefix=p&max-keys=5000&encoding-type=url").unwrap();
    let Endpoint::ListObjectsV2(params) =
        Endpoint::parse(Operation::ListObjectsV2, &query).unwrap()
    else {
        panic!("not a ListObjectsV2");
    };
    assert_eq!(
        params.list,
        ListParams {
            prefix: "p",
            delimiter: "",
            url: true,
            max_keys: MAX_KEYS
        }
    );
    assert_eq!(params.continuation, None);
    // Encoding type is checked before max-keys, and both before the token.
    let e = endpoint_error(
        Operation::ListObjectsV2,
        "encoding-type=xml&max-keys=x&continuation-token=!",
    );
    assert_eq!(e.message, "Invalid Encoding Method specified in Request");
    let e = endpoint_error(Operation::ListObjects, "max-keys=x");
    assert_eq!(e.message, "max-keys must be a non-negative integer");
    let e = endpoint_error(Operation::ListObjectsV2, "continuation-token=!");
    assert_eq!(e.message, "The continuation token provided is incorrect");
    let e = endpoint_error(
        Operation::ListObjectVersions,
        "key-marker=k&version-id-marker=a%2Fb&max-keys=x",
    );
    assert_eq!(e.message, "Invalid version id specified");
    let e = endpoint_error(Operation::ListObjectVersions, "version-id-marker=v1");
    assert_eq!(
        e.message,
        "A version-id marker cannot be specified without a key marker."
    );
    for query in [
        "key-marker=k&version-id-marker=null",
        "key-marker=k&version-id-marker=v1",
    ] {
        let query = Query::parse(query).unwrap();
        assert!(Endpoint::parse(Operation::ListObjectVersions, &query).is_ok());
    }
}

#[test]
fn object_parameters() {
    let query = Query::parse("versionId=null&partNumber=2").unwrap();
    assert_eq!(
        Endpoint::parse(Operation::HeadObject, &query).unwrap(),
        Endpoint::HeadObject(GetParams {
            names_version: true,
            part_number: Some(2)
        })
    );
    // The version is checked before the part number.
    let e = endpoint_error(Operation::GetObject, "versionId=a%2Fb&partNumber=0");
    assert_eq!(e.message, "Invalid version id specified");
    let e = endpoint_error(Operation::GetObject, "partNumber=10001");
    assert_eq!(
        e.details,
        vec![
            ("ArgumentName", "partNumber".to_owned()),
            ("ArgumentValue", "10001".to_owned())
        ]
    );
    for op in [
        Operation::DeleteObject,
        Operation::GetObjectAcl,
        Operation::GetObjectTagging,
        Operation::GetObjectAttributes,
    ] {
        assert_eq!(
            endpoint_error(op, "versionId=").code,
            S3ErrorCode::InvalidArgument
        );
        for id in ["null", "0123456789abcdef0123456789abcdef"] {
            let query = Query::parse(&format!("versionId={id}")).unwrap();
            assert_eq!(Endpoint::parse(op, &query).unwrap(), Endpoint::Other(op));
        }
    }
    // Put requests check the version after reading their document, in the handler.
    let query = Query::parse("versionId=v2").unwrap();
    assert!(Endpoint::parse(Operation::PutObjectTagging, &query).is_ok());
}

#[test]
fn list_buckets_parameters() {
    use super::endpoint::MAX_BUCKETS;
    use crate::store::ListStart;
    let parse = |q: &str| {
        let query = Query::parse(q).unwrap();
        match Endpoint::parse(Operation::ListBuckets, &query).unwrap() {
            Endpoint::ListBuckets(params) => (
                params.prefix.map(str::to_string),
                params.after,
                params.max_buckets,
            ),
            other => panic!("{other:?}"),
        }
    };
    // No paging parameter: every bucket; any of them: pages of MAX_BUCKETS.
    assert_eq!(parse(""), (None, None, None));
    assert_eq!(
        parse("prefix=a"),
        (Some("a".into()), None, Some(MAX_BUCKETS))
    );
    assert_eq!(
        parse("continuation-token="),
        (None, None, Some(MAX_BUCKETS))
    );
    let token = encode_token(&ListStart::After("bkt".into()));
    assert_eq!(
        parse(&format!("max-buckets=5&continuation-token={token}")),
        (None, Some("bkt".into()), Some(5))
    );
    for bad in ["max-buckets=0", "max-buckets=10001", "continuation-token=!"] {
        assert_eq!(
            endpoint_error(Operation::ListBuckets, bad).code,
            S3ErrorCode::InvalidArgument,
            "{bad}"
        );
    }
    let prefix_token = encode_token(&ListStart::AfterPrefix("p".into()));
    let e = endpoint_error(
        Operation::ListBuckets,
        &format!("continuation-token={prefix_token}"),
    );
    assert_eq!(e.code, S3ErrorCode::InvalidArgument);
}

#[test]
fn empty_v2_continuation_token_starts_at_the_beginning() {
    use crate::store::ListStart;
    let query = Query::parse("list-type=2&continuation-token=").unwrap();
    let Endpoint::ListObjectsV2(params) =
        Endpoint::parse(Operation::ListObjectsV2, &query).unwrap()
    else {
        panic!("not a ListObjectsV2");
    };
    assert_eq!(
        params.continuation,
        Some(Continuation {
            token: "",
            start: ListStart::Beginning
        })
    );
}
