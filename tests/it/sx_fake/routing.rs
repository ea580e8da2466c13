//! One request from the wire to its handler: percent-decoding, the query string, SKY
//! authentication, and the cluster-wide paths (`/`, `.self`, `.users`, `.results`).

use super::*;

fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub(super) struct Query(pub(super) Vec<(String, Option<String>)>);

impl Query {
    pub(super) fn parse(q: &str) -> Option<Query> {
        let mut out = Vec::new();
        for part in q.split('&').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((k, v)) => {
                    out.push((percent_decode(k, true)?, Some(percent_decode(v, true)?)))
                }
                None => out.push((percent_decode(part, true)?, None)),
            }
        }
        Some(Query(out))
    }
    pub(super) fn has(&self, k: &str) -> bool {
        self.0.iter().any(|(key, _)| key == k)
    }
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.as_deref())
    }
}

pub(super) fn answer(req: &HttpRequest, uri: &str, body: Bytes, node: &NodeCtx) -> Answer {
    let mut st = node.state.lock().unwrap_or_else(PoisonError::into_inner);
    st.requests[node.index] += 1;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let method = req.method().clone();
    let signed = Signed {
        method: method.as_str(),
        uri,
        date: header("date"),
        body: &body,
        authorization: header("authorization"),
    };
    let (raw_path, raw_query) = uri.split_once('?').unwrap_or((uri, ""));
    if raw_path.contains("%2f") || raw_path.contains("%2F") || raw_path.contains("%00") {
        return fail(400, "Invalid path");
    }
    let Some(path) = percent_decode(raw_path, false) else {
        return fail(400, "Invalid path");
    };
    let Some(query) = Query::parse(raw_query) else {
        return fail(400, "Invalid query");
    };
    let trimmed = path.trim_matches('/');
    let (volume, file) = match trimmed.split_once('/') {
        Some((v, f)) => (v.to_owned(), Some(f.to_owned())),
        None => (trimmed.to_owned(), None),
    };
    let file = file.map(|f| {
        f.split('/')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("/")
    });
    if method != Method::PUT && !body.is_empty() {
        return fail(400, "Unexpected body");
    }
    let user = match st.authenticate(&signed) {
        Ok(Some(user)) => user,
        Ok(None) if volume.is_empty() => {
            return Ok(HttpResponse::Ok()
                .content_type("text/html")
                .body("<html><body>Your SX node is up and running</body></html>"))
        }
        Ok(None) => {
            return Ok(HttpResponse::Unauthorized()
                .content_type("text/html")
                .body("<html><body>401</body></html>"))
        }
        Err((status, realm, message)) => {
            let mut resp = HttpResponse::build(
                StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED),
            );
            resp.insert_header(("WWW-Authenticate", format!("SKY realm=\"{realm}\"")));
            resp.content_type("application/json");
            return Ok(resp.body(
                json!({"ErrorMessage": message, "NodeId": "x", "ErrorId": "x"}).to_string(),
            ));
        }
    };
    if let Some(f) = &file {
        if f.split('/').any(|p| p == "." || p == "..") {
            return fail(400, "Invalid path");
        }
    }
    let n = node.index;
    let is_get = method == Method::GET || method == Method::HEAD;
    match (volume.as_str(), file.as_deref()) {
        ("", None) if is_get => cluster_query(&st, &user, &query),
        (".self", None) if is_get => {
            let admin = st.is_admin(&user);
            json_ok(
                json!({ user: {"admin": admin, "userDesc": "", "userQuota": 0, "userQuotaUsed": 0} }),
            )
        }
        (".users", None) => {
            if !st.is_admin(&user) {
                return fail(403, "Permission denied: not enough privileges");
            }
            if is_get {
                let all: Map<String, Value> = st
                    .users
                    .iter()
                    .map(|(name, u)| (name.clone(), json!({"admin": u.admin})))
                    .collect();
                return json_ok(Value::Object(all));
            }
            if method == Method::PUT {
                let v: Value = serde_json::from_slice(&body).or_else(|_| fail(400, "Bad JSON"))?;
                let name = v["userName"].as_str().unwrap_or_default().to_owned();
                let key = v["userKey"]
                    .as_str()
                    .and_then(unhex)
                    .filter(|k| k.len() == 20);
                let Some(key) = key else {
                    return fail(400, "Bad userKey");
                };
                let admin = v["userType"].as_str() == Some("admin");
                let uid = sha1(&[name.as_bytes()]);
                st.users.insert(name, UserRec { uid, key, admin });
                return st.new_job(n, &user, None);
            }
            fail(405, "Method not allowed")
        }
        (".users", Some(name)) if method == Method::DELETE => {
            if !st.is_admin(&user) {
                return fail(403, "Permission denied: not enough privileges");
            }
            let name = name.to_owned();
            if name == "admin" || !st.users.contains_key(&name) {
                return fail(404, "No such user");
            }
            let Some(heir) = query.get("chgto").map(str::to_owned) else {
                return fail(400, "Missing chgto");
            };
            if !st.users.contains_key(&heir) {
                return fail(400, "No such user");
            }
            st.users.remove(&name);
            // Like SX (hashfs.c, user removal): the heir owns the volumes, with read and write.
            for v in st.volumes.values_mut() {
                v.privs.remove(&name);
                if v.owner == name {
                    v.owner = heir.clone();
                    let privs = v.privs.entry(heir.clone()).or_default();
                    privs.read = true;
                    privs.write = true;
                }
            }
            st.new_job(n, &user, None)
        }
        (".users", Some(name)) if is_get => {
            if !st.is_admin(&user) {
                return fail(403, "Permission denied: not enough privileges");
            }
            match st.users.get(name) {
                Some(u) => json_ok(json!({
                    "userName": name,
                    "userType": if u.admin { "admin" } else { "normal" },
                    "userKey": hex(&u.key),
                    "userID": hex(&u.uid),
                })),
                None => fail(404, "No such user"),
            }
        }
        (".results", Some(id)) if is_get => {
            let admin = st.is_admin(&user);
            let Some(job) = st.jobs.get_mut(id) else {
                return fail(404, "Not Found");
            };
            if job.node != n || (!admin && job.user != user) {
                return fail(404, "Not Found");
            }
            let (status, message) = if !job.polled {
                job.polled = true;
                ("PENDING", "Job is pending".to_owned())
            } else {
                match &job.error {
                    None => ("OK", "Job completed successfully".to_owned()),
                    Some(e) => ("ERROR", e.clone()),
                }
            };
            if status != "PENDING" {
                st.running_mass_jobs.retain(|_, (running, _)| running != id);
            }
            json_ok(json!({"requestId": id, "requestStatus": status, "requestMessage": message}))
        }
        (".data", Some(rest)) => data_request(&mut st, &method, rest, &user, body),
        (".upload", Some(token)) if method == Method::PUT => {
            upload_request(&mut st, n, token, &user, body)
        }
        (vol, None) if !vol.starts_with('.') => {
            volume_request(&mut st, n, &method, vol, &query, &user, body)
        }
        (vol, Some(path)) if !vol.starts_with('.') => {
            file_request(&mut st, n, &method, vol, path, &query, &user, body)
        }
        _ => fail(404, "Not Found"),
    }
}

fn cluster_query(st: &State, user: &str, q: &Query) -> Answer {
    let mut out = Map::new();
    if q.has("nodeList") {
        out.insert("nodeList".into(), json!(st.ips[..st.members]));
    }
    if q.has("volumeList") {
        let mut list = Map::new();
        for (name, v) in &st.volumes {
            let (r, w) = st.privs(user, v);
            if !r && !w {
                continue;
            }
            let mut entry = json!({
                "owner": v.owner, "replicaCount": v.replicas, "effectiveReplicaCount": v.replicas,
                "maxRevisions": 1, "privs": format!("{}{}", if r {"r"} else {"-"}, if w {"w"} else {"-"}),
                "usedSize": 0, "sizeBytes": v.size, "filesSize": 0, "filesCount": v.files.len(),
                "globalID": hex(&sha1(&[name.as_bytes()])),
            });
            if q.has("volumeMeta") {
                entry["volumeMeta"] = Value::Object(v.meta.clone());
            }
            if q.has("customVolumeMeta") {
                entry["customVolumeMeta"] = json!({});
            }
            list.insert(name.clone(), entry);
        }
        out.insert("volumeList".into(), Value::Object(list));
    }
    if q.has("nodeMaps") {
        out.insert("nodeMaps".into(), json!({}));
    }
    json_ok(Value::Object(out))
}
