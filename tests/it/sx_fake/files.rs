//! File requests: download (block list), upload start, meta, deletion.

use super::*;

fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 1024
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

#[allow(clippy::too_many_arguments)]
pub(super) fn file_request(
    st: &mut State,
    n: usize,
    method: &Method,
    vol_name: &str,
    path: &str,
    q: &Query,
    user: &str,
    body: Bytes,
) -> Answer {
    let is_get = *method == Method::GET || *method == Method::HEAD;
    if is_get {
        let v = st.file_vol_for(vol_name, n, user, false)?;
        let Some(f) = v.files.get(path) else {
            return fail(404, "Not Found");
        };
        if q.has("fileMeta") {
            return json_ok(json!({"fileMeta": Value::Object(f.meta.clone())}));
        }
        let data: Vec<Value> = f
            .hashes
            .iter()
            .map(|h| json!({ h.clone(): st.block_nodes(h, v.replicas) }))
            .collect();
        return json_ok(json!({
            "blockSize": f.bs, "fileSize": f.size, "createdAt": f.created,
            "fileRevision": f.revision, "fileData": data,
        }));
    }
    if *method == Method::PUT {
        let v = st.file_vol_for(vol_name, n, user, true)?;
        if !valid_path(path) {
            return fail(400, "Invalid path");
        }
        let replicas = v.replicas;
        let body: Value = serde_json::from_slice(&body).or_else(|_| fail(400, "Bad JSON"))?;
        let Some(size) = body["fileSize"].as_u64() else {
            return fail(400, "Missing fileSize");
        };
        let hashes = hash_list(&body["fileData"])?;
        let meta = body["fileMeta"].as_object().cloned().unwrap_or_default();
        for value in meta.values() {
            if value.as_str().and_then(unhex).is_none() {
                return fail(400, "Bad meta value");
            }
        }
        // The volume's size bounds the sum of its files' sizes (hidden ones too); the file
        // this one replaces gives its size back.
        let used: u64 = v
            .files
            .iter()
            .filter(|(name, _)| name.as_str() != path)
            .map(|(_, f)| f.size)
            .sum();
        if used.saturating_add(size) > v.size {
            return fail(413, "Not enough space left on volume");
        }
        let missing = st.missing(&hashes, replicas);
        st.next_revision += 1;
        let order = st.next_revision;
        let token = format!(
            "{}:{}:{:08x}:{:016x}:{}",
            st.node_uuids[n],
            hex(&random_bytes(16)),
            0,
            st.now() + 86400,
            hex(&random_bytes(20))
        );
        st.uploads.insert(
            token.clone(),
            Pending {
                user: user.to_owned(),
                volume: vol_name.to_owned(),
                path: path.to_owned(),
                node: n,
                size,
                bs: block_size_for(size),
                hashes,
                meta,
                order,
            },
        );
        return json_ok(json!({"uploadToken": token, "uploadData": missing}));
    }
    if *method == Method::DELETE {
        let v = st.file_vol_for(vol_name, n, user, true)?;
        if !v.files.contains_key(path) {
            return fail(404, "Not Found");
        }
        if let Some(v) = st.volumes.get_mut(vol_name) {
            v.files.remove(path);
        }
        return st.new_job(n, user, None);
    }
    fail(405, "Method not allowed")
}
