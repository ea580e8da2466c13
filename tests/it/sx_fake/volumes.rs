//! Volume requests: listing files, volume meta and locate, creation, deletion.

use super::*;

fn entry_json(f: &FileRec, with_meta: bool) -> Value {
    let mut e = json!({"fileSize": f.size, "blockSize": f.bs, "createdAt": f.created, "fileRevision": f.revision});
    if with_meta {
        e["fileMeta"] = Value::Object(f.meta.clone());
    }
    e
}

#[allow(clippy::too_many_arguments)]
pub(super) fn volume_request(
    st: &mut State,
    n: usize,
    method: &Method,
    name: &str,
    q: &Query,
    user: &str,
    body: Bytes,
) -> Answer {
    let is_get = *method == Method::GET || *method == Method::HEAD;
    if q.get("o") == Some("acl") {
        if is_get {
            return list_acl(st, name, q, user);
        }
        if *method == Method::PUT {
            return change_acl(st, n, name, user, &body);
        }
    }
    if is_get && q.get("o") == Some("locate") {
        let v = st.volume(name)?;
        let (r, w) = st.privs(user, v);
        if !r && !w && !st.is_manager(user, v) {
            return fail(403, "Permission denied: not enough privileges");
        }
        let mut out = json!({
            "nodeList": v.nodes.iter().map(|i| st.ips[*i].clone()).collect::<Vec<_>>(),
            "owner": v.owner, "replicaCount": v.replicas, "effectiveReplicaCount": v.replicas,
            "maxRevisions": 1, "privs": format!("{}{}", if r {"r"} else {"-"}, if w {"w"} else {"-"}),
            "usedSize": 0, "filesSize": 0, "filesCount": v.files.len(), "sizeBytes": v.size,
            "globalID": hex(&sha1(&[name.as_bytes()])),
        });
        if let Some(size) = q.get("size") {
            let Ok(size) = size.parse::<u64>() else {
                return fail(400, "Bad size");
            };
            out["blockSize"] = json!(block_size_for(size));
        }
        if q.has("volumeMeta") {
            out["volumeMeta"] = Value::Object(v.meta.clone());
        }
        if q.has("customVolumeMeta") {
            out["customVolumeMeta"] = json!({});
        }
        return json_ok(out);
    }
    if is_get {
        let v = st.vol_for(name, n, user, false)?;
        let filter = q.get("filter").unwrap_or("");
        let recursive = q.has("recursive");
        let mut list: BTreeMap<String, Value> = BTreeMap::new();
        for (path, f) in &v.files {
            if recursive {
                if filter.is_empty() || glob::matches_or_under(filter, path) {
                    list.insert(format!("/{path}"), entry_json(f, q.has("meta")));
                }
                continue;
            }
            // One level: the level of the filter (its directory), or the top.
            let (dir, pattern) = match filter.rfind('/') {
                Some(i) => (&filter[..=i], &filter[i + 1..]),
                None => ("", filter),
            };
            let Some(rest) = path.strip_prefix(dir) else {
                continue;
            };
            let (first, is_dir) = match rest.split_once('/') {
                Some((first, _)) => (first, true),
                None => (rest, false),
            };
            if !pattern.is_empty() && !glob::matches(pattern, first) {
                continue;
            }
            if is_dir {
                list.insert(format!("/{dir}{first}/"), json!({}));
            } else {
                list.insert(format!("/{path}"), entry_json(f, q.has("meta")));
            }
        }
        let after = q.get("after").unwrap_or("");
        let limit = q
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(usize::MAX);
        let files: Map<String, Value> = list
            .into_iter()
            .filter(|(name, _)| name[1..] >= *after)
            .take(limit)
            .collect();
        return json_ok(json!({"volumeSize": v.size, "volumeUsedSize": 0, "fileList": files}));
    }
    if *method == Method::PUT && q.0.is_empty() {
        if !st.is_admin(user) {
            return fail(403, "Permission denied: not enough privileges");
        }
        let v: Value = serde_json::from_slice(&body).or_else(|_| fail(400, "Bad JSON"))?;
        let owner = v["owner"].as_str().unwrap_or_default().to_owned();
        let Some(size) = v["volumeSize"].as_u64() else {
            return fail(400, "Bad volumeSize");
        };
        if !st.users.contains_key(&owner) {
            return fail(400, "No such owner");
        }
        let replicas = v["replicaCount"].as_u64().unwrap_or(1) as usize;
        if replicas == 0 || replicas > st.members {
            return fail(400, "Invalid replica count");
        }
        if name.len() < 2 || name.len() > 255 || name.starts_with('.') {
            return fail(400, "Invalid volume name");
        }
        // As SX 2.3 checks it (hashfs.c, sx_hashfs_check_volume_size), answered 400 at once.
        if !(MIN_VOLUME_SIZE..=MAX_VOLUME_SIZE).contains(&size) {
            return fail(
                400,
                &format!(
                    "Invalid volume size {size}: must be between {MIN_VOLUME_SIZE} and {MAX_VOLUME_SIZE}"
                ),
            );
        }
        let used: u64 = st
            .volumes
            .values()
            .map(|v| v.size * v.replicas as u64)
            .sum();
        if used + size * replicas as u64 > CLUSTER_CAPACITY {
            return fail(
                400,
                &format!(
                    "Invalid volume size {size} - with replica {replicas} and current cluster usage \
                     it must be between {MIN_VOLUME_SIZE} and {}",
                    CLUSTER_CAPACITY.saturating_sub(used) / replicas as u64
                ),
            );
        }
        if st.volumes.contains_key(name) {
            return st.new_job(n, user, Some("Volume already exists".into()));
        }
        let meta = v["volumeMeta"].as_object().cloned().unwrap_or_default();
        let count = st.members;
        let start = (st.next_job as usize) % count;
        let privs = BTreeMap::from([(owner.clone(), Privs::OWNER)]);
        st.volumes.insert(
            name.to_owned(),
            VolumeRec {
                owner,
                size,
                replicas,
                meta,
                privs,
                nodes: (0..replicas).map(|i| (start + i) % count).collect(),
                files: BTreeMap::new(),
            },
        );
        return st.new_job(n, user, None);
    }
    if *method == Method::DELETE {
        if let Some(filter) = q.get("filter") {
            let v = st.vol_for(name, n, user, true)?;
            let recursive = q.has("recursive");
            let doomed: Vec<String> = v
                .files
                .keys()
                .filter(|p| {
                    if recursive {
                        glob::matches_or_under(filter, p)
                    } else {
                        glob::matches(filter, p)
                    }
                })
                .cloned()
                .collect();
            let refused = "A complex operation is already running on the cluster";
            if st.mass_jobs_locked > 0 {
                st.mass_jobs_locked -= 1;
                return st.new_job(n, user, Some(refused.to_owned()));
            }
            st.running_mass_jobs
                .retain(|_, (_, started)| started.elapsed() < MASS_JOB_RUNS);
            if st.running_mass_jobs.contains_key(name) {
                st.mass_jobs_overlapping += 1;
                return st.new_job(n, user, Some(refused.to_owned()));
            }
            if let Some(v) = st.volumes.get_mut(name) {
                for p in doomed {
                    v.files.remove(&p);
                }
            }
            let id = st.start_job(n, user, None);
            let answer = state::job_answer(&id);
            st.running_mass_jobs
                .insert(name.to_owned(), (id, Instant::now()));
            return answer;
        }
        if !st.is_admin(user) {
            return fail(403, "Permission denied: not enough privileges");
        }
        let v = st.volume(name)?;
        // Like real SX: only the volume's own nodes remove it (sx-protocol.md §6).
        if !v.nodes.contains(&n) {
            return fail(404, "This volume does not belong here");
        }
        if !v.files.is_empty() {
            return fail(409, "Cannot delete non-empty volume");
        }
        st.volumes.remove(name);
        return st.new_job(n, user, None);
    }
    fail(405, "Method not allowed")
}
