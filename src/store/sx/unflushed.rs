//! Parts kept as the blocks of an SX upload that is never flushed, so that completing a large
//! upload moves no data.
//!
//! SX derives a file's block size from its size: a part of up to 128 MiB gets 16 KiB blocks
//! and an object over 128 MiB 1 MiB blocks, so the blocks of part files can never make up a
//! large object and its completion would copy it whole. An upload declared at SX's growable
//! size gets 1 MiB blocks whatever it holds; its blocks stay on the cluster, reserved by
//! the unflushed upload, until SX's garbage collector drops them a day later
//! (`GC_GRACE_PERIOD`), unless a flushed file references them first. The part's record is
//! an empty file whose meta lists the blocks; the object's creation references them.
//!
//! Only with `sx_fast_large_multipart`, and only parts made of whole 1 MiB blocks whose
//! blocks SX lacks every one of (SX dates a block from its first upload, and drops the
//! blocks of an unflushed upload once they are all a day old: a block it already held could
//! go at its next hourly collection); the others stay durable part files of their own, as
//! before. An object of up to 128 MiB has 16 KiB blocks, so its kept parts are copied at
//! completion. A kept part sent longer than [`LIFETIME`] ago is reported missing at
//! completion (InvalidPart), before SX could have dropped its blocks.

use std::time::Duration;

use actix_web::http::Method;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use super::client::Response;
use super::cluster::{now_secs, random_hex, Cluster, Vol};
use super::mapping::{self, block_count, SxPath, TMP_DIR};
use super::proto::HexMeta;
use crate::store::{BodyError, BodyStream, ByteRange, StoreError};

/// The block size of a kept part, and of every file over 128 MiB.
pub const BLOCK: u64 = 1 << 20;
/// The size an upload is declared at to get [`BLOCK`]-sized blocks whatever it holds (SX's
/// `sx_hashfs_growable_filesize`: the largest 16 KiB-block size plus one). SX checks that
/// the volume has this much room when the upload starts, without counting it afterwards.
const GROWABLE_SIZE: u64 = (128 << 20) + 1;
/// Kept parts older than this are treated as gone: SX keeps the blocks of an unflushed
/// upload for a day after it starts.
pub const LIFETIME: Duration = Duration::from_secs(20 * 3600);
/// The part record's meta entries: the part's size, its blocks' hashes (concatenated) and
/// when they were sent (Unix seconds, the gateway's clock, as the age is judged).
const SIZE_META: &str = "size";
const BLOCKS_META: &str = "blocks";
const SENT_META: &str = "sent";
/// Block downloads in flight when a kept part is read (only when its bytes must be copied).
const READS_IN_FLIGHT: usize = 4;

/// Bytes one read of kept blocks holds at most: its blocks in flight.
pub(super) const READ_AHEAD: u64 = READS_IN_FLIGHT as u64 * BLOCK;

/// Whether a part of `size` bytes is kept as unflushed blocks: only when it is made of whole
/// [`BLOCK`]s. Its position does not matter: in an object over 128 MiB (the one that has
/// [`BLOCK`]-sized blocks too) its blocks are reused, and in a smaller one they are copied,
/// which moves no more than the object's 128 MiB. Storing the first 128 MiB of a large
/// object as part files instead cost SX a third of its writes and the completion a copy.
pub fn keeps(size: u64) -> bool {
    size > 0 && size % BLOCK == 0
}

/// A kept part, as its record describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptPart {
    pub size: u64,
    pub hashes: Vec<String>,
    /// When its blocks were sent, in Unix seconds.
    pub sent: u64,
}

impl KeptPart {
    /// Whether SX may have dropped the blocks by now.
    pub fn stale(&self) -> bool {
        now_secs().saturating_sub(self.sent) > LIFETIME.as_secs()
    }

    /// Adds the part to its record's meta.
    pub fn record(&self, meta: &mut HexMeta) {
        meta.insert(SIZE_META, self.size.to_string().as_bytes());
        meta.insert(BLOCKS_META, self.hashes.concat().as_bytes());
        meta.insert(SENT_META, self.sent.to_string().as_bytes());
    }
}

/// The kept part a record's meta describes, or None for a part stored as a file. A record
/// that cannot be read (damaged, or from an older build) gives a part sent at time 0: stale,
/// so it is neither listed nor used, and its bytes are never taken as an empty part.
pub fn recorded(meta: &HexMeta) -> Option<KeptPart> {
    meta.contains(BLOCKS_META).then(|| {
        parse(meta).unwrap_or(KeptPart {
            size: 0,
            hashes: Vec::new(),
            sent: 0,
        })
    })
}

fn parse(meta: &HexMeta) -> Option<KeptPart> {
    let number =
        |key: &str| -> Option<u64> { String::from_utf8(meta.get(key)?).ok()?.parse().ok() };
    let (size, sent) = (number(SIZE_META)?, number(SENT_META)?);
    let all = String::from_utf8(meta.get(BLOCKS_META)?).ok()?;
    if all.len() % 40 != 0 || !all.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let hashes: Vec<String> = (0..all.len())
        .step_by(40)
        .map(|i| all[i..i + 40].to_owned())
        .collect();
    (hashes.len() as u64 == block_count(size, BLOCK)).then_some(KeptPart { size, hashes, sent })
}

impl Cluster {
    /// Uploads `data`, whole [`BLOCK`]s (see [`keeps`]), as the blocks of an upload that is
    /// never flushed, when SX lacks all of them (else None, nothing sent). QuotaExceeded
    /// when the volume has less than 128 MiB of room.
    pub(super) async fn upload_unflushed(
        &self,
        vol: &Vol,
        data: &Bytes,
    ) -> Result<Option<KeptPart>, StoreError> {
        let uuid = self
            .client()
            .uuid()
            .ok_or_else(|| StoreError::Internal("SX cluster UUID unknown".into()))?;
        let bs = BLOCK as usize;
        if data.is_empty() || data.len() % bs != 0 {
            return Ok(None);
        }
        // Slices of the body: no block is copied.
        let blocks: Vec<(String, Bytes)> = (0..data.len())
            .step_by(bs)
            .map(|start| {
                let block = data.slice(start..start + bs);
                (mapping::block_hash(&uuid, &block), block)
            })
            .collect();
        let path = SxPath::internal(format!("{TMP_DIR}{}", random_hex(16)?));
        let sent = now_secs();
        if !self
            .upload_new_blocks(vol, &path, GROWABLE_SIZE, BLOCK, &blocks)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(KeptPart {
            size: data.len() as u64,
            hashes: blocks.into_iter().map(|(hash, _)| hash).collect(),
            sent,
        }))
    }

    /// Bytes `range` of a kept part. SX has not told which nodes hold its blocks (and an
    /// unflushed block is on one node only), so each block is asked of every node in turn.
    pub(super) fn unflushed_stream(
        &self,
        vol: &Vol,
        hashes: &[String],
        range: ByteRange,
    ) -> BodyStream {
        let client = self.client().clone();
        let token = vol.token.clone();
        let first_block = range.first / BLOCK;
        let end_block = range.last / BLOCK + 1;
        let hashes: Vec<(u64, String)> = (first_block..end_block)
            .filter_map(|i| hashes.get(i as usize).map(|h| (i, h.clone())))
            .collect();
        stream::iter(hashes)
            .map(move |(i, hash)| {
                let client = client.clone();
                let token = token.clone();
                async move {
                    let path = format!("/.data/{BLOCK}/{hash}");
                    let mut last = format!("no SX node holds block {hash}");
                    for node in client.nodes() {
                        let answer = client
                            .request(
                                std::slice::from_ref(&node),
                                Method::GET,
                                &path,
                                Bytes::new(),
                                &token,
                            )
                            .await
                            .and_then(Response::ok);
                        match answer {
                            Ok(resp) if resp.body.len() as u64 == BLOCK => {
                                let start = i * BLOCK;
                                let from = range.first.max(start) - start;
                                let to = (range.last + 1).min(start + BLOCK) - start;
                                return Ok(resp.body.slice(from as usize..to as usize));
                            }
                            Ok(resp) => {
                                last = format!(
                                    "{node} sent {} bytes for block {hash}",
                                    resp.body.len()
                                )
                            }
                            Err(e) => last = format!("{node}: {e}"),
                        }
                    }
                    Err(BodyError(last.into()))
                }
            })
            .buffered(READS_IN_FLIGHT)
            .boxed_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parts_of_whole_blocks_are_kept() {
        let mib = 1 << 20;
        assert!(keeps(8 * mib));
        assert!(keeps(5 * mib));
        assert!(keeps(mib));
        assert!(!keeps(5 * mib + 1), "not whole blocks");
        assert!(!keeps(mib - 1));
        assert!(!keeps(0));
    }

    #[test]
    fn a_record_gives_back_the_part_it_was_given() {
        let part = KeptPart {
            size: 2 * BLOCK + 5,
            hashes: (0..3).map(|i| format!("{i:040x}")).collect(),
            sent: now_secs(),
        };
        let mut meta = HexMeta::default();
        meta.insert("etag", b"\"x\"");
        part.record(&mut meta);
        assert_eq!(recorded(&meta), Some(part.clone()));
        assert!(!part.stale());
        let old = KeptPart {
            sent: part.sent - LIFETIME.as_secs() - 1,
            ..part.clone()
        };
        assert!(old.stale());
        // A count that does not match the size is a damaged record: stale, never used.
        KeptPart {
            size: BLOCK,
            ..part
        }
        .record(&mut meta);
        assert!(recorded(&meta).is_some_and(|k| k.stale()));
        assert_eq!(recorded(&HexMeta::default()), None);
    }
}
