//! The master key: its file format (64 hex digits, as `openssl rand -hex 32` prints) and
//! the value that holds it, zeroed on drop.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::KEY_LEN;
use crate::encoding::hex_digit;

/// The master key of an encrypted store, as read from its key file. Debug shows where it came
/// from, never the key.
pub struct StoreKey {
    pub(super) bytes: [u8; KEY_LEN],
    /// Where it is configured and its file, e.g. `libres3.conf:7: encryption_key_file =
    /// /etc/libres3/store.key`, for messages.
    setting: String,
    pub(super) file: PathBuf,
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({})", self.setting)
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.bytes.fill(0);
        std::hint::black_box(&self.bytes);
    }
}

impl StoreKey {
    /// Reads a key file. `setting` says where it is configured, e.g. `libres3.conf:7:
    /// encryption_key_file`; every message starts with it and the file, and says what to do.
    pub fn load(path: &Path, setting: &str) -> Result<StoreKey, String> {
        let setting = format!("{setting} = {}", path.display());
        let mut text = Vec::new();
        // A key file is 65 bytes: reading a little more is enough to tell a wrong file.
        File::open(path)
            .and_then(|file| file.take(1024).read_to_end(&mut text))
            .map_err(|e| {
                format!(
                    "{setting}: cannot read the key file: {e}; check the path and that the \
                     server is started as a user that may read it"
                )
            })?;
        let parsed = parse_key(&text);
        text.fill(0);
        let bytes = parsed.map_err(|problem| {
            format!(
                "{setting}: {problem}; for a new store create a key with \
                 `(umask 077; openssl rand -hex 32 > {file})`, for an existing one restore the \
                 key file it was created with",
                file = path.display()
            )
        })?;
        Ok(StoreKey {
            bytes,
            setting,
            file: path.to_owned(),
        })
    }

    /// A key from its bytes (tests, and callers that hold the key already).
    pub fn from_bytes(bytes: [u8; KEY_LEN], setting: &str) -> StoreKey {
        StoreKey {
            bytes,
            setting: setting.to_owned(),
            file: PathBuf::new(),
        }
    }

    /// Where the key is configured and its file, for messages.
    pub fn setting(&self) -> &str {
        &self.setting
    }
}

/// 64 hex digits, then at most one newline.
/// What is wrong with a key file's content.
#[derive(Debug, thiserror::Error)]
enum KeyFormatError {
    #[error(
        "the key file must hold 64 hex digits (32 random bytes) and at most a final newline, \
         not these {0} bytes"
    )]
    NotHexDigits(usize),
    #[error("the key file holds one byte repeated, not a random key")]
    Repeated,
}

fn parse_key(text: &[u8]) -> Result<[u8; KEY_LEN], KeyFormatError> {
    let digits = text.strip_suffix(b"\n").unwrap_or(text);
    let mut key = [0u8; KEY_LEN];
    let valid = digits.len() == 2 * KEY_LEN
        && digits
            .chunks_exact(2)
            .zip(key.iter_mut())
            .all(
                |(pair, out)| match (hex_digit(pair[0]), hex_digit(pair[1])) {
                    (Some(high), Some(low)) => {
                        *out = high << 4 | low;
                        true
                    }
                    _ => false,
                },
            );
    if !valid {
        key.fill(0);
        return Err(KeyFormatError::NotHexDigits(text.len()));
    }
    if key.iter().all(|&b| b == key[0]) {
        return Err(KeyFormatError::Repeated);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_HEX: &str = "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";

    #[test]
    fn key_file_format() {
        assert_eq!(parse_key(KEY_HEX.as_bytes()).unwrap()[..2], [0x00, 0x11]);
        let with_newline = format!("{KEY_HEX}\n");
        assert_eq!(
            parse_key(with_newline.as_bytes()).unwrap(),
            parse_key(KEY_HEX.as_bytes()).unwrap()
        );
        assert_eq!(
            parse_key(KEY_HEX.to_uppercase().as_bytes()).unwrap(),
            parse_key(KEY_HEX.as_bytes()).unwrap()
        );
        for bad in [
            format!("{KEY_HEX}\n\n"),
            format!("{KEY_HEX}\r\n"),
            format!(" {KEY_HEX}"),
            KEY_HEX[..62].to_string(),
            format!("{KEY_HEX}00"),
            format!("{}zz", &KEY_HEX[..62]),
            String::new(),
            "0".repeat(64),
        ] {
            assert!(parse_key(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
        // 32 raw bytes are not the format either.
        assert!(parse_key(&[0x5a; 32]).is_err());
    }

    #[test]
    fn key_file_errors_name_the_file_and_the_fix() {
        let dir = std::env::temp_dir().join(format!("libres3-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.key");
        std::fs::write(&path, b"not a key\n").unwrap();
        let e = StoreKey::load(&path, "libres3.conf:3: encryption_key_file").unwrap_err();
        assert!(
            e.starts_with("libres3.conf:3: encryption_key_file = "),
            "{e}"
        );
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("openssl rand -hex 32"), "{e}");
        std::fs::write(&path, format!("{KEY_HEX}\n")).unwrap();
        let key = StoreKey::load(&path, "libres3.conf:3: encryption_key_file").unwrap();
        assert!(!format!("{key:?}").contains(KEY_HEX), "Debug shows the key");
        let e = StoreKey::load(&dir.join("absent"), "x").unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
