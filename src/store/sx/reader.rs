//! Reading objects: a file's block list with the meta of that same revision, and
//! [`SxReader`], which streams a byte range of those blocks from the nodes holding them.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use super::auth::Token;
use super::batches;
use super::client::{Response, SxClient};
use super::cluster::{internal, store_error, Cluster, Vol};
use super::mapping::{meta_from_sx, url_encode, SxPath};
use super::proto::{self, HexMeta};
use super::versioned::{file_micros, file_version, from_micros};
use crate::store::{ByteRange, DataStream, ObjectInfo, ObjectReader, StoreError};

/// Block downloads in flight per object read: they spread over the nodes holding the blocks
/// (see [`batches`]), and bound the read-ahead to this many batches of at most
/// [`batches::MAX_BYTES`].
const DOWNLOADS_IN_FLIGHT: usize = 8;
/// How long a node that failed is asked only after the other holders of a batch.
const FAILURE_REMEMBERED: Duration = Duration::from_secs(30);

/// Bytes one read of a file of `block_size`-byte blocks holds at most: its batches in flight.
pub(super) fn read_ahead(block_size: u64) -> u64 {
    // The block size comes from SX: saturating, since it is not checked here.
    (DOWNLOADS_IN_FLIGHT as u64)
        .saturating_mul(batches::per_batch(block_size) as u64)
        .saturating_mul(block_size)
}

impl Cluster {
    /// A file's block list (`GET /<vol>/<path>`).
    pub(super) async fn file(&self, vol: &Vol, path: &SxPath) -> Result<proto::File, StoreError> {
        self.vol_request(vol, Method::GET, &Self::file_url(vol, path), Bytes::new())
            .await
            .and_then(Response::json)
            .map_err(|e| store_error(e, StoreError::NoSuchKey))
    }

    pub(super) async fn file_meta(&self, vol: &Vol, path: &SxPath) -> Result<HexMeta, StoreError> {
        self.file_meta_at(vol, path, "").await
    }

    /// The custom meta of one revision of a file (`rev` empty: the newest).
    pub(super) async fn file_meta_at(
        &self,
        vol: &Vol,
        path: &SxPath,
        rev: &str,
    ) -> Result<HexMeta, StoreError> {
        let mut url = format!("{}?fileMeta", Self::file_url(vol, path));
        if !rev.is_empty() {
            url.push_str("&rev=");
            url.push_str(&url_encode(rev, false));
        }
        self.vol_request(vol, Method::GET, &url, Bytes::new())
            .await
            .and_then(Response::json::<proto::FileMeta>)
            .map(|m| m.file_meta)
            .map_err(|e| store_error(e, StoreError::NoSuchKey))
    }

    /// A file's block list and the meta of that same revision. The two are separate requests:
    /// asking for the meta of the revision the block list came from keeps a concurrent
    /// overwrite from pairing one version's data with another's ETag. A revision dropped in
    /// between (the overwrite won) is read again, a few times.
    pub(super) async fn file_with_meta(
        &self,
        vol: &Vol,
        path: &SxPath,
    ) -> Result<(proto::File, HexMeta), StoreError> {
        let mut attempt = 1;
        loop {
            let file = self.file(vol, path).await?;
            match self.file_meta_at(vol, path, &file.file_revision).await {
                Ok(meta) => return Ok((file, meta)),
                Err(StoreError::NoSuchKey) if attempt < 4 => attempt += 1,
                Err(StoreError::NoSuchKey) => return Err(StoreError::SourceChanged),
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) fn reader(
        &self,
        vol: &Vol,
        key: String,
        file: proto::File,
        sx_meta: &HexMeta,
    ) -> SxReader {
        SxReader {
            client: self.client().clone(),
            token: vol.token.clone(),
            info: ObjectInfo {
                key,
                size: file.file_size,
                last_modified: from_micros(file_micros(Some(sx_meta), file.created_at)),
                meta: meta_from_sx(Some(sx_meta), &file.file_revision),
                version_id: file_version(Some(sx_meta)),
            },
            block_size: file.block_size.max(1),
            blocks: file.file_data,
        }
    }
}

/// An opened object: its block list is fixed when opened.
pub struct SxReader {
    client: SxClient,
    token: Token,
    info: ObjectInfo,
    block_size: u64,
    blocks: Vec<proto::Block>,
}

impl SxReader {
    /// `nodes` with those whose last request failed lately moved to the end, so a node that
    /// is down costs one failed request, not one per batch.
    fn failed_nodes_last(&self, nodes: Vec<String>) -> Vec<String> {
        let outcomes = self.client.node_outcomes();
        batches::failed_last(nodes, |node| {
            outcomes.iter().any(|(n, seen)| {
                n == node
                    && seen
                        .as_ref()
                        .is_some_and(|(last, ago, _)| last.is_err() && *ago < FAILURE_REMEMBERED)
            })
        })
    }
}

impl ObjectReader for SxReader {
    fn info(&self) -> &ObjectInfo {
        &self.info
    }

    fn stream(self, range: Option<ByteRange>) -> DataStream {
        let size = self.info.size;
        let (first, end) = match range {
            Some(r) => (r.first, r.last.saturating_add(1).min(size)),
            None => (0, size),
        };
        if first >= end || self.blocks.is_empty() {
            return stream::empty().boxed_local();
        }
        let bs = self.block_size;
        let first_block = (first / bs) as usize;
        let end_block = (end.div_ceil(bs) as usize).min(self.blocks.len());
        let holders: Vec<&[String]> = self.blocks.iter().map(|b| &*b.nodes).collect();
        let plan = batches::plan(&holders, first_block..end_block, bs);
        let reader = Arc::new(self);
        // `buffered` runs the next batches while the client reads, and only while it reads:
        // a client that stops leaves at most DOWNLOADS_IN_FLIGHT batches in memory.
        stream::iter(plan)
            .map(move |batch| {
                let reader = reader.clone();
                async move {
                    let (i, j) = (batch.blocks.start, batch.blocks.end);
                    let mut path = format!("/.data/{bs}/");
                    for block in &reader.blocks[i..j] {
                        path.push_str(&block.hash);
                    }
                    let nodes = reader.failed_nodes_last(batch.nodes);
                    let resp = reader
                        .client
                        .request(&nodes, Method::GET, &path, Bytes::new(), &reader.token)
                        .await
                        .and_then(Response::ok)
                        .map_err(internal)?;
                    let data = resp.body;
                    if data.len() as u64 != (j - i) as u64 * bs {
                        return Err(StoreError::Internal(format!(
                            "SX sent {} bytes for {} blocks of {bs}",
                            data.len(),
                            j - i
                        )));
                    }
                    let start = i as u64 * bs;
                    let from = first.max(start) - start;
                    let to = end.min(j as u64 * bs) - start;
                    Ok(data.slice(from as usize..to as usize))
                }
            })
            .buffered(DOWNLOADS_IN_FLIGHT)
            .boxed_local()
    }
}
