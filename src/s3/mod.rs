//! The S3 protocol, independent of where data lives.

pub mod auth;
pub mod error;
pub mod xml;
