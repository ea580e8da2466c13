//! Objects with the raw client: odd keys, ranges, ETags, digests, metadata,
//! multipart edge cases, DeleteObjects and listing pagination.
//!
//! The test bodies live in one module per concept; `backend_tests!` below runs each on both
//! backends as `raw_objects::{embedded,sx}::<test>` (scripts/test filters on those paths).

mod delete_objects;
mod keys;
mod listing;
pub(crate) mod multipart;
mod reads;
mod writes;

use base64::Engine as _;

use crate::common::{unique_bucket, TestServer};

use delete_objects::delete_objects_quiet_verbose_and_malformed;
use keys::{key_length_limit, keys_cannot_escape_the_store, odd_keys_round_trip_exactly};
use listing::listing_delimiters_and_pagination;
use multipart::{multipart_errors, multipart_upload_raw};
use reads::{
    conditional_requests_on_dates, missing_objects_and_head_errors, ranges,
    response_header_overrides,
};
use writes::{
    conditional_writes, content_md5_is_verified, etag_is_quoted_md5_everywhere,
    expect_100_continue, interrupted_upload_leaves_nothing,
    metadata_and_standard_headers_are_stored, overwrite_replaces_content_and_metadata,
    unknown_methods_are_refused,
};

/// A new bucket of the server's first user.
fn setup(s: &TestServer, test: &str) -> String {
    let b = unique_bucket(test);
    s.raw().create_bucket(&b);
    b
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

crate::backend_tests! {
    odd_keys_round_trip_exactly,
    key_length_limit,
    keys_cannot_escape_the_store,
    ranges,
    response_header_overrides,
    metadata_and_standard_headers_are_stored,
    etag_is_quoted_md5_everywhere,
    conditional_requests_on_dates,
    unknown_methods_are_refused,
    expect_100_continue,
    content_md5_is_verified,
    missing_objects_and_head_errors,
    overwrite_replaces_content_and_metadata,
    interrupted_upload_leaves_nothing,
    multipart_upload_raw,
    multipart_errors,
    delete_objects_quiet_verbose_and_malformed,
    listing_delimiters_and_pagination,
    conditional_writes,
}
