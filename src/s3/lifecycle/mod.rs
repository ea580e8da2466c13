//! Bucket lifecycle: the configuration document ([`config`]), when a rule expires an object
//! ([`expiry`], also the `x-amz-expiration` header), and the worker that applies the rules
//! ([`worker`], and [`versions`] for buckets that keep versions).
//!
//! The worker applies Expiration (Days, Date, ExpiredObjectDeleteMarker),
//! NoncurrentVersionExpiration and AbortIncompleteMultipartUpload. Transitions are stored
//! and never carried out (one storage class).

pub mod config;
pub mod expiry;
pub mod versions;
pub mod worker;

pub use config::{parse_xml, to_xml, Lifecycle};

/// The bucket document holding the configuration (as [`config::to_xml`] writes it).
pub const DOC_LIFECYCLE: &str = "lifecycle";
