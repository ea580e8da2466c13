//! The S3 protocol, independent of where data lives.

pub mod access;
pub mod acl;
pub mod auth;
pub mod body;
pub mod checksum;
pub mod conditional;
pub mod cors;
pub mod error;
pub mod form;
pub mod handlers;
pub mod identity;
pub mod idle;
pub mod lifecycle;
pub mod maintenance;
pub mod object_lock;
pub mod objmeta;
pub mod policy;
pub mod post_policy;
pub mod range;
pub mod router;
pub mod sse;
pub mod tagging;
pub mod versioning;
pub mod xml;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::{StreamExt, TryStreamExt};

use crate::s3::body::RequestBody;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::identity::Identity;
use crate::s3::router::Query;
use crate::store::{ObjectStore, Principal};

/// The most bytes of header names and values a request may carry (S3 allows 8 KiB).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Settings of the S3 front end: read from the configuration file, which owns the type.
pub use crate::config::S3Settings as S3Config;

pub struct AppState<S> {
    pub store: S,
    pub config: S3Config,
    pub sse: sse::state::SseState,
    /// The buckets' access rules, cached.
    pub rules: access::RulesCache,
    /// What the lifecycle worker did, for /metrics.
    pub lifecycle: lifecycle::worker::LifecycleCounters,
}

/// What a handler knows of its request.
pub struct Ctx<'a, S> {
    pub store: &'a S,
    pub config: &'a S3Config,
    /// Keys and bucket defaults of server-side encryption.
    pub sse: &'a sse::state::SseState,
    /// The buckets' access rules: handlers that change them call `forget`.
    pub rules: &'a access::RulesCache,
    pub req: &'a HttpRequest,
    pub query: &'a Query,
    /// Who the store calls run as: the signing user when it owns the bucket, else the bucket
    /// owner (`access` allowed the request).
    pub who: Principal,
    pub access: access::Access,
    /// Empty for service-level requests.
    pub bucket: String,
    /// Empty for bucket-level requests.
    pub key: String,
}

impl<S> Ctx<'_, S> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The bucket's versioning state, from its rules (Unversioned without a bucket).
    pub fn versioning(&self) -> crate::store::Versioning {
        self.access
            .rules()
            .map_or(crate::store::Versioning::Unversioned, |r| r.versioning)
    }

    /// [`Ctx::header`] as the option getters of acl and sse take it (owned values).
    pub fn header_fn(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| self.header(name).map(str::to_string)
    }
}

/// Put in each response's extensions: which S3 operation answered (for logs and stats).
pub struct OperationName(pub &'static str);

pub fn next_request_id() -> String {
    static BASE: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:016X}",
        base.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    )
}

/// The one entry point of every S3 request; `request_id` is the id its answer carries.
pub async fn dispatch<S: ObjectStore>(
    req: HttpRequest,
    payload: Payload,
    state: web::Data<AppState<S>>,
    request_id: String,
) -> HttpResponse {
    let mut operation = "-";
    let mut bucket = None;
    let result = handle(&req, payload, &state, &mut operation, &mut bucket).await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            let status = error.code.status();
            if status.is_server_error() {
                log::error!("{request_id} {operation} {}: {error}", req.path());
            } else {
                log::info!("{request_id} {operation} {}: {error}", req.path());
            }
            error_response(&error, &req, &request_id)
        }
    };
    if operation != "PreflightRequest" {
        if let (Some(origin), Some(bucket)) = (req.headers().get("origin"), bucket) {
            if let Ok(origin) = origin.to_str() {
                handlers::cors::add_actual_headers(
                    &state.store,
                    &req,
                    &bucket,
                    origin,
                    &mut response,
                )
                .await;
            }
        }
    }
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("x-amz-request-id"), id.clone());
        headers.insert(HeaderName::from_static("x-amz-id-2"), id);
    }
    headers.insert(
        actix_web::http::header::SERVER,
        HeaderValue::from_static("LibreS3"),
    );
    response.extensions_mut().insert(OperationName(operation));
    response
}

/// Seconds a client is asked to wait before retrying a 503 (backend down or overloaded).
pub const RETRY_AFTER_SECS: u32 = 5;

/// The `<Error>` answer for a request; no body for HEAD. A 503 (ServiceUnavailable, SlowDown)
/// says when to retry.
pub fn error_response(error: &S3Error, req: &HttpRequest, request_id: &str) -> HttpResponse {
    let status = error.code.status();
    let mut builder = HttpResponse::build(status);
    if status == actix_web::http::StatusCode::SERVICE_UNAVAILABLE {
        builder.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECS));
    }
    for (name, value) in &error.headers {
        builder.insert_header((*name, value.as_str()));
    }
    if *req.method() == Method::HEAD {
        return builder.finish();
    }
    builder
        .insert_header((CONTENT_TYPE, "application/xml"))
        .body(error.to_xml(req.path(), request_id))
}

/// The bucket a Host header names in virtual-hosted style, if any.
fn virtual_bucket<'a>(host: Option<&'a str>, s3_host: Option<&str>) -> Option<&'a str> {
    let s3_host = s3_host?;
    let host = host?;
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let bucket = host.strip_suffix(s3_host)?.strip_suffix('.')?;
    (!bucket.is_empty()).then_some(bucket)
}

async fn handle<S: ObjectStore>(
    req: &HttpRequest,
    payload: Payload,
    state: &AppState<S>,
    operation: &mut &'static str,
    bucket_seen: &mut Option<String>,
) -> Result<HttpResponse, S3Error> {
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(S3Error::new(
            S3ErrorCode::RequestHeaderSectionTooLarge,
            format!("Your request header section exceeds the maximum allowed size of {MAX_HEADER_BYTES} bytes."),
        ));
    }
    // Any request carrying SSE-C key headers over plain HTTP is refused, whatever it is (the
    // SSE-C guide), unless the administrator allowed it.
    let customer_key_headers = headers.keys().any(|name| {
        let name = name.as_str();
        name.starts_with(sse::customer::PREFIX)
            || name.starts_with(sse::customer::COPY_SOURCE_PREFIX)
    });
    if customer_key_headers {
        sse::request::Transport::of(req, &state.config).check()?;
    }
    let host = headers
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let virtual_bucket = virtual_bucket(host, state.config.s3_host.as_deref());
    let raw_path = req.uri().path();
    let raw_query = req.query_string();
    let query = Query::parse(raw_query)?;
    let route = router::resolve(
        req.method(),
        raw_path,
        virtual_bucket,
        &query,
        headers.contains_key("x-amz-copy-source"),
    )?;
    *operation = route.operation.name();
    bucket_seen.clone_from(&route.bucket);
    if route.operation == router::Operation::CorsPreflight {
        // Browsers send preflights unsigned: the bucket's CORS rules alone decide.
        return handlers::cors::preflight(&state.store, req, route.bucket.as_deref()).await;
    }
    if let (router::Operation::PostObject, Some(bucket)) = (route.operation, &route.bucket) {
        // Browser uploads carry their credentials in the form, signed with a policy.
        let body = payload.map_err(idle::body_error).boxed_local();
        return handlers::post::post_object(
            &state.store,
            &state.config,
            &state.sse,
            &state.rules,
            req,
            body,
            bucket,
        )
        .await;
    }

    let signed = auth::SignedRequest {
        method: req.method().as_str(),
        raw_path,
        raw_query,
        headers,
        virtual_bucket,
    };
    let now = SystemTime::now();
    let credentials = auth::parse(&signed, now, &state.config.region)?;
    let (requester, check) = match credentials.access_key() {
        None => (None, auth::PayloadCheck::Unchecked),
        Some(access_key) => {
            let user = state
                .store
                .user_by_access_key(access_key)
                .await?
                .ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::InvalidAccessKeyId,
                        "The AWS Access Key Id you provided does not exist in our records.",
                    )
                    .with_detail("AWSAccessKeyId", access_key)
                })?;
            let check = auth::verify(&credentials, &signed, &user.secret)?;
            (Some(Identity::of(&user.name)), check)
        }
    };
    let facts = access::conditions::RequestFacts {
        req,
        fields: None,
        query: &query,
        requester: requester.as_ref(),
        signature: credentials.signature(),
        secure: crate::http::is_secure(req),
        now,
    };
    let (who, access) = access::authorize(
        &state.store,
        &state.rules,
        &state.config,
        &facts,
        route.operation,
        route.bucket.as_deref(),
        route.key.as_deref().unwrap_or(""),
    )
    .await?;

    let mut check = check;
    let length = check.decoded_length().or_else(|| content_length(req));
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let trailers = match &mut check {
        auth::PayloadCheck::Chunked(chunked) => {
            chunked.declare_trailers(header("x-amz-trailer").as_deref())?;
            Some(chunked.trailers())
        }
        _ => None,
    };
    let checksum = checksum::Expected::from_request(header, trailers.as_ref())?;
    let raw_body = payload.map_err(idle::body_error).boxed_local();
    let content_md5 = body::parse_content_md5(header("content-md5").as_deref())?;
    let body = RequestBody {
        stream: check.wrap(raw_body),
        length,
        checksum,
        content_md5,
    };

    let endpoint = router::Endpoint::parse(route.operation, &query)?;
    let ctx = Ctx {
        store: &state.store,
        config: &state.config,
        sse: &state.sse,
        rules: &state.rules,
        req,
        query: &query,
        who,
        access,
        bucket: route.bucket.unwrap_or_default(),
        key: route.key.unwrap_or_default(),
    };
    handlers::run(endpoint, &ctx, body).await
}

fn content_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_host_names() {
        let h = Some("s3.example.com");
        assert_eq!(
            virtual_bucket(Some("b1.s3.example.com:8008"), h),
            Some("b1")
        );
        assert_eq!(virtual_bucket(Some("a.b.s3.example.com"), h), Some("a.b"));
        assert_eq!(virtual_bucket(Some("s3.example.com"), h), None);
        assert_eq!(virtual_bucket(Some("xs3.example.com"), h), None);
        assert_eq!(virtual_bucket(Some("b1.s3.example.com"), None), None);
        assert_eq!(virtual_bucket(Some("127.0.0.1:8008"), h), None);
    }

    #[test]
    fn request_ids_differ() {
        assert_ne!(next_request_id(), next_request_id());
    }
}
