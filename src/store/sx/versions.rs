//! Pure naming of S3 versions on SX: version ids, the record files that hold every version
//! and delete marker of a versioned bucket, and the file-meta keys that describe them.
//!
//! A key's records live under `.libres3/ver/<hex-split key>/-<leaf>`. The leaf is 16 hex
//! digits of `u64::MAX - microseconds since the epoch`, then 16 random hex digits (a version
//! id is those 32 digits) or `null` (the null version: its id is `null`, its name still
//! carries its time). So in SX's name order a key's records come newest first, and the keys
//! come in key order: hex keeps byte order, and `/-` sorts below both the hex digits and the
//! `/` that splits long hex names, so a key's records come before those of longer keys.

use super::mapping::{hex_split, SxPath, MAX_PATH};
use crate::encoding::unhex;
use crate::store::NULL_VERSION;

/// Every version record of the volume.
pub const VER_DIR: &str = ".libres3/ver/";
/// A tombstone per deleted record, at the record's name under this directory instead of
/// [`VER_DIR`]: a rewrite of a record that raced with its deletion sees it and takes itself
/// back. Never removed but with the bucket (one empty file per deleted version).
pub const GONE_DIR: &str = ".libres3/del/";
/// Between a key's hex and a record leaf.
const RECORD_SEP: &str = "/-";
/// The first name after all of a key's records and before any longer key's.
const AFTER_RECORDS: &str = "/.";
/// Hex digits of a version id: time, then random.
const TIME_DIGITS: usize = 16;
const RANDOM_DIGITS: usize = 16;

/// File-meta key of a version id (on records and on the current object's file).
pub const VID_KEY: &str = "libres3-vid";
/// File-meta key present on a delete marker's record.
pub const MARKER_KEY: &str = "libres3-marker";
/// File-meta key of an object's last-modified time in microseconds, when it is not the
/// file's own SX creation time (a version's current copy, an object whose meta was
/// rewritten).
pub const TIME_KEY: &str = "libres3-time";

/// What a record's name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordName {
    pub key: String,
    /// Microseconds since the epoch: the version's last-modified time.
    pub micros: u64,
    /// The S3 version id: 32 hex digits or `null`.
    pub id: String,
}

/// A fresh version id for a version made at `micros`; `random` is 16 hex digits.
pub fn version_id(micros: u64, random: &str) -> String {
    format!("{:016x}{random}", u64::MAX - micros)
}

/// Whether `id` is a version id this backend makes (`null` included).
pub fn valid_version_id(id: &str) -> bool {
    id == NULL_VERSION
        || (id.len() == TIME_DIGITS + RANDOM_DIGITS
            && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// The name prefix every record of `key` starts with; None when a record name would not fit
/// in an SX path.
pub fn records_prefix(key: &str) -> Option<String> {
    let prefix = format!("{VER_DIR}{}{RECORD_SEP}", hex_split(key.as_bytes()));
    (prefix.len() + TIME_DIGITS + RANDOM_DIGITS <= MAX_PATH).then_some(prefix)
}

/// The record of the version `id` made at `micros` (`micros` matters only for `null`).
pub fn record_path(prefix: &str, micros: u64, id: &str) -> SxPath {
    if id == NULL_VERSION {
        SxPath::internal(format!("{prefix}{:016x}{NULL_VERSION}", u64::MAX - micros))
    } else {
        SxPath::internal(format!("{prefix}{id}"))
    }
}

/// The record name prefix of every key starting with `prefix`.
pub fn records_of_prefix(prefix: &str) -> String {
    format!("{VER_DIR}{}", hex_split(prefix.as_bytes()))
}

/// The first record name after every record of `key`.
pub fn after_records_of(key: &str) -> String {
    format!("{VER_DIR}{}{AFTER_RECORDS}", hex_split(key.as_bytes()))
}

/// The tombstone of a deleted record (see [`GONE_DIR`]).
pub fn tombstone_of(record: &SxPath) -> SxPath {
    let name = record.as_str();
    SxPath::internal(format!(
        "{GONE_DIR}{}",
        name.strip_prefix(VER_DIR).unwrap_or(name)
    ))
}

/// What a listed record name (without its leading `/`) says; None for any other name.
pub fn parse_record(name: &str) -> Option<RecordName> {
    let rest = name.strip_prefix(VER_DIR)?;
    let (hexed, leaf) = rest.rsplit_once(RECORD_SEP)?;
    let joined: String = hexed.chars().filter(|c| *c != '/').collect();
    let key = String::from_utf8(unhex(&joined)?).ok()?;
    if leaf.len() < TIME_DIGITS || !leaf.is_char_boundary(TIME_DIGITS) {
        return None;
    }
    let (time, tail) = leaf.split_at(TIME_DIGITS);
    if !time.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let micros = u64::MAX - u64::from_str_radix(time, 16).ok()?;
    let id = if tail == NULL_VERSION {
        NULL_VERSION.to_owned()
    } else if valid_version_id(leaf) {
        leaf.to_owned()
    } else {
        return None;
    };
    Some(RecordName { key, micros, id })
}

/// The longest key (in bytes) whose records fit in an SX path.
pub fn max_versioned_key_len() -> usize {
    let mut len = (MAX_PATH - VER_DIR.len()) / 2;
    while records_prefix(&"x".repeat(len)).is_none() {
        len -= 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_newest_first() {
        let older = version_id(1_000_000, "000000000000abcd");
        let newer = version_id(2_000_000, "0000000000000000");
        assert!(valid_version_id(&older) && valid_version_id(&newer));
        assert!(newer < older);
        for bad in [
            "",
            "NULL",
            "0123",
            &older.to_uppercase(),
            &format!("{older}0"),
        ] {
            assert!(!valid_version_id(bad), "{bad}");
        }
        let prefix = records_prefix("k").unwrap();
        let named =
            |micros, id: &str| parse_record(record_path(&prefix, micros, id).as_str()).unwrap();
        assert_eq!(
            named(1_000_000, &older),
            RecordName {
                key: "k".into(),
                micros: 1_000_000,
                id: older.clone()
            }
        );
        assert_eq!(named(1_500_000, NULL_VERSION).id, NULL_VERSION);
        assert_eq!(named(1_500_000, NULL_VERSION).micros, 1_500_000);
        // The null version sorts by its time among the others.
        let mut names = [
            record_path(&prefix, 1_000_000, &older),
            record_path(&prefix, 2_000_000, &newer),
            record_path(&prefix, 1_500_000, NULL_VERSION),
        ];
        names.sort();
        let ids: Vec<String> = names
            .iter()
            .map(|p| parse_record(p.as_str()).unwrap().id)
            .collect();
        assert_eq!(ids, [newer, NULL_VERSION.to_owned(), older]);
        assert_eq!(parse_record(".libres3/ver/6b/-zz"), None);
        assert_eq!(parse_record(".libres3/esc/6b"), None);
    }

    /// Records list in key order, each key's before any longer key's, also where the hex of
    /// a key is split into parts.
    #[test]
    fn records_follow_key_order() {
        let long = "x".repeat(64);
        let mut keys: Vec<String> = ["a", "a/", "a/b", "ab", "b", "é", "a\u{1}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        keys.extend([long.clone(), format!("{long}y"), format!("{long}\u{0}")]);
        let id = version_id(5, "0000000000000000");
        let mut names: Vec<(String, String)> = keys
            .iter()
            .flat_map(|k| {
                let prefix = records_prefix(k).unwrap();
                [
                    record_path(&prefix, 1, NULL_VERSION),
                    record_path(&prefix, 5, &id),
                ]
                .map(|p| (p.as_str().to_owned(), k.clone()))
            })
            .collect();
        names.sort();
        let order: Vec<&String> = names.iter().map(|(_, k)| k).collect();
        let mut sorted: Vec<&String> = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        for (name, key) in &names {
            assert_eq!(&parse_record(name).unwrap().key, key);
            let first = &key[..key.chars().next().map_or(0, char::len_utf8)];
            assert!(name.starts_with(&records_of_prefix(first)));
            assert!(name.as_str() < after_records_of(key).as_str());
            for other in &keys {
                if other > key {
                    assert!(after_records_of(key) <= records_prefix(other).unwrap());
                }
            }
        }
        let max = max_versioned_key_len();
        assert_eq!(max, 485, "README \"Limits\" names this number");
        assert!(records_prefix(&"z".repeat(max)).is_some());
        assert!(records_prefix(&"z".repeat(max + 1)).is_none());
    }
}
