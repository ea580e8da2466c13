//! Buckets as SX volumes (list, create, delete; creation time in the volume meta) and the
//! bucket documents (ACL, policy, CORS, tags) kept in hidden files of the volume.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::Method;
use bytes::Bytes;

use super::client::{Response, SxError};
use super::cluster::{internal, json_body, now_secs, store_error, Cluster, Vol};
use super::listing::Scan;
use super::mapping::{self, url_encode, SxPath, ESC_DIR, RESERVED, RESERVED_END};
use super::proto::{self, CreateVolume, HexMeta};
use super::versions::VER_DIR;
use crate::store::{BackendGrant, BucketDocuments, BucketInfo, Principal, StoreError};

/// Volume meta key holding the bucket's creation time (decimal Unix seconds).
const CREATED_KEY: &str = "libres3-created";
/// Bucket documents (ACL, policy, CORS, tags): an empty hidden file per document, the
/// document itself in the file's meta (SX meta values hold up to 64 KiB).
const DOCS_DIR: &str = ".libres3/doc/";
const DOC_KEY: &str = "doc";
/// Bounds on a volume's ACL answer: SX user names are at most 64 bytes, so 4 MiB holds tens
/// of thousands of users; a larger answer or more users is refused, not read into memory.
const ACL_ANSWER_MAX: usize = 4 << 20;
const ACL_USERS_MAX: usize = 20_000;

impl Cluster {
    pub(super) async fn list_buckets(
        &self,
        who: &Principal,
    ) -> Result<Vec<BucketInfo>, StoreError> {
        let token = self.token_of(who).await?;
        let user = self.sx_user(who)?;
        let list: proto::VolumeList = self
            .client()
            .request(
                &self.client().nodes(),
                Method::GET,
                "/?volumeList&volumeMeta",
                Bytes::new(),
                &token,
            )
            .await
            .and_then(Response::json)
            .map_err(internal)?;
        let all = self.inner.cfg.allow_list_all_volumes || self.is_admin(who);
        Ok(list
            .volume_list
            .into_iter()
            .filter(|(_, v)| all || v.owner == user)
            .map(|(name, v)| BucketInfo {
                name,
                created: created_of(v.volume_meta.as_ref()),
                owner: v.owner,
            })
            .collect())
    }

    pub(super) async fn create_bucket(
        &self,
        who: &Principal,
        bucket: &str,
    ) -> Result<(), StoreError> {
        let user = self.sx_user(who)?.to_owned();
        if !self.inner.cfg.allow_volume_create_any_user && !self.is_admin(who) {
            return Err(StoreError::AccessDenied);
        }
        match self.locate(self.admin(), bucket).await {
            Ok(loc) if loc.owner == user => return Err(StoreError::BucketAlreadyOwnedByYou),
            Ok(_) => return Err(StoreError::BucketAlreadyExists),
            Err(StoreError::NoSuchBucket) => {}
            Err(e) => return Err(e),
        }
        let mut meta = HexMeta::default();
        meta.insert(CREATED_KEY, now_secs().to_string().as_bytes());
        let body = json_body(&CreateVolume {
            volume_size: self.inner.cfg.volume_size,
            owner: &user,
            replica_count: self.inner.cfg.replica_count,
            max_revisions: 1,
            volume_meta: &meta,
        });
        let path = format!("/{}", url_encode(bucket, false));
        let resp = self
            .client()
            .request(
                &self.client().nodes(),
                Method::PUT,
                &path,
                body,
                self.admin(),
            )
            .await
            .and_then(Response::ok)
            .map_err(|e| match e {
                // SX checks the size against its limits and the cluster's free capacity.
                SxError::Status {
                    status: 400,
                    message,
                } if message.starts_with("Invalid volume size") => {
                    StoreError::NoRoomForBucket(format!(
                        "SX refused volume_size = {} (replica_count = {}): {message}",
                        self.inner.cfg.volume_size, self.inner.cfg.replica_count
                    ))
                }
                other => internal(other),
            })?;
        match self.client().wait_job(resp, self.admin()).await {
            Ok(()) => Ok(()),
            Err(SxError::Job(message)) if message.contains("already exists") => {
                Err(StoreError::BucketAlreadyExists)
            }
            Err(e) => Err(internal(e)),
        }
    }

    pub(super) async fn bucket_info(
        &self,
        who: &Principal,
        bucket: &str,
    ) -> Result<BucketInfo, StoreError> {
        let vol = self.volume(who, bucket).await?;
        Ok(BucketInfo {
            name: bucket.to_owned(),
            owner: vol.loc.owner.clone(),
            created: created_of(vol.loc.volume_meta.as_ref()),
        })
    }

    pub(super) async fn delete_bucket(
        &self,
        who: &Principal,
        bucket: &str,
    ) -> Result<(), StoreError> {
        let vol = self.volume(who, bucket).await?;
        if !self.is_admin(who) && vol.loc.owner != self.sx_user(who)? {
            return Err(StoreError::AccessDenied);
        }
        // Any object, plain or escaped, and any version or delete marker keeps the bucket;
        // the gateway's other files do not.
        let mut any = false;
        self.scan(&vol, String::new(), 1, |name, _| {
            if !name.starts_with(RESERVED) || name.starts_with(ESC_DIR) || name.starts_with(VER_DIR)
            {
                any = true;
                Scan::Take
            } else if name < ESC_DIR {
                Scan::Jump(ESC_DIR.to_owned())
            } else if name < VER_DIR {
                Scan::Jump(VER_DIR.to_owned())
            } else {
                Scan::Jump(RESERVED_END.to_owned())
            }
        })
        .await?;
        if any {
            return Err(StoreError::BucketNotEmpty);
        }
        self.delete_tree(&vol, RESERVED).await?;
        // SX removes a volume only when asked on one of its own nodes; another node answers
        // 404 "This volume does not belong here". Volume removal needs the admin key.
        let as_admin = Vol {
            token: self.admin().clone(),
            name: vol.name.clone(),
            loc: vol.loc.clone(),
            fresh: vol.fresh,
        };
        let path = format!("/{}", url_encode(bucket, false));
        let resp = self
            .vol_request(&as_admin, Method::DELETE, &path, Bytes::new())
            .await
            .and_then(Response::ok)
            .map_err(|e| match e {
                SxError::Status { status: 409, .. } => StoreError::BucketNotEmpty,
                other => store_error(other, StoreError::NoSuchBucket),
            })?;
        self.client()
            .wait_job(resp, self.admin())
            .await
            .map_err(internal)?;
        self.inner.volumes.invalidate_all();
        Ok(())
    }

    pub(super) async fn bucket_documents(
        &self,
        bucket: &str,
    ) -> Result<BucketDocuments, StoreError> {
        let admin = self.admin_principal();
        let info = self.bucket_info(&admin, bucket).await?;
        let vol = self.volume(&admin, bucket).await?;
        let mut names = Vec::new();
        self.scan(
            &vol,
            DOCS_DIR.to_owned(),
            usize::MAX,
            |name, _| match name.strip_prefix(DOCS_DIR) {
                Some(doc) => {
                    names.push(doc.to_owned());
                    Scan::Take
                }
                None => Scan::Stop,
            },
        )
        .await?;
        let mut documents = Vec::new();
        for name in names {
            let path = SxPath::internal(format!("{DOCS_DIR}{name}"));
            let meta = self.file_meta(&vol, &path).await?;
            if let Some(doc) = meta.get(DOC_KEY).and_then(|d| String::from_utf8(d).ok()) {
                documents.push((name, doc));
            }
        }
        let backend_grants = self.volume_grants(&vol).await?;
        Ok(BucketDocuments {
            info,
            documents,
            backend_grants,
        })
    }

    /// The rights the volume's SX ACL gives other users (`GET /<vol>?o=acl&manager` with the
    /// admin key, which lists every user; without `&manager` SX leaves the manager right out).
    async fn volume_grants(&self, vol: &Vol) -> Result<Vec<BackendGrant>, StoreError> {
        let path = format!("/{}?o=acl&manager", url_encode(&vol.name, false));
        let resp = self
            .vol_request(vol, Method::GET, &path, Bytes::new())
            .await
            .and_then(Response::ok)
            .map_err(|e| store_error(e, StoreError::NoSuchBucket))?;
        let acl = read_volume_acl(&vol.name, resp)?;
        let admin = self.sx_user(&self.admin_principal())?.to_owned();
        Ok(mapping::volume_grants(acl, &vol.loc.owner, &admin))
    }

    pub(super) async fn put_bucket_document(
        &self,
        who: &Principal,
        bucket: &str,
        name: &str,
        document: Option<String>,
    ) -> Result<(), StoreError> {
        let vol = self.volume(who, bucket).await?;
        if !self.is_admin(who) && vol.loc.owner != self.sx_user(who)? {
            return Err(StoreError::AccessDenied);
        }
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(StoreError::Internal(format!(
                "bad bucket document name {name:?}"
            )));
        }
        let path = SxPath::internal(format!("{DOCS_DIR}{name}"));
        match document {
            Some(doc) => {
                let mut meta = HexMeta::default();
                meta.insert(DOC_KEY, doc.as_bytes());
                self.create_from_hashes(&vol, &path, 0, &[], Some(&meta))
                    .await
            }
            None => match self.delete_path(&vol, &path).await {
                Err(StoreError::NoSuchKey) => Ok(()),
                other => other,
            },
        }
    }
}

/// A volume's ACL from SX's answer, within [`ACL_ANSWER_MAX`] and [`ACL_USERS_MAX`]; an
/// answer over them or not shaped as an ACL is an error naming the volume.
fn read_volume_acl(volume: &str, resp: Response) -> Result<proto::VolumeAcl, StoreError> {
    let bad = |why: String| StoreError::Internal(format!("SX volume {volume}: ACL answer {why}"));
    if resp.body.len() > ACL_ANSWER_MAX {
        return Err(bad(format!(
            "of {} bytes, over the {ACL_ANSWER_MAX} this gateway reads",
            resp.body.len()
        )));
    }
    let acl: proto::VolumeAcl = resp.json().map_err(|e| match e {
        SxError::Protocol(why) => bad(format!("unreadable: {why}")),
        other => store_error(other, StoreError::NoSuchBucket),
    })?;
    if acl.len() > ACL_USERS_MAX {
        return Err(bad(format!(
            "names {} users, over the {ACL_USERS_MAX} this gateway reads",
            acl.len()
        )));
    }
    Ok(acl)
}

fn created_of(meta: Option<&HexMeta>) -> SystemTime {
    meta.and_then(|m| m.get(CREATED_KEY))
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .unwrap_or_else(SystemTime::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: impl Into<Bytes>) -> Response {
        Response {
            status: 200,
            node: "127.0.0.1".into(),
            body: body.into(),
        }
    }

    #[test]
    fn volume_acl_answers_are_bounded_and_checked() {
        let acl = read_volume_acl("v", answer(r#"{"bob":["read"]}"#)).unwrap();
        assert_eq!(acl["bob"], ["read"]);
        let refused = |body: String| match read_volume_acl("vol-x", answer(body)) {
            Err(StoreError::Internal(message)) => message,
            other => panic!("expected an error, got {other:?}"),
        };
        for malformed in [r#"{"bob":"read"}"#, "[1]", r#"{"bob":[1]}"#, "{"] {
            let message = refused(malformed.to_owned());
            assert!(message.contains("SX volume vol-x"), "{message}");
        }
        let big = format!(r#"{{"bob":["{}"]}}"#, "r".repeat(ACL_ANSWER_MAX));
        assert!(refused(big).contains("bytes, over"));
        let users: Vec<String> = (0..=ACL_USERS_MAX)
            .map(|i| format!(r#""u{i}":["read"]"#))
            .collect();
        assert!(refused(format!("{{{}}}", users.join(","))).contains("users, over"));
    }
}
