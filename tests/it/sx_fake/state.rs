//! The cluster's state and what the protocol does with it: users and their SKY signatures,
//! privileges, block placement, jobs.

use super::*;

impl State {
    pub(super) fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
            + self.clock_offset
    }

    /// Stores a file as if another client had uploaded and flushed it (its blocks included).
    pub fn write_file(&mut self, volume: &str, path: &str, data: &[u8], meta: &[(&str, &[u8])]) {
        let bs = block_size_for(data.len() as u64) as usize;
        let mut hashes = Vec::new();
        for chunk in data.chunks(bs) {
            let mut block = chunk.to_vec();
            block.resize(bs, 0);
            let hash = block_hash(&block);
            self.blocks.insert(hash.clone(), Bytes::from(block));
            hashes.push(hash);
        }
        let created = self.now().max(0) as u64;
        let revision = format!(
            "{}:{}",
            date::revision_stamp(created),
            hex(&random_bytes(16))
        );
        let meta = meta
            .iter()
            .map(|(k, v)| (k.to_string(), json!(hex(v))))
            .collect();
        self.next_revision += 1;
        let order = self.next_revision;
        if let Some(vol) = self.volumes.get_mut(volume) {
            vol.files.insert(
                path.to_owned(),
                FileRec {
                    size: data.len() as u64,
                    bs: bs as u64,
                    hashes,
                    meta,
                    created,
                    revision,
                    order,
                },
            );
        }
    }

    /// Removes a file as if another client had deleted it.
    pub fn remove_file(&mut self, volume: &str, path: &str) {
        if let Some(vol) = self.volumes.get_mut(volume) {
            vol.files.remove(path);
        }
    }

    /// Runs the hooks waiting for this request (`after`: once it was answered).
    pub(super) fn run_hooks(&mut self, after: bool, method: &str, uri: &str, body: &[u8]) {
        let mut i = 0;
        while i < self.hooks.len() {
            if self.hooks[i].after == after && (self.hooks[i].matches)(method, uri, body) {
                let hook = self.hooks.remove(i);
                (hook.action)(self);
            } else {
                i += 1;
            }
        }
    }

    pub(super) fn add_user(&mut self, name: &str, admin: bool) -> String {
        let uid = sha1(&[name.as_bytes()]);
        let key = random_bytes(20);
        let mut bin = uid.clone();
        bin.extend_from_slice(&key);
        bin.extend_from_slice(&[0, 0]);
        self.users
            .insert(name.to_owned(), UserRec { uid, key, admin });
        STANDARD_NO_PAD.encode(bin)
    }

    /// Checks a SKY signature (§3). `Err` carries the status, realm and message.
    pub fn authenticate(&self, s: &Signed) -> Result<Option<String>, (u16, &'static str, String)> {
        let Some(auth) = s.authorization else {
            return Ok(None);
        };
        let Some(b64) = auth.strip_prefix("SKY ") else {
            return Err((401, "SXAUTH", "Invalid credentials".into()));
        };
        let raw = STANDARD_NO_PAD
            .decode(b64.trim_end_matches('='))
            .map_err(|_| (401, "SXAUTH", "Invalid credentials".to_owned()))?;
        if raw.len() != 42 {
            return Err((401, "SXAUTH", "Invalid credentials".into()));
        }
        let Some((name, user)) = self.users.iter().find(|(_, u)| u.uid == raw[..20]) else {
            return Err((401, "SXAUTH", "Invalid credentials".into()));
        };
        let Some(date) = s.date else {
            return Err((401, "SXAUTH", "Missing Date".into()));
        };
        let uri = s.uri.strip_prefix('/').unwrap_or(s.uri);
        let to_sign = format!(
            "{}\n{}\n{}\n{}\n",
            s.method,
            uri,
            date,
            hex(&sha1(&[s.body]))
        );
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &user.key);
        if hmac::verify(&key, to_sign.as_bytes(), &raw[20..40]).is_err() {
            return Err((401, "SXAUTH", "Invalid credentials".into()));
        }
        match date::parse(date) {
            Some(t) if (t - self.now()).abs() <= MAX_DRIFT_SECS => Ok(Some(name.clone())),
            _ => Err((401, "SXCLOCK", "Request is too old or too new".into())),
        }
    }

    pub(super) fn is_admin(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.admin)
    }

    /// Whether `user` may read and write the volume (an admin may do all).
    pub(super) fn privs(&self, user: &str, vol: &VolumeRec) -> (bool, bool) {
        if self.is_admin(user) {
            return (true, true);
        }
        let stored = vol.privs.get(user).copied().unwrap_or_default();
        (stored.read, stored.write)
    }

    /// Whether `user` may manage the volume's ACL: an admin, the owner, or a manager.
    pub(super) fn is_manager(&self, user: &str, vol: &VolumeRec) -> bool {
        self.is_admin(user) || vol.owner == user || vol.privs.get(user).is_some_and(|p| p.manager)
    }

    pub(super) fn block_nodes(&self, hash: &str, replicas: usize) -> Vec<String> {
        let n = self.ips.len();
        let start = unhex(&hash[..2.min(hash.len())])
            .and_then(|b| b.first().copied())
            .unwrap_or(0) as usize
            % n;
        (0..replicas.clamp(1, n))
            .map(|i| self.ips[(start + i) % n].clone())
            .collect()
    }

    pub(super) fn new_job(&mut self, node: usize, user: &str, error: Option<String>) -> Answer {
        let id = self.start_job(node, user, error);
        job_answer(&id)
    }

    /// Records a job started on `node` and returns its id.
    pub(super) fn start_job(&mut self, node: usize, user: &str, error: Option<String>) -> String {
        self.next_job += 1;
        let id = format!("{}:{}", self.node_uuids[node], self.next_job);
        self.jobs.insert(
            id.clone(),
            JobRec {
                node,
                user: user.to_owned(),
                polled: false,
                error,
            },
        );
        id
    }

    pub(super) fn volume(&self, name: &str) -> Result<&VolumeRec, Fail> {
        match self.volumes.get(name) {
            Some(v) => Ok(v),
            None => fail(404, "No such volume"),
        }
    }

    /// The volume, checked to be served by `node` and readable/writable by `user`.
    pub(super) fn vol_for(
        &self,
        name: &str,
        node: usize,
        user: &str,
        write: bool,
    ) -> Result<&VolumeRec, Fail> {
        let vol = self.volume(name)?;
        if !vol.nodes.contains(&node) {
            return fail(404, "Wrong node for volume");
        }
        let (r, w) = self.privs(user, vol);
        if (write && !w) || (!write && !r) {
            return fail(403, "Permission denied: not enough privileges");
        }
        Ok(vol)
    }

    /// [`Self::vol_for`] for a file request (`/<vol>/<path>`): real SX answers one sent to a
    /// node that does not hold the volume with a bare 404 "Not Found", as for a missing file
    /// (a listing gets "Wrong node for volume ...").
    pub(super) fn file_vol_for(
        &self,
        name: &str,
        node: usize,
        user: &str,
        write: bool,
    ) -> Result<&VolumeRec, Fail> {
        if !self.volume(name)?.nodes.contains(&node) {
            return fail(404, "Not Found");
        }
        self.vol_for(name, node, user, write)
    }

    pub(super) fn missing(&self, hashes: &[String], replicas: usize) -> Map<String, Value> {
        let mut out = Map::new();
        for h in hashes {
            if !self.blocks.contains_key(h) {
                out.insert(h.clone(), json!(self.block_nodes(h, replicas)));
            }
        }
        out
    }
}

/// The answer to a request that started job `id`.
pub(super) fn job_answer(id: &str) -> Answer {
    json_ok(json!({"requestId": id, "minPollInterval": 10, "maxPollInterval": 50}))
}
