//! Listing a volume: pages of SX's recursive listing visited in name order, and object
//! listings that merge plain and escaped names in key order.

use actix_web::http::Method;
use bytes::Bytes;

use super::client::Response;
use super::cluster::{store_error, Cluster, Vol};
use super::mapping::{
    escaped_prefix, meta_from_sx, path_to_key, successor_of_prefix, url_encode, Listed, RESERVED,
    RESERVED_END,
};
use super::proto::{self, Listing};
use super::versioned::{file_micros, from_micros};
use crate::store::{ListStart, ObjectSummary, StoreError};

/// Entries asked per listing request.
const LIST_PAGE: usize = 1000;

/// What a listing visitor does with an entry.
pub(super) enum Scan {
    Take,
    Skip,
    /// Continue from this name (inclusive).
    Jump(String),
    Stop,
}

impl Cluster {
    /// One page of a recursive listing with meta, from names >= `after`.
    async fn list_page(&self, vol: &Vol, after: &str, limit: usize) -> Result<Listing, StoreError> {
        let mut url = format!(
            "/{}?recursive&meta&limit={limit}",
            url_encode(&vol.name, false)
        );
        // A name SX could not hold (control bytes) is cut before them: a smaller bound that
        // SX accepts; the caller skips what comes before its own bound.
        let after = match after.find(|c: char| c.is_control()) {
            Some(cut) => &after[..cut],
            None => after,
        };
        if !after.is_empty() {
            url.push_str("&after=");
            url.push_str(&url_encode(after, false));
        }
        self.vol_request(vol, Method::GET, &url, Bytes::new())
            .await
            .and_then(Response::json)
            .map_err(|e| store_error(e, StoreError::NoSuchBucket))
    }

    /// Visits the entries of a recursive listing in name order (names without their leading
    /// `/`), from `from` (inclusive), until the visitor stops or `want` entries were taken.
    pub(super) async fn scan(
        &self,
        vol: &Vol,
        from: String,
        want: usize,
        mut visit: impl FnMut(&str, &proto::ListEntry) -> Scan,
    ) -> Result<(), StoreError> {
        let mut after = from;
        // `after` is inclusive: the name a page ended on comes again first.
        let mut seen: Option<String> = None;
        let mut taken = 0usize;
        loop {
            // Small listings ask for little; one more than wanted covers the repeated name.
            let ask = want.saturating_sub(taken).saturating_add(2).min(LIST_PAGE);
            let page = self.list_page(vol, &after, ask).await?;
            let full = page.file_list.len() >= ask;
            let mut jump = None;
            let mut last = None;
            for (name, entry) in &page.file_list {
                let name = name.strip_prefix('/').unwrap_or(name);
                if seen.as_deref() == Some(name) {
                    continue;
                }
                last = Some(name);
                match visit(name, entry) {
                    Scan::Take => {
                        taken += 1;
                        if taken >= want {
                            return Ok(());
                        }
                    }
                    Scan::Skip => {}
                    Scan::Jump(to) => {
                        jump = Some(to);
                        break;
                    }
                    Scan::Stop => return Ok(()),
                }
            }
            match (jump, last) {
                (Some(to), _) if to.as_str() > after.as_str() => {
                    after = to;
                    seen = None;
                }
                (None, Some(last)) if full => {
                    after = last.to_owned();
                    seen = Some(after.clone());
                }
                _ => return Ok(()),
            }
        }
    }

    /// Up to `limit` objects of `vol` whose keys start with `prefix`, from `start`, in key
    /// order: plain names and escaped ones are listed apart and merged.
    pub(super) async fn list_keys(
        &self,
        vol: &Vol,
        prefix: &str,
        start: &ListStart,
        limit: usize,
        header: Option<&str>,
    ) -> Result<Vec<ObjectSummary>, StoreError> {
        self.list_current(vol, prefix, start, limit, header, &|_| true, None)
            .await
    }

    /// Up to `limit` current objects whose keys start with `prefix`, from `start`, up to
    /// `until` (inclusive), that `keep` accepts, in key order.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn list_current(
        &self,
        vol: &Vol,
        prefix: &str,
        start: &ListStart,
        limit: usize,
        header: Option<&str>,
        keep: &dyn Fn(&proto::ListEntry) -> bool,
        until: Option<&str>,
    ) -> Result<Vec<ObjectSummary>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let accept = |key: &str| -> bool {
            key.starts_with(prefix)
                && match start {
                    ListStart::Beginning => true,
                    ListStart::After(k) => key > k.as_str(),
                    ListStart::AfterPrefix(p) => key > p.as_str() && !key.starts_with(p.as_str()),
                }
        };
        let past = |key: &str| until.is_some_and(|last| key > last);
        let summary = |key: String, entry: &proto::ListEntry| {
            let meta = meta_from_sx(
                entry.file_meta.as_ref(),
                entry.file_revision.as_deref().unwrap_or(""),
            );
            let header = header.and_then(|name| {
                let found = meta.headers.iter().find(|(n, _)| n == name);
                found.map(|(_, value)| value.clone())
            });
            let micros = file_micros(entry.file_meta.as_ref(), entry.created_at.unwrap_or(0));
            ObjectSummary {
                key,
                size: meta.size.unwrap_or(entry.file_size.unwrap_or(0)),
                last_modified: from_micros(micros),
                etag: meta.etag,
                header,
            }
        };
        let start_name = match start {
            ListStart::Beginning => String::new(),
            ListStart::After(k) => k.clone(),
            ListStart::AfterPrefix(p) => successor_of_prefix(p),
        };
        // Plain names: SX order is key order.
        let mut plain = Vec::new();
        if !prefix.starts_with(RESERVED) {
            let from = start_name.clone().max(prefix.to_owned());
            self.scan(vol, from, limit, |name, entry| {
                if name.starts_with(RESERVED) {
                    return Scan::Jump(RESERVED_END.to_owned());
                }
                if !name.starts_with(prefix) && name > prefix {
                    return Scan::Stop;
                }
                match path_to_key(name) {
                    Listed::Key(key) if past(&key) => Scan::Stop,
                    Listed::Key(key) if accept(&key) && keep(entry) => {
                        plain.push(summary(key, entry));
                        Scan::Take
                    }
                    _ => Scan::Skip,
                }
            })
            .await?;
        }
        // Escaped names: hex order is key order too.
        let mut escaped = Vec::new();
        let esc_prefix = escaped_prefix(prefix);
        let esc_start = match start {
            ListStart::Beginning => String::new(),
            ListStart::After(k) => escaped_prefix(k),
            ListStart::AfterPrefix(p) => successor_of_prefix(&escaped_prefix(p)),
        };
        self.scan(
            vol,
            esc_start.max(esc_prefix.clone()),
            limit,
            |name, entry| {
                if !name.starts_with(&esc_prefix) {
                    return if name > esc_prefix.as_str() {
                        Scan::Stop
                    } else {
                        Scan::Skip
                    };
                }
                match path_to_key(name) {
                    Listed::Key(key) if past(&key) => Scan::Stop,
                    Listed::Key(key) if accept(&key) && keep(entry) => {
                        escaped.push(summary(key, entry));
                        Scan::Take
                    }
                    _ => Scan::Skip,
                }
            },
        )
        .await?;
        let mut all = plain;
        all.extend(escaped);
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all.truncate(limit);
        Ok(all)
    }
}
