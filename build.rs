//! Stamps the binary with what `libres3 --version` prints besides the version: the git
//! commit it was built from and the target triple (which tells the static musl build from
//! a glibc one).
//!
//! The commit comes from, in order: the environment variable LIBRES3_COMMIT (set by
//! packaging that builds from a tarball without .git), `git rev-parse` when this crate is
//! the top of a git work tree, else "unknown". No crate is needed for either.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBRES3_COMMIT");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=LIBRES3_TARGET={target}");

    let from_env = std::env::var("LIBRES3_COMMIT")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let commit = from_env
        .or_else(from_git)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LIBRES3_COMMIT={commit}");
}

/// The abbreviated HEAD commit, when the crate's own directory is the top of a git work
/// tree (not a tarball unpacked somewhere inside another repository).
fn from_git() -> Option<String> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let top = git(&dir, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), &dir) {
        return None;
    }
    let commit = git(&dir, &["rev-parse", "--short=12", "HEAD"])?;
    // Rerun when HEAD moves: HEAD itself (a checkout) and the ref it names (a commit).
    // Only existing files: cargo reruns on every build for a path that does not exist.
    let git_dir = PathBuf::from(git(&dir, &["rev-parse", "--absolute-git-dir"])?);
    let common = git(&dir, &["rev-parse", "--git-common-dir"])
        .map(|c| absolute(&dir, &c))
        .unwrap_or_else(|| git_dir.clone());
    let mut watch = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(reference) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(common.join(reference));
    }
    for path in watch.iter().filter(|p| p.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(commit)
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn absolute(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
