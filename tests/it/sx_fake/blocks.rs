//! Blocks and uploads: `.data` (block download and upload) and `.upload` (file upload
//! tokens: extend, then flush as a job).

use super::*;

pub(super) fn data_request(
    st: &mut State,
    method: &Method,
    rest: &str,
    user: &str,
    body: Bytes,
) -> Answer {
    let Some((bs, what)) = rest.split_once('/') else {
        return fail(404, "Not Found");
    };
    let Ok(bs) = bs.parse::<usize>() else {
        return fail(400, "Bad block size");
    };
    if ![4096, 16384, 1 << 20].contains(&bs) {
        return fail(400, "Bad block size");
    }
    if *method == Method::GET || *method == Method::HEAD {
        if what.len() % 40 != 0 || what.is_empty() {
            return fail(400, "Bad hash list");
        }
        let hashes: Vec<&str> = (0..what.len())
            .step_by(40)
            .map(|i| &what[i..i + 40])
            .collect();
        if hashes.len() > DOWNLOAD_MAX_BLOCKS {
            return fail(414, "Too many blocks");
        }
        let mut out = Vec::with_capacity(hashes.len() * bs);
        for h in hashes {
            match st.blocks.get(h) {
                Some(b) if b.len() == bs => out.extend_from_slice(b),
                _ => return fail(404, "Block not found"),
            }
        }
        return Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .insert_header(("Cache-control", "public"))
            .body(out));
    }
    if *method != Method::PUT {
        return fail(405, "Method not allowed");
    }
    match st.uploads.get(what) {
        Some(p) if p.user == user => {}
        _ => return fail(400, "Invalid token"),
    }
    if body.len() > UPLOAD_CHUNK {
        return fail(413, "Too many blocks");
    }
    if body.len() % bs != 0 {
        return fail(400, "Bad body length");
    }
    if st.disks_full {
        return fail(507, "Not enough space left on the node");
    }
    st.block_bytes_in += body.len() as u64;
    for i in (0..body.len()).step_by(bs) {
        let block = body.slice(i..i + bs);
        let hash = block_hash(&block);
        st.blocks.insert(hash, block);
    }
    Ok(HttpResponse::Ok().finish())
}

pub(super) fn upload_request(
    st: &mut State,
    n: usize,
    token: &str,
    user: &str,
    body: Bytes,
) -> Answer {
    let node_uuid = st.node_uuids[n].clone();
    if !token.starts_with(&format!("{node_uuid}:")) {
        return fail(404, "Invalid token for this node");
    }
    let Some(p) = st.uploads.get(token) else {
        return fail(404, "No such upload");
    };
    if p.user != user {
        return fail(400, "Invalid token");
    }
    let replicas = st.volumes.get(&p.volume).map(|v| v.replicas).unwrap_or(1);
    if body.is_empty() {
        let p = st
            .uploads
            .remove(token)
            .ok_or(Fail(StatusCode::NOT_FOUND, "gone".into()))?;
        let expected = p.size.div_ceil(p.bs) as usize;
        let error = if p.hashes.len() != expected {
            Some(format!(
                "Expected {expected} blocks, got {}",
                p.hashes.len()
            ))
        } else if p.hashes.iter().any(|h| !st.blocks.contains_key(h)) {
            Some("Some block is missing".to_owned())
        } else if st
            .volumes
            .get(&p.volume)
            .and_then(|v| v.files.get(&p.path))
            .is_some_and(|f| f.order > p.order)
        {
            Some("Newer copies of this file already exist".to_owned())
        } else {
            None
        };
        if error.is_none() {
            let created = st.now().max(0) as u64;
            let revision = format!(
                "{}:{}",
                date::revision_stamp(created),
                hex(&random_bytes(16))
            );
            let Some(vol) = st.volumes.get_mut(&p.volume) else {
                return st.new_job(n, user, Some("No such volume".into()));
            };
            vol.files.insert(
                p.path.clone(),
                FileRec {
                    size: p.size,
                    bs: p.bs,
                    hashes: p.hashes,
                    meta: p.meta,
                    created,
                    revision,
                    order: p.order,
                },
            );
        }
        return st.new_job(n, user, error);
    }
    let v: Value = serde_json::from_slice(&body).or_else(|_| fail(400, "Bad JSON"))?;
    let Some(seq) = v["extendSeq"].as_u64() else {
        return fail(400, "Missing extendSeq");
    };
    let hashes = hash_list(&v["fileData"])?;
    let missing = st.missing(&hashes, replicas);
    let Some(p) = st.uploads.get_mut(token) else {
        return fail(404, "No such upload");
    };
    if seq as usize > p.hashes.len() {
        return fail(400, "Bad extendSeq");
    }
    p.hashes.truncate(seq as usize);
    p.hashes.extend(hashes);
    json_ok(json!({"uploadToken": token, "uploadData": missing}))
}

pub(super) fn hash_list(v: &Value) -> Result<Vec<String>, Fail> {
    let Some(list) = v.as_array() else {
        return fail(400, "Missing fileData");
    };
    list.iter()
        .map(|h| match h.as_str() {
            Some(h) if h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(h.to_owned())
            }
            _ => fail(400, "Bad hash"),
        })
        .collect()
}
