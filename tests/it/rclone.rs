//! rclone: copy/sync/check to an S3 remote, multipart above a small cutoff.

use crate::common::clients::Rclone;
use crate::common::{assert_bytes_eq, read, test_data, unique_bucket, write, TestServer};

const MIB: usize = 1024 * 1024;

fn rclone_copy_sync_check(s: &TestServer) {
    let rc = Rclone::new(s);
    let dir = s.scratch("rclone");
    let b = unique_bucket("rclone");
    rc.ok(&["mkdir", &format!("it:{b}")]);
    let src = dir.join("src");
    for (i, name) in [
        "a.txt",
        "dir/b.bin",
        "dir/sub/c.bin",
        "spa ce+plus.txt",
        "ünï.txt",
    ]
    .iter()
    .enumerate()
    {
        write(src.join(name), &test_data(3000 * (i + 1), 50 + i as u64));
    }
    let src_s = src.to_str().unwrap();
    let remote = format!("it:{b}/copy");
    rc.ok(&["copy", src_s, &remote]);
    rc.ok(&["check", src_s, &remote]);
    let lsf = rc.ok(&["lsf", "-R", "--files-only", &remote]);
    let mut files: Vec<&str> = lsf.lines().collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            "a.txt",
            "dir/b.bin",
            "dir/sub/c.bin",
            "spa ce+plus.txt",
            "ünï.txt"
        ]
    );
    // cat returns the bytes.
    let out = rc.output(&["cat", &format!("{remote}/dir/b.bin")]);
    assert!(out.status.success());
    assert_bytes_eq(&out.stdout, &read(src.join("dir/b.bin")), "rclone cat");

    // Modify, delete, sync; check must then agree and a mismatch must be found.
    write(src.join("a.txt"), b"changed");
    std::fs::remove_file(src.join("dir/sub/c.bin")).unwrap();
    rc.ok(&["sync", src_s, &remote]);
    rc.ok(&["check", src_s, &remote]);
    let lsf = rc.ok(&["lsf", "-R", "--files-only", &remote]);
    assert!(!lsf.contains("c.bin"), "{lsf}");
    write(src.join("a.txt"), b"changed again locally");
    let out = rc.output(&["check", src_s, &remote]);
    assert!(
        !out.status.success(),
        "rclone check should see the difference"
    );

    // Back down.
    let dst = dir.join("dst");
    rc.ok(&["copy", &remote, dst.to_str().unwrap()]);
    assert_eq!(read(dst.join("a.txt")), b"changed");
    assert_eq!(read(dst.join("dir/b.bin")), read(src.join("dir/b.bin")));
}

fn rclone_multipart_upload(s: &TestServer) {
    let rc = Rclone::new(s);
    let dir = s.scratch("rclone-large");
    let b = unique_bucket("rclone-large");
    rc.ok(&["mkdir", &format!("it:{b}")]);
    let data = test_data(12 * MIB + 99, 3);
    write(dir.join("src/big.bin"), &data);
    let src = dir.join("src");
    let flags = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"];
    let mut args = vec!["copy", src.to_str().unwrap(), &format!("it:{b}")]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    args.extend(flags.iter().map(|f| f.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    rc.ok(&args);
    let parts: Vec<&[u8]> = data.chunks(5 * MIB).collect();
    let r = s
        .raw()
        .head(&crate::common::raw::obj_path(&b, "big.bin"))
        .send()
        .ok();
    assert_eq!(
        r.header("etag"),
        Some(crate::common::multipart_etag(&parts).as_str()),
        "rclone uploaded 3 parts of 5 MiB"
    );
    // rclone keeps the whole-file MD5 in metadata for multipart objects.
    assert!(
        r.header("x-amz-meta-md5chksum").is_some(),
        "{:?}",
        r.headers
    );
    rc.ok(&["check", src.to_str().unwrap(), &format!("it:{b}")]);
    let dst = dir.join("dst");
    rc.ok(&["copy", &format!("it:{b}"), dst.to_str().unwrap()]);
    assert_bytes_eq(
        &read(dst.join("big.bin")),
        &data,
        "rclone multipart round trip",
    );
}

/// Undoing an overwrite the way rclone users do: `--s3-versions` shows the old version as
/// `name-vTIMESTAMP.ext`, which reads and copies back like any file.
fn rclone_lists_and_restores_old_versions(s: &TestServer) {
    let rc = Rclone::new(s);
    let c = s.raw();
    let b = crate::s3_versioning::versioned_bucket(&c, "rclone-versions");
    let local = s.scratch("rclone-versions").join("doc.txt");
    let local_s = local.to_str().unwrap();
    let remote = format!("it:{b}/doc.txt");
    write(&local, b"the first draft");
    rc.ok(&["copyto", local_s, &remote]);
    write(&local, b"an accidental overwrite");
    rc.ok(&["copyto", local_s, &remote]);

    let listed = rc.ok(&["lsf", "--s3-versions", &format!("it:{b}")]);
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort();
    assert_eq!(names.len(), 2, "{listed}");
    assert!(names.contains(&"doc.txt"), "{listed}");
    let old = names
        .iter()
        .find(|n| n.starts_with("doc-v") && n.ends_with(".txt"))
        .unwrap_or_else(|| panic!("no old version listed: {listed}"));
    let old_remote = format!("it:{b}/{old}");
    let out = rc.output(&["cat", "--s3-versions", &old_remote]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"the first draft");
    rc.ok(&["copyto", "--s3-versions", &old_remote, &remote]);
    assert_eq!(c.get_object(&b, "doc.txt"), b"the first draft");
}

crate::backend_tests! {
    rclone_copy_sync_check,
    rclone_multipart_upload,
    rclone_lists_and_restores_old_versions,
}
