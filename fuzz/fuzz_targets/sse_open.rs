//! Opening an encrypted object (src/s3/sse/chunked.rs `SealedLayout::open`), which reads
//! whatever the disk or the SX cluster gives back.
//!
//! Input: byte 0 picks the mode (bit 0) and the number of parts (bits 1-2, 0 to 3); 4 bytes
//! per part (part number, then a 24-bit plain size, little endian); 8 bytes of range (two
//! u32, little endian; a first byte past the last means the whole object); byte of cuts,
//! the cuts; then the rest.
//!
//! Raw mode feeds the rest as the sealed bytes: opening must end (with data or an error)
//! without panicking, and never yield more bytes than the range. Seal mode repeats the rest
//! as the plaintext of each part, seals it, cuts it where the fuzzer says and checks the
//! range comes back exactly; when the rest's last byte is odd it flips a sealed byte first
//! and checks the read then fails with only true bytes out, fewer than asked.
#![no_main]

use std::rc::Rc;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use libfuzzer_sys::fuzz_target;
use libres3::s3::sse::chunked::{seal, ObjectKey, SealedLayout, CHUNK};
use libres3::store::{ByteRange, DataStream, StoreError};
use libres3_fuzz::{pieces, ready};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let seal_mode = head & 1 != 0;
    let nparts = usize::from(head >> 1 & 3);
    if rest.len() < nparts * 4 + 9 {
        return;
    }
    let (part_bytes, rest) = rest.split_at(nparts * 4);
    let parts: Vec<(u32, u64)> = part_bytes
        .chunks(4)
        .map(|p| {
            let size = u64::from(u32::from_le_bytes([p[1], p[2], p[3], 0]));
            // Up to three chunks and a bit: every chunk edge is reachable.
            (u32::from(p[0]), size % (3 * CHUNK + 100))
        })
        .collect();
    let (range_bytes, rest) = rest.split_at(8);
    let first = u64::from(u32::from_le_bytes(range_bytes[..4].try_into().expect("4")));
    let last = u64::from(u32::from_le_bytes(range_bytes[4..].try_into().expect("4")));
    let layout = SealedLayout::new(parts.clone());
    // Half of the ranges fit the object, as the handlers only ask for those.
    let range = match first <= last {
        false => None,
        true if last & 1 == 0 && layout.plain_size() > 0 => {
            let size = layout.plain_size();
            let first = first % size;
            Some(ByteRange {
                first,
                last: first + (last % (size - first)),
            })
        }
        true => Some(ByteRange { first, last }),
    };
    let ncuts = usize::from(rest[0] % 8).min(rest.len() - 1);
    let cuts = &rest[1..1 + ncuts];
    let rest = &rest[1 + ncuts..];
    let key = Rc::new(ObjectKey::derive(&[9; 32], b"fuzz salt"));

    if !seal_mode {
        let (out, _) = open(&layout, &key, range, pieces(rest, cuts));
        let wanted = range.map_or(layout.plain_size(), |r| r.last.saturating_sub(r.first) + 1);
        assert!(out.len() as u64 <= wanted, "more bytes than the range");
        return;
    }
    if rest.is_empty() {
        return;
    }
    let mut plain = Vec::new();
    let mut sealed = Vec::new();
    for &(number, size) in &parts {
        let part: Vec<u8> = rest.iter().copied().cycle().take(size as usize).collect();
        let input = stream::iter([Ok(Bytes::from(part.clone()))]).boxed_local();
        let mut out = seal(key.clone(), number, input);
        ready(async {
            while let Some(piece) = out.next().await {
                sealed.extend_from_slice(&piece.expect("sealing in memory succeeds"));
            }
        });
        plain.extend(part);
    }
    assert_eq!(sealed.len() as u64, layout.sealed_size());
    let Some(sealed_range) = layout.sealed_range(range) else {
        let (out, error) = open(&layout, &key, range, Vec::new());
        assert!(out.is_empty());
        assert_eq!(error.is_some(), range.is_some(), "{error:?}");
        return;
    };
    let range = range.unwrap_or(ByteRange {
        first: 0,
        last: layout.plain_size() - 1,
    });
    let mut wanted_sealed =
        sealed[sealed_range.first as usize..=sealed_range.last as usize].to_vec();
    let wanted = &plain[range.first as usize..=range.last as usize];
    let tamper = rest[rest.len() - 1] & 1 != 0;
    if !tamper {
        let (out, error) = open(&layout, &key, Some(range), pieces(&wanted_sealed, cuts));
        assert!(error.is_none(), "a sealed range refused: {error:?}");
        assert!(out == wanted, "opened data differs");
        return;
    }
    let at = usize::from(rest[0]) * wanted_sealed.len() / 256;
    wanted_sealed[at] ^= 1;
    let (out, error) = open(&layout, &key, Some(range), pieces(&wanted_sealed, cuts));
    assert!(
        matches!(&error, Some(StoreError::Internal(m)) if m.contains("failed authentication")),
        "a flipped byte accepted: {error:?}"
    );
    // The damaged chunk holds wanted bytes (only chunks the range touches are read): at
    // least those are missing, and what came out is true.
    assert!(out.len() < wanted.len(), "a damaged chunk yielded");
    assert!(wanted.starts_with(&out), "wrong bytes before the damage");
});

fn open(
    layout: &SealedLayout,
    key: &Rc<ObjectKey>,
    range: Option<ByteRange>,
    input: Vec<Vec<u8>>,
) -> (Vec<u8>, Option<StoreError>) {
    let input: DataStream =
        stream::iter(input.into_iter().map(|p| Ok(Bytes::from(p)))).boxed_local();
    let mut opened = layout.open(key.clone(), range, input);
    ready(async move {
        let mut out = Vec::new();
        while let Some(item) = opened.next().await {
            match item {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => {
                    assert!(opened.next().await.is_none(), "data after an error: {e}");
                    return (out, Some(e));
                }
            }
        }
        (out, None)
    })
}
