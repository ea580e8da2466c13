//! The fake's nodes: one actix server per node address on a shared port, their common
//! answer headers and SX-style error bodies, and what tests ask of the cluster directly.

use super::*;

/// A running fake cluster: its nodes' shared port and addresses, and the admin's token.
pub struct FakeSx {
    pub port: u16,
    pub ips: Vec<String>,
    pub admin_token: String,
    state: Arc<Mutex<State>>,
    handles: Vec<Option<ServerHandle>>,
    /// A stopped node's address, bound but not listening: connections to it are refused,
    /// and no other test's fake cluster can take the port meanwhile (a store that still
    /// knows the address would reach that cluster instead).
    reserved: Vec<Option<std::os::fd::OwnedFd>>,
}

/// Binds `ip:port` without listening on it.
fn reserve(ip: &str, port: u16) -> Option<std::os::fd::OwnedFd> {
    use nix::sys::socket::{
        bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    let addr: std::net::SocketAddrV4 = format!("{ip}:{port}").parse().ok()?;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ok()?;
    // As std's listeners do, so the stopped node's lingering connections do not block it.
    setsockopt(&fd, sockopt::ReuseAddr, &true).ok()?;
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(addr),
    )
    .ok()?;
    Some(fd)
}

fn bind_nodes(n: usize) -> (u16, Vec<TcpListener>) {
    for _ in 0..50 {
        let Ok(first) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = first.local_addr().map(|a| a.port()) else {
            continue;
        };
        let mut all = vec![first];
        for i in 1..n {
            match TcpListener::bind(format!("127.0.0.{}:{port}", i + 1)) {
                Ok(l) => all.push(l),
                Err(_) => break,
            }
        }
        if all.len() == n {
            return (port, all);
        }
    }
    panic!("cannot bind {n} fake SX nodes on one port");
}

impl FakeSx {
    /// Starts `nodes` nodes sharing one cluster; the admin has the document's token.
    pub fn start(nodes: usize) -> FakeSx {
        let (port, listeners) = bind_nodes(nodes);
        let ips: Vec<String> = (0..nodes).map(|i| format!("127.0.0.{}", i + 1)).collect();
        let node_uuids = (0..nodes)
            .map(|_| {
                let r = hex(&random_bytes(16));
                format!(
                    "{}-{}-{}-{}-{}",
                    &r[..8],
                    &r[8..12],
                    &r[12..16],
                    &r[16..20],
                    &r[20..]
                )
            })
            .collect();
        let mut state = State {
            node_uuids,
            ips: ips.clone(),
            users: BTreeMap::new(),
            volumes: BTreeMap::new(),
            blocks: HashMap::new(),
            uploads: HashMap::new(),
            jobs: HashMap::new(),
            next_job: 0,
            next_revision: 0,
            block_bytes_in: 0,
            clock_offset: 0,
            requests: vec![0; nodes],
            members: nodes,
            disks_full: false,
            hooks: Vec::new(),
            partial_errors: Vec::new(),
            mass_jobs_locked: 0,
            running_mass_jobs: HashMap::new(),
            mass_jobs_overlapping: 0,
        };
        let admin = STANDARD_NO_PAD.decode(ADMIN_TOKEN).expect("admin token");
        state.users.insert(
            "admin".into(),
            UserRec {
                uid: admin[..20].to_vec(),
                key: admin[20..40].to_vec(),
                admin: true,
            },
        );
        let state = Arc::new(Mutex::new(state));
        let handles = listeners
            .into_iter()
            .enumerate()
            .map(|(index, listener)| Some(serve_node(index, listener, state.clone())))
            .collect();
        FakeSx {
            port,
            ips,
            admin_token: ADMIN_TOKEN.to_owned(),
            state,
            reserved: (0..nodes).map(|_| None).collect(),
            handles,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a user and returns its token.
    pub fn add_user(&self, name: &str) -> String {
        self.state().add_user(name, false)
    }

    /// Moves a volume to other nodes, as a rebalance does (blocks stay where they are).
    pub fn move_volume(&self, name: &str, nodes: &[usize]) {
        if let Some(v) = self.state().volumes.get_mut(name) {
            v.nodes = nodes.to_vec();
        }
    }

    /// Makes the first `n` nodes the cluster's members, as when nodes join a cluster: only they
    /// are listed in `?nodeList`.
    pub fn set_members(&self, n: usize) {
        self.state().members = n.clamp(1, self.ips.len());
    }

    /// Sets a volume's size, the bound on the sum of its files' sizes.
    pub fn set_volume_size(&self, name: &str, size: u64) {
        if let Some(v) = self.state().volumes.get_mut(name) {
            v.size = size;
        }
    }

    /// Creates a volume directly (admin's job, without HTTP).
    pub fn add_volume(&self, name: &str, owner: &str, replicas: usize, meta: &[(&str, &[u8])]) {
        let mut st = self.state();
        let n = st.ips.len();
        let start = name.len() % n;
        let nodes = (0..replicas.clamp(1, n)).map(|i| (start + i) % n).collect();
        let meta = meta
            .iter()
            .map(|(k, v)| (k.to_string(), json!(hex(v))))
            .collect();
        st.volumes.insert(
            name.to_owned(),
            VolumeRec {
                owner: owner.to_owned(),
                size: 1 << 30,
                replicas,
                meta,
                privs: BTreeMap::from([(owner.to_owned(), Privs::OWNER)]),
                nodes,
                files: BTreeMap::new(),
            },
        );
    }

    pub fn block_bytes_in(&self) -> u64 {
        self.state().block_bytes_in
    }

    /// Every volume and its owner.
    pub fn volumes(&self) -> Vec<(String, String)> {
        self.state()
            .volumes
            .iter()
            .map(|(name, v)| (name.clone(), v.owner.clone()))
            .collect()
    }

    /// Every user name.
    pub fn user_names(&self) -> Vec<String> {
        self.state().users.keys().cloned().collect()
    }

    /// File names of a volume, as SX stores them (no leading `/`).
    pub fn files(&self, volume: &str) -> Vec<String> {
        self.state()
            .volumes
            .get(volume)
            .map(|v| v.files.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Starts node `i` again on its address, after [`FakeSx::stop_node`].
    pub fn start_node(&mut self, i: usize) {
        if self.handles[i].is_none() {
            self.reserved[i] = None;
            let listener = TcpListener::bind(format!("{}:{}", self.ips[i], self.port))
                .expect("the stopped node's address is free");
            self.handles[i] = Some(serve_node(i, listener, self.state.clone()));
        }
    }

    /// Stops node `i` (its address then refuses connections).
    pub async fn stop_node(&mut self, i: usize) {
        if let Some(handle) = self.handles[i].take() {
            handle.stop(false).await;
            self.reserved[i] = reserve(&self.ips[i], self.port);
        }
    }
}

/// One node: an actix server on its own thread, answering from the shared state.
fn serve_node(index: usize, listener: TcpListener, state: Arc<Mutex<State>>) -> ServerHandle {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::PayloadConfig::new(64 << 20))
                    .app_data(web::Data::new(NodeCtx {
                        index,
                        state: state.clone(),
                    }))
                    .default_service(web::to(serve))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
            let _ = tx.send(server.handle());
            let _ = server.await;
        });
    });
    rx.recv().expect("fake node started")
}

impl Drop for FakeSx {
    fn drop(&mut self) {
        for handle in self.handles.iter_mut().filter_map(Option::take) {
            drop(handle.stop(false));
        }
    }
}

fn error_response(
    node: &NodeCtx,
    method: &Method,
    status: StatusCode,
    message: &str,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.content_type("application/json");
    if *method == Method::HEAD {
        return resp.finish();
    }
    let st = node.state.lock().unwrap_or_else(PoisonError::into_inner);
    resp.body(
        json!({"ErrorMessage": message, "NodeId": st.node_uuids[node.index], "ErrorId": "ZmFrZQ"})
            .to_string(),
    )
}

async fn serve(req: HttpRequest, body: Bytes, node: web::Data<NodeCtx>) -> HttpResponse {
    let method = req.method().clone();
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    node.state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .run_hooks(false, method.as_str(), &uri, &body);
    let mut resp = answer(&req, &uri, body.clone(), &node)
        .unwrap_or_else(|Fail(status, message)| error_response(&node, &method, status, &message));
    if resp.status() == StatusCode::OK {
        resp = fail_during(resp, &node, method.as_str(), &uri, &body).await;
    }
    let mut st = node.state.lock().unwrap_or_else(PoisonError::into_inner);
    st.run_hooks(true, method.as_str(), &uri, &body);
    let headers = resp.headers_mut();
    let insert = |h: &mut actix_web::http::header::HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&v) {
            h.insert(actix_web::http::header::HeaderName::from_static(k), v);
        }
    };
    insert(headers, "server", "Skylable SX".into());
    insert(headers, "sx-cluster", format!("2.3 ({CLUSTER_UUID})"));
    insert(headers, "sx-api-version", "1".into());
    insert(headers, "date", date::format(st.now()));
    if method == Method::HEAD {
        drop(st);
        return resp.map_body(|_, _| actix_web::body::BoxBody::new(()));
    }
    resp
}
