//! Periodic maintenance the server schedules: clean-up of abandoned multipart uploads
//! (their parts hold disk space that no client will ever complete or abort).

use std::time::{Duration, SystemTime};

use crate::store::{ObjectStore, StoreError};

/// Uploads older than this are abandoned unless configured otherwise (7 days).
pub const DEFAULT_UPLOAD_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Uploads aborted per store call, so one pass never holds the index for long.
const BATCH: usize = 100;

/// Aborts every multipart upload initiated more than `max_age` before `now`, logging each one,
/// and returns how many went. Their parts' space comes back through the store's usual
/// garbage collection.
pub async fn clean_abandoned_uploads<S: ObjectStore>(
    store: &S,
    max_age: Duration,
    now: SystemTime,
) -> Result<usize, StoreError> {
    let cutoff = now.checked_sub(max_age).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut total = 0;
    loop {
        let aborted = store.abort_uploads_initiated_before(cutoff, BATCH).await?;
        for gone in &aborted {
            log::info!(
                "aborted abandoned multipart upload {} of {}/{} (initiated {})",
                gone.upload.upload_id,
                gone.bucket,
                gone.upload.key,
                crate::time::iso8601(gone.upload.initiated)
            );
        }
        total += aborted.len();
        if aborted.len() < BATCH {
            return Ok(total);
        }
    }
}

/// Runs [`clean_abandoned_uploads`] every `interval` for ever; spawn it on the server's
/// runtime (`actix_web::rt::spawn`). Errors are logged and retried at the next tick.
pub async fn run_upload_cleaner<S: ObjectStore>(store: &S, max_age: Duration, interval: Duration) {
    loop {
        match clean_abandoned_uploads(store, max_age, SystemTime::now()).await {
            Ok(0) => {}
            Ok(n) => log::info!("removed {n} abandoned multipart uploads"),
            Err(e) => log::error!("cleaning abandoned multipart uploads: {e}"),
        }
        actix_web::rt::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::LocalStore;
    use crate::store::{ObjectMeta, Principal};

    #[actix_web::test]
    async fn only_old_uploads_are_removed() {
        let dir = std::env::temp_dir().join(format!("libres3-clean-{}", std::process::id()));
        let store = LocalStore::open(std::slice::from_ref(&dir)).unwrap();
        let who = Principal::User("u".into());
        store.create_bucket(&who, "bkt").await.unwrap();
        let mut ids = Vec::new();
        for key in ["a", "b", "c"] {
            ids.push(
                store
                    .create_multipart(&who, "bkt", key, ObjectMeta::default())
                    .await
                    .unwrap(),
            );
        }
        let now = SystemTime::now();
        // Nothing is a week old yet.
        assert_eq!(
            clean_abandoned_uploads(&store, DEFAULT_UPLOAD_MAX_AGE, now)
                .await
                .unwrap(),
            0
        );
        // A week later, all three are.
        let later = now + DEFAULT_UPLOAD_MAX_AGE + Duration::from_secs(1);
        assert_eq!(
            clean_abandoned_uploads(&store, DEFAULT_UPLOAD_MAX_AGE, later)
                .await
                .unwrap(),
            3
        );
        let left = store
            .list_multipart_uploads(&who, "bkt", "", None, 10)
            .await
            .unwrap();
        assert!(left.is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
