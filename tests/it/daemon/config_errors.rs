//! Configuration errors: check-config names the file, the line and the key, and refuses secrets others can read.

use super::*;

#[test]
fn check_config_names_file_line_and_key() {
    let dir = scratch_dir("check");
    let conf = dir.path().join("libres3.conf");
    write_private(&conf, "s3_http_port = 8008\n\nmax_parallel = lots\n");
    let out = libres3(&[
        "check-config",
        "--config",
        conf.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out.stderr);
    assert!(
        message.contains(&format!("{}:3: max_parallel", conf.display())),
        "{message}"
    );
    write_private(&conf, "s3_htp_port = 1\n");
    let message = text(
        &libres3(&[
            "check-config",
            "--config",
            conf.to_str().unwrap_or_default(),
        ])
        .stderr,
    );
    assert!(
        message.contains(":1: unknown key \"s3_htp_port\""),
        "{message}"
    );

    write_private(&conf, "s3_http_port = 8008\nsx_host = sx.example.com\n");
    let out = libres3(&[
        "check-config",
        "--config",
        conf.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sx_host = sx.example.com"));

    // A file holding a secret must not be readable by others.
    std::fs::write(&conf, "secret_key = x\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = libres3(&[
        "check-config",
        "--config",
        conf.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("readable by group or others"));
}
