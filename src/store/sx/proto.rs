//! JSON bodies of the SX REST API (sx-protocol.md §5–§13).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::encoding::{hex, unhex};

/// SX metadata: values are hex-encoded bytes on the wire. Kept encoded in this type; `get`
/// and `insert` are the only ways in and out, so a value is never decoded twice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexMeta(BTreeMap<String, String>);

impl HexMeta {
    pub fn insert(&mut self, key: &str, value: &[u8]) {
        self.0.insert(key.to_owned(), hex(value));
    }
    /// The decoded value: None unless it is hex digits only (unhex alone takes "+f" as 0x0f).
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0
            .get(key)
            .filter(|v| v.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|v| unhex(v))
    }
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub request_id: String,
    #[serde(default = "default_min_poll")]
    pub min_poll_interval: u64,
    #[serde(default = "default_max_poll")]
    pub max_poll_interval: u64,
}

fn default_min_poll() -> u64 {
    100
}
fn default_max_poll() -> u64 {
    1000
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    pub request_status: String,
    #[serde(default)]
    pub request_message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeList {
    pub node_list: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Locate {
    pub node_list: Vec<String>,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub privs: String,
    #[serde(default)]
    pub volume_meta: Option<HexMeta>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeList {
    pub volume_list: BTreeMap<String, VolumeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeEntry {
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub privs: String,
    #[serde(default)]
    pub volume_meta: Option<HexMeta>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub file_list: BTreeMap<String, ListEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListEntry {
    #[serde(default)]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub file_revision: Option<String>,
    #[serde(default)]
    pub file_meta: Option<HexMeta>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    pub block_size: u64,
    pub file_size: u64,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub file_revision: String,
    /// On the wire, one single-entry object per block: hash -> nodes holding it.
    #[serde(deserialize_with = "blocks")]
    pub file_data: Vec<Block>,
}

impl File {
    /// The block hashes, in order.
    pub fn hashes(&self) -> Vec<String> {
        self.file_data.iter().map(|b| b.hash.clone()).collect()
    }
}

/// One block of a file: its hash and the nodes holding it. Blocks share their node list
/// with every other block held by the same nodes in the same order (a cluster has a few such
/// lists), so a block costs about 90 bytes, where a map per block cost about 700: a multipart
/// completion over 128 parts of 16 KiB blocks (1 GiB) held 47 MiB of block lists.
#[derive(Debug, Clone)]
pub struct Block {
    pub hash: String,
    pub nodes: Arc<[String]>,
}

/// Reads `fileData`: every element must be an object of exactly one entry.
fn blocks<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Block>, D::Error> {
    struct Blocks;
    impl<'de> Visitor<'de> for Blocks {
        type Value = Vec<Block>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of {hash: [node, ...]} objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Block>, A::Error> {
            let mut lists: HashSet<Arc<[String]>> = HashSet::new();
            let mut blocks = Vec::new();
            while let Some(OneBlock(hash, nodes)) = seq.next_element()? {
                let nodes = match lists.get(nodes.as_slice()) {
                    Some(shared) => shared.clone(),
                    None => {
                        let shared: Arc<[String]> = nodes.into();
                        lists.insert(shared.clone());
                        shared
                    }
                };
                blocks.push(Block { hash, nodes });
            }
            Ok(blocks)
        }
    }
    deserializer.deserialize_seq(Blocks)
}

/// One element of `fileData`.
struct OneBlock(String, Vec<String>);

impl<'de> Deserialize<'de> for OneBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> Visitor<'de> for Entry {
            type Value = OneBlock;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of one entry, {hash: [node, ...]}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OneBlock, A::Error> {
                let Some((hash, nodes)) = map.next_entry::<String, Vec<String>>()? else {
                    return Err(de::Error::invalid_length(0, &self));
                };
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(2, &self));
                }
                Ok(OneBlock(hash, nodes))
            }
        }
        deserializer.deserialize_map(Entry)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileMeta {
    #[serde(default)]
    pub file_meta: HexMeta,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFile<'a> {
    pub file_size: u64,
    pub file_data: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_meta: Option<&'a HexMeta>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtendFile<'a> {
    pub extend_seq: u64,
    pub file_data: &'a [String],
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub upload_token: String,
    #[serde(default)]
    pub upload_data: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub struct UserRecord {
    #[serde(rename = "userKey")]
    pub user_key: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    #[serde(rename = "userType", default)]
    pub user_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVolume<'a> {
    pub volume_size: u64,
    pub owner: &'a str,
    pub replica_count: u32,
    pub max_revisions: u32,
    pub volume_meta: &'a HexMeta,
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "ErrorMessage", default)]
    pub message: String,
}

/// `GET /<vol>?o=acl&manager`: user -> rights, each of "read", "write", "manager" (listed for
/// the owner too) and "owner" (sx-protocol.md §6; without `&manager` SX 2.3 leaves out
/// "manager").
pub type VolumeAcl = BTreeMap<String, Vec<String>>;

/// `GET /.self`: `{name: {"admin": bool, ...}}`.
pub type SelfInfo = BTreeMap<String, SelfEntry>;

#[derive(Debug, Deserialize)]
pub struct SelfEntry {
    #[serde(default)]
    pub admin: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_bodies_parse() {
        let locate: Locate = serde_json::from_str(
            r#"{"nodeList":["127.0.0.1"],"blockSize":16384,"owner":"alice","replicaCount":1,
            "effectiveReplicaCount":1,"maxRevisions":2,"privs":"rw","usedSize":0,"filesSize":0,
            "filesCount":0,"sizeBytes":104857600,"globalID":"459bc6",
            "volumeMeta":{"mykey":"6d7976616c"},"customVolumeMeta":{}}"#,
        )
        .unwrap();
        assert_eq!(locate.owner, "alice");
        assert_eq!(locate.volume_meta.unwrap().get("mykey").unwrap(), b"myval");
        let list: Listing = serde_json::from_str(
            r#"{"volumeSize":104857600,"volumeUsedSize":200068,"fileList":{
            "/a/":{},"/empty":{"fileSize":0,"blockSize":4096,"createdAt":1795313649,
            "fileRevision":"2026-11-22 02:14:09.691:7db5abceee69de96a25ebac581e0851f"}}}"#,
        )
        .unwrap();
        assert_eq!(list.file_list.len(), 2);
        assert_eq!(list.file_list["/empty"].file_size, Some(0));
        let file: File = serde_json::from_str(
            r#"{"blockSize":16384,"fileSize":200000,"createdAt":1795313649,
            "fileRevision":"r","fileData":[{"67e1":["127.0.0.1"]},{"0373":["127.0.0.1"]}]}"#,
        )
        .unwrap();
        assert_eq!(file.hashes(), ["67e1", "0373"]);
        assert_eq!(&*file.file_data[1].nodes, ["127.0.0.1"]);
        let user: UserRecord = serde_json::from_str(
            r#"{"userName":"alice","userType":"normal","userKey":"aa","userID":"bb"}"#,
        )
        .unwrap();
        assert_eq!(user.user_id, "bb");
        let job: Job = serde_json::from_str(
            r#"{"requestId":"n:1","minPollInterval":100,"maxPollInterval":1000}"#,
        )
        .unwrap();
        assert_eq!(job.request_id, "n:1");
        let create = serde_json::to_string(&CreateFile {
            file_size: 3,
            file_data: &["x".to_owned()],
            file_meta: None,
        })
        .unwrap();
        assert_eq!(create, r#"{"fileSize":3,"fileData":["x"]}"#);
    }

    /// Blocks held by the same nodes share one node list; a block is one entry, no more, no
    /// less (a map per block used to drop an empty one silently, shifting every later block).
    #[test]
    fn block_lists_share_node_lists_and_take_one_entry_per_block() {
        let file: File = serde_json::from_str(
            r#"{"blockSize":4096,"fileSize":12288,"fileData":[{"a":["n1","n2"]},
            {"b":["n2","n1"]},{"c":["n1","n2"]}]}"#,
        )
        .unwrap();
        let nodes: Vec<&[String]> = file.file_data.iter().map(|b| &*b.nodes).collect();
        assert_eq!(nodes, [&["n1", "n2"][..], &["n2", "n1"], &["n1", "n2"]]);
        assert!(Arc::ptr_eq(
            &file.file_data[0].nodes,
            &file.file_data[2].nodes
        ));
        assert!(!Arc::ptr_eq(
            &file.file_data[0].nodes,
            &file.file_data[1].nodes
        ));
        for bad in [r#"[{}]"#, r#"[{"a":["n1"],"b":["n1"]}]"#, r#"[["a"]]"#] {
            let body = format!(r#"{{"blockSize":4096,"fileSize":4096,"fileData":{bad}}}"#);
            assert!(serde_json::from_str::<File>(&body).is_err(), "{bad}");
        }
    }

    /// Found by fuzz/fuzz_targets/sx_json.rs: a signed number is not hex.
    #[test]
    fn meta_values_are_hex_digits_only() {
        let meta: HexMeta = serde_json::from_str(r#"{"a":"+f","b":"0F","c":"-1"}"#).unwrap();
        assert_eq!(meta.get("a"), None);
        assert_eq!(meta.get("b"), Some(vec![15]));
        assert_eq!(meta.get("c"), None);
    }
}
