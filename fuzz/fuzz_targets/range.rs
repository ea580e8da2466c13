//! The Range header (src/s3/range.rs) and x-amz-copy-source-range (handlers/copy.rs
//! `parse_copy_range`). Input: 8 bytes of object size (little endian), then the header.
//!
//! Checks: a resolved range lies inside the object and means what the header says; a copy
//! range, which is the stricter syntax of the two, is read the same by both parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::handlers::parsers::parse_copy_range;
use libres3::s3::range::{self, RangeSpec};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let mut size = [0u8; 8];
    size.copy_from_slice(&data[..8]);
    // Small sizes half of the time, so that ranges meet the end of the object.
    let size = match u64::from_le_bytes(size) {
        s if s & 1 == 0 => s >> 56,
        s => s,
    };
    let Ok(header) = std::str::from_utf8(&data[8..]) else {
        return;
    };
    let spec = range::parse(header);
    if let Some(spec) = spec {
        if let Ok(r) = range::resolve(spec, size) {
            assert!(
                r.first <= r.last && r.last < size,
                "{spec:?} in {size}: {r:?}"
            );
            match spec {
                RangeSpec::FromTo(a, b) => assert!(r.first == a && r.last == b.min(size - 1)),
                RangeSpec::From(a) => assert!(r.first == a && r.last == size - 1),
                RangeSpec::Suffix(n) => {
                    assert!(r.last == size - 1 && r.last - r.first + 1 == n.min(size))
                }
            }
        }
    }
    if let Ok(r) = parse_copy_range(header, size) {
        assert!(r.first <= r.last && r.last < size);
        assert_eq!(spec, Some(RangeSpec::FromTo(r.first, r.last)), "{header:?}");
    }
});
