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
//! a plain SHA-256 name would let anyone who can list the disk test whether it holds a known
//! file.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::error::Unspecified;
use ring::hkdf::{self, Prk, Salt, HKDF_SHA256};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::Connection;

use super::blocks::{sha256, to_hex, BlockRef, Hash};
use super::index;
use super::LocalError;
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

/// What a sealed unit holds; part of its header, so a unit of one kind never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Block = 1,
    Inline = 2,
}

/// The master key of an encrypted store, as read from its key file. Debug shows where it came
/// from, never the key.
pub struct StoreKey {
    bytes: [u8; KEY_LEN],
    /// Where it is configured and its file, e.g. `libres3.conf:7: encryption_key_file =
    /// /etc/libres3/store.key`, for messages.
    setting: String,
    file: PathBuf,
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({})", self.setting)
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.bytes.fill(0);
        std::hint::black_box(&self.bytes);
    }
}

impl StoreKey {
    /// Reads a key file. `setting` says where it is configured, e.g. `libres3.conf:7:
    /// encryption_key_file`; every message starts with it and the file, and says what to do.
    pub fn load(path: &Path, setting: &str) -> Result<StoreKey, String> {
        let setting = format!("{setting} = {}", path.display());
        let mut text = Vec::new();
        // A key file is 65 bytes: reading a little more is enough to tell a wrong file.
        File::open(path)
            .and_then(|file| file.take(1024).read_to_end(&mut text))
            .map_err(|e| {
                format!(
                    "{setting}: cannot read the key file: {e}; check the path and that the \
                     server is started as a user that may read it"
                )
            })?;
        let parsed = parse_key(&text);
        text.fill(0);
        let bytes = parsed.map_err(|problem| {
            format!(
                "{setting}: {problem}; for a new store create a key with \
                 `(umask 077; openssl rand -hex 32 > {file})`, for an existing one restore the \
                 key file it was created with",
                file = path.display()
            )
        })?;
        Ok(StoreKey {
            bytes,
            setting,
            file: path.to_owned(),
        })
    }

    /// A key from its bytes (tests, and callers that hold the key already).
    pub fn from_bytes(bytes: [u8; KEY_LEN], setting: &str) -> StoreKey {
        StoreKey {
            bytes,
            setting: setting.to_owned(),
            file: PathBuf::new(),
        }
    }

    /// Where the key is configured and its file, for messages.
    pub fn setting(&self) -> &str {
        &self.setting
    }
}

/// 64 hex digits, then at most one newline.
fn parse_key(text: &[u8]) -> Result<[u8; KEY_LEN], String> {
    let digits = text.strip_suffix(b"\n").unwrap_or(text);
    let mut key = [0u8; KEY_LEN];
    let valid = digits.len() == 2 * KEY_LEN
        && digits
            .chunks_exact(2)
            .zip(key.iter_mut())
            .all(
                |(pair, out)| match (hex_digit(pair[0]), hex_digit(pair[1])) {
                    (Some(high), Some(low)) => {
                        *out = high << 4 | low;
                        true
                    }
                    _ => false,
                },
            );
    if !valid {
        key.fill(0);
        return Err(format!(
            "the key file must hold 64 hex digits (32 random bytes) and at most a final \
             newline, not these {} bytes",
            text.len()
        ));
    }
    if key.iter().all(|&b| b == key[0]) {
        return Err("the key file holds one byte repeated, not a random key".into());
    }
    Ok(key)
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// An AES-256-GCM key length for HKDF expand, and other output lengths.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// Seals and opens a store's data, or passes it through when the store is not encrypted.
pub struct Sealing {
    keys: Option<Keys>,
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
    /// No encryption: blocks named by SHA-256, data stored as given.
    pub fn plain() -> Sealing {
        Sealing { keys: None }
    }

    pub fn new(key: Option<&StoreKey>) -> Result<Sealing, LocalError> {
        let Some(key) = key else {
            return Ok(Sealing::plain());
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
                id: to_hex(&id),
                rng: SystemRandom::new(),
            }),
        })
    }

    pub fn is_on(&self) -> bool {
        self.keys.is_some()
    }

    /// The id of the master key (not secret), when encryption is on.
    pub fn key_id(&self) -> Option<&str> {
        self.keys.as_ref().map(|keys| keys.id.as_str())
    }

    /// The name of a block: SHA-256 of its content, or HMAC-SHA256 under the naming key.
    pub fn block_id(&self, data: &[u8]) -> Hash {
        match &self.keys {
            None => sha256(data),
            Some(keys) => {
                let tag = hmac::sign(&keys.names, data);
                let mut id = [0; 32];
                id.copy_from_slice(tag.as_ref());
                id
            }
        }
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
    ) -> Result<Bytes, String> {
        let Some(keys) = &self.keys else {
            return Err("read_block on a store without encryption".into());
        };
        let expected = self.stored_len(block.len);
        let on_disk = file.metadata().map_err(|e| e.to_string())?.len();
        if on_disk != expected {
            return Err(format!(
                "file has {on_disk} bytes, {expected} expected for a sealed block of {}",
                block.len
            ));
        }
        let size = usize::try_from(expected).map_err(|e| e.to_string())?;
        let mut buf = vec![0; size];
        file.read_exact(&mut buf).map_err(|e| e.to_string())?;
        let plain = keys.open(&mut buf, Unit::Block, Some(&block.hash))?;
        let wanted = offset
            .checked_add(len)
            .and_then(|end| Some(usize::try_from(offset).ok()?..usize::try_from(end).ok()?))
            .filter(|wanted| wanted.end <= plain.len())
            .ok_or_else(|| format!("range {offset}+{len} outside a block of {}", block.len))?;
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
    pub fn open_inline(&self, stored: Vec<u8>) -> Result<Bytes, String> {
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
    ) -> Result<Range<usize>, String> {
        if sealed.len() < OVERHEAD {
            return Err(format!(
                "{} bytes, shorter than any sealed data",
                sealed.len()
            ));
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&sealed[..HEADER_LEN]);
        if &header[..4] != MAGIC {
            return Err("no encryption header: not written by an encrypted store".into());
        }
        if header[4] != VERSION {
            return Err(format!("unknown encryption format version {}", header[4]));
        }
        if header[5] != unit as u8 || header[6..8] != [0, 0] {
            return Err(format!(
                "header of another kind of data (kind {})",
                header[5]
            ));
        }
        let key = self
            .unit_key(&header)
            .map_err(|_| "deriving its key failed".to_string())?;
        let (aad, aad_len) = associated_data(&header, id);
        let nonce = Nonce::assume_unique_for_key([0; NONCE_LEN]);
        let plain_len = key
            .open_in_place(nonce, Aad::from(&aad[..aad_len]), &mut sealed[HEADER_LEN..])
            .map_err(|_| {
                "failed authentication: the data was damaged or modified on disk".to_string()
            })?
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

// ---------------------------------------------------------------------------------------------
// What the index records

/// Checks the key given at startup against the encryption the store was created with, and
/// records it for a store that holds no data yet. Encryption is decided once per store: data is
/// never encrypted or decrypted in place, so a store never mixes sealed and plain data.
pub fn check_store(
    conn: &Connection,
    index: &Path,
    key: Option<&StoreKey>,
    sealing: &Sealing,
) -> Result<(), LocalError> {
    let db = |source| LocalError::Index {
        path: index.to_path_buf(),
        source,
    };
    let meta = |name: &str| -> Result<Option<String>, LocalError> {
        index::meta::value(conn, name).map_err(db)
    };
    let recorded = match meta("encryption")? {
        Some(scheme) => scheme,
        None => {
            // A store made by `setup` or `user add` has users but no data yet: this start
            // decides. One that holds data comes from before encryption existed: it is plain.
            let holds_data = index::meta::holds_data(conn).map_err(db)?;
            let scheme = match sealing.key_id() {
                Some(id) if !holds_data => {
                    index::meta::record_encryption(conn, SCHEME, id).map_err(db)?;
                    return Ok(());
                }
                _ => PLAIN,
            };
            index::meta::record_scheme(conn, scheme).map_err(db)?;
            scheme.to_owned()
        }
    };
    let index = index.to_path_buf();
    match (recorded.as_str(), key, sealing.key_id()) {
        (PLAIN, None, _) => Ok(()),
        (PLAIN, Some(key), _) => Err(LocalError::NotEncrypted {
            key: key.setting().to_owned(),
            index,
        }),
        (SCHEME, key, found) => {
            let Some(expected) = meta("encryption_key_id")? else {
                return Err(LocalError::UnknownEncryption {
                    index,
                    scheme: format!("{SCHEME} without a key id"),
                });
            };
            match (key, found) {
                (Some(key), Some(found)) if found != expected => Err(LocalError::WrongKey {
                    key: key.setting().to_owned(),
                    index,
                    found: found.to_owned(),
                    expected,
                }),
                (Some(_), Some(_)) => Ok(()),
                _ => Err(LocalError::KeyMissing {
                    index,
                    key_id: expected,
                }),
            }
        }
        (other, _, _) => Err(LocalError::UnknownEncryption {
            index,
            scheme: other.to_owned(),
        }),
    }
}

/// Where the key of a store came from, for the startup log.
pub fn describe(key: &StoreKey, sealing: &Sealing) -> String {
    format!(
        "encryption at rest is on: AES-256-GCM, a key per block derived from the key in {} \
         (key id {})",
        key.file.display(),
        sealing.key_id().unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_HEX: &str = "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";

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
    ) -> Result<Vec<u8>, String> {
        open_block_range(sealing, id, len, sealed, 0, len as u64)
    }

    fn open_block_range(
        sealing: &Sealing,
        id: Hash,
        len: usize,
        sealed: &[u8],
        offset: u64,
        want: u64,
    ) -> Result<Vec<u8>, String> {
        let path = std::env::temp_dir().join(format!(
            "libres3-sealing-{}-{}",
            std::process::id(),
            to_hex(&sha256(sealed))
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
    fn key_file_format() {
        assert_eq!(parse_key(KEY_HEX.as_bytes()).unwrap()[..2], [0x00, 0x11]);
        let with_newline = format!("{KEY_HEX}\n");
        assert_eq!(
            parse_key(with_newline.as_bytes()).unwrap(),
            parse_key(KEY_HEX.as_bytes()).unwrap()
        );
        assert_eq!(
            parse_key(KEY_HEX.to_uppercase().as_bytes()).unwrap(),
            parse_key(KEY_HEX.as_bytes()).unwrap()
        );
        for bad in [
            format!("{KEY_HEX}\n\n"),
            format!("{KEY_HEX}\r\n"),
            format!(" {KEY_HEX}"),
            KEY_HEX[..62].to_string(),
            format!("{KEY_HEX}00"),
            format!("{}zz", &KEY_HEX[..62]),
            String::new(),
            "0".repeat(64),
        ] {
            assert!(parse_key(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
        // 32 raw bytes are not the format either.
        assert!(parse_key(&[0x5a; 32]).is_err());
    }

    #[test]
    fn key_file_errors_name_the_file_and_the_fix() {
        let dir = std::env::temp_dir().join(format!("libres3-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.key");
        std::fs::write(&path, b"not a key\n").unwrap();
        let e = StoreKey::load(&path, "libres3.conf:3: encryption_key_file").unwrap_err();
        assert!(
            e.starts_with("libres3.conf:3: encryption_key_file = "),
            "{e}"
        );
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("openssl rand -hex 32"), "{e}");
        std::fs::write(&path, format!("{KEY_HEX}\n")).unwrap();
        let key = StoreKey::load(&path, "libres3.conf:3: encryption_key_file").unwrap();
        assert!(!format!("{key:?}").contains(KEY_HEX), "Debug shows the key");
        let e = StoreKey::load(&dir.join("absent"), "x").unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
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
        assert_eq!(Sealing::plain().block_id(&data), sha256(&data));
        assert_ne!(right.key_id(), wrong.key_id());
        assert_eq!(right.key_id(), sealing(5).key_id());
    }

    #[test]
    fn plain_passes_data_through() {
        let plain = Sealing::plain();
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
}
