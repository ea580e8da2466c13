//! Completed multipart uploads, remembered for [`COMPLETED_UPLOAD_KEPT`] on the cluster (a file
//! per upload, `.libres3/done/<id>`, everything in its meta) so that every gateway recognises
//! a repeated completion the same way.

use std::time::{Duration, UNIX_EPOCH};

use super::cluster::{now_secs, Cluster, Vol};
use super::listing::Scan;
use super::mapping::SxPath;
use super::multipart::valid_upload_id;
use super::proto::HexMeta;
use crate::store::{CompletedUpload, StoreError, COMPLETED_UPLOAD_KEPT};

/// Completed uploads: one record file each.
const DONE_DIR: &str = ".libres3/done/";

fn done_path(upload_id: &str) -> SxPath {
    SxPath::internal(format!("{DONE_DIR}{upload_id}"))
}

fn record_meta(done: &CompletedUpload) -> HexMeta {
    let secs = done
        .completed
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut m = HexMeta::default();
    m.insert("key", done.key.as_bytes());
    m.insert("etag", done.etag.as_bytes());
    m.insert("parts", done.parts_digest.as_bytes());
    m.insert("completed", secs.to_string().as_bytes());
    m
}

fn parse_record(meta: &HexMeta) -> Option<CompletedUpload> {
    let text = |name: &str| meta.get(name).and_then(|v| String::from_utf8(v).ok());
    let secs: u64 = text("completed")?.parse().ok()?;
    Some(CompletedUpload {
        key: text("key")?,
        etag: text("etag")?,
        parts_digest: text("parts")?,
        completed: UNIX_EPOCH + Duration::from_secs(secs),
    })
}

/// Whether a record made at `completed` (seconds) has outlived [`COMPLETED_UPLOAD_KEPT`].
fn expired(completed: u64) -> bool {
    completed.saturating_add(COMPLETED_UPLOAD_KEPT.as_secs()) < now_secs()
}

impl Cluster {
    /// Remembers a completion. A failure only costs a repeat its 200, so it is logged, not
    /// returned: the object is already written.
    pub(super) async fn record_completion(
        &self,
        vol: &Vol,
        upload_id: &str,
        done: &CompletedUpload,
    ) {
        let written = self
            .create_from_hashes(vol, &done_path(upload_id), 0, &[], Some(&record_meta(done)))
            .await;
        if let Err(e) = written {
            log::warn!("SX: upload {upload_id}: its completion could not be recorded: {e}");
        }
    }

    pub(super) async fn completed_upload(
        &self,
        vol: &Vol,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<CompletedUpload>, StoreError> {
        if !valid_upload_id(upload_id) {
            return Ok(None);
        }
        let meta = match self.file_meta(vol, &done_path(upload_id)).await {
            Ok(meta) => meta,
            Err(StoreError::NoSuchKey) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(parse_record(&meta).filter(|done| {
            let secs = done
                .completed
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            done.key == key && !expired(secs)
        }))
    }

    /// Removes the records older than [`COMPLETED_UPLOAD_KEPT`] (and unreadable ones).
    pub(super) async fn forget_old_completions(&self, vol: &Vol) -> Result<(), StoreError> {
        let mut doomed = Vec::new();
        self.scan(vol, DONE_DIR.to_owned(), usize::MAX, |name, entry| {
            if !name.starts_with(DONE_DIR) {
                return Scan::Stop;
            }
            let completed = entry
                .file_meta
                .as_ref()
                .and_then(|m| m.get("completed"))
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|v| v.parse::<u64>().ok());
            if completed.is_none_or(expired) {
                doomed.push(SxPath::internal(name.to_owned()));
            }
            Scan::Take
        })
        .await?;
        for path in doomed {
            self.delete_path(vol, &path).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_expire() {
        let done = CompletedUpload {
            key: "a/€".into(),
            etag: "0123-2".into(),
            parts_digest: "d".into(),
            completed: UNIX_EPOCH + Duration::from_secs(now_secs()),
        };
        assert_eq!(parse_record(&record_meta(&done)), Some(done));
        assert!(!expired(now_secs()));
        assert!(expired(now_secs() - COMPLETED_UPLOAD_KEPT.as_secs() - 1));
    }
}
