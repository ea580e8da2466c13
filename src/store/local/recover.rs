//! Crash recovery at open: what a crash can leave behind (half-written block files,
//! unreferenced blocks, files no row names) is removed before the store serves.

use rusqlite::Connection;

use super::blocks::{self, StorageDir};
use super::index::{self, INDEX_FILE};
use super::LocalError;
use crate::store::StoreError;

/// Empties `tmp/`, drops unreferenced blocks, sweeps files no row names.
pub(super) fn recover(conn: &Connection, dirs: &[StorageDir]) -> Result<(), LocalError> {
    for dir in dirs {
        let tmp = dir.tmp_dir();
        let removed = blocks::clear_tmp(&tmp).map_err(|source| LocalError::Recovery {
            path: tmp.clone(),
            source: source.into(),
        })?;
        if removed > 0 {
            log::info!(
                "recovery: removed {removed} unfinished block writes in {}",
                tmp.display()
            );
        }
    }

    let index_failure = |source: StoreError| LocalError::Recovery {
        path: dirs
            .first()
            .map(|d| d.path.join(INDEX_FILE))
            .unwrap_or_default(),
        source,
    };
    let unreferenced = index::blocks::unreferenced(conn).map_err(index_failure)?;
    if !unreferenced.is_empty() {
        index::blocks::delete_all_unreferenced(conn).map_err(index_failure)?;
        for (hash, dir_id) in &unreferenced {
            let (Ok(hash), Some(dir)) = (
                <[u8; 32]>::try_from(hash.as_slice()),
                dirs.iter().find(|d| d.id == *dir_id),
            ) else {
                continue;
            };
            blocks::remove_block_file(dir, &hash);
        }
        log::info!(
            "recovery: removed {} unreferenced blocks",
            unreferenced.len()
        );
    }

    let mut located = index::blocks::DirLookup::new(conn).map_err(index_failure)?;
    for dir in dirs {
        log::info!("recovery: checking block files in {}", dir.path.display());
        let (seen, removed) =
            blocks::sweep_unreferenced(dir, |hash| Ok(located.get(hash)? == Some(dir.id)))
                .map_err(|source| LocalError::Recovery {
                    path: dir.blocks_root(),
                    source,
                })?;
        log::info!(
            "recovery: {seen} block files in {}, removed {removed} that no object uses",
            dir.path.display()
        );
    }
    Ok(())
}
