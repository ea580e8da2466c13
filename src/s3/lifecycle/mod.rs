//! Bucket lifecycle: the configuration document ([`config`]), when a rule expires an object
//! ([`expiry`], also the `x-amz-expiration` header), and the worker that applies the rules
//! ([`worker`]).
//!
//! The worker applies Expiration (Days, Date) to current objects and
//! AbortIncompleteMultipartUpload to uploads. NoncurrentVersionExpiration and
//! ExpiredObjectDeleteMarker are validated and stored for when buckets keep versions;
//! transitions are stored and never carried out (one storage class).

pub mod config;
pub mod expiry;
pub mod worker;

pub use config::{parse_xml, to_xml, Lifecycle};

/// The bucket document holding the configuration (as [`config::to_xml`] writes it).
pub const DOC_LIFECYCLE: &str = "lifecycle";
