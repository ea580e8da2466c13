//! Leases between the gateways of one cluster (`ObjectStore::try_lease`): an empty file per
//! lease, `.libres3/lease/<name>` in the bucket's volume, with its holder and expiry (Unix
//! seconds) in the file meta.
//!
//! Taking one: read the record; when it is absent, expired or already ours, write ours, then
//! read it back and hold the lease only if ours is what the cluster answers (the last writer
//! wins in SX). Limits: SX has no compare-and-swap, so two gateways that write and read back
//! in lockstep can both believe they hold it, and a gateway whose clock is off by more than
//! the TTL misjudges expiry. The lease only avoids duplicated work: what runs under it must
//! be correct when two holders overlap (the lifecycle worker deletes with an ETag check).

use std::time::Duration;

use super::cluster::{now_secs, Cluster};
use super::mapping::SxPath;
use super::proto::HexMeta;
use crate::store::StoreError;

const LEASE_DIR: &str = ".libres3/lease/";

struct Record {
    holder: String,
    expires: u64,
}

fn parse(meta: &HexMeta) -> Option<Record> {
    let text = |name: &str| meta.get(name).and_then(|v| String::from_utf8(v).ok());
    Some(Record {
        holder: text("holder")?,
        expires: text("expires")?.parse().ok()?,
    })
}

/// Whether `holder` may take a lease whose record is `current`.
fn may_take(current: Option<&Record>, holder: &str, now: u64) -> bool {
    current.is_none_or(|r| r.holder == holder || r.expires <= now)
}

impl Cluster {
    pub(super) async fn try_lease(
        &self,
        bucket: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        if name.is_empty() || name.contains('/') {
            return Err(StoreError::Internal(format!("bad lease name {name:?}")));
        }
        let admin = self.admin_principal();
        let vol = self.volume(&admin, bucket).await?;
        let path = SxPath::internal(format!("{LEASE_DIR}{name}"));
        let read = |meta: Result<HexMeta, StoreError>| match meta {
            Ok(meta) => Ok(parse(&meta)),
            Err(StoreError::NoSuchKey) => Ok(None),
            Err(e) => Err(e),
        };
        let current = read(self.file_meta(&vol, &path).await)?;
        if !may_take(current.as_ref(), holder, now_secs()) {
            return Ok(false);
        }
        let mut meta = HexMeta::default();
        meta.insert("holder", holder.as_bytes());
        let expires = now_secs().saturating_add(ttl.as_secs());
        meta.insert("expires", expires.to_string().as_bytes());
        self.create_from_hashes(&vol, &path, 0, &[], Some(&meta))
            .await?;
        let written = read(self.file_meta(&vol, &path).await)?;
        Ok(written.is_some_and(|r| r.holder == holder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_taken_when_absent_expired_or_ours() {
        let record = |holder: &str, expires| Record {
            holder: holder.into(),
            expires,
        };
        assert!(may_take(None, "a", 100));
        assert!(may_take(Some(&record("a", 200)), "a", 100));
        assert!(may_take(Some(&record("b", 100)), "a", 100));
        assert!(!may_take(Some(&record("b", 101)), "a", 100));
    }
}
