//! Pure S3 <-> SX mapping: keys to file paths, metadata to SX file meta, block rules.
//!
//! Keys SX can hold verbatim (every `/`-separated part non-empty and not `.`/`..`, no control
//! bytes) are stored under their own name, so native SX clients see the same tree. Any other
//! key — and any key starting with [`RESERVED`], which we keep for ourselves — is stored as
//! `.libres3/esc/<hex of the key>` (split into 128-character parts to stay under SX's
//! per-name limits). Hex is order-preserving and prefix-preserving, so a listing is the merge of
//! two streams that are each already in key order: the plain names (skipping the reserved
//! subtree) and the escaped ones (decoded). Prefix, delimiter and marker semantics stay exact.

use super::proto::{HexMeta, VolumeAcl};
use crate::encoding::{hex, uuid_text};
use crate::store::{BackendGrant, ObjectMeta};

/// Top-level SX directory holding what the gateway keeps in a volume.
pub const RESERVED: &str = ".libres3";
/// The first name after every name that starts with [`RESERVED`] (last byte + 1).
pub const RESERVED_END: &str = ".libres4";
/// Escaped keys: `ESC_DIR` + hex-split key.
pub const ESC_DIR: &str = ".libres3/esc/";
/// Multipart uploads: `MPU_DIR` + `<upload id>/...`.
pub const MPU_DIR: &str = ".libres3/mpu/";
/// Staged bodies waiting for their commit.
pub const TMP_DIR: &str = ".libres3/tmp/";
/// SX file path limit in bytes.
pub const MAX_PATH: usize = 1024;
/// Hex characters per path part of an escaped key.
const HEX_PART: usize = 128;
/// The file-meta key holding the S3 metadata (hex of its JSON, as all SX meta values).
pub const META_KEY: &str = "libres3";

/// A key as SX stores it. Different type from a key so a name is escaped exactly once.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SxPath(String);

impl SxPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// A path the gateway builds itself (reserved subtree).
    pub fn internal(path: String) -> SxPath {
        SxPath(path)
    }
    /// The path in a request URI: percent-encoded as libsxclient does.
    pub fn url(&self) -> String {
        url_encode(&self.0, true)
    }
}

/// Whether SX can store `key` verbatim under the same name.
pub fn sx_holdable(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_PATH
        && !key.bytes().any(|b| b < 0x20 || b == 0x7f)
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The SX path of an S3 key; `None` if the key is too long to store even escaped.
pub fn key_to_path(key: &str) -> Option<SxPath> {
    if sx_holdable(key) && !key.starts_with(RESERVED) {
        return Some(SxPath(key.to_owned()));
    }
    let path = format!("{ESC_DIR}{}", hex_split(key.as_bytes()));
    (path.len() <= MAX_PATH).then_some(SxPath(path))
}

/// The longest key (in bytes) that fits in [`MAX_PATH`] once escaped.
pub fn max_escaped_key_len() -> usize {
    let mut len = (MAX_PATH - ESC_DIR.len()) / 2;
    while ESC_DIR.len() + hex_split(&vec![0u8; len]).len() > MAX_PATH {
        len -= 1;
    }
    len
}

pub fn hex_split(bytes: &[u8]) -> String {
    let hexed = hex(bytes);
    let mut out = String::with_capacity(hexed.len() + hexed.len() / HEX_PART);
    for (i, c) in hexed.chars().enumerate() {
        if i > 0 && i % HEX_PART == 0 {
            out.push('/');
        }
        out.push(c);
    }
    out
}

/// The escaped-key path prefix of every key starting with `prefix`.
pub fn escaped_prefix(prefix: &str) -> String {
    format!("{ESC_DIR}{}", hex_split(prefix.as_bytes()))
}

/// What a listed SX name (with or without its leading `/`) is to S3.
#[derive(Debug, PartialEq, Eq)]
pub enum Listed {
    Key(String),
    /// A fake directory or a reserved name: not an object.
    Hidden,
}

pub fn path_to_key(name: &str) -> Listed {
    let name = name.strip_prefix('/').unwrap_or(name);
    if name.is_empty() || name.ends_with('/') {
        return Listed::Hidden;
    }
    if let Some(hexed) = name.strip_prefix(ESC_DIR) {
        let joined: String = hexed.chars().filter(|c| *c != '/').collect();
        return match crate::encoding::unhex(&joined).and_then(|b| String::from_utf8(b).ok()) {
            Some(key) => Listed::Key(key),
            None => Listed::Hidden,
        };
    }
    if name.starts_with(RESERVED) {
        return Listed::Hidden;
    }
    Listed::Key(name.to_owned())
}

/// libsxclient's encoding: keep `A-Za-z0-9-._~` (and `/` in paths), `%xx` lower-case otherwise.
pub fn url_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// SX block size for a file of `size` bytes (§7).
pub fn block_size(size: u64) -> u64 {
    if size < 128 * 1024 {
        4096
    } else if size <= 128 * 1024 * 1024 {
        16384
    } else {
        1024 * 1024
    }
}

/// Blocks of a file of `size` bytes with blocks of `bs` bytes.
pub fn block_count(size: u64, bs: u64) -> u64 {
    size.div_ceil(bs)
}

/// Block id: hex SHA1(cluster UUID ‖ block), the block zero-padded to full size by the caller.
pub fn block_hash(uuid: &str, block: &[u8]) -> String {
    super::auth::sha1_hex(&[uuid.as_bytes(), block])
}

/// The cluster UUID of an `SX-Cluster: 2.3 (uuid)[ ssl]` header.
pub fn cluster_uuid(header: &str) -> Option<&str> {
    let start = header.find('(')? + 1;
    let end = start + header[start..].find(')')?;
    let uuid = &header[start..end];
    (uuid.len() == 36 && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')).then_some(uuid)
}

/// S3 metadata as SX file meta.
pub fn meta_to_sx(meta: &ObjectMeta) -> HexMeta {
    let mut out = HexMeta::default();
    let json = serde_json::to_vec(meta).unwrap_or_default();
    out.insert(META_KEY, &json);
    out
}

/// S3 metadata from SX file meta; files written by other SX clients get a stable ETag made
/// from their revision and the Content-Type they may carry.
pub fn meta_from_sx(meta: Option<&HexMeta>, revision: &str) -> ObjectMeta {
    if let Some(stored) = meta
        .and_then(|m| m.get(META_KEY))
        .and_then(|raw| serde_json::from_slice::<ObjectMeta>(&raw).ok())
    {
        return stored;
    }
    let mut headers = Vec::new();
    if let Some(ct) = meta
        .and_then(|m| m.get("Content-Type"))
        .and_then(|v| String::from_utf8(v).ok())
    {
        headers.push(("content-type".to_owned(), ct));
    }
    ObjectMeta {
        etag: revision_etag(revision),
        headers,
        size: None,
    }
}

/// The ETag of a file without stored S3 metadata (one written by sxcp or another SX client):
/// 32 hex digits made from its revision id, then `-1`. SX keeps no MD5 of such a file, and the
/// suffix is how S3 marks an ETag that is not the MD5 of the data (as for multipart objects),
/// so clients such as rclone do not compare it with their own MD5. One ETag per revision.
pub fn revision_etag(revision: &str) -> String {
    format!(
        "{}-1",
        hex(&crate::md5_digest::Md5::digest(revision.as_bytes()))
    )
}

/// The client-side filters of libsxclient, by the UUID SX clients store (as 16 raw bytes) in
/// the `filterActive` volume meta when a volume is created with `sxvol create -f NAME`.
const FILTERS: &[(&str, &str)] = &[
    (
        "15b0ac3c-404f-481e-bc98-6598e4577bbd",
        "aes256 (encryption)",
    ),
    (
        "35a5404d-1513-4009-904c-6ee5b0cd8634",
        "aes256 (encryption, SX 1.x)",
    ),
    (
        "1532eefd-3f59-46c7-82e6-0b4c6422f5b8",
        "aes256 (encryption, SX 1.0)",
    ),
    (
        "d5dbdf0a-fb17-4d1b-a9ce-4060317af5b5",
        "zcomp (compression)",
    ),
    (
        "43122b8c-56d1-4671-8500-aa6831eb983c",
        "attribs (file attributes)",
    ),
    (
        "7e7b7a8f-e294-458a-a2ab-ed8944ffce5c",
        "undelete (trash directory)",
    ),
    ("22d5cda2-9ed2-4229-a50a-04a249b1ad3d", "null"),
];

/// The volume-meta key that marks a volume as filtered.
pub const FILTER_KEY: &str = "filterActive";

/// A readable name for the `filterActive` value of a volume: the filter's name when it is one
/// of libsxclient's, else its UUID (or the value itself when it is not a UUID).
pub fn filter_name(value: &[u8]) -> String {
    if let Ok(bytes) = <&[u8; 16]>::try_from(value) {
        let uuid = uuid_text(bytes);
        return match FILTERS.iter().find(|(id, _)| *id == uuid) {
            Some((_, name)) => (*name).to_owned(),
            None => format!("with UUID {uuid}"),
        };
    }
    let text: String = String::from_utf8_lossy(value)
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if text.is_empty() {
        "(unnamed)".to_owned()
    } else {
        text
    }
}

/// The SX `after` value that starts a listing at the first name >= `name`.
pub fn successor_of_prefix(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// The whole-bucket rights a volume's ACL gives users other than its owner and the cluster
/// admin (both have every right already). A clone of the owner is listed with "owner" and
/// "manager": it may manage the volume, so it gets the manage right. Rights this version does
/// not know are left out.
pub fn volume_grants(acl: VolumeAcl, owner: &str, admin: &str) -> Vec<BackendGrant> {
    acl.into_iter()
        .filter(|(user, _)| user != owner && user != admin)
        .map(|(user, rights)| {
            let has = |right: &str| rights.iter().any(|r| r == right);
            BackendGrant {
                read: has("read"),
                write: has("write"),
                manage: has("manager"),
                user,
            }
        })
        .filter(|g| g.read || g.write || g.manage)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_vector() {
        let mut block = b"hello world\n".to_vec();
        block.resize(4096, 0);
        assert_eq!(
            block_hash("e78c2788-5488-4a43-a2c5-5635faa43903", &block),
            "488e3b2e9e8a93d9417a56132f8e1cf126fc1fa3"
        );
    }

    #[test]
    fn block_sizes() {
        assert_eq!(block_size(0), 4096);
        assert_eq!(block_size(128 * 1024 - 1), 4096);
        assert_eq!(block_size(128 * 1024), 16384);
        assert_eq!(block_size(128 * 1024 * 1024), 16384);
        assert_eq!(block_size(128 * 1024 * 1024 + 1), 1 << 20);
        assert_eq!(block_count(0, 4096), 0);
        assert_eq!(block_count(4097, 4096), 2);
    }

    #[test]
    fn cluster_header() {
        let uuid = "e78c2788-5488-4a43-a2c5-5635faa43903";
        assert_eq!(cluster_uuid(&format!("2.3 ({uuid})")), Some(uuid));
        assert_eq!(cluster_uuid(&format!("2.3 ({uuid}) ssl")), Some(uuid));
        assert_eq!(cluster_uuid("2.3"), None);
    }

    #[test]
    fn url_encoding() {
        assert_eq!(url_encode("a/b/c d+é.bin", true), "a/b/c%20d%2b%c3%a9.bin");
        assert_eq!(url_encode("a/b", false), "a%2fb");
    }

    const ODD: &[&str] = &[
        "a/",
        "a//b",
        "/a",
        "./a",
        "a/./b",
        "a/..",
        "..",
        ".",
        "a%2fb",
        "a\u{0}b",
        ".libres3",
        ".libres3x/y",
        "x/",
        "//",
        "a/b/",
        "é/",
    ];

    #[test]
    fn plain_keys_stay_verbatim() {
        for key in [
            "a",
            "a/b",
            "a.b/c..d/...",
            "dir/file.txt",
            "a%2fb",
            ".hidden/x",
            "é",
        ] {
            assert_eq!(key_to_path(key).unwrap().as_str(), key);
            assert_eq!(path_to_key(&format!("/{key}")), Listed::Key(key.to_owned()));
        }
    }

    #[test]
    fn escapes_round_trip() {
        for key in ODD {
            let path = key_to_path(key).unwrap();
            if !sx_holdable(key) || key.starts_with(RESERVED) {
                assert!(path.as_str().starts_with(ESC_DIR), "{key:?}");
                assert!(sx_holdable(path.as_str()), "{key:?} -> {path:?}");
            }
            assert_eq!(path_to_key(path.as_str()), Listed::Key(key.to_string()));
        }
        let long = "x/".repeat(250);
        let path = key_to_path(&long).unwrap();
        assert!(sx_holdable(path.as_str()));
        assert_eq!(path_to_key(path.as_str()), Listed::Key(long));
        assert!(key_to_path(&"y/".repeat(400)).is_none());
        let max = max_escaped_key_len();
        assert!(key_to_path(&"/".repeat(max)).is_some());
        assert!(key_to_path(&"/".repeat(max + 1)).is_none());
        assert_eq!(path_to_key("/a/"), Listed::Hidden);
        assert_eq!(path_to_key("/.libres3/mpu/x/meta"), Listed::Hidden);
    }

    #[test]
    fn escaped_order_and_prefixes_match_keys() {
        let mut keys: Vec<String> = ODD.iter().map(|s| s.to_string()).collect();
        keys.extend(["a//", "a///b", "a/", "a/ ", "a/!"].map(String::from));
        let esc: Vec<&String> = keys
            .iter()
            .filter(|k| key_to_path(k).unwrap().as_str().starts_with(ESC_DIR))
            .collect();
        for a in &esc {
            for b in &esc {
                let (pa, pb) = (key_to_path(a).unwrap(), key_to_path(b).unwrap());
                assert_eq!(a.cmp(b), pa.cmp(&pb), "{a:?} {b:?}");
                for cut in 0..=a.len() {
                    if let Some(prefix) = a.get(..cut) {
                        assert!(pa.as_str().starts_with(&escaped_prefix(prefix)));
                        assert_eq!(
                            b.starts_with(prefix),
                            pb.as_str().starts_with(&escaped_prefix(prefix)),
                            "{b:?} {prefix:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn filters_are_named() {
        let zcomp = unhex_uuid("d5dbdf0a-fb17-4d1b-a9ce-4060317af5b5");
        assert_eq!(filter_name(&zcomp), "zcomp (compression)");
        let aes = unhex_uuid("15b0ac3c-404f-481e-bc98-6598e4577bbd");
        assert_eq!(filter_name(&aes), "aes256 (encryption)");
        let other = unhex_uuid("00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(
            filter_name(&other),
            "with UUID 00112233-4455-6677-8899-aabbccddeeff"
        );
        assert_eq!(filter_name(b"custom"), "custom");
        assert_eq!(filter_name(b""), "(unnamed)");
    }

    fn unhex_uuid(uuid: &str) -> Vec<u8> {
        crate::encoding::unhex(&uuid.replace('-', "")).unwrap()
    }

    #[test]
    fn meta_round_trip() {
        let meta = ObjectMeta {
            etag: "0cc175b9c0f1b6a831c399e269772661".into(),
            headers: vec![
                ("content-type".into(), "text/plain".into()),
                ("x-amz-meta-a".into(), "ü".into()),
            ],
            size: None,
        };
        let sx = meta_to_sx(&meta);
        assert_eq!(meta_from_sx(Some(&sx), "rev"), meta);
        let sealed = ObjectMeta {
            size: Some(5),
            ..meta
        };
        assert_eq!(meta_from_sx(Some(&meta_to_sx(&sealed)), "rev"), sealed);
        let other = meta_from_sx(None, "2026-11-22 02:14:09.691:7db5");
        assert_eq!(other.etag, revision_etag("2026-11-22 02:14:09.691:7db5"));
        assert_eq!(other, meta_from_sx(None, "2026-11-22 02:14:09.691:7db5"));
    }

    /// A file SX's own tools wrote gets an ETag no client takes for an MD5: 32 hex digits and
    /// `-1`, the same for the same revision, another for another revision. Meta without the
    /// S3 document (sxcp's own keys) gives the same ETag as no meta.
    #[test]
    fn files_without_s3_meta_get_a_non_md5_etag_per_revision() {
        let rev = "2026-11-22 02:14:09.691:7db5abceee69de96a25ebac581e0851f";
        let etag = revision_etag(rev);
        let (digits, suffix) = etag.split_once('-').expect("a dash");
        assert_eq!(suffix, "1");
        assert_eq!(digits.len(), 32);
        assert!(digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(etag, revision_etag(rev));
        assert_ne!(
            etag,
            revision_etag("2026-11-22 02:14:10.001:0123456789abcdef0123456789abcdef")
        );
        let mut sxcp = HexMeta::default();
        sxcp.insert("Content-Type", b"text/plain");
        let meta = meta_from_sx(Some(&sxcp), rev);
        assert_eq!(meta.etag, etag);
        assert_eq!(meta.headers, [("content-type".into(), "text/plain".into())]);
    }

    /// sx-protocol.md §6's answer with `&manager`, a manager and an owner's clone added.
    #[test]
    fn volume_acl_to_grants() {
        let acl: VolumeAcl = serde_json::from_str(
            r#"{"admin":["read","write","manager"],"alice":["read","write","manager","owner"],
            "bob":["read"],"carol":["write","manager"],"alice-clone":["read","write","manager",
            "owner"],"dave":[],"erin":["read","future-right"]}"#,
        )
        .unwrap();
        let grant = |user: &str, read, write, manage| BackendGrant {
            user: user.to_owned(),
            read,
            write,
            manage,
        };
        assert_eq!(
            volume_grants(acl, "alice", "admin"),
            [
                grant("alice-clone", true, true, true),
                grant("bob", true, false, false),
                grant("carol", false, true, true),
                grant("erin", true, false, false),
            ]
        );
    }
}
