use std::rc::Rc;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use futures_util::FutureExt;

use super::*;

const BASE: [u8; 32] = [7; 32];

fn key() -> Rc<ObjectKey> {
    Rc::new(ObjectKey::derive(&BASE, b"salt of this object"))
}

/// Deterministic, non-repeating test data.
fn data(len: u64, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add((i >> 8) as u8 ^ seed)
        })
        .collect()
}

/// `data` cut into pieces of `piece` bytes (the last one shorter).
fn in_pieces(data: &[u8], piece: usize) -> Vec<Bytes> {
    data.chunks(piece).map(Bytes::copy_from_slice).collect()
}

fn body(pieces: Vec<Bytes>) -> BodyStream {
    stream::iter(pieces.into_iter().map(Ok)).boxed_local()
}

fn sealed_stream(pieces: Vec<Bytes>) -> DataStream {
    stream::iter(pieces.into_iter().map(Ok)).boxed_local()
}

/// Seals `plain` as part `part`, fed in pieces of `piece` bytes.
fn seal_all(key: &Rc<ObjectKey>, part: u32, plain: &[u8], piece: usize) -> Vec<u8> {
    let mut sealed = seal(key.clone(), part, body(in_pieces(plain, piece)));
    let mut out = Vec::new();
    while let Some(item) = sealed.next().now_or_never().expect("in-memory stream") {
        out.extend_from_slice(&item.expect("sealing in memory succeeds"));
    }
    out
}

/// Everything a stream yields before it ends, and the error it ended with.
fn drain(mut s: DataStream) -> (Vec<u8>, Option<StoreError>) {
    let mut out = Vec::new();
    while let Some(item) = s.next().now_or_never().expect("in-memory stream") {
        match item {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(e) => {
                let after = s.next().now_or_never().expect("in-memory stream");
                assert!(after.is_none(), "the stream goes on after {e}");
                return (out, Some(e));
            }
        }
    }
    (out, None)
}

/// Opens `sealed` (the whole sealed object) for `plain`, feeding it in pieces of `piece`.
fn open_range(
    layout: &SealedLayout,
    key: &Rc<ObjectKey>,
    plain: Option<ByteRange>,
    sealed: &[u8],
    piece: usize,
) -> (Vec<u8>, Option<StoreError>) {
    let input = match layout.sealed_range(plain) {
        Some(r) => in_pieces(&sealed[r.first as usize..=r.last as usize], piece),
        None => Vec::new(),
    };
    drain(layout.open(key.clone(), plain, sealed_stream(input)))
}

fn is_auth_failure(e: &Option<StoreError>) -> bool {
    matches!(e, Some(StoreError::Internal(m)) if m.contains("failed authentication"))
}

#[test]
fn round_trips_every_size_edge_in_odd_pieces() {
    let key = key();
    for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
        let plain = data(size, 1);
        for piece in [1, 7, 4099, CHUNK as usize + 3, 200_001] {
            if piece == 1 && size > CHUNK + 1 {
                continue; // one-byte pieces of the big sizes add time, not coverage
            }
            let sealed = seal_all(&key, 0, &plain, piece);
            assert_eq!(sealed.len() as u64, sealed_size(size), "size {size}");
            assert_eq!(plain_size(sealed.len() as u64), Some(size));
            let layout = SealedLayout::new(vec![(0, size)]);
            for read_piece in [5, 65_557, 1 << 20] {
                let (out, error) = open_range(&layout, &key, None, &sealed, read_piece);
                assert!(error.is_none(), "size {size} piece {piece}: {error:?}");
                assert!(out == plain, "size {size} piece {piece}: data differs");
            }
        }
    }
}

#[test]
fn the_same_plaintext_seals_differently_each_time() {
    let key = key();
    let plain = data(100, 2);
    assert_ne!(seal_all(&key, 0, &plain, 9), seal_all(&key, 0, &plain, 9));
}

#[test]
fn an_empty_object_reads_nothing() {
    let layout = SealedLayout::new(vec![(0, 0)]);
    assert_eq!(layout.sealed_range(None), None);
    let (out, error) = open_range(&layout, &key(), None, &[], 1);
    assert!(out.is_empty() && error.is_none());
    // Sealed bytes where there should be none.
    let (out, error) = drain(layout.open(key(), None, sealed_stream(vec![Bytes::from("x")])));
    assert!(out.is_empty() && is_auth_failure(&error), "{error:?}");
}

/// Parts of several sizes, one empty, sealed separately and laid end to end.
fn multipart() -> (SealedLayout, Vec<u8>, Vec<u8>) {
    let key = key();
    let sizes = [
        (1, 2 * CHUNK + 3),
        (2, 0),
        (3, 5),
        (4, CHUNK),
        (7, CHUNK - 1),
    ];
    let mut plain = Vec::new();
    let mut sealed = Vec::new();
    for (number, size) in sizes {
        let part = data(size, number as u8);
        sealed.extend(seal_all(&key, number, &part, 1000));
        plain.extend(part);
    }
    let layout = SealedLayout::new(sizes.to_vec());
    (layout, plain, sealed)
}

#[test]
fn every_range_edge_of_a_multipart_layout() {
    let key = key();
    let (layout, plain, sealed) = multipart();
    assert_eq!(layout.plain_size(), plain.len() as u64);
    assert_eq!(layout.sealed_size(), sealed.len() as u64);
    // First and last byte of every chunk (and so of every part), and their neighbours.
    let mut edges = vec![0, layout.plain_size() - 1];
    let mut at = 0;
    for &(_, size) in &[
        (1, 2 * CHUNK + 3),
        (2, 0),
        (3, 5),
        (4, CHUNK),
        (7, CHUNK - 1),
    ] {
        let mut chunk = 0;
        while chunk < size {
            let end = (chunk + CHUNK).min(size);
            edges.extend([at + chunk, at + chunk + 1, at + end - 1, at + end]);
            chunk = end;
        }
        at += size;
    }
    edges.retain(|&e| e < layout.plain_size());
    edges.sort_unstable();
    edges.dedup();
    for &first in &edges {
        for &last in edges.iter().filter(|&&l| l >= first) {
            let range = ByteRange { first, last };
            let sealed_range = layout.sealed_range(Some(range)).expect("a range inside");
            assert!(sealed_range.last < layout.sealed_size());
            let (out, error) = open_range(&layout, &key, Some(range), &sealed, 4097);
            assert!(error.is_none(), "{first}-{last}: {error:?}");
            assert!(
                out == plain[first as usize..=last as usize],
                "{first}-{last}: data differs"
            );
        }
    }
    let (out, error) = open_range(&layout, &key, None, &sealed, 333);
    assert!(error.is_none() && out == plain);
}

#[test]
fn a_range_outside_the_object_reads_nothing() {
    let (layout, _, _) = multipart();
    let size = layout.plain_size();
    for (first, last) in [(size, size), (0, size), (5, 4)] {
        let range = Some(ByteRange { first, last });
        assert_eq!(layout.sealed_range(range), None);
        let (out, error) = drain(layout.open(key(), range, sealed_stream(Vec::new())));
        assert!(out.is_empty() && matches!(error, Some(StoreError::Internal(_))));
    }
}

#[test]
fn sealed_and_plain_sizes_are_inverse() {
    let sealed_chunk = CHUNK + OVERHEAD;
    for plain in (0..4 * CHUNK)
        .step_by(997)
        .chain([CHUNK, 2 * CHUNK, 5 << 40])
    {
        assert_eq!(plain_size(sealed_size(plain)), Some(plain), "{plain}");
    }
    let mut impossible = 0;
    for sealed in 0..3 * sealed_chunk {
        match plain_size(sealed) {
            Some(plain) => assert_eq!(sealed_size(plain), sealed, "{sealed}"),
            None => {
                impossible += 1;
                assert!(
                    (1..=OVERHEAD).contains(&(sealed % sealed_chunk)),
                    "{sealed}"
                );
            }
        }
    }
    assert_eq!(impossible, 3 * OVERHEAD);
    assert_eq!(sealed_size(0), 0);
    assert_eq!(sealed_size(1), 1 + OVERHEAD);
    assert_eq!(sealed_size(CHUNK + 1), CHUNK + 1 + 2 * OVERHEAD);
}

#[test]
fn a_mebibyte_range_of_a_gibibyte_reads_about_a_mebibyte() {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    // At most the range's chunks plus a partial one at each end.
    let bound = MIB + 2 * CHUNK + (MIB / CHUNK + 2) * OVERHEAD;
    let single = SealedLayout::new(vec![(0, GIB)]);
    // 8 MiB parts, the last one shorter, as a client's multipart upload.
    let mut parts: Vec<(u32, u64)> = (1..=127).map(|n| (n, 8 * MIB)).collect();
    parts.push((128, 8 * MIB - 12_345));
    let multi = SealedLayout::new(parts);
    for layout in [&single, &multi] {
        for first in [
            0,
            1,
            12_345,
            8 * MIB - 100,
            GIB / 2 + 77,
            layout.plain_size() - MIB,
        ] {
            let range = ByteRange {
                first,
                last: first + MIB - 1,
            };
            let sealed = layout.sealed_range(Some(range)).expect("inside");
            let len = sealed.last - sealed.first + 1;
            assert!(len <= bound, "{first}: {len} sealed bytes for 1 MiB");
            assert!(len >= MIB, "{first}: {len}");
        }
    }
}

/// Chunk `index` of a sealed part whose chunks are all full but maybe the last.
fn chunk_bounds(index: usize, total: usize) -> std::ops::Range<usize> {
    let full = (CHUNK + OVERHEAD) as usize;
    index * full..((index + 1) * full).min(total)
}

#[test]
fn a_flipped_byte_never_yields_its_chunk() {
    let key = key();
    let size = 3 * CHUNK + 5;
    let plain = data(size, 3);
    let sealed = seal_all(&key, 0, &plain, 5000);
    let layout = SealedLayout::new(vec![(0, size)]);
    for chunk in 0..4 {
        let bounds = chunk_bounds(chunk, sealed.len());
        // In the nonce, the ciphertext, the tag.
        for at in [bounds.start, bounds.start + 20, bounds.end - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x40;
            let (out, error) = open_range(&layout, &key, None, &bad, 7777);
            assert!(
                is_auth_failure(&error),
                "chunk {chunk} byte {at}: {error:?}"
            );
            assert!(out == plain[..chunk * CHUNK as usize], "chunk {chunk}");
        }
    }
}

#[test]
fn swapped_or_moved_chunks_fail() {
    let key = key();
    let plain = data(2 * CHUNK, 4);
    let sealed = seal_all(&key, 1, &plain, 4096);
    let layout = SealedLayout::new(vec![(1, 2 * CHUNK)]);
    let (first, second) = sealed.split_at(chunk_bounds(1, sealed.len()).start);
    let swapped = [second, first].concat();
    let (out, error) = open_range(&layout, &key, None, &swapped, 4096);
    assert!(out.is_empty() && is_auth_failure(&error), "{error:?}");

    // The same bytes sealed as part 2 do not pass as part 1.
    let other_part = seal_all(&key, 2, &plain, 4096);
    let (out, error) = open_range(&layout, &key, None, &other_part, 4096);
    assert!(out.is_empty() && is_auth_failure(&error), "{error:?}");
    // Nor as the simple object (part 0).
    let simple = SealedLayout::new(vec![(0, 2 * CHUNK)]);
    let (out, error) = open_range(&simple, &key, None, &sealed, 4096);
    assert!(out.is_empty() && is_auth_failure(&error), "{error:?}");
}

#[test]
fn another_key_fails() {
    let plain = data(CHUNK + 9, 5);
    let sealed = seal_all(&key(), 0, &plain, 4096);
    let layout = SealedLayout::new(vec![(0, plain.len() as u64)]);
    let other = Rc::new(ObjectKey::derive(&BASE, b"another salt"));
    let (out, error) = open_range(&layout, &other, None, &sealed, 4096);
    assert!(out.is_empty() && is_auth_failure(&error), "{error:?}");
}

#[test]
fn truncated_or_long_data_never_yields_the_last_chunk() {
    let key = key();
    let size = 2 * CHUNK + 100;
    let plain = data(size, 6);
    let sealed = seal_all(&key, 0, &plain, 4096);
    let layout = SealedLayout::new(vec![(0, size)]);
    let before_last = 2 * CHUNK as usize;
    let whole = |sealed: &[u8], piece: usize| {
        drain(layout.open(key.clone(), None, sealed_stream(in_pieces(sealed, piece))))
    };
    for cut in [
        1,
        50,
        127,
        sealed.len() - chunk_bounds(2, sealed.len()).start,
    ] {
        let (out, error) = whole(&sealed[..sealed.len() - cut], 4096);
        assert!(is_auth_failure(&error), "cut {cut}: {error:?}");
        assert!(out == plain[..before_last], "cut {cut}");
    }
    for extra in [1, 4096, 70_000] {
        let mut long = sealed.clone();
        long.extend(std::iter::repeat_n(0u8, extra));
        // Extra bytes in the last chunk's piece and in a piece of their own.
        for piece in [4096, sealed.len()] {
            let (out, error) = whole(&long, piece);
            assert!(is_auth_failure(&error), "extra {extra}: {error:?}");
            assert!(out == plain[..before_last], "extra {extra}");
        }
    }
}

#[test]
fn errors_of_the_input_pass_through() {
    let key = key();
    let failing: BodyStream = stream::iter([
        Ok(Bytes::from(vec![1u8; 100_000])),
        Err(BodyError(Box::from("client went away"))),
        Ok(Bytes::from_static(b"never read")),
    ])
    .boxed_local();
    let mut sealed = seal(key.clone(), 0, failing);
    let mut items = Vec::new();
    while let Some(item) = sealed.next().now_or_never().expect("in memory") {
        items.push(item);
    }
    assert_eq!(items.len(), 2, "one full chunk, then the error");
    assert!(items[0].is_ok());
    assert!(matches!(&items[1], Err(e) if e.to_string() == "client went away"));

    let layout = SealedLayout::new(vec![(0, 10)]);
    let failing: DataStream = stream::iter([
        Ok(Bytes::from_static(b"abc")),
        Err(StoreError::Unavailable("node down".into())),
    ])
    .boxed_local();
    let (out, error) = drain(layout.open(key, None, failing));
    assert!(out.is_empty() && matches!(error, Some(StoreError::Unavailable(_))));
}
