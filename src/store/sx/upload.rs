//! Writing an SX file: data cut into blocks and hashed as it arrives, known blocks reused,
//! only the blocks SX lacks sent, in parts of [`PART_BYTES`]; then the flush that shows it.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::Method;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt};

use super::client::{Response, SxError};
use super::cluster::{internal, json_body, store_error, take_turn, Cluster, Vol};
use super::mapping::{self, block_count, block_size, SxPath};
use super::objects::ConditionalWrite;
use super::proto::{CreateFile, ExtendFile, HexMeta, Upload};
use crate::store::{BodyError, BodyStream, StoreError, WriteCondition};

/// Block data held in memory per upload before asking SX which blocks it lacks.
pub const PART_BYTES: u64 = 8 << 20;
/// Largest `.data` upload (SX `UPLOAD_CHUNK_SIZE`).
const UPLOAD_BATCH: u64 = 4 << 20;
/// Block uploads in flight per object write.
const UPLOADS_IN_FLIGHT: usize = 4;
/// Hashes per create/extend request when re-creating a file from known blocks.
const HASHES_PER_REQUEST: usize = 8192;
/// How long a flush job runs before the volume's nodes are checked (see
/// [`Cluster::volume_node_down`]); then again at this interval while it runs.
const FLUSH_PATIENCE: Duration = Duration::from_secs(3);
/// How an SX flush job ends when a newer revision of the file was committed meanwhile.
const NEWER_COPY: &str = "Newer copies of this file already exist";

/// A body that does not match what its request declared (length).
pub(super) fn body_error(message: &str) -> StoreError {
    StoreError::Body(BodyError(message.to_owned().into()))
}

impl Cluster {
    /// Sends one create (first) or extend (later) request; returns the blocks SX lacks.
    #[allow(clippy::too_many_arguments)]
    async fn create_or_extend(
        &self,
        vol: &Vol,
        path: &SxPath,
        session: &mut Option<(String, String)>,
        size: u64,
        seq: u64,
        hashes: &[String],
        meta: Option<&HexMeta>,
    ) -> Result<Upload, StoreError> {
        let resp = match session {
            None => {
                let body = json_body(&CreateFile {
                    file_size: size,
                    file_data: hashes,
                    file_meta: meta,
                });
                self.vol_request(vol, Method::PUT, &Self::file_url(vol, path), body)
                    .await
            }
            Some((token, node)) => {
                let body = json_body(&ExtendFile {
                    extend_seq: seq,
                    file_data: hashes,
                });
                self.client()
                    .request(
                        std::slice::from_ref(node),
                        Method::PUT,
                        &format!("/.upload/{token}"),
                        body,
                        &vol.token,
                    )
                    .await
            }
        };
        let resp = resp.map_err(|e| store_error(e, StoreError::NoSuchBucket))?;
        let node = resp.node.clone();
        let upload: Upload = resp
            .json()
            .map_err(|e| store_error(e, StoreError::NoSuchBucket))?;
        if session.is_none() {
            *session = Some((upload.upload_token.clone(), node));
        }
        Ok(upload)
    }

    /// Makes an upload visible: flush on the token's node, then wait for the job.
    async fn flush(&self, vol: &Vol, session: &(String, String)) -> Result<(), StoreError> {
        let (token, node) = session;
        let resp = self
            .client()
            .request(
                std::slice::from_ref(node),
                Method::PUT,
                &format!("/.upload/{token}"),
                Bytes::new(),
                &vol.token,
            )
            .await
            .and_then(Response::ok)
            .map_err(internal)?;
        let job = std::pin::pin!(self.client().wait_job(resp, &vol.token));
        let down = std::pin::pin!(self.volume_node_down(vol));
        let ended = match futures_util::future::select(job, down).await {
            futures_util::future::Either::Left((ended, _)) => ended,
            futures_util::future::Either::Right((node, _)) => {
                log::warn!(
                    "SX node {node} of volume {} does not answer: the flush cannot complete",
                    vol.name
                );
                return Err(StoreError::Unavailable(format!(
                    "SX node {node} of volume {} is down; SX cannot complete writes to the \
                     volume until it is back",
                    vol.name
                )));
            }
        };
        match ended {
            // Another writer's flush of the same name landed first with a newer revision: S3
            // is last-writer-wins, and this write happened (and was overwritten at once).
            Err(SxError::Job(message)) if message.contains(NEWER_COPY) => {
                log::debug!("SX: {message}: a concurrent write of the same name won");
                Ok(())
            }
            other => other.map_err(internal),
        }
    }

    /// Resolves, with its address, once a node of the volume is seen down; never while they
    /// all answer. A flush that needs a node which is down does not fail on its own until
    /// SX's cluster timeout (a minute, seen with an empty file on a replica-2 volume), so a
    /// flush still running after [`FLUSH_PATIENCE`] looks at the volume's nodes.
    async fn volume_node_down(&self, vol: &Vol) -> String {
        actix_web::rt::time::sleep(FLUSH_PATIENCE).await;
        loop {
            for node in vol.loc.node_list.iter() {
                let asked = self
                    .client()
                    .request(
                        std::slice::from_ref(node),
                        Method::GET,
                        "/?nodeList",
                        Bytes::new(),
                        self.admin(),
                    )
                    .await;
                if let Err(SxError::Unavailable(_)) = asked {
                    return node.clone();
                }
            }
            actix_web::rt::time::sleep(FLUSH_PATIENCE).await;
        }
    }

    /// Sends the blocks SX asked for, grouped per node in batches of at most 4 MiB.
    async fn send_blocks(
        &self,
        vol: &Vol,
        upload_token: &str,
        bs: u64,
        missing: &std::collections::BTreeMap<String, Vec<String>>,
        data: &HashMap<&str, Bytes>,
    ) -> Result<(), StoreError> {
        let mut per_node: HashMap<&[String], Vec<Bytes>> = HashMap::new();
        for (hash, nodes) in missing {
            let block = data.get(hash.as_str()).ok_or_else(|| {
                StoreError::Internal(format!("SX no longer holds block {hash} of a staged body"))
            })?;
            if nodes.is_empty() {
                return Err(StoreError::Internal(format!(
                    "SX named no node for block {hash}"
                )));
            }
            per_node
                .entry(nodes.as_slice())
                .or_default()
                .push(block.clone());
        }
        let per_batch = (UPLOAD_BATCH / bs).max(1) as usize;
        let mut batches = Vec::new();
        for (nodes, blocks) in per_node {
            for chunk in blocks.chunks(per_batch) {
                // Sent as the blocks themselves: no batch-sized copy per upload in flight.
                batches.push((nodes.to_vec(), chunk.to_vec()));
            }
        }
        let path = format!("/.data/{bs}/{upload_token}");
        let mut sent = stream::iter(batches.into_iter().map(|(nodes, body)| {
            let path = &path;
            async move {
                self.client()
                    .request_parts(&nodes, Method::PUT, path, body, &vol.token)
                    .await
                    .and_then(Response::ok)
                    .map(|_| ())
            }
        }))
        .buffer_unordered(UPLOADS_IN_FLIGHT);
        while let Some(result) = sent.next().await {
            result.map_err(internal)?;
        }
        Ok(())
    }

    /// Writes a new SX file of `size` bytes at `path` from segments: data is cut into blocks
    /// and hashed as it arrives, known block hashes are used as they are; only the blocks SX
    /// lacks are sent, in parts so memory stays bounded. Returns the block size and hashes.
    ///
    /// Writes of one name through this gateway go one at a time. SX 2.3 races when flushes of
    /// one file overlap: besides refusing the older revision ("Newer copies of this file
    /// already exist", which is fine), its job manager can hit a foreign-key failure on the
    /// file meta and retry the flush job every second for over a minute before dropping it
    /// (seen with sixteen concurrent writers of one key on two nodes), leaving the S3 client
    /// without an answer. In turn, each write takes one flush (tens to hundreds of ms).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_file(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        segments: Vec<Segment>,
        meta: Option<&HexMeta>,
        conditional: Option<&ConditionalWrite<'_>>,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let _turn = self.writing_turn(vol, path).await;
        let recheck = conditional.map(|c| c.condition);
        let written = self
            .write_file_now(vol, path, size, segments, meta, recheck)
            .await?;
        if let Some(conditional) = conditional {
            // Still this gateway's turn: only another gateway can have replaced the file.
            self.verify_write_id(vol, path, conditional.write_id)
                .await?;
        }
        Ok(written)
    }

    /// Waits until no other write or conditional delete of `path` runs through this gateway;
    /// the turn lasts as long as the guard.
    pub(super) async fn writing_turn(
        &self,
        vol: &Vol,
        path: &SxPath,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        take_turn(
            &self.inner.writing,
            (vol.name.clone(), path.as_str().to_owned()),
        )
        .await
    }

    async fn write_file_now(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        segments: Vec<Segment>,
        meta: Option<&HexMeta>,
        recheck: Option<&WriteCondition>,
    ) -> Result<(u64, Vec<String>), StoreError> {
        // SX derives the block size from the file size alone (sx-protocol.md §10, checked
        // against SX 2.3's `size_to_blocks`): no locate request per write.
        let bs = block_size(size);
        let uuid = self
            .client()
            .uuid()
            .ok_or_else(|| StoreError::Internal("SX cluster UUID unknown".into()))?;
        let mut w = PartWriter {
            store: self,
            vol,
            path,
            size,
            bs,
            meta,
            session: None,
            all: Vec::with_capacity(block_count(size, bs) as usize),
            part: Vec::new(),
            held: 0,
        };
        let mut block = BytesMut::with_capacity(bs as usize);
        let mut total = 0u64;
        for segment in segments {
            match segment {
                Segment::Hashes(hashes, len) => {
                    if !block.is_empty() {
                        return Err(StoreError::Internal("unaligned block list".into()));
                    }
                    for hash in hashes {
                        w.push(hash, None).await?;
                    }
                    total += len;
                }
                Segment::Data(mut body, len) => {
                    let mut received = 0u64;
                    while let Some(chunk) = body.next().await {
                        let mut chunk = chunk.map_err(StoreError::Body)?;
                        received += chunk.len() as u64;
                        if received > len {
                            return Err(body_error("the body is longer than its declared length"));
                        }
                        while !chunk.is_empty() {
                            if block.is_empty() && chunk.len() >= bs as usize {
                                // A whole block of the chunk: kept as a slice, not copied.
                                let full = chunk.split_to(bs as usize);
                                w.push(mapping::block_hash(&uuid, &full), Some(full))
                                    .await?;
                                continue;
                            }
                            let take = (bs as usize - block.len()).min(chunk.len());
                            block.extend_from_slice(&chunk.split_to(take));
                            if block.len() == bs as usize {
                                let full = block.split().freeze();
                                w.push(mapping::block_hash(&uuid, &full), Some(full))
                                    .await?;
                            }
                        }
                    }
                    if received != len {
                        return Err(body_error("the body is shorter than its declared length"));
                    }
                    total += len;
                }
            }
        }
        if !block.is_empty() {
            block.resize(bs as usize, 0);
            let last = block.split().freeze();
            w.push(mapping::block_hash(&uuid, &last), Some(last))
                .await?;
        }
        if total != size || w.all.len() + w.part.len() != block_count(size, bs) as usize {
            return Err(StoreError::Internal(format!(
                "{} blocks of {bs} bytes for a file of {size} bytes",
                w.all.len() + w.part.len()
            )));
        }
        w.send().await?;
        let session = w.session.take();
        let all = std::mem::take(&mut w.all);
        if let Some(condition) = recheck {
            // As late as possible: the flush below is what makes the write visible. If the
            // condition no longer holds, the upload is dropped unflushed (SX forgets it).
            self.check_condition(vol, path, condition).await?;
        }
        match &session {
            Some(session) => self.flush(vol, session).await?,
            None => return Err(StoreError::Internal("no SX upload was started".into())),
        }
        Ok((bs, all))
    }

    /// Announces `blocks` as the start of an upload of `declared` bytes at `path` and, if
    /// SX lacks every one of them, sends them without a flush: the upload stays invisible
    /// (see `super::unflushed`). False, with nothing sent, when SX holds any of them already.
    pub(super) async fn upload_new_blocks(
        &self,
        vol: &Vol,
        path: &SxPath,
        declared: u64,
        bs: u64,
        blocks: &[(String, Bytes)],
    ) -> Result<bool, StoreError> {
        let data: HashMap<&str, Bytes> = blocks
            .iter()
            .map(|(hash, block)| (hash.as_str(), block.clone()))
            .collect();
        let hashes: Vec<String> = blocks.iter().map(|(hash, _)| hash.clone()).collect();
        let mut session = None;
        let upload = self
            .create_or_extend(vol, path, &mut session, declared, 0, &hashes, None)
            .await?;
        if upload.upload_data.len() < data.len() {
            return Ok(false);
        }
        self.send_blocks(vol, &upload.upload_token, bs, &upload.upload_data, &data)
            .await?;
        Ok(true)
    }

    /// Creates a file from blocks SX already holds (commit, parts, multipart completion).
    pub(super) async fn create_from_hashes(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        hashes: &[String],
        meta: Option<&HexMeta>,
    ) -> Result<(), StoreError> {
        self.write_file(
            vol,
            path,
            size,
            vec![Segment::Hashes(hashes.to_vec(), size)],
            meta,
            None,
        )
        .await
        .map(|_| ())
    }
}

/// What a new SX file is made of.
pub(super) enum Segment {
    /// Blocks SX already holds, covering the given number of bytes.
    Hashes(Vec<String>, u64),
    /// Bytes to cut into blocks, of the given length.
    Data(BodyStream, u64),
}

/// The part of an upload not yet announced to SX: hashes, with the data of the blocks we have.
struct PartWriter<'a> {
    store: &'a Cluster,
    vol: &'a Vol,
    path: &'a SxPath,
    size: u64,
    bs: u64,
    meta: Option<&'a HexMeta>,
    /// Upload token and the node that issued it.
    session: Option<(String, String)>,
    all: Vec<String>,
    part: Vec<(String, Option<Bytes>)>,
    held: u64,
}

impl PartWriter<'_> {
    async fn push(&mut self, hash: String, data: Option<Bytes>) -> Result<(), StoreError> {
        if data.is_some() {
            self.held += self.bs;
        }
        self.part.push((hash, data));
        if self.held >= PART_BYTES || self.part.len() >= HASHES_PER_REQUEST {
            self.send().await?;
        }
        Ok(())
    }

    /// Announces the held blocks (create, then extend) and sends those SX lacks.
    async fn send(&mut self) -> Result<(), StoreError> {
        if self.part.is_empty() && self.session.is_some() {
            return Ok(());
        }
        let hashes: Vec<String> = self.part.iter().map(|(h, _)| h.clone()).collect();
        let seq = self.all.len() as u64;
        let upload = self
            .store
            .create_or_extend(
                self.vol,
                self.path,
                &mut self.session,
                self.size,
                seq,
                &hashes,
                self.meta,
            )
            .await?;
        if !upload.upload_data.is_empty() {
            let data: HashMap<&str, Bytes> = self
                .part
                .iter()
                .filter_map(|(h, b)| b.as_ref().map(|b| (h.as_str(), b.clone())))
                .collect();
            self.store
                .send_blocks(
                    self.vol,
                    &upload.upload_token,
                    self.bs,
                    &upload.upload_data,
                    &data,
                )
                .await?;
        }
        self.all.extend(hashes);
        self.part.clear();
        self.held = 0;
        Ok(())
    }
}
