//! The master keys of SSE-S3 and SSE-KMS: a directory with one file per key.
//!
//! ```text
//! <dir>/                        mode 0700, made on first use
//!   <key id>.key                mode 0600: `libres3-kms-key v1 <base64 key> <created> <description>`
//!   default.alias               the id of the default key (SSE-S3, and SSE-KMS without a key id)
//! ```
//!
//! A key id is a random UUID v4. Keys are only ever added: rotating means creating a key and
//! naming it for new objects, while old objects keep naming the key that wraps their data key.
//!
//! # Wrapping a data key
//!
//! `wrap` seals a 32-byte data key with AES-256-GCM under a key used for that wrap only:
//! HKDF-SHA256 of the master key with 32 random bytes as salt, the GCM nonce then being zero.
//! This is the at-rest sealing's scheme (src/store/local/sealing): random 96-bit nonces under
//! one master key would allow only about 2^32 wraps (NIST SP 800-38D 8.3), one per object,
//! where 256-bit salts give no practical limit. The caller's context is the associated data,
//! so a wrapped key moved to another object does not open.
//!
//! ```text
//! wrapped = salt (32) | sealed data key (32) | tag (16)
//! ```

use std::collections::HashMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use crate::encoding::{hex, uuid_text};

/// The first two words of a key file.
const MAGIC: &str = "libres3-kms-key v1";
const DEFAULT_ALIAS: &str = "default.alias";
/// The name AWS gives its managed S3 key; it means our default key.
const AWS_MANAGED_ALIAS: &str = "alias/aws/s3";
const WRAP_INFO: &[u8] = b"libres3 kms wrap v1";
const SALT_LEN: usize = 32;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = SALT_LEN + 32 + TAG_LEN;
/// A key file is one short line; reading a little more is enough to tell a wrong file.
const MAX_KEY_FILE: u64 = 4096;
const FORMAT_HINT: &str = "a key file is one line `libres3-kms-key v1 <base64 of 32 bytes> \
     <created, unix seconds> <description>`; restore the file from the backup of the key \
     directory (a lost key loses every object it encrypted)";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key by that id or reference.
    #[error("no key {0} in the key store")]
    NotFound(String),
    /// A key file or the alias file is malformed: the message says what and how to fix it.
    #[error("{}{}: {why}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        why: String,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A wrapped data key does not open: another key, another context, or damaged.
    #[error("the wrapped data key does not open under key {0} with this context")]
    Unwrap(String),
    #[error("a key description is one line without control characters")]
    BadDescription,
    #[error("the system random generator failed")]
    Random,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub created: SystemTime,
    pub description: String,
}

/// A master key's bytes, zeroed on drop. Debug never shows them.
struct MasterKey([u8; 32]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

pub struct KeyStore {
    dir: PathBuf,
    /// Keys never change once written, so a loaded key stays valid for the process's life.
    cache: RwLock<HashMap<String, Arc<MasterKey>>>,
    default_id: RwLock<Option<String>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyStore({})", self.dir.display())
    }
}

/// A fresh random 32-byte data key / salt.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| KeyError::Random)?;
    Ok(out)
}

/// A random UUID v4 (RFC 9562 section 5.4), lower-case.
fn new_key_id() -> Result<String, KeyError> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(uuid_text(&b))
}

/// Whether `id` has the form of a key id: 8-4-4-4-12 lower-case hex digits.
fn is_key_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, len)| {
            g.len() == len && g.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        })
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> KeyError + 'a {
    move |source| KeyError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Reads a key file: its key and what `list` shows of it.
fn parse_key_file(path: &Path, id: &str, text: &[u8]) -> Result<(KeyInfo, MasterKey), KeyError> {
    let invalid = |line: Option<usize>, why: String| KeyError::Invalid {
        path: path.to_owned(),
        line,
        why,
    };
    let text = std::str::from_utf8(text)
        .map_err(|_| invalid(None, format!("not UTF-8 text; {FORMAT_HINT}")))?;
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    // A key file edited on another system may end its line with CR LF.
    let first = first.strip_suffix('\r').unwrap_or(first);
    if let Some((n, _)) = lines.enumerate().find(|(_, l)| !l.is_empty()) {
        return Err(invalid(
            Some(n + 2),
            format!("text after the key line; {FORMAT_HINT}"),
        ));
    }
    let rest = first.strip_prefix(MAGIC).and_then(|r| r.strip_prefix(' '));
    let Some(rest) = rest else {
        return Err(invalid(
            Some(1),
            format!("does not start with `{MAGIC} `; {FORMAT_HINT}"),
        ));
    };
    let mut fields = rest.splitn(3, ' ');
    let key_text = fields.next().unwrap_or_default();
    let created_text = fields.next().unwrap_or_default();
    let description = fields.next().unwrap_or_default();
    let key: [u8; 32] = STANDARD
        .decode(key_text)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| {
            invalid(
                Some(1),
                format!("the key is not the base64 of 32 bytes; {FORMAT_HINT}"),
            )
        })?;
    let key = MasterKey(key);
    let created: u64 = created_text.parse().map_err(|_| {
        invalid(
            Some(1),
            format!("`{created_text}` is not a creation time in unix seconds; {FORMAT_HINT}"),
        )
    })?;
    let info = KeyInfo {
        id: id.to_owned(),
        created: UNIX_EPOCH + Duration::from_secs(created),
        description: description.to_owned(),
    };
    Ok((info, key))
}

impl KeyStore {
    /// A key store in `dir`; nothing is created until a key is.
    pub fn open(dir: &Path) -> Result<KeyStore, KeyError> {
        match fs::metadata(dir) {
            Ok(meta) if !meta.is_dir() => {
                return Err(KeyError::Invalid {
                    path: dir.to_owned(),
                    line: None,
                    why: "not a directory; kms_key_dir names the directory of the SSE master keys"
                        .into(),
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("cannot read the key directory", dir)(e)),
        }
        Ok(KeyStore {
            dir: dir.to_owned(),
            cache: RwLock::new(HashMap::new()),
            default_id: RwLock::new(None),
        })
    }

    fn key_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.key"))
    }

    fn ensure_dir(&self) -> Result<(), KeyError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_error("cannot create the key directory", &self.dir))
    }

    /// Writes `content` as `name` in the key directory, atomically and only if `name` does
    /// not exist: a temporary file, fsynced, then hard-linked (link fails on an existing name,
    /// where rename would replace it). Returns false when `name` already existed.
    fn write_new(&self, name: &str, content: &[u8]) -> Result<bool, KeyError> {
        self.ensure_dir()?;
        let tmp = self
            .dir
            .join(format!(".tmp-{}", hex(&random_bytes::<8>()?)));
        let target = self.dir.join(name);
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(content)?;
            file.sync_all()
        })();
        let linked = written
            .map_err(io_error("cannot write", &tmp))
            .and_then(|()| match fs::hard_link(&tmp, &target) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(io_error("cannot create", &target)(e)),
            });
        // The temporary name goes whatever happened; a failure here leaves a dot file that
        // `list` ignores.
        let _ = fs::remove_file(&tmp);
        let linked = linked?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error("cannot sync the key directory", &self.dir))?;
        Ok(linked)
    }

    /// Creates a new master key and returns what `list` will show of it.
    pub fn create_key(&self, description: &str) -> Result<KeyInfo, KeyError> {
        if description.chars().any(char::is_control) {
            return Err(KeyError::BadDescription);
        }
        let id = new_key_id()?;
        let key = MasterKey(random_bytes()?);
        let created = unix_secs(SystemTime::now());
        let line = format!(
            "{MAGIC} {} {created} {description}\n",
            STANDARD.encode(key.0)
        );
        if !self.write_new(&format!("{id}.key"), line.as_bytes())? {
            // Two random 122-bit ids met: no key is ever replaced.
            return Err(KeyError::Invalid {
                path: self.key_path(&id),
                line: None,
                why: "a key with this new random id exists already; try again".into(),
            });
        }
        self.cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), Arc::new(key));
        Ok(KeyInfo {
            id,
            created: UNIX_EPOCH + Duration::from_secs(created),
            description: description.to_owned(),
        })
    }

    /// Reads key file `id`.
    fn read_key(&self, id: &str) -> Result<(KeyInfo, MasterKey), KeyError> {
        let path = self.key_path(id);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => KeyError::NotFound(id.to_owned()),
            _ => io_error("cannot read the key file", &path)(e),
        })?;
        let meta = file
            .metadata()
            .map_err(io_error("cannot read the key file", &path))?;
        if meta.mode() & 0o077 != 0 {
            return Err(KeyError::Invalid {
                path: path.clone(),
                line: None,
                why: format!(
                    "readable by other users (mode {:o}): `chmod 600 {}`, and check who read it",
                    meta.mode() & 0o777,
                    path.display()
                ),
            });
        }
        let mut text = Vec::new();
        file.take(MAX_KEY_FILE)
            .read_to_end(&mut text)
            .map_err(io_error("cannot read the key file", &path))?;
        let parsed = parse_key_file(&path, id, &text);
        text.fill(0);
        parsed
    }

    fn master_key(&self, id: &str) -> Result<Arc<MasterKey>, KeyError> {
        if let Some(key) = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(key.clone());
        }
        if !is_key_id(id) {
            return Err(KeyError::NotFound(id.to_owned()));
        }
        let key = Arc::new(self.read_key(id)?.1);
        self.cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), key.clone());
        Ok(key)
    }

    /// Every key, sorted by creation time, then id. An absent directory holds no key.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("cannot list the key directory", &self.dir)(e)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error("cannot list the key directory", &self.dir))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".key")) else {
                continue;
            };
            if !is_key_id(id) {
                return Err(KeyError::Invalid {
                    path: entry.path(),
                    line: None,
                    why: "a key file is named `<key id>.key`, the id a lower-case UUID; \
                          move this file out of the key directory"
                        .into(),
                });
            }
            keys.push(self.read_key(id)?.0);
        }
        keys.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(keys)
    }

    /// The id of the default key, made on first use. Processes racing to make it agree on
    /// one: the alias is created with link(2), which fails if another got there first.
    pub fn default_key_id(&self) -> Result<String, KeyError> {
        if let Some(id) = self
            .default_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(id.clone());
        }
        let id = match self.read_alias()? {
            Some(id) => id,
            None => {
                let key = self.create_key("default key (SSE-S3, alias/aws/s3)")?;
                if self.write_new(DEFAULT_ALIAS, format!("{}\n", key.id).as_bytes())? {
                    key.id
                } else {
                    // Another thread or process made the default first. Our key's id was
                    // never handed out, so nothing can be encrypted with it: remove it
                    // rather than leave a second "default key" in the list.
                    let _ = fs::remove_file(self.key_path(&key.id));
                    self.read_alias()?.ok_or_else(|| {
                        KeyError::NotFound(format!("{} (just created)", DEFAULT_ALIAS))
                    })?
                }
            }
        };
        self.master_key(&id)?;
        *self
            .default_id
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(id.clone());
        Ok(id)
    }

    /// The id of the default key if it was made already (`default_key_id` makes it).
    pub fn existing_default_key_id(&self) -> Result<Option<String>, KeyError> {
        self.read_alias()
    }

    /// The key id in `default.alias`, None when there is no such file.
    fn read_alias(&self) -> Result<Option<String>, KeyError> {
        let path = self.dir.join(DEFAULT_ALIAS);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot read", &path)(e)),
        };
        let id = std::str::from_utf8(&text)
            .unwrap_or_default()
            .trim_end_matches('\n');
        if !is_key_id(id) {
            return Err(KeyError::Invalid {
                path,
                line: Some(1),
                why: "the default alias holds one key id (a lower-case UUID) and a newline; \
                      restore it from the backup of the key directory"
                    .into(),
            });
        }
        Ok(Some(id.to_owned()))
    }

    /// The key id a request names: an id, `arn:aws:kms:<region>:<account>:key/<id>`, or
    /// `alias/aws/s3` (also as an ARN), which is the default key. The key must exist.
    pub fn resolve(&self, key_ref: &str) -> Result<String, KeyError> {
        let name = match key_ref.strip_prefix("arn:aws:kms:") {
            Some(arn) => {
                let mut fields = arn.splitn(3, ':');
                let (_region, _account) = (fields.next(), fields.next());
                fields.next().unwrap_or_default()
            }
            None => key_ref,
        };
        if name == AWS_MANAGED_ALIAS {
            return self.default_key_id();
        }
        let id = name
            .strip_prefix("key/")
            .unwrap_or(name)
            .to_ascii_lowercase();
        if (key_ref.starts_with("arn:") && !name.starts_with("key/")) || !is_key_id(&id) {
            return Err(KeyError::NotFound(key_ref.to_owned()));
        }
        match self.master_key(&id) {
            Err(KeyError::NotFound(_)) => Err(KeyError::NotFound(key_ref.to_owned())),
            other => other.map(|_| id),
        }
    }

    /// The single-use AES-256-GCM key of one wrap.
    fn wrap_key(master: &MasterKey, salt: &[u8]) -> LessSafeKey {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&master.0);
        let okm = prk
            .expand(&[WRAP_INFO], &AES_256_GCM)
            .expect("32 bytes is within HKDF-SHA256's output limit");
        LessSafeKey::new(UnboundKey::from(okm))
    }

    /// Wraps a data key with master key `id`, binding `context` (AAD): output = salt (32) ||
    /// sealed data key (32) || tag (16).
    pub fn wrap(&self, id: &str, data_key: &[u8; 32], context: &[u8]) -> Result<Vec<u8>, KeyError> {
        let master = self.master_key(id)?;
        let salt: [u8; SALT_LEN] = random_bytes()?;
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(&salt);
        out.extend_from_slice(data_key);
        let tag = Self::wrap_key(&master, &salt)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([0; NONCE_LEN]),
                Aad::from(context),
                &mut out[SALT_LEN..],
            )
            .map_err(|_| KeyError::Unwrap(id.to_owned()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what `wrap` made with the same key and context.
    pub fn unwrap(&self, id: &str, wrapped: &[u8], context: &[u8]) -> Result<[u8; 32], KeyError> {
        let master = self.master_key(id)?;
        if wrapped.len() != WRAPPED_LEN {
            return Err(KeyError::Unwrap(id.to_owned()));
        }
        let (salt, sealed) = wrapped.split_at(SALT_LEN);
        let mut sealed = sealed.to_vec();
        let opened = Self::wrap_key(&master, salt)
            .open_in_place(
                Nonce::assume_unique_for_key([0; NONCE_LEN]),
                Aad::from(context),
                &mut sealed,
            )
            .ok()
            .and_then(|plain| <[u8; 32]>::try_from(&plain[..]).ok());
        sealed.fill(0);
        opened.ok_or_else(|| KeyError::Unwrap(id.to_owned()))
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
