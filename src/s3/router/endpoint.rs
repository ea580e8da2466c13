//! An operation with its query parameters parsed: every handler's inputs in one place, and
//! a bad parameter one clear error.

use super::token::decode_token;
use super::{Operation, Query};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::versioning::version_id_param;
use crate::store::ListStart;

/// Part numbers run from 1 to this (as S3).
pub const MAX_PART_NUMBER: u32 = 10_000;
/// The most parts or uploads one listing page returns.
pub const MAX_LISTED: usize = 1000;
/// The most keys one listing page returns, whatever the client asks.
pub const MAX_KEYS: usize = 1000;
/// The largest `max-buckets`, and the page size when a ListBuckets paging parameter is given
/// without it (as S3).
pub const MAX_BUCKETS: usize = 10_000;

/// An operation and the query parameters its handler reads, borrowed from the decoded query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint<'q> {
    UploadPart {
        upload_id: &'q str,
        part_number: u32,
    },
    UploadPartCopy {
        upload_id: &'q str,
        part_number: u32,
    },
    CompleteMultipartUpload {
        upload_id: &'q str,
    },
    AbortMultipartUpload {
        upload_id: &'q str,
    },
    ListParts {
        upload_id: &'q str,
        max_parts: usize,
        part_number_marker: u64,
    },
    ListMultipartUploads(ListUploadsParams<'q>),
    ListObjects {
        list: ListParams<'q>,
        marker: &'q str,
    },
    ListObjectsV2(ListV2Params<'q>),
    ListObjectVersions {
        list: ListParams<'q>,
        key_marker: &'q str,
        /// Empty, or a version id (checked only for its form here).
        version_id_marker: &'q str,
    },
    ListBuckets(ListBucketsParams<'q>),
    GetObject(GetParams),
    HeadObject(GetParams),
    /// An operation whose handler reads no query parameter (or, for the object operations
    /// that take `versionId`, only checks it: [`check_version_id`]).
    Other(Operation),
}

/// ListMultipartUploads: where the page starts and how it groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListUploadsParams<'q> {
    pub prefix: &'q str,
    pub delimiter: &'q str,
    pub key_marker: &'q str,
    /// None when absent or empty.
    pub upload_id_marker: Option<&'q str>,
    pub max_uploads: usize,
}

/// ListBuckets: which buckets, and one page of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListBucketsParams<'q> {
    pub prefix: Option<&'q str>,
    pub bucket_region: Option<&'q str>,
    /// The page starts after this bucket name (from `continuation-token`).
    pub after: Option<String>,
    /// None: every bucket, as when no paging parameter is given.
    pub max_buckets: Option<usize>,
}

/// GetObject and HeadObject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetParams {
    /// A `versionId` was asked for: the answer names the version even in an unversioned
    /// bucket.
    pub names_version: bool,
    /// `partNumber`: only this part of a multipart object.
    pub part_number: Option<usize>,
}

/// What every object listing takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListParams<'q> {
    pub prefix: &'q str,
    pub delimiter: &'q str,
    /// `encoding-type=url`: keys are sent percent-encoded.
    pub url: bool,
    pub max_keys: usize,
}

/// ListObjectsV2: the listing, and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListV2Params<'q> {
    pub list: ListParams<'q>,
    pub continuation: Option<Continuation<'q>>,
    pub start_after: Option<&'q str>,
    pub fetch_owner: bool,
}

/// A continuation token as sent, and where it says the page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continuation<'q> {
    pub token: &'q str,
    pub start: ListStart,
}

impl<'q> Endpoint<'q> {
    /// Reads the parameters `operation` takes from `query`. Called once the request is
    /// authenticated, so a client without access learns nothing from a parameter error.
    pub fn parse(operation: Operation, query: &'q Query) -> Result<Endpoint<'q>, S3Error> {
        let upload_id = || query.get("uploadId").unwrap_or("");
        Ok(match operation {
            Operation::UploadPart => Endpoint::UploadPart {
                part_number: part_number(query)?,
                upload_id: upload_id(),
            },
            Operation::UploadPartCopy => Endpoint::UploadPartCopy {
                part_number: part_number(query)?,
                upload_id: upload_id(),
            },
            Operation::CompleteMultipartUpload => Endpoint::CompleteMultipartUpload {
                upload_id: upload_id(),
            },
            Operation::AbortMultipartUpload => Endpoint::AbortMultipartUpload {
                upload_id: upload_id(),
            },
            Operation::ListParts => Endpoint::ListParts {
                upload_id: upload_id(),
                max_parts: clamped(query, "max-parts", MAX_LISTED)?,
                part_number_marker: number(query, "part-number-marker")?.unwrap_or(0),
            },
            Operation::ListMultipartUploads => Endpoint::ListMultipartUploads(ListUploadsParams {
                prefix: query.get("prefix").unwrap_or(""),
                delimiter: query.get("delimiter").unwrap_or(""),
                key_marker: query.get("key-marker").unwrap_or(""),
                upload_id_marker: query.get("upload-id-marker").filter(|m| !m.is_empty()),
                max_uploads: clamped(query, "max-uploads", MAX_LISTED)?,
            }),
            Operation::ListObjects => {
                let marker = query.get("marker").unwrap_or("");
                Endpoint::ListObjects {
                    list: ListParams::parse(query)?,
                    marker,
                }
            }
            Operation::ListObjectVersions => {
                let key_marker = query.get("key-marker").unwrap_or("");
                let version_id_marker = query.get("version-id-marker").unwrap_or("");
                if !version_id_marker.is_empty() {
                    if key_marker.is_empty() {
                        return Err(S3Error::new(
                            S3ErrorCode::InvalidArgument,
                            "A version-id marker cannot be specified without a key marker.",
                        )
                        .with_detail("ArgumentName", "version-id-marker")
                        .with_detail("ArgumentValue", version_id_marker));
                    }
                    version_id_param(Some(version_id_marker)).map_err(|_| {
                        S3Error::new(S3ErrorCode::InvalidArgument, "Invalid version id specified")
                            .with_detail("ArgumentName", "version-id-marker")
                            .with_detail("ArgumentValue", version_id_marker)
                    })?;
                }
                Endpoint::ListObjectVersions {
                    list: ListParams::parse(query)?,
                    key_marker,
                    version_id_marker,
                }
            }
            Operation::ListObjectsV2 => {
                let list = ListParams::parse(query)?;
                let continuation = match query.get("continuation-token") {
                    // Empty: from the start, and the answer echoes it (as AWS).
                    Some("") => Some(Continuation {
                        token: "",
                        start: ListStart::Beginning,
                    }),
                    Some(token) => Some(Continuation {
                        token,
                        start: decode_token(token)?,
                    }),
                    None => None,
                };
                Endpoint::ListObjectsV2(ListV2Params {
                    list,
                    continuation,
                    start_after: query.get("start-after"),
                    fetch_owner: query.get("fetch-owner") == Some("true"),
                })
            }
            Operation::ListBuckets => Endpoint::ListBuckets(ListBucketsParams::parse(query)?),
            Operation::GetObject => Endpoint::GetObject(GetParams::parse(query)?),
            Operation::HeadObject => Endpoint::HeadObject(GetParams::parse(query)?),
            Operation::DeleteObject
            | Operation::GetObjectAttributes
            | Operation::GetObjectTagging
            | Operation::GetObjectAcl => {
                check_version_id(query)?;
                Endpoint::Other(operation)
            }
            other => Endpoint::Other(other),
        })
    }

    /// The operation, without its parameters.
    pub fn operation(&self) -> Operation {
        match self {
            Endpoint::UploadPart { .. } => Operation::UploadPart,
            Endpoint::UploadPartCopy { .. } => Operation::UploadPartCopy,
            Endpoint::CompleteMultipartUpload { .. } => Operation::CompleteMultipartUpload,
            Endpoint::AbortMultipartUpload { .. } => Operation::AbortMultipartUpload,
            Endpoint::ListParts { .. } => Operation::ListParts,
            Endpoint::ListMultipartUploads(_) => Operation::ListMultipartUploads,
            Endpoint::ListObjects { .. } => Operation::ListObjects,
            Endpoint::ListObjectsV2(_) => Operation::ListObjectsV2,
            Endpoint::ListObjectVersions { .. } => Operation::ListObjectVersions,
            Endpoint::ListBuckets(_) => Operation::ListBuckets,
            Endpoint::GetObject(_) => Operation::GetObject,
            Endpoint::HeadObject(_) => Operation::HeadObject,
            Endpoint::Other(operation) => *operation,
        }
    }

    /// The AWS name of the operation, as logs show it.
    pub fn name(&self) -> &'static str {
        self.operation().name()
    }
}

/// A `versionId` of a form no backend makes is refused before anything is read
/// ([`version_id_param`]); the handler asks the store for the one it names.
pub fn check_version_id(query: &Query) -> Result<(), S3Error> {
    version_id_param(query.get("versionId")).map(|_| ())
}

impl<'q> ListBucketsParams<'q> {
    fn parse(query: &'q Query) -> Result<ListBucketsParams<'q>, S3Error> {
        let max_buckets = match query.get("max-buckets") {
            None => None,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_BUCKETS).contains(&n) => Some(n),
                _ => {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        format!("max-buckets must be an integer between 1 and {MAX_BUCKETS}"),
                    )
                    .with_detail("ArgumentName", "max-buckets")
                    .with_detail("ArgumentValue", text))
                }
            },
        };
        let token = query.get("continuation-token");
        let after = match token {
            None | Some("") => None,
            Some(token) => match decode_token(token)? {
                ListStart::After(name) => Some(name),
                _ => return Err(super::token::invalid_token()),
            },
        };
        let prefix = query.get("prefix");
        let bucket_region = query.get("bucket-region");
        let paged = token.is_some() || prefix.is_some() || bucket_region.is_some();
        Ok(ListBucketsParams {
            prefix,
            bucket_region,
            after,
            max_buckets: max_buckets.or(paged.then_some(MAX_BUCKETS)),
        })
    }
}

impl GetParams {
    /// The version first, then the part number, as GetObject checked them.
    fn parse(query: &Query) -> Result<GetParams, S3Error> {
        check_version_id(query)?;
        let part_number = match query.get("partNumber") {
            None => None,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_PART_NUMBER as usize).contains(&n) => Some(n),
                _ => {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        format!(
                            "Part number must be an integer between 1 and {MAX_PART_NUMBER}, \
                             inclusive"
                        ),
                    )
                    .with_detail("ArgumentName", "partNumber")
                    .with_detail("ArgumentValue", text))
                }
            },
        };
        Ok(GetParams {
            names_version: query.get("versionId").is_some(),
            part_number,
        })
    }
}

impl<'q> ListParams<'q> {
    /// In the order the handlers checked them: encoding type, then max-keys.
    fn parse(query: &'q Query) -> Result<ListParams<'q>, S3Error> {
        let url = match query.get("encoding-type") {
            None => false,
            Some("url") => true,
            Some(other) => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Invalid Encoding Method specified in Request",
                )
                .with_detail("ArgumentName", "encoding-type")
                .with_detail("ArgumentValue", other))
            }
        };
        Ok(ListParams {
            prefix: query.get("prefix").unwrap_or(""),
            delimiter: query.get("delimiter").unwrap_or(""),
            url,
            max_keys: clamped(query, "max-keys", MAX_KEYS)?,
        })
    }
}

/// A decimal query parameter, InvalidArgument when it is not one.
fn number(query: &Query, name: &str) -> Result<Option<u64>, S3Error> {
    match query.get(name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("{name} must be a non-negative integer"),
            )
            .with_detail("ArgumentName", name)
            .with_detail("ArgumentValue", v)
        }),
    }
}

/// A page size: `limit` when absent, at most `limit` whatever the client asks.
fn clamped(query: &Query, name: &str, limit: usize) -> Result<usize, S3Error> {
    Ok(number(query, name)?.map_or(limit, |n| n.min(limit as u64) as usize))
}

/// `partNumber`, required, from 1 to [`MAX_PART_NUMBER`].
fn part_number(query: &Query) -> Result<u32, S3Error> {
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"),
        )
        .with_detail("ArgumentName", "partNumber")
    };
    match number(query, "partNumber").map_err(|_| invalid())? {
        Some(n) if (1..=u64::from(MAX_PART_NUMBER)).contains(&n) => Ok(n as u32),
        _ => Err(invalid()),
    }
}
