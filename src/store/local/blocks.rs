//! Block files: content-addressed (BLAKE3, SHA-256 in older stores, or a keyed hash; see
//! `sealing`), spread over the storage directories, written durably before any index row
//! names them. Also the pins that keep the garbage collector
//! away from blocks an upload is about to reference, and the crash-recovery sweeps.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};

use bytes::{BufMut, Bytes, BytesMut};
use ring::rand::SecureRandom;

use super::sealing::{Sealing, OVERHEAD};
use super::Shared;
use crate::encoding::hex;
use crate::store::StoreError;

/// Bodies larger than the inline limit are cut into blocks of this size (the last is shorter).
/// Each block costs a file creation, an fsync and a journal commit: 4 MiB blocks made the
/// 1 GiB PUT about 18% faster than 1 MiB ones, and dedup still finds every whole copy.
/// Stores keep blocks of any size they were written with (block lists record lengths).
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

pub type Hash = [u8; 32];

/// One entry of a block list: the block's content hash and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRef {
    pub hash: Hash,
    pub len: u32,
}

/// One-shot hashes, the reference the incremental block namers are tested against.
#[cfg(test)]
pub fn blake3(data: &[u8]) -> Hash {
    *::blake3::hash(data).as_bytes()
}

#[cfg(test)]
pub fn sha256(data: &[u8]) -> Hash {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut hash = [0; 32];
    hash.copy_from_slice(digest.as_ref());
    hash
}

/// The hash a block file name stands for; None for names we did not write.
pub fn hash_from_hex(name: &str) -> Option<Hash> {
    if name.len() != 64 {
        return None;
    }
    let mut hash = [0; 32];
    for (i, pair) in name.as_bytes().chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        hash[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(hash)
}

/// `bytes` random bytes as hex: upload ids, identities, temporary file names.
pub fn random_hex(rng: &dyn SecureRandom, bytes: usize) -> Result<String, StoreError> {
    let mut buf = vec![0; bytes];
    rng.fill(&mut buf)
        .map_err(|_| StoreError::Internal("the system random generator failed".into()))?;
    Ok(hex(&buf))
}

/// One storage directory: `blocks/ab/cd/<hex>` and `tmp/` below it.
#[derive(Debug)]
pub struct StorageDir {
    /// Its row in the index's `dirs` table.
    pub id: i64,
    pub path: PathBuf,
    /// Block files are written with O_DIRECT until the filesystem refuses it once.
    direct_io: AtomicBool,
}

impl StorageDir {
    pub fn new(id: i64, path: PathBuf) -> StorageDir {
        StorageDir {
            id,
            path,
            direct_io: AtomicBool::new(true),
        }
    }

    pub fn blocks_root(&self) -> PathBuf {
        self.path.join("blocks")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.path.join("tmp")
    }

    pub fn block_path(&self, hash: &Hash) -> PathBuf {
        let hex = hex(hash);
        self.blocks_root()
            .join(&hex[..2])
            .join(&hex[2..4])
            .join(hex)
    }

    fn free_bytes(&self) -> u64 {
        match nix::sys::statvfs::statvfs(&self.path) {
            Ok(stat) => stat.blocks_available().saturating_mul(stat.fragment_size()),
            Err(e) => {
                log::warn!("cannot read free space of {}: {e}", self.path.display());
                0
            }
        }
    }
}

/// Makes a directory entry change (create, rename) durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Hashes pinned by uploads in progress and block files that may have become garbage; one
/// mutex guards both, and the garbage collector holds it while it decides and unlinks.
#[derive(Default)]
pub struct BlockGuards {
    pub pins: HashMap<Hash, u32>,
    /// (hash, dir id) of files written or found by uploads that never committed, or copies
    /// that lost a race to another directory; the collector removes those no row names.
    pub maybe_orphans: Vec<(Hash, i64)>,
}

/// Keeps the garbage collector from deleting the block `hash` while it lives.
struct Pin {
    shared: Arc<Shared>,
    hash: Hash,
}

impl Pin {
    fn new(shared: &Arc<Shared>, hash: Hash) -> Pin {
        let mut guards = shared.guards.lock().unwrap_or_else(PoisonError::into_inner);
        *guards.pins.entry(hash).or_insert(0) += 1;
        Pin {
            shared: shared.clone(),
            hash,
        }
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut guards = self
            .shared
            .guards
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = guards.pins.get_mut(&self.hash) {
            *count -= 1;
            if *count == 0 {
                guards.pins.remove(&self.hash);
            }
        }
    }
}

/// A durable block file that an upload holds until the index references it. Dropped without
/// [`PinnedBlock::mark_referenced`], its file is handed to the garbage collector.
pub struct PinnedBlock {
    pin: Pin,
    pub block: BlockRef,
    pub dir_id: i64,
    referenced: bool,
    /// The directory whose entry for this block is not yet known durable: fsynced (once for
    /// all the blocks of an upload, see [`sync_block_dirs`]) before an index row names it.
    unsynced_dir: Option<PathBuf>,
}

/// Makes the directory entries of freshly written blocks durable. One fsync commits the
/// journal with every rename before it, so deferring these to the end of an upload turns one
/// directory fsync per block into about one per upload.
pub fn sync_block_dirs(blocks: &mut [PinnedBlock]) -> io::Result<()> {
    let mut dirs: Vec<PathBuf> = blocks
        .iter_mut()
        .filter_map(|b| b.unsynced_dir.take())
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        sync_dir(&dir)?;
    }
    Ok(())
}

impl PinnedBlock {
    pub fn mark_referenced(&mut self) {
        self.referenced = true;
    }
}

impl Drop for PinnedBlock {
    fn drop(&mut self) {
        if !self.referenced {
            let mut guards = self
                .pin
                .shared
                .guards
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            guards.maybe_orphans.push((self.block.hash, self.dir_id));
        }
        // The pin is released after this, when the field drops.
    }
}

/// Makes `data`, named `hash` (`Sealing::block_id`), a durable block file, unless that block
/// exists already. Blocking: run it on a blocking thread.
pub fn store_block(
    shared: &Arc<Shared>,
    data: &Bytes,
    hash: Hash,
) -> Result<PinnedBlock, StoreError> {
    let len = u32::try_from(data.len())
        .map_err(|_| StoreError::Internal(format!("block of {} bytes", data.len())))?;
    // Pin before looking: from here on the collector will not delete this block's file.
    let pin = Pin::new(shared, hash);
    let block = BlockRef { hash, len };
    let pinned = |dir_id, unsynced_dir: Option<&Path>| PinnedBlock {
        pin,
        block,
        dir_id,
        referenced: false,
        unsynced_dir: unsynced_dir.map(Path::to_path_buf),
    };
    let file_len = shared.sealing.stored_len(len);
    for dir in &shared.dirs {
        let path = dir.block_path(&hash);
        match fs::metadata(&path) {
            Ok(found) if found.len() == file_len => {
                // Its writer may still be before its directory fsync: this upload does it too.
                return Ok(pinned(dir.id, path.parent()));
            }
            Ok(found) => {
                log::error!(
                    "block file {} has {} bytes instead of {file_len}; rewriting it",
                    path.display(),
                    found.len()
                );
                let leaf = write_block_file(shared, dir, &hash, data.clone())?;
                return Ok(pinned(dir.id, Some(&leaf)));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    let dir = pick_dir(&shared.dirs)?;
    let leaf = write_block_file(shared, dir, &hash, data.clone())?;
    Ok(pinned(dir.id, Some(&leaf)))
}

/// The storage directory with the most free bytes; the first of equals (directories on one
/// filesystem report the same free space).
fn pick_dir(dirs: &[StorageDir]) -> Result<&StorageDir, StoreError> {
    let mut best: Option<(&StorageDir, u64)> = None;
    for dir in dirs {
        let free = if dirs.len() == 1 { 0 } else { dir.free_bytes() };
        let better = match best {
            Some((_, best_free)) => free > best_free,
            None => true,
        };
        if better {
            best = Some((dir, free));
        }
    }
    best.map(|(dir, _)| dir)
        .ok_or_else(|| StoreError::Internal("no storage directory".into()))
}

/// Writes to `tmp/`, fsyncs and renames into place: the file is either complete and durable
/// under its final name, or absent. Returns the directory now holding it, whose entry the
/// caller makes durable with [`sync_block_dirs`].
fn write_block_file(
    shared: &Shared,
    dir: &StorageDir,
    hash: &Hash,
    data: Bytes,
) -> Result<PathBuf, StoreError> {
    let tmp_path = dir.tmp_dir().join(random_hex(&shared.rng, 16)?);
    let written = (|| -> io::Result<PathBuf> {
        let contents = block_file_contents(&shared.sealing, hash, data)?;
        write_durably(dir, &tmp_path, &contents)?;
        let final_path = dir.block_path(hash);
        let leaf_dir = final_path
            .parent()
            .ok_or_else(|| io::Error::other("block path has no parent"))?;
        ensure_block_subdirs(&dir.blocks_root(), leaf_dir)?;
        fs::rename(&tmp_path, &final_path)?;
        Ok(leaf_dir.to_path_buf())
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&tmp_path);
        StoreError::from(io::Error::new(
            e.kind(),
            format!("writing block in {}: {e}", dir.path.display()),
        ))
    })
}

/// What a block file holds: the block itself, or sealed when the store is encrypted (in an
/// aligned buffer, so it still goes to the disk without another copy).
fn block_file_contents(sealing: &Sealing, hash: &Hash, data: Bytes) -> io::Result<Bytes> {
    if !sealing.is_on() {
        return Ok(data);
    }
    let mut sealed = aligned_buffer(data.len() + OVERHEAD).writer();
    sealing.write_block(&mut sealed, hash, data)?;
    Ok(sealed.into_inner().freeze())
}

/// Alignment of direct I/O buffers, offsets and lengths: a page, which every block device's
/// logical block size divides.
const DIRECT_IO_ALIGN: usize = 4096;

/// Creates `path` holding `data` and fsyncs it.
///
/// Block files are written once and not read back soon, so they bypass the page cache: with
/// O_DIRECT the kernel moves the bytes to the disk from our buffer instead of first copying
/// them into freshly allocated cache pages, which cost more than the MD5 of the same bytes.
/// A filesystem without O_DIRECT (tmpfs, ext4 data=journal) is written through the cache.
fn write_durably(dir: &StorageDir, path: &Path, data: &[u8]) -> io::Result<()> {
    if dir.direct_io.load(Ordering::Relaxed) {
        match write_direct(path, data) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {
                let _ = fs::remove_file(path);
                if dir.direct_io.swap(false, Ordering::Relaxed) {
                    log::info!(
                        "{} does not take direct I/O ({e}); writing blocks through the page cache",
                        dir.path.display()
                    );
                }
            }
            Err(e) => return Err(e),
        }
    }
    let mut file = new_file(path, 0)?;
    file.write_all(data)?;
    file.sync_all()
}

fn new_file(path: &Path, flags: i32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(flags)
        .open(path)
}

/// An empty buffer for `capacity` bytes starting at a direct-I/O-aligned address: a block
/// filled in it goes to the disk without another copy.
pub fn aligned_buffer(capacity: usize) -> BytesMut {
    let mut buffer = BytesMut::with_capacity(capacity + DIRECT_IO_ALIGN);
    let skip = buffer.as_ptr().align_offset(DIRECT_IO_ALIGN);
    if skip >= DIRECT_IO_ALIGN {
        return BytesMut::with_capacity(capacity);
    }
    buffer.resize(skip, 0);
    drop(buffer.split_to(skip));
    buffer
}

pub fn is_direct_io_aligned(data: &[u8]) -> bool {
    data.as_ptr().align_offset(DIRECT_IO_ALIGN) == 0 && data.len() % DIRECT_IO_ALIGN == 0
}

/// Direct I/O wants aligned addresses and whole aligned lengths. The aligned part of `data`
/// is written from where it is; the rest (a short last page, or everything when `data` does
/// not start aligned) is copied into an aligned buffer padded with zeros, and the file is
/// cut back to its length.
fn write_direct(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = new_file(path, nix::libc::O_DIRECT)?;
    let in_place = if data.as_ptr().align_offset(DIRECT_IO_ALIGN) == 0 {
        data.len() / DIRECT_IO_ALIGN * DIRECT_IO_ALIGN
    } else {
        0
    };
    let (aligned, rest) = data.split_at(in_place);
    file.write_all(aligned)?;
    if !rest.is_empty() {
        let padded = rest.len().div_ceil(DIRECT_IO_ALIGN) * DIRECT_IO_ALIGN;
        let mut buffer = aligned_buffer(padded);
        buffer.extend_from_slice(rest);
        buffer.resize(padded, 0);
        if !is_direct_io_aligned(&buffer) {
            return Err(io::Error::other("cannot align a direct I/O buffer"));
        }
        file.write_all(&buffer)?;
        file.set_len(data.len() as u64)?;
    }
    file.sync_all()
}

/// Creates `blocks/ab/cd` when missing, fsyncing each parent so the new entries survive.
fn ensure_block_subdirs(root: &Path, leaf: &Path) -> io::Result<()> {
    if leaf.is_dir() {
        return Ok(());
    }
    let middle = leaf
        .parent()
        .ok_or_else(|| io::Error::other("block directory has no parent"))?;
    if !middle.is_dir() {
        match fs::create_dir(middle) {
            Ok(()) => sync_dir(root)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    match fs::create_dir(leaf) {
        Ok(()) => sync_dir(middle),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads exactly `len` bytes into a fresh buffer without zero-filling it first: the bytes
/// land in the vector's spare capacity.
pub fn read_exactly(file: &mut File, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut buf)?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("read {} bytes of {len}", buf.len()),
        ));
    }
    Ok(buf)
}

/// Removes a block file; a file already gone is fine.
pub fn remove_block_file(dir: &StorageDir, hash: &Hash) {
    let path = dir.block_path(hash);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => log::warn!("cannot remove block file {}: {e}", path.display()),
    }
}

// ---------------------------------------------------------------------------------------------
// Crash recovery

/// Removes everything in `tmp/`: half-written blocks of uploads a crash interrupted.
pub fn clear_tmp(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
        removed += 1;
    }
    Ok(removed)
}

/// How often the sweep reports progress.
const SWEEP_PROGRESS_EVERY: u64 = 100_000;

/// Removes block files under `dir` for which `is_referenced` says no. Returns (files seen,
/// files removed).
pub fn sweep_unreferenced(
    dir: &StorageDir,
    mut is_referenced: impl FnMut(&Hash) -> Result<bool, StoreError>,
) -> Result<(u64, u64), StoreError> {
    let root = dir.blocks_root();
    let (mut seen, mut removed) = (0u64, 0u64);
    for first in sorted_entries(&root)? {
        if !first.is_dir() {
            continue;
        }
        for second in sorted_entries(&first)? {
            if !second.is_dir() {
                continue;
            }
            for file in sorted_entries(&second)? {
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let Some(hash) = hash_from_hex(name) else {
                    log::warn!("leaving unknown file {} alone", file.display());
                    continue;
                };
                seen += 1;
                if seen % SWEEP_PROGRESS_EVERY == 0 {
                    log::info!(
                        "recovery: checked {seen} block files in {}, {removed} unreferenced",
                        root.display()
                    );
                }
                if !is_referenced(&hash)? {
                    remove_block_file(dir, &hash);
                    removed += 1;
                }
            }
        }
    }
    Ok((seen, removed))
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        entries.push(entry?.path());
    }
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let hash = sha256(b"abc");
        let hex = hex(&hash);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_from_hex(&hex), Some(hash));
        assert_eq!(hash_from_hex(&hex.to_uppercase()), None);
        assert_eq!(hash_from_hex("abc"), None);
        assert_eq!(hash_from_hex(&format!("{}zz", &hex[..62])), None);
    }

    #[test]
    fn aligned_buffers_hold_a_block_without_moving() {
        let mut buffer = aligned_buffer(BLOCK_SIZE);
        assert!(buffer.capacity() >= BLOCK_SIZE);
        let start = buffer.as_ptr();
        buffer.resize(BLOCK_SIZE, 7);
        let block = buffer.freeze();
        assert_eq!(block.as_ptr(), start, "filling the buffer reallocated it");
        assert!(is_direct_io_aligned(&block));
        assert!(!is_direct_io_aligned(&block[..100]));
        assert!(!is_direct_io_aligned(&block[1..4097]));
    }

    #[test]
    fn direct_writes_keep_the_exact_length() {
        let root = std::env::temp_dir().join(format!("libres3-direct-{}", std::process::id()));
        fs::create_dir_all(&root).unwrap();
        let dir = StorageDir::new(1, root.clone());
        let mut aligned = aligned_buffer(2 * DIRECT_IO_ALIGN + 100);
        aligned.resize(2 * DIRECT_IO_ALIGN + 100, 3);
        let aligned = aligned.freeze();
        for (name, data) in [
            ("aligned", aligned.slice(..2 * DIRECT_IO_ALIGN)),
            ("aligned-start", aligned.clone()),
            ("short", Bytes::from(vec![1u8; 100])),
            ("odd", Bytes::from(vec![2u8; DIRECT_IO_ALIGN + 1])),
            ("empty", Bytes::new()),
        ] {
            let path = root.join(name);
            write_durably(&dir, &path, &data).unwrap();
            assert_eq!(fs::read(&path).unwrap(), data, "{name}");
        }
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn block_paths_fan_out() {
        let dir = StorageDir::new(1, PathBuf::from("/data"));
        let hash = sha256(b"abc");
        assert_eq!(
            dir.block_path(&hash),
            PathBuf::from("/data/blocks/ba/78").join(hex(&hash))
        );
    }
}
