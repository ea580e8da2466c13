//! Versions in the embedded store.

use super::LocalStore;
use crate::store::{
    CopySource, Deleted, ObjectInfo, ObjectMeta, ObjectStore, Principal, StoreError, VersionStart,
    VersionSummary, Versioning, WriteCondition, NULL_VERSION,
};

impl LocalStore {
    pub(super) async fn remove_version(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<Deleted, StoreError> {
        if version_id == NULL_VERSION {
            self.delete_object(who, bucket, key, Versioning::Unversioned)
                .await?;
        }
        Ok(Deleted {
            version_id: Some(version_id.to_owned()),
            delete_marker: false,
        })
    }

    pub(super) async fn replace_meta(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        meta: ObjectMeta,
        if_meta: &ObjectMeta,
    ) -> Result<ObjectInfo, StoreError> {
        if version_id.is_some_and(|id| id != NULL_VERSION) {
            return Err(StoreError::NoSuchVersion);
        }
        let source = CopySource {
            bucket,
            key,
            version_id: None,
            if_meta: Some(if_meta),
        };
        let condition = WriteCondition::None;
        self.copy_object(
            who,
            &source,
            bucket,
            key,
            meta,
            condition,
            Versioning::Unversioned,
        )
        .await
    }

    pub(super) async fn versions(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        start: &VersionStart,
        limit: usize,
        header: Option<&str>,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        let start = start.unversioned_start();
        let objects = self
            .list_objects(who, bucket, prefix, &start, limit, header)
            .await?;
        Ok(objects.into_iter().map(VersionSummary::from).collect())
    }
}
