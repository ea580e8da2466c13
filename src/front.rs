//! What the S3 front and the admin endpoint share, below both: the settings a reload changes
//! under them, and the answer to a request the connection guard refused.
//!
//! Its own module so that neither of the two imports the other for it (admin used to reach
//! into server for these, and server into admin for its counters).

use std::sync::{Arc, RwLock};

use crate::config::LiveSettings;
use crate::s3::error::{S3Error, S3ErrorCode};

/// The settings the S3 wrapper and the admin endpoint read on every request, which a
/// SIGHUP replaces (the counters are [`crate::admin::Stats`], app data of their own).
pub struct Front {
    pub live: RwLock<LiveSettings>,
    /// The S3 listeners' connection settings, for SIGHUP to update `max_header_size`.
    pub guard: RwLock<Option<Arc<crate::http::Settings>>>,
}

/// The S3 error answering a request the connection guard refused.
pub fn refusal(rejection: &crate::http::framing::Rejection) -> S3Error {
    use crate::http::framing::RejectKind;
    let code = match rejection.kind {
        RejectKind::BadRequest => S3ErrorCode::BadRequest,
        RejectKind::HeadersTooLarge => S3ErrorCode::RequestHeaderSectionTooLarge,
        RejectKind::UriTooLong | RejectKind::InvalidUri => S3ErrorCode::InvalidURI,
        RejectKind::MissingLength => S3ErrorCode::MissingContentLength,
        RejectKind::UnsupportedEncoding => S3ErrorCode::NotImplemented,
        RejectKind::Timeout => S3ErrorCode::RequestTimeout,
        RejectKind::Overloaded => S3ErrorCode::SlowDown,
    };
    S3Error::new(code, rejection.message.clone())
}
