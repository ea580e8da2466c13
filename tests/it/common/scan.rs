//! Scans of what a server left on disk: every file under its data directories, and those
//! holding a given byte string (a plaintext marker that encryption must hide).

use std::path::PathBuf;

/// Every file below `dirs`, sorted (directories that cannot be read, or vanish while being
/// walked, are skipped).
pub fn files_under(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The files under `dirs` that contain `needle` (files removed while scanning are skipped).
pub fn files_containing(dirs: &[PathBuf], needle: &[u8]) -> Vec<PathBuf> {
    files_under(dirs)
        .into_iter()
        .filter(|file| {
            std::fs::read(file).is_ok_and(|data| data.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}
