//! One table of S3 error codes and their HTTP status, and the `<Error>` document.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;

use crate::s3::xml::XmlWriter;
use crate::store::{BodyError, StoreError};

macro_rules! error_codes {
    ($($code:ident $(as $name:literal)? => $status:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum S3ErrorCode { $($code,)* }

        impl S3ErrorCode {
            /// The code as S3 spells it: the variant's name, or the name given with `as`
            /// where S3's has characters a Rust name cannot (`KMS.NotFoundException`).
            pub fn as_str(self) -> &'static str {
                match self { $(S3ErrorCode::$code => error_codes!(@name $code $($name)?),)* }
            }
            pub fn status(self) -> StatusCode {
                let code = match self { $(S3ErrorCode::$code => $status,)* };
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            #[cfg(test)]
            pub const ALL: &'static [S3ErrorCode] = &[$(S3ErrorCode::$code,)*];
        }
    };
    (@name $code:ident) => { stringify!($code) };
    (@name $code:ident $name:literal) => { $name };
}

// Codes and statuses as listed in the Amazon S3 API reference, "Error responses".
error_codes! {
    AccessControlListNotSupported => 400,
    AccessDenied => 403,
    AccessForbidden => 403,
    AuthorizationHeaderMalformed => 400,
    AuthorizationQueryParametersError => 400,
    BadDigest => 400,
    BadRequest => 400,
    BucketAlreadyExists => 409,
    BucketAlreadyOwnedByYou => 409,
    BucketNotEmpty => 409,
    ConditionalRequestConflict => 409,
    EntityTooLarge => 400,
    EntityTooSmall => 400,
    IncompleteBody => 400,
    InternalError => 500,
    InvalidAccessKeyId => 403,
    InvalidArgument => 400,
    InvalidBucketName => 400,
    InvalidBucketState => 409,
    InvalidDigest => 400,
    InvalidEncryptionAlgorithmError => 400,
    InvalidBucketAclWithObjectOwnership => 400,
    InvalidLocationConstraint => 400,
    InvalidPart => 400,
    InvalidPartNumber => 416,
    InvalidPartOrder => 400,
    InvalidPolicyDocument => 400,
    InvalidRange => 416,
    InvalidRequest => 400,
    InvalidStorageClass => 400,
    InvalidTag => 400,
    InvalidURI => 400,
    KeyTooLongError => 400,
    KmsNotFound as "KMS.NotFoundException" => 400,
    MalformedACLError => 400,
    MalformedPolicy => 400,
    MalformedPOSTRequest => 400,
    MalformedXML => 400,
    MaxMessageLengthExceeded => 400,
    MetadataTooLarge => 400,
    MethodNotAllowed => 405,
    MissingContentLength => 411,
    MissingRequestBodyError => 400,
    NoSuchBucket => 404,
    NoSuchBucketPolicy => 404,
    NoSuchCORSConfiguration => 404,
    NoSuchKey => 404,
    NoSuchObjectLockConfiguration => 404,
    NoSuchLifecycleConfiguration => 404,
    NoSuchPublicAccessBlockConfiguration => 404,
    NoSuchTagSet => 404,
    NoSuchUpload => 404,
    NoSuchVersion => 404,
    NoSuchWebsiteConfiguration => 404,
    NotImplemented => 501,
    ObjectLockConfigurationNotFoundError => 404,
    OwnershipControlsNotFoundError => 404,
    PreconditionFailed => 412,
    ReplicationConfigurationNotFoundError => 404,
    RequestHeaderSectionTooLarge => 400,
    RequestTimeTooSkewed => 403,
    RequestTimeout => 400,
    ServerSideEncryptionConfigurationNotFoundError => 404,
    ServiceUnavailable => 503,
    SignatureDoesNotMatch => 403,
    SlowDown => 503,
    TooManyBuckets => 400,
    UnexpectedContent => 400,
    UnresolvableGrantByEmailAddress => 400,
    XAmzContentSHA256Mismatch => 400,
    // Not in the AWS list, which never runs out of room; the names other S3 servers use.
    InsufficientStorage => 507,
    QuotaExceeded => 403,
}

/// An error answered to an S3 client.
#[derive(Debug)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: Cow<'static, str>,
    /// Extra elements of the `<Error>` document (e.g. `Key`, `UploadId`), already plain text.
    pub details: Vec<(&'static str, String)>,
    /// Headers sent with the error (`x-amz-delete-marker`, `x-amz-version-id`), on HEAD too.
    pub headers: Vec<(&'static str, String)>,
    /// Logged, never sent to the client.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        S3Error {
            code,
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_detail(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        S3Error {
            source: Some(source.into()),
            ..S3Error::new(
                S3ErrorCode::InternalError,
                "We encountered an internal error. Please try again.",
            )
        }
    }

    pub fn not_implemented(operation: &str) -> Self {
        S3Error::new(
            S3ErrorCode::NotImplemented,
            format!("{operation} is not implemented by this server"),
        )
    }

    /// The `<Error>` document for a request to `resource` (the request path).
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut w = XmlWriter::new();
        w.open("Error");
        w.elem("Code", self.code.as_str());
        w.elem("Message", &self.message);
        for (name, value) in &self.details {
            w.elem(name, value);
        }
        w.elem("Resource", resource);
        w.elem("RequestId", request_id);
        w.close("Error");
        w.finish()
    }
}

/// `s3_error!(NoSuchKey, "the key {key} does not exist")`
#[macro_export]
macro_rules! s3_error {
    ($code:ident, $($fmt:tt)+) => {
        $crate::s3::error::S3Error::new($crate::s3::error::S3ErrorCode::$code, format!($($fmt)+))
    };
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for S3Error {}

impl From<S3Error> for BodyError {
    fn from(e: S3Error) -> Self {
        BodyError(Box::new(e))
    }
}

impl From<StoreError> for S3Error {
    fn from(e: StoreError) -> Self {
        use S3ErrorCode::*;
        match e {
            StoreError::NoSuchBucket => {
                S3Error::new(NoSuchBucket, "The specified bucket does not exist")
            }
            StoreError::BucketAlreadyOwnedByYou => S3Error::new(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it.",
            ),
            StoreError::BucketAlreadyExists => S3Error::new(
                BucketAlreadyExists,
                "The requested bucket name is not available. Please select a different name and try again.",
            ),
            StoreError::BucketNotEmpty => {
                S3Error::new(BucketNotEmpty, "The bucket you tried to delete is not empty")
            }
            StoreError::NoSuchKey => S3Error::new(NoSuchKey, "The specified key does not exist."),
            StoreError::NoSuchVersion => S3Error::new(
                NoSuchVersion,
                "The specified version does not exist.",
            ),
            // Handlers that address a version answer a marker themselves (404 or 405, with
            // its headers); anywhere else a marker hides its key.
            StoreError::DeleteMarker { .. } => {
                S3Error::new(NoSuchKey, "The specified key does not exist.")
            }
            StoreError::NoSuchUpload => S3Error::new(
                NoSuchUpload,
                "The specified multipart upload does not exist. The upload ID might be invalid, or the upload might have been aborted or completed.",
            ),
            StoreError::InvalidPart(n) => S3Error::new(
                InvalidPart,
                format!("Part {n} could not be found, or its ETag does not match the part's entity tag."),
            ),
            StoreError::PreconditionFailed => S3Error::new(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ),
            // Only after the copy handlers retried several times: a source overwritten that
            // often is being raced, and the client may simply try again.
            StoreError::SourceChanged => S3Error::new(
                SlowDown,
                "The copy source was overwritten while it was being copied, several times in a row; please retry.",
            ),
            StoreError::AccessDenied => S3Error::new(AccessDenied, "Access Denied"),
            StoreError::KeyTooLong(why) => S3Error::new(KeyTooLongError, why),
            StoreError::Unsupported(why) => S3Error::new(NotImplemented, why),
            StoreError::Body(body) => match body.0.downcast::<S3Error>() {
                Ok(e) => *e,
                Err(other) => S3Error {
                    source: Some(other),
                    ..S3Error::new(
                        IncompleteBody,
                        "The request body could not be read completely.",
                    )
                },
            },
            StoreError::Unavailable(why) => S3Error {
                source: Some(why.into()),
                ..S3Error::new(
                    ServiceUnavailable,
                    "The storage backend is unavailable. Please try again.",
                )
            },
            StoreError::QuotaExceeded(why) => S3Error {
                source: Some(why.into()),
                ..S3Error::new(
                    QuotaExceeded,
                    "The storage quota of this bucket or user is reached; nothing was stored. \
                     Remove data or ask the administrator to raise the quota.",
                )
            },
            StoreError::OutOfSpace(why) => S3Error {
                source: Some(why.into()),
                ..S3Error::new(
                    InsufficientStorage,
                    "The server has no space left to store this; nothing was stored. \
                     Remove data or ask the administrator to add space.",
                )
            },
            StoreError::NoRoomForBucket(why) => S3Error {
                source: Some(why.into()),
                ..S3Error::new(
                    InsufficientStorage,
                    "The storage cluster has no room for a new bucket of the configured size; \
                     nothing was created. Ask the administrator to lower volume_size or add space.",
                )
            },
            StoreError::Io(e) => S3Error::internal(e),
            StoreError::Internal(e) => S3Error::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_error_status() {
        for code in S3ErrorCode::ALL {
            let status = code.status().as_u16();
            assert!(status >= 400, "{} -> {status}", code.as_str());
        }
        assert_eq!(S3ErrorCode::NoSuchKey.status().as_u16(), 404);
        assert_eq!(S3ErrorCode::InvalidRange.status().as_u16(), 416);
        assert_eq!(S3ErrorCode::NotImplemented.status().as_u16(), 501);
        assert_eq!(
            S3ErrorCode::RequestTimeTooSkewed.as_str(),
            "RequestTimeTooSkewed"
        );
    }

    #[test]
    fn error_document() {
        let e = S3Error::from(StoreError::NoSuchKey).with_detail("Key", "a&b");
        assert_eq!(
            e.to_xml("/bucket/a&b", "ID1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message><Key>a&amp;b</Key>\
             <Resource>/bucket/a&amp;b</Resource><RequestId>ID1</RequestId></Error>"
        );
    }

    #[test]
    fn body_errors_keep_their_s3_code() {
        let inner = S3Error::new(S3ErrorCode::SignatureDoesNotMatch, "chunk");
        let e = S3Error::from(StoreError::Body(inner.into()));
        assert_eq!(e.code, S3ErrorCode::SignatureDoesNotMatch);
    }
}
