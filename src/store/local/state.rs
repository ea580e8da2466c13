//! What the embedded store tells the admin endpoint about itself: whether its index answers,
//! and whether each storage directory is there.

use super::index;
use super::LocalStore;
use crate::store::{BackendPart, BackendState};

pub(super) async fn backend_state(store: &LocalStore) -> BackendState {
    let index_path = store
        .shared
        .dirs
        .first()
        .map(|dir| dir.path.join(index::INDEX_FILE))
        .unwrap_or_default();
    // One tiny read transaction: proves the file opens, its schema is there, and a reader
    // connection can be had.
    let index = store.read(index::buckets::count).await;
    let mut parts = vec![BackendPart {
        required: true,
        error: index.as_ref().err().map(|e| e.to_string()),
        ..BackendPart::new(
            "index",
            index_path.display().to_string(),
            Some(index.is_ok()),
        )
    }];
    for dir in &store.shared.dirs {
        let blocks = dir.blocks_root();
        let error = match std::fs::metadata(&blocks) {
            Ok(meta) if meta.is_dir() => None,
            Ok(_) => Some(format!("{} is not a directory", blocks.display())),
            Err(e) => Some(format!("{}: {e}", blocks.display())),
        };
        parts.push(BackendPart {
            path: Some(dir.path.clone()),
            ok: Some(error.is_none()),
            error,
            ..BackendPart::new("storage_dir", dir.path.display().to_string(), None)
        });
    }
    BackendState { parts }
}
