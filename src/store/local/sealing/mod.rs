//! Encryption at rest: block files and inline object data sealed with AES-256-GCM under keys
//! derived from the store's master key, and block names that are keyed hashes.
//!
//! # The key file
//!
//! 64 hex digits (32 random bytes), optionally followed by one newline: what
//! `openssl rand -hex 32` prints. Nothing else is accepted, so a truncated or mistyped file is
//! an error at startup instead of a different key.
//!
//! # Keys
//!
//! ```text
//! master key (key file) --HKDF-SHA256 extract (fixed salt)--> PRK
//!   expand "libres3 v1 block names"        -> HMAC-SHA256 key that names blocks
//!   expand "libres3 v1 key id"             -> 16 bytes recorded in the index (tells keys apart)
//!   expand "libres3 v1 unit key" || header -> the AES-256-GCM key of one sealed unit
//! ```
//!
//! # Never reusing a nonce
//!
//! Every sealed unit (a block file, or the inline data of an object row) draws 32 random
//! bytes, its salt, stored in its header; the unit is sealed with its own key expanded from that
//! header, and that key seals nothing else, so the GCM nonce can be a constant zero. Two units
//! share a key only if their salts collide: with 256-bit salts the chance is below 2^-128 even
//! after 2^64 units, so a master key has no practical usage limit. (One key with random 96-bit
//! nonces would be good for about 2^32 messages, NIST SP 800-38D 8.3; a store of small objects
//! can reach four billion writes.) Deriving a unit key costs two HMAC-SHA256 blocks and an AES
//! key schedule, a few microseconds next to the ~0.3 ms of sealing a 1 MiB block.
//!
//! # Why AES-256-GCM
//!
//! Servers have AES-NI and carry-less multiply (x86-64 since 2010, ARMv8 crypto extensions),
//! where ring's AES-GCM seals a 1 MiB block at several GB/s, about twice ChaCha20-Poly1305:
//! the 1 GiB PUT path pays less. Without those instructions ring falls back to a constant-time
//! AES, slower but safe.
//!
//! # Sealed unit format
//!
//! ```text
//! "LS3E" | version 1 | kind (1 block, 2 inline) | 0 0 | salt (32) | ciphertext | tag (16)
//! ```
//!
//! The associated data is the 40-byte header and, for a block, its 32-byte name: a block file
//! copied over another name fails authentication instead of serving the wrong bytes.
//!
//! # Block names
//!
//! Blocks stay content-addressed, so identical blocks are still stored once, but an encrypted
//! store names them by HMAC-SHA256 of their content under a key derived from the master key;
//! a plain hash as name would let anyone who can list the disk test whether it holds a known
//! file. A store without encryption names them by a plain hash, [`PlainNames`].

mod key;
mod record;

pub use key::StoreKey;
pub use record::{check_store, describe};

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::digest;
use ring::error::Unspecified;
use ring::hkdf::{self, Prk, Salt, HKDF_SHA256};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use super::blocks::{read_exactly, BlockRef, Hash};
use super::LocalError;
use crate::encoding::hex;
use crate::store::StoreError;

/// Bytes of a master key (AES-256).
pub const KEY_LEN: usize = 32;

const MAGIC: &[u8; 4] = b"LS3E";
const VERSION: u8 = 1;
const SALT_LEN: usize = 32;
const HEADER_LEN: usize = 8 + SALT_LEN;
const TAG_LEN: usize = 16;
/// Bytes sealing adds to a unit's plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// The HKDF-extract salt: a fixed label (RFC 5869 allows a non-secret constant).
const EXTRACT_SALT: &[u8] = b"libres3 encryption at rest";
const INFO_NAMES: &[u8] = b"libres3 v1 block names";
const INFO_KEY_ID: &[u8] = b"libres3 v1 key id";
const INFO_UNIT: &[u8] = b"libres3 v1 unit key";
const KEY_ID_LEN: usize = 16;

/// How the index records the store's encryption (`meta` rows `encryption`, `encryption_key_id`).
const SCHEME: &str = "aes-256-gcm/hkdf-sha256/v1";
const PLAIN: &str = "none";

/// Why sealed data does not open. The messages end up in logs and internal errors.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("read_block on a store without encryption")]
    NotEncrypted,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("file has {on_disk} bytes, {expected} expected for a sealed block of {len}")]
    WrongSize {
        on_disk: u64,
        expected: u64,
        len: u32,
    },
    #[error("{0}")]
    TooLarge(#[from] std::num::TryFromIntError),
    #[error("range {offset}+{len} outside a block of {block_len}")]
    OutOfRange {
        offset: u64,
        len: u64,
        block_len: u32,
    },
    #[error("{0} bytes, shorter than any sealed data")]
    TooShort(usize),
    #[error("no encryption header: not written by an encrypted store")]
    NoHeader,
    #[error("unknown encryption format version {0}")]
    UnknownVersion(u8),
    #[error("header of another kind of data (kind {0})")]
    OtherKind(u8),
    #[error("deriving its key failed")]
    KeyDerivation,
    #[error("failed authentication: the data was damaged or modified on disk")]
    Authentication,
}

/// What a sealed unit holds; part of its header, so a unit of one kind never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Block = 1,
    Inline = 2,
}

/// An AES-256-GCM key length for HKDF expand, and other output lengths.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// How a store without encryption names its blocks, recorded in the index (`meta` row
/// `block_names`) when the store is made. New stores use BLAKE3: a quarter of SHA-256's CPU
/// (0.17 against 0.60 s per GiB, SHA-NI and AVX2 on the 2-core bench machine), which made the
/// 1 GiB PUT 8-10 % faster. A store that held data before the row existed keeps SHA-256, so
/// its blocks still deduplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainNames {
    Sha256,
    Blake3,
}

impl PlainNames {
    /// The value of the `block_names` row.
    pub fn recorded(self) -> &'static str {
        match self {
            PlainNames::Sha256 => "sha-256",
            PlainNames::Blake3 => "blake3",
        }
    }

    pub fn from_recorded(value: &str) -> Option<PlainNames> {
        [PlainNames::Sha256, PlainNames::Blake3]
            .into_iter()
            .find(|names| names.recorded() == value)
    }
}

/// A block's name computed as its bytes arrive, from [`Sealing::block_namer`]: the upload
/// path hashes each piece right after copying it, while it is still in the CPU's cache.
pub struct BlockNamer(Namer);

enum Namer {
    Sha256(digest::Context),
    /// Boxed: the hasher keeps a stack of chaining values (about 1.9 KiB), which would make
    /// every namer, moved once per block, that large.
    Blake3(Box<::blake3::Hasher>),
    Keyed(hmac::Context),
}

impl BlockNamer {
    pub fn update(&mut self, piece: &[u8]) {
        match &mut self.0 {
            Namer::Sha256(context) => context.update(piece),
            Namer::Blake3(hasher) => {
                hasher.update(piece);
            }
            Namer::Keyed(context) => context.update(piece),
        }
    }

    pub fn finish(self) -> Hash {
        let mut id = [0; 32];
        match self.0 {
            Namer::Sha256(context) => id.copy_from_slice(context.finish().as_ref()),
            Namer::Blake3(hasher) => id = *hasher.finalize().as_bytes(),
            Namer::Keyed(context) => id.copy_from_slice(context.sign().as_ref()),
        }
        id
    }
}

/// Seals and opens a store's data, or passes it through when the store is not encrypted.
pub struct Sealing {
    keys: Option<Keys>,
    /// Settled by [`check_store`] from the index before any block is named.
    plain_names: PlainNames,
}

struct Keys {
    /// Every unit key is expanded from it.
    prk: Prk,
    /// Names blocks: HMAC-SHA256 of their plaintext.
    names: hmac::Key,
    /// Hex of 16 bytes derived from the master key, recorded in the index.
    id: String,
    rng: SystemRandom,
}

impl Sealing {
    /// No encryption: blocks named by a plain hash, data stored as given.
    pub fn plain(names: PlainNames) -> Sealing {
        Sealing {
            keys: None,
            plain_names: names,
        }
    }

    pub fn new(key: Option<&StoreKey>) -> Result<Sealing, LocalError> {
        let Some(key) = key else {
            return Ok(Sealing::plain(PlainNames::Blake3));
        };
        let failed = |_| LocalError::Crypto("deriving keys from the master key failed".into());
        let prk = Salt::new(HKDF_SHA256, EXTRACT_SALT).extract(&key.bytes);
        let names = hmac::Key::from(
            prk.expand(&[INFO_NAMES], hmac::HMAC_SHA256)
                .map_err(failed)?,
        );
        let mut id = [0u8; KEY_ID_LEN];
        prk.expand(&[INFO_KEY_ID], Len(KEY_ID_LEN))
            .and_then(|okm| okm.fill(&mut id))
            .map_err(failed)?;
        Ok(Sealing {
            keys: Some(Keys {
                prk,
                names,
                id: hex(&id),
                rng: SystemRandom::new(),
            }),
            plain_names: PlainNames::Blake3,
        })
    }

    pub fn is_on(&self) -> bool {
        self.keys.is_some()
    }

    /// The id of the master key (not secret), when encryption is on.
    pub fn key_id(&self) -> Option<&str> {
        self.keys.as_ref().map(|keys| keys.id.as_str())
    }

    /// The name of a block: the plain hash of its content, or HMAC-SHA256 under the naming
    /// key.
    pub fn block_id(&self, data: &[u8]) -> Hash {
        let mut namer = self.block_namer();
        namer.update(data);
        namer.finish()
    }

    /// [`Sealing::block_id`] over content that arrives in pieces.
    pub fn block_namer(&self) -> BlockNamer {
        BlockNamer(match &self.keys {
            None => match self.plain_names {
                PlainNames::Sha256 => Namer::Sha256(digest::Context::new(&digest::SHA256)),
                PlainNames::Blake3 => Namer::Blake3(Box::default()),
            },
            Some(keys) => Namer::Keyed(hmac::Context::with_key(&keys.names)),
        })
    }

    /// The size of the file holding a block of `len` bytes.
    pub fn stored_len(&self, len: u32) -> u64 {
        match self.keys {
            None => u64::from(len),
            Some(_) => u64::from(len) + OVERHEAD as u64,
        }
    }

    /// Writes a block's file content. Seals in place when `data` is the only handle to its
    /// buffer (it is on the upload path), so sealing needs no second block of memory.
    pub fn write_block(&self, out: &mut impl Write, id: &Hash, data: Bytes) -> io::Result<()> {
        let Some(keys) = &self.keys else {
            return out.write_all(&data);
        };
        let mut buf = data
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let header = keys.header(Unit::Block).map_err(rng_failed)?;
        let tag = keys
            .seal(&header, Some(id), &mut buf)
            .map_err(|_| io::Error::other("sealing a block failed"))?;
        out.write_all(&header)?;
        out.write_all(&buf)?;
        out.write_all(tag.as_ref())
    }

    /// Reads a sealed block file whole (it can only be authenticated whole) and returns
    /// `len` bytes of its plaintext from `offset`. Only for an encrypted store.
    pub fn read_block(
        &self,
        file: &mut File,
        block: &BlockRef,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, SealError> {
        let Some(keys) = &self.keys else {
            return Err(SealError::NotEncrypted);
        };
        let expected = self.stored_len(block.len);
        let on_disk = file.metadata()?.len();
        if on_disk != expected {
            return Err(SealError::WrongSize {
                on_disk,
                expected,
                len: block.len,
            });
        }
        let size = usize::try_from(expected)?;
        let mut buf = read_exactly(file, size)?;
        let plain = keys.open(&mut buf, Unit::Block, Some(&block.hash))?;
        let wanted = offset
            .checked_add(len)
            .and_then(|end| Some(usize::try_from(offset).ok()?..usize::try_from(end).ok()?))
            .filter(|wanted| wanted.end <= plain.len())
            .ok_or(SealError::OutOfRange {
                offset,
                len,
                block_len: block.len,
            })?;
        Ok(Bytes::from(buf).slice(plain.start + wanted.start..plain.start + wanted.end))
    }

    /// What goes into an object row's `inline_data`.
    pub fn seal_inline(&self, data: Bytes) -> Result<Bytes, StoreError> {
        let Some(keys) = &self.keys else {
            return Ok(data);
        };
        let header = keys
            .header(Unit::Inline)
            .map_err(|_| StoreError::Internal("the system random generator failed".into()))?;
        let mut sealed = Vec::with_capacity(data.len() + OVERHEAD);
        sealed.extend_from_slice(&header);
        sealed.extend_from_slice(&data);
        let tag = keys
            .seal(&header, None, &mut sealed[HEADER_LEN..])
            .map_err(|_| StoreError::Internal("sealing inline data failed".into()))?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(Bytes::from(sealed))
    }

    /// The object bytes of an `inline_data` value.
    pub fn open_inline(&self, stored: Vec<u8>) -> Result<Bytes, SealError> {
        let Some(keys) = &self.keys else {
            return Ok(Bytes::from(stored));
        };
        let mut stored = stored;
        let plain = keys.open(&mut stored, Unit::Inline, None)?;
        Ok(Bytes::from(stored).slice(plain))
    }
}

fn rng_failed(_: Unspecified) -> io::Error {
    io::Error::other("the system random generator failed")
}

impl Keys {
    /// A fresh header: the format, the kind of unit and a random salt.
    fn header(&self, unit: Unit) -> Result<[u8; HEADER_LEN], Unspecified> {
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(MAGIC);
        header[4] = VERSION;
        header[5] = unit as u8;
        self.rng.fill(&mut header[8..])?;
        Ok(header)
    }

    /// The key that seals the one unit with this header (whose salt makes it unique).
    fn unit_key(&self, header: &[u8]) -> Result<LessSafeKey, Unspecified> {
        let info = [INFO_UNIT, header];
        let okm = self.prk.expand(&info, &AES_256_GCM)?;
        Ok(LessSafeKey::new(UnboundKey::from(okm)))
    }

    fn seal(
        &self,
        header: &[u8; HEADER_LEN],
        id: Option<&Hash>,
        data: &mut [u8],
    ) -> Result<Tag, Unspecified> {
        let key = self.unit_key(header)?;
        let (aad, aad_len) = associated_data(header, id);
        // The key seals this unit only (see the module comment): a constant nonce is unique.
        let nonce = Nonce::assume_unique_for_key([0; NONCE_LEN]);
        key.seal_in_place_separate_tag(nonce, Aad::from(&aad[..aad_len]), data)
    }

    /// Authenticates and decrypts a sealed unit in place; returns where its plaintext is.
    fn open(
        &self,
        sealed: &mut [u8],
        unit: Unit,
        id: Option<&Hash>,
    ) -> Result<Range<usize>, SealError> {
        if sealed.len() < OVERHEAD {
            return Err(SealError::TooShort(sealed.len()));
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&sealed[..HEADER_LEN]);
        if &header[..4] != MAGIC {
            return Err(SealError::NoHeader);
        }
        if header[4] != VERSION {
            return Err(SealError::UnknownVersion(header[4]));
        }
        if header[5] != unit as u8 || header[6..8] != [0, 0] {
            return Err(SealError::OtherKind(header[5]));
        }
        let key = self
            .unit_key(&header)
            .map_err(|_| SealError::KeyDerivation)?;
        let (aad, aad_len) = associated_data(&header, id);
        let nonce = Nonce::assume_unique_for_key([0; NONCE_LEN]);
        let plain_len = key
            .open_in_place(nonce, Aad::from(&aad[..aad_len]), &mut sealed[HEADER_LEN..])
            .map_err(|_| SealError::Authentication)?
            .len();
        Ok(HEADER_LEN..HEADER_LEN + plain_len)
    }
}

/// The header, then the block's name when there is one.
fn associated_data(header: &[u8; HEADER_LEN], id: Option<&Hash>) -> ([u8; HEADER_LEN + 32], usize) {
    let mut aad = [0u8; HEADER_LEN + 32];
    aad[..HEADER_LEN].copy_from_slice(header);
    match id {
        Some(id) => {
            aad[HEADER_LEN..].copy_from_slice(id);
            (aad, HEADER_LEN + 32)
        }
        None => (aad, HEADER_LEN),
    }
}

#[cfg(test)]
mod tests;
