//! Date formats of HTTP and S3.
