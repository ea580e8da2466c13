//! Who a request runs as on SX (access key -> SX user and token) and which volume and file
//! name it reaches (bucket -> located volume, key -> path).

use std::sync::Arc;

use actix_web::http::Method;
use bytes::Bytes;

use super::auth::Token;
use super::client::Response;
use super::cluster::{internal, store_error, Cluster, Vol};
use super::mapping::{self, key_to_path, url_encode, SxPath, RESERVED};
use super::proto::{self, Locate};
use crate::store::{Principal, SecretKey, StoreError, User};

impl Cluster {
    /// The SX user a principal runs as.
    pub(super) fn sx_user<'a>(&self, who: &'a Principal) -> Result<&'a str, StoreError> {
        match who {
            Principal::User(name) if *name == self.inner.cfg.admin_key_id => Ok("admin"),
            Principal::User(name) => Ok(name),
            Principal::Anonymous => Err(StoreError::AccessDenied),
        }
    }

    pub(super) fn is_admin(&self, who: &Principal) -> bool {
        matches!(who, Principal::User(name) if *name == self.inner.cfg.admin_key_id)
    }

    pub(super) fn admin_principal(&self) -> Principal {
        Principal::User(self.inner.cfg.admin_key_id.clone())
    }

    /// A user's token (`GET /.users/<name>` with the admin key), cached.
    async fn user_token(&self, name: &str) -> Result<Option<Token>, StoreError> {
        if let Some(token) = self.inner.users.get(name) {
            return Ok(Some(token));
        }
        if name.len() < 2
            || name.len() > 64
            || name.starts_with('.')
            || name.contains('/')
            || self.inner.unknown_users.contains_key(name)
        {
            return Ok(None);
        }
        let path = format!("/.users/{}", url_encode(name, false));
        let resp = self
            .client()
            .request(
                &self.client().nodes(),
                Method::GET,
                &path,
                Bytes::new(),
                self.admin(),
            )
            .await
            .map_err(internal)?;
        if resp.status == 404 {
            self.inner.unknown_users.insert(name.to_owned(), ());
            return Ok(None);
        }
        let record: proto::UserRecord = resp.json().map_err(internal)?;
        let token = Token::from_parts(&record.user_id, &record.user_key)
            .map_err(|e| StoreError::Internal(format!("SX user {name}: {e}")))?;
        self.inner.users.insert(name.to_owned(), token.clone());
        Ok(Some(token))
    }

    pub(super) async fn token_of(&self, who: &Principal) -> Result<Token, StoreError> {
        if self.is_admin(who) {
            return Ok(self.admin().clone());
        }
        let name = self.sx_user(who)?;
        self.user_token(name).await?.ok_or(StoreError::AccessDenied)
    }

    /// The S3 user of an access key: an SX user whose token is the secret.
    pub(super) async fn user_by_access_key(
        &self,
        access_key: &str,
    ) -> Result<Option<User>, StoreError> {
        let token = if access_key == self.inner.cfg.admin_key_id {
            Some(self.admin().clone())
        } else {
            self.user_token(access_key).await?
        };
        Ok(token.map(|token| User {
            name: access_key.to_owned(),
            access_key: access_key.to_owned(),
            secret: SecretKey::new(token.to_ascii()),
        }))
    }

    /// Locates a volume as `who` (cached): NoSuchBucket or AccessDenied when it cannot be used.
    pub(super) async fn volume(&self, who: &Principal, bucket: &str) -> Result<Vol, StoreError> {
        let token = self.token_of(who).await?;
        let user = self.sx_user(who)?.to_owned();
        let key = (user, bucket.to_owned());
        let (loc, fresh) = match self.inner.volumes.get(&key) {
            Some(loc) => (loc, false),
            None => {
                let loc = Arc::new(self.locate(&token, bucket).await?);
                self.inner.volumes.insert(key, loc.clone());
                (loc, true)
            }
        };
        Ok(Vol {
            token,
            name: bucket.to_owned(),
            loc,
            fresh,
        })
    }

    /// Like [`Self::volume`], refusing volumes whose data SX clients filter (encryption,
    /// compression): their bytes would reach S3 clients scrambled.
    pub(super) async fn data_volume(
        &self,
        who: &Principal,
        bucket: &str,
    ) -> Result<Vol, StoreError> {
        let vol = self.volume(who, bucket).await?;
        if let Some(filter) = vol
            .loc
            .volume_meta
            .as_ref()
            .filter(|m| m.contains(mapping::FILTER_KEY))
        {
            let name = mapping::filter_name(&filter.get(mapping::FILTER_KEY).unwrap_or_default());
            log::warn!(
                "bucket {bucket}: the SX volume uses the client-side filter {name}; S3 access \
                 to its objects is refused"
            );
            return Err(StoreError::Unsupported(format!(
                "The SX volume {bucket} uses the SX client-side filter {name}, which LibreS3 \
                 does not implement: its objects can only be read and written with SX clients \
                 (sxcp, sxls)."
            )));
        }
        Ok(vol)
    }

    pub(super) async fn locate(&self, token: &Token, bucket: &str) -> Result<Locate, StoreError> {
        if bucket.is_empty() || bucket.starts_with('.') || bucket.contains('/') {
            return Err(StoreError::NoSuchBucket);
        }
        let path = format!("/{}?o=locate&volumeMeta", url_encode(bucket, false));
        self.client()
            .request(
                &self.client().nodes(),
                Method::GET,
                &path,
                Bytes::new(),
                token,
            )
            .await
            .and_then(Response::json)
            .map_err(|e| store_error(e, StoreError::NoSuchBucket))
    }
}

/// The SX path of an object key, or KeyTooLong when SX cannot hold it even escaped.
pub(super) fn path_of(key: &str) -> Result<SxPath, StoreError> {
    key_to_path(key).ok_or_else(|| {
        StoreError::KeyTooLong(format!(
            "This key cannot be stored on the SX cluster: a key SX cannot hold as a file \
             name (an empty, \".\" or \"..\" path part, a control character, or a key \
             starting with {RESERVED}) is stored hex-encoded, which limits it to {} bytes.",
            mapping::max_escaped_key_len()
        ))
    })
}
