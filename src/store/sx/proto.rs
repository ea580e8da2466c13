//! JSON bodies of the SX REST API (sx-protocol.md §5–§13).

use std::collections::BTreeMap;

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
    /// One single-entry object per block: hash -> nodes holding it.
    pub file_data: Vec<BTreeMap<String, Vec<String>>>,
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
        assert_eq!(file.file_data.len(), 2);
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

    /// Found by fuzz/fuzz_targets/sx_json.rs: a signed number is not hex.
    #[test]
    fn meta_values_are_hex_digits_only() {
        let meta: HexMeta = serde_json::from_str(r#"{"a":"+f","b":"0F","c":"-1"}"#).unwrap();
        assert_eq!(meta.get("a"), None);
        assert_eq!(meta.get("b"), Some(vec![15]));
        assert_eq!(meta.get("c"), None);
    }
}
