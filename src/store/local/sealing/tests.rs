//! The sealed unit format: round trips, per-unit keys, and every way a unit must fail to
//! open.

use super::*;
use crate::store::local::blocks::{blake3, sha256};

fn key(byte: u8) -> StoreKey {
    let mut bytes = [byte; KEY_LEN];
    bytes[0] = byte.wrapping_add(1);
    StoreKey::from_bytes(bytes, "test key")
}

fn sealing(byte: u8) -> Sealing {
    Sealing::new(Some(&key(byte))).unwrap()
}

fn seal_block(sealing: &Sealing, data: &[u8]) -> (Hash, Vec<u8>) {
    let id = sealing.block_id(data);
    let mut out = Vec::new();
    sealing
        .write_block(&mut out, &id, Bytes::copy_from_slice(data))
        .unwrap();
    (id, out)
}

/// Opens a sealed block from memory through a file, as the reader does.
fn open_block(
    sealing: &Sealing,
    id: Hash,
    len: usize,
    sealed: &[u8],
) -> Result<Vec<u8>, SealError> {
    open_block_range(sealing, id, len, sealed, 0, len as u64)
}

fn open_block_range(
    sealing: &Sealing,
    id: Hash,
    len: usize,
    sealed: &[u8],
    offset: u64,
    want: u64,
) -> Result<Vec<u8>, SealError> {
    let path = std::env::temp_dir().join(format!(
        "libres3-sealing-{}-{}",
        std::process::id(),
        hex(&sha256(sealed))
    ));
    std::fs::write(&path, sealed).unwrap();
    let mut file = File::open(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let block = BlockRef {
        hash: id,
        len: len as u32,
    };
    sealing
        .read_block(&mut file, &block, offset, want)
        .map(|b| b.to_vec())
}

#[test]
fn blocks_round_trip_and_ranges() {
    let sealing = sealing(1);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (id, sealed) = seal_block(&sealing, &data);
    assert_eq!(sealed.len() as u64, sealing.stored_len(data.len() as u32));
    assert_eq!(open_block(&sealing, id, data.len(), &sealed).unwrap(), data);
    let part = open_block_range(&sealing, id, data.len(), &sealed, 4_000, 50_001).unwrap();
    assert_eq!(part, &data[4_000..54_001]);
    assert!(open_block_range(&sealing, id, data.len(), &sealed, 99_999, 2).is_err());
    // The plaintext does not appear in what is written.
    assert!(!sealed.windows(64).any(|w| w == &data[1000..1064]));
    // Empty blocks seal too.
    let (id, sealed) = seal_block(&sealing, b"");
    assert_eq!(open_block(&sealing, id, 0, &sealed).unwrap(), b"");
}

#[test]
fn every_unit_gets_its_own_salt_and_key() {
    let sealing = sealing(2);
    let data = vec![42u8; 4096];
    let (id1, a) = seal_block(&sealing, &data);
    let (id2, b) = seal_block(&sealing, &data);
    // Same content, same name (dedup works), but never the same salt, so never the same
    // key and nonce: the ciphertexts differ entirely.
    assert_eq!(id1, id2);
    assert_ne!(a[8..HEADER_LEN], b[8..HEADER_LEN]);
    let differing = a[HEADER_LEN..]
        .iter()
        .zip(&b[HEADER_LEN..])
        .filter(|(x, y)| x != y)
        .count();
    assert!(differing > 4000, "only {differing} bytes differ");
    let mut salts = std::collections::HashSet::new();
    for _ in 0..1000 {
        let sealed = sealing.seal_inline(Bytes::from_static(b"x")).unwrap();
        assert!(salts.insert(sealed[8..HEADER_LEN].to_vec()), "salt reused");
    }
}

#[test]
fn tampering_anywhere_fails_authentication() {
    let sealing = sealing(3);
    let data = b"some object bytes that must come back intact".repeat(100);
    let (id, sealed) = seal_block(&sealing, &data);
    for at in [
        0,
        4,
        5,
        6,
        9,
        HEADER_LEN - 1,
        HEADER_LEN,
        sealed.len() / 2,
        sealed.len() - 1,
    ] {
        let mut bad = sealed.clone();
        bad[at] ^= 0x01;
        assert!(
            open_block(&sealing, id, data.len(), &bad).is_err(),
            "a flipped bit at {at} went unnoticed"
        );
    }
    // Truncated or extended files are refused before decryption.
    assert!(open_block(&sealing, id, data.len(), &sealed[..sealed.len() - 1]).is_err());
    let mut longer = sealed.clone();
    longer.push(0);
    assert!(open_block(&sealing, id, data.len(), &longer).is_err());

    let inline = sealing.seal_inline(Bytes::from_static(b"inline")).unwrap();
    for at in 0..inline.len() {
        let mut bad = inline.to_vec();
        bad[at] ^= 0x80;
        assert!(sealing.open_inline(bad).is_err(), "inline flip at {at}");
    }
    assert!(sealing.open_inline(inline[..20].to_vec()).is_err());
}

#[test]
fn a_block_under_another_name_or_kind_does_not_open() {
    let sealing = sealing(4);
    let (id_a, sealed_a) = seal_block(&sealing, b"block A");
    let (id_b, _) = seal_block(&sealing, b"block B");
    assert_ne!(id_a, id_b);
    assert!(open_block(&sealing, id_b, 7, &sealed_a).is_err());
    // Inline data is not a block and a block is not inline data.
    assert!(sealing.open_inline(sealed_a.clone()).is_err());
    let inline = sealing.seal_inline(Bytes::from_static(b"block A")).unwrap();
    assert!(open_block(&sealing, id_a, 7, &inline).is_err());
}

#[test]
fn names_computed_piece_by_piece_are_the_names_of_the_whole() {
    // Pieces that end inside, at and across BLAKE3's 1 KiB chunks and SHA-256's 64-byte blocks.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    for store in [
        Sealing::plain(PlainNames::Sha256),
        Sealing::plain(PlainNames::Blake3),
        sealing(9),
    ] {
        for piece in [1, 63, 64, 1000, 1024, 5000, 65_536, 200_000] {
            let mut namer = store.block_namer();
            for part in data.chunks(piece) {
                namer.update(part);
            }
            assert_eq!(namer.finish(), store.block_id(&data), "pieces of {piece}");
        }
    }
    // The whole-content names, against the one-shot functions.
    assert_eq!(
        Sealing::plain(PlainNames::Blake3).block_id(&data),
        blake3(&data)
    );
    let keyed = sealing(9);
    let names = &keyed.keys.as_ref().expect("encrypted").names;
    assert_eq!(
        keyed.block_id(&data)[..],
        *hmac::sign(names, &data).as_ref()
    );
}

#[test]
fn wrong_key_fails_and_names_differ() {
    let (right, wrong) = (sealing(5), sealing(6));
    let data = b"secret bytes".to_vec();
    let (id, sealed) = seal_block(&right, &data);
    assert!(open_block(&wrong, id, data.len(), &sealed).is_err());
    let inline = right.seal_inline(Bytes::from(data.clone())).unwrap();
    assert!(wrong.open_inline(inline.to_vec()).is_err());
    assert_eq!(right.open_inline(inline.to_vec()).unwrap(), data);
    // Names depend on the key and are not the SHA-256 of the content.
    assert_ne!(right.block_id(&data), wrong.block_id(&data));
    assert_ne!(right.block_id(&data), sha256(&data));
    assert_eq!(
        Sealing::plain(PlainNames::Sha256).block_id(&data),
        sha256(&data)
    );
    assert_eq!(
        Sealing::plain(PlainNames::Blake3).block_id(&data),
        *::blake3::hash(&data).as_bytes()
    );
    assert_ne!(right.key_id(), wrong.key_id());
    assert_eq!(right.key_id(), sealing(5).key_id());
}

#[test]
fn plain_passes_data_through() {
    let plain = Sealing::plain(PlainNames::Blake3);
    assert!(!plain.is_on());
    assert_eq!(plain.stored_len(10), 10);
    let mut out = Vec::new();
    plain
        .write_block(&mut out, &[0; 32], Bytes::from_static(b"abc"))
        .unwrap();
    assert_eq!(out, b"abc");
    assert_eq!(
        plain.seal_inline(Bytes::from_static(b"abc")).unwrap(),
        &b"abc"[..]
    );
    assert_eq!(plain.open_inline(b"abc".to_vec()).unwrap(), &b"abc"[..]);
}

#[test]
fn a_unique_buffer_is_sealed_without_a_copy() {
    let sealing = sealing(7);
    let data = Bytes::from(vec![9u8; 1 << 20]);
    let address = data.as_ptr();
    let id = sealing.block_id(&data);
    // The writer sees the buffer it was given: sealed in place.
    struct Probe(*const u8, bool, usize);
    impl Write for Probe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() == 1 << 20 {
                self.1 = buf.as_ptr() == self.0;
            }
            self.2 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut probe = Probe(address, false, 0);
    sealing.write_block(&mut probe, &id, data).unwrap();
    assert!(probe.1, "the block was copied before sealing");
    assert_eq!(probe.2, (1 << 20) + OVERHEAD);
}
