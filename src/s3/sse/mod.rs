//! Server-side encryption the S3 way (SSE-C, SSE-S3, SSE-KMS): the sealed body format, the
//! master key store and the customer-key headers. The handlers decide which mode applies; the
//! stores only ever see sealed bytes.

pub mod bucket;
pub mod chunked;
pub mod customer;
pub mod keys;
pub mod object;
pub mod request;
pub mod sealing;
pub mod state;
