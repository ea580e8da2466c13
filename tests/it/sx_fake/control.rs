//! What tests do to the fake beyond the protocol: hooks around a request, answers cut short
//! by an injected error, clock skew, access grants, and reading files back.

use super::*;

/// A JSON answer cut short the way real SX ends an answer it fails to finish after its 200
/// (`send_partial_error` in fcgi-utils.c): `,"ErrorMessage":...}` in place of the last `}`.
pub(super) async fn fail_during(
    resp: HttpResponse,
    node: &NodeCtx,
    method: &str,
    uri: &str,
    body: &[u8],
) -> HttpResponse {
    let (message, node_uuid) = {
        let mut st = node.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(i) = st
            .partial_errors
            .iter()
            .position(|(m, _)| m(method, uri, body))
        else {
            return resp;
        };
        (
            st.partial_errors.remove(i).1,
            st.node_uuids[node.index].clone(),
        )
    };
    let Ok(sent) = actix_web::body::to_bytes(resp.into_body()).await else {
        return HttpResponse::InternalServerError().finish();
    };
    let mut text = String::from_utf8_lossy(&sent).into_owned();
    if text.ends_with('}') {
        text.pop();
        text.push(',');
    }
    text.push_str(&format!(
        "\"ErrorMessage\":{},\"NodeId\":\"{}\",\"ErrorId\":\"FAKE\"}}",
        Value::String(message),
        node_uuid
    ));
    HttpResponse::Ok()
        .content_type("application/json")
        .body(text)
}

impl FakeSx {
    /// Runs `action` once, just before the fake handles the next request that `matches`.
    pub fn before_next(&self, matches: HookMatch, action: HookAction) {
        self.state().hooks.push(Hook {
            after: false,
            matches,
            action,
        });
    }

    /// Runs `action` once, just after the fake handled the next request that `matches`.
    pub fn after_next(&self, matches: HookMatch, action: HookAction) {
        self.state().hooks.push(Hook {
            after: true,
            matches,
            action,
        });
    }

    /// Makes the next 200 answer to a request that `matches` end with `message`, as real SX
    /// does when it fails while sending an answer (a node failing during a listing).
    pub fn fail_during_next(&self, matches: HookMatch, message: &str) {
        self.state()
            .partial_errors
            .push((matches, message.to_owned()));
    }

    /// Injected errors of [`Self::fail_during_next`] not used yet.
    pub fn pending_partial_errors(&self) -> usize {
        self.state().partial_errors.len()
    }

    /// Hooks not run yet.
    pub fn pending_hooks(&self) -> usize {
        self.state().hooks.len()
    }

    /// A file's content and meta (hex values decoded), as SX holds it.
    pub fn file(&self, volume: &str, path: &str) -> Option<(Vec<u8>, FileMeta)> {
        let st = self.state();
        let f = st.volumes.get(volume)?.files.get(path)?;
        let mut data = Vec::with_capacity(f.size as usize);
        for h in &f.hashes {
            data.extend_from_slice(st.blocks.get(h)?);
        }
        data.truncate(f.size as usize);
        let meta = f
            .meta
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), unhex(v.as_str()?)?)))
            .collect();
        Some((data, meta))
    }

    /// What the cluster stores that contains `needle`: blocks (`block <hash>`) and the
    /// decoded meta values of files, uploads in progress and volumes (`meta <where> <key>`).
    /// The fake keeps its storage in memory: this is its disk, for at-rest scans.
    pub fn stored_items_containing(&self, needle: &[u8]) -> Vec<String> {
        let contains = |data: &[u8]| data.windows(needle.len()).any(|w| w == needle);
        let st = self.state();
        let mut found: Vec<String> = st
            .blocks
            .iter()
            .filter(|(_, data)| contains(data))
            .map(|(hash, _)| format!("block {hash}"))
            .collect();
        let mut metas: Vec<(String, &Map<String, Value>)> = Vec::new();
        for (name, volume) in &st.volumes {
            metas.push((format!("volume {name}"), &volume.meta));
            for (path, file) in &volume.files {
                metas.push((format!("file {name}/{path}"), &file.meta));
            }
        }
        for (id, upload) in &st.uploads {
            metas.push((format!("upload {id}"), &upload.meta));
        }
        for (place, meta) in metas {
            for (key, value) in meta {
                let text = value.as_str().unwrap_or_default();
                let decoded = unhex(text).unwrap_or_default();
                if contains(&decoded) || contains(text.as_bytes()) || contains(key.as_bytes()) {
                    found.push(format!("meta {place} {key}"));
                }
            }
        }
        found.sort();
        found
    }

    /// Moves the fake's clock (tests clock-skew correction).
    pub fn set_clock_offset(&self, secs: i64) {
        self.state().clock_offset = secs;
    }

    pub fn wait(&self) -> Duration {
        Duration::from_millis(10)
    }
}

impl FakeSx {
    /// The nodes (indexes) holding a volume.
    pub fn volume_nodes(&self, volume: &str) -> Vec<usize> {
        self.state()
            .volumes
            .get(volume)
            .map(|v| v.nodes.clone())
            .unwrap_or_default()
    }
}
