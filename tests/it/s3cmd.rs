//! s3cmd: mb/put/get/ls/del/sync, and a file over its 15 MiB multipart chunk.

use crate::common::clients::S3cmd;
use crate::common::{
    assert_bytes_eq, etag_of, multipart_etag, read, test_data, unique_bucket, write, TestServer,
};

const MIB: usize = 1024 * 1024;

fn s3cmd_mb_put_get_ls_del(s: &TestServer) {
    let cmd = S3cmd::new(s);
    let dir = s.scratch("s3cmd-basic");
    let b = unique_bucket("s3cmd-basic");
    cmd.ok(&["mb", &format!("s3://{b}")]);
    let ls = cmd.ok(&["ls"]);
    assert!(ls.contains(&format!("s3://{b}")), "{ls}");
    let data = test_data(70_000, 1);
    write(dir.join("f.bin"), &data);
    cmd.ok(&[
        "put",
        dir.join("f.bin").to_str().unwrap(),
        &format!("s3://{b}/d/f.bin"),
    ]);
    cmd.ok(&[
        "put",
        dir.join("f.bin").to_str().unwrap(),
        &format!("s3://{b}/odd name+1.bin"),
    ]);
    cmd.ok(&[
        "get",
        &format!("s3://{b}/d/f.bin"),
        dir.join("back.bin").to_str().unwrap(),
    ]);
    assert_bytes_eq(&read(dir.join("back.bin")), &data, "s3cmd get");
    cmd.ok(&[
        "get",
        &format!("s3://{b}/odd name+1.bin"),
        dir.join("back2.bin").to_str().unwrap(),
    ]);
    assert_bytes_eq(&read(dir.join("back2.bin")), &data, "s3cmd get odd name");
    let ls = cmd.ok(&["ls", &format!("s3://{b}/")]);
    assert!(
        ls.contains("DIR") && ls.contains(&format!("s3://{b}/d/")),
        "{ls}"
    );
    assert!(ls.contains(&format!("s3://{b}/odd name+1.bin")), "{ls}");
    let ls = cmd.ok(&["ls", "--list-md5", "-r", &format!("s3://{b}")]);
    let md5 = etag_of(&data).trim_matches('"').to_string();
    assert_eq!(ls.matches(&md5).count(), 2, "{ls}");
    let info = cmd.ok(&["info", &format!("s3://{b}/d/f.bin")]);
    assert!(info.contains(&md5), "{info}");
    cmd.ok(&["del", &format!("s3://{b}/d/f.bin")]);
    let ls = cmd.ok(&["ls", "-r", &format!("s3://{b}")]);
    assert!(!ls.contains("d/f.bin"), "{ls}");
    assert!(ls.contains("odd name+1.bin"), "{ls}");
    cmd.ok(&["del", &format!("s3://{b}/odd name+1.bin")]);
    cmd.ok(&["rb", &format!("s3://{b}")]);
    let ls = cmd.ok(&["ls"]);
    assert!(!ls.contains(&format!("s3://{b}")), "{ls}");
}

fn s3cmd_multipart_put_get(s: &TestServer) {
    let cmd = S3cmd::new(s);
    let dir = s.scratch("s3cmd-large");
    let b = unique_bucket("s3cmd-large");
    cmd.ok(&["mb", &format!("s3://{b}")]);
    let data = test_data(17 * MIB + 333, 2);
    write(dir.join("big.bin"), &data);
    cmd.ok(&[
        "put",
        dir.join("big.bin").to_str().unwrap(),
        &format!("s3://{b}/big.bin"),
    ]);
    let parts: Vec<&[u8]> = data.chunks(15 * MIB).collect();
    let r = s
        .raw()
        .head(&crate::common::raw::obj_path(&b, "big.bin"))
        .send()
        .ok();
    assert_eq!(r.header("etag"), Some(multipart_etag(&parts).as_str()));
    cmd.ok(&[
        "get",
        &format!("s3://{b}/big.bin"),
        dir.join("back.bin").to_str().unwrap(),
    ]);
    assert_bytes_eq(
        &read(dir.join("back.bin")),
        &data,
        "s3cmd multipart round trip",
    );
}

fn s3cmd_sync(s: &TestServer) {
    let cmd = S3cmd::new(s);
    let dir = s.scratch("s3cmd-sync");
    let b = unique_bucket("s3cmd-sync");
    cmd.ok(&["mb", &format!("s3://{b}")]);
    let src = dir.join("src");
    for (i, name) in ["one.txt", "sub/two.bin", "sub/x/three.bin", "sp ace.txt"]
        .iter()
        .enumerate()
    {
        write(src.join(name), &test_data(2000 * (i + 1), 30 + i as u64));
    }
    let src_arg = format!("{}/", src.display());
    cmd.ok(&["sync", &src_arg, &format!("s3://{b}/t/")]);
    let keys = s.raw().list_keys(&b, "");
    assert_eq!(
        keys,
        vec![
            "t/one.txt",
            "t/sp ace.txt",
            "t/sub/two.bin",
            "t/sub/x/three.bin"
        ]
    );
    // Change and remove, sync with --delete-removed.
    write(src.join("one.txt"), b"new one");
    std::fs::remove_file(src.join("sub/two.bin")).unwrap();
    cmd.ok(&[
        "sync",
        "--delete-removed",
        &src_arg,
        &format!("s3://{b}/t/"),
    ]);
    let keys = s.raw().list_keys(&b, "");
    assert_eq!(keys, vec!["t/one.txt", "t/sp ace.txt", "t/sub/x/three.bin"]);
    assert_eq!(s.raw().get_object(&b, "t/one.txt"), b"new one");
    // Down again.
    let dst = dir.join("dst");
    std::fs::create_dir_all(&dst).unwrap();
    cmd.ok(&[
        "sync",
        &format!("s3://{b}/t/"),
        &format!("{}/", dst.display()),
    ]);
    for name in ["one.txt", "sp ace.txt", "sub/x/three.bin"] {
        assert_eq!(read(dst.join(name)), read(src.join(name)), "{name}");
    }
    assert!(!dst.join("sub/two.bin").exists());
}

fn s3cmd_with_signature_v2(s: &TestServer) {
    let cmd = S3cmd::with_signature_v2(s, true);
    let dir = s.scratch("s3cmd-v2");
    let b = unique_bucket("s3cmd-v2");
    cmd.ok(&["mb", &format!("s3://{b}")]);
    let data = test_data(40_000, 3);
    write(dir.join("f"), &data);
    cmd.ok(&[
        "put",
        dir.join("f").to_str().unwrap(),
        &format!("s3://{b}/v2/file name"),
    ]);
    let ls = cmd.ok(&["ls", "-r", &format!("s3://{b}")]);
    assert!(ls.contains(&format!("s3://{b}/v2/file name")), "{ls}");
    cmd.ok(&[
        "get",
        &format!("s3://{b}/v2/file name"),
        dir.join("back").to_str().unwrap(),
    ]);
    assert_bytes_eq(&read(dir.join("back")), &data, "s3cmd SigV2 round trip");
    // A SigV2 signed URL, fetched with curl.
    let url = cmd.ok(&["signurl", &format!("s3://{b}/v2/file name"), "+300"]);
    let got = dir.join("signed");
    assert_eq!(
        crate::common::clients::curl_get(url.trim(), &got),
        200,
        "{url}"
    );
    assert_bytes_eq(&read(&got), &data, "SigV2 signed URL");
    cmd.ok(&["del", &format!("s3://{b}/v2/file name")]);
    cmd.ok(&["rb", &format!("s3://{b}")]);
}

crate::backend_tests! {
    s3cmd_mb_put_get_ls_del,
    s3cmd_multipart_put_get,
    s3cmd_sync,
    s3cmd_with_signature_v2,
}
