//! How values are stored in index columns: block lists, times, sizes, keys and metadata.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::local::blocks::{BlockRef, Hash};
use crate::store::{ObjectMeta, StoreError};

/// Bytes of one entry of a block list: the 32-byte block name, then the length as u32
/// little-endian.
const BLOCK_ENTRY_LEN: usize = 36;

pub fn encode_blocks(blocks: &[BlockRef]) -> Vec<u8> {
    let mut out = Vec::with_capacity(blocks.len() * BLOCK_ENTRY_LEN);
    for block in blocks {
        out.extend_from_slice(&block.hash);
        out.extend_from_slice(&block.len.to_le_bytes());
    }
    out
}

pub fn decode_blocks(encoded: &[u8]) -> Result<Vec<BlockRef>, StoreError> {
    if encoded.len() % BLOCK_ENTRY_LEN != 0 {
        return Err(StoreError::Internal(format!(
            "index: corrupt block list of {} bytes",
            encoded.len()
        )));
    }
    let mut blocks = Vec::with_capacity(encoded.len() / BLOCK_ENTRY_LEN);
    for entry in encoded.chunks_exact(BLOCK_ENTRY_LEN) {
        let mut hash: Hash = [0; 32];
        hash.copy_from_slice(&entry[..32]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&entry[32..]);
        blocks.push(BlockRef {
            hash,
            len: u32::from_le_bytes(len),
        });
    }
    Ok(blocks)
}

/// The smallest byte string greater than every string starting with `prefix`, or None when
/// there is none (empty prefix, or only 0xFF bytes).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut successor = prefix.to_vec();
    while let Some(last) = successor.pop() {
        if last < u8::MAX {
            successor.push(last + 1);
            return Some(successor);
        }
    }
    None
}

pub fn to_ms(time: SystemTime) -> i64 {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

pub fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub fn size_to_db(size: u64) -> Result<i64, StoreError> {
    i64::try_from(size).map_err(|_| StoreError::Internal(format!("size {size} too large")))
}

pub fn size_from_db(size: i64) -> Result<u64, StoreError> {
    u64::try_from(size).map_err(|_| StoreError::Internal(format!("index: negative size {size}")))
}

pub fn key_from_db(key: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(key).map_err(|_| StoreError::Internal("index: key is not UTF-8".into()))
}

pub fn headers_to_json(meta: &ObjectMeta) -> Result<String, StoreError> {
    serde_json::to_string(&meta.headers)
        .map_err(|e| StoreError::Internal(format!("encoding metadata: {e}")))
}

pub fn meta_from_db(etag: String, headers_json: &str) -> Result<ObjectMeta, StoreError> {
    let headers = serde_json::from_str(headers_json)
        .map_err(|e| StoreError::Internal(format!("index: corrupt metadata: {e}")))?;
    Ok(ObjectMeta {
        etag,
        headers,
        size: None,
    })
}

/// The value of header `name` in stored metadata.
pub fn header_from_json(headers_json: &str, name: &str) -> Result<Option<String>, StoreError> {
    let headers: Vec<(String, String)> = serde_json::from_str(headers_json)
        .map_err(|e| StoreError::Internal(format!("index: corrupt metadata: {e}")))?;
    Ok(headers.into_iter().find(|(n, _)| n == name).map(|(_, v)| v))
}

/// A row limit as SQLite takes it.
pub fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_list_round_trip() {
        let blocks = vec![
            BlockRef {
                hash: [7; 32],
                len: 1 << 20,
            },
            BlockRef {
                hash: [9; 32],
                len: 12,
            },
        ];
        let encoded = encode_blocks(&blocks);
        assert_eq!(encoded.len(), 72);
        assert_eq!(decode_blocks(&encoded).unwrap(), blocks);
        assert!(decode_blocks(&encoded[..40]).is_err());
        assert!(decode_blocks(&[]).unwrap().is_empty());
    }

    #[test]
    fn successor_of_prefixes() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
