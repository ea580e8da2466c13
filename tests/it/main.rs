//! Integration tests: the real `libres3` binary on free ports with temporary
//! data directories, driven by a raw HTTP client with its own signer and by the
//! stock clients (awscli, s3cmd, rclone, boto3).
//!
//! `scripts/test` installs the clients and runs everything. One module:
//! `cargo nextest run --test integration -E 'test(/awscli/)'`. Another build
//! of the server: `LIBRES3_IT_BIN=/path/to/libres3 cargo test --test integration`.
//! Each test uses its own buckets on the process's shared server
//! (`TestServer::shared`), or a server of its own when it needs other flags,
//! other users or a restart.
//!
//! Tests listed in a module's `backend_tests!` run on both backends:
//! `<module>::embedded::<test>` on the embedded store, `<module>::sx::<test>` on a
//! server with `backend = sx` in front of the fake SX cluster of `sx_fake/` (or a
//! real cluster: see `common/sx.rs` and the README). Only the SX side:
//! `cargo nextest run --test integration -E 'test(/::sx::/) | test(/^sx_/)'`.

mod common;

mod awscli;
mod boto3;
mod daemon;
mod encryption;
mod hostile;
mod kms;
mod packaging;
mod raw_auth;
mod raw_buckets;
mod raw_objects;
mod raw_store;
mod rclone;
mod reliability;
mod s3_access;
mod s3_access_matrix;
mod s3_checksums;
mod s3_conditions;
mod s3_config;
mod s3_copy;
mod s3_lifecycle;
mod s3_listing_rules;
mod s3_multipart_checksums;
mod s3_multipart_rules;
mod s3_object_lock;
mod s3_post;
mod s3_sse;
mod s3_versioning;
mod s3_write_options;
mod s3cmd;
mod server;
mod signer;
mod space;
mod sx_fake;
mod sx_gateway;
mod sx_protocol;
mod sx_reads;
mod sx_space;
mod sx_volume_acl;
