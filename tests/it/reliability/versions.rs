//! SIGKILL while clients write versions, delete versions and write delete markers in a
//! versioned bucket: every acknowledged version is there afterwards with its bytes, and every
//! acknowledged version delete stays deleted (nothing comes back).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::kill::{cycles, seed, Rng};
use super::{try_send, MIB, PATIENCE};
use crate::common::raw::obj_path;
use crate::common::{md5_hex, test_data, unique_bucket, xml_child_texts, RawClient, TestServer};

const CI_CYCLES: usize = 4;
const WRITERS: usize = 4;
const KEYS: usize = 6;

/// A version the server acknowledged: its key and what it holds (None: a delete marker).
#[derive(Clone, Debug)]
struct Acked {
    key: String,
    md5: Option<String>,
}

#[derive(Default)]
struct Ledger {
    /// Acknowledged versions by id, not deleted by an acknowledged (or in-flight) delete.
    live: BTreeMap<String, Acked>,
    /// Versions whose delete was acknowledged: they must never come back.
    gone: BTreeMap<String, Acked>,
    /// Versions a delete in flight at the kill named: either outcome is right.
    doubtful: BTreeMap<String, Acked>,
    acked: usize,
    failures: Vec<String>,
}

#[derive(Default)]
struct Shared {
    ledger: Mutex<Ledger>,
    changed: Condvar,
    killed: AtomicBool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }
}

static CONTENTS: AtomicU64 = AtomicU64::new(1);

fn key_name(n: usize) -> String {
    format!("v/key-{n}")
}

/// Records an acknowledged version.
fn acknowledge(
    shared: &Shared,
    list: fn(&mut Ledger) -> &mut BTreeMap<String, Acked>,
    id: String,
    acked: Acked,
) {
    let mut ledger = shared.lock();
    list(&mut ledger).insert(id, acked);
    ledger.acked += 1;
    shared.changed.notify_all();
}

/// A PUT (`md5` of its body) or a DELETE without a version (a marker): Ok once acknowledged
/// with the version id it made.
fn write_version(
    client: &RawClient,
    request: crate::common::raw::Prepared,
    key: String,
    md5: Option<String>,
    shared: &Shared,
) -> Result<(), String> {
    let response = try_send(client.addr, &request).map_err(|e| e.why)?;
    let expected = if md5.is_some() { 200 } else { 204 };
    match response.header("x-amz-version-id") {
        Some(id) if response.status == expected => {
            acknowledge(shared, |l| &mut l.live, id.to_owned(), Acked { key, md5 });
            Ok(())
        }
        _ => Err(format!(
            "{}: {} {}",
            response.request,
            response.status,
            response.text()
        )),
    }
}

/// Deletes a live version for good (taken from the ledger, so no other writer names it).
fn delete_version(
    client: &RawClient,
    bucket: &str,
    shared: &Shared,
    rng: &mut Rng,
) -> Result<(), String> {
    let taken = {
        let mut ledger = shared.lock();
        let count = ledger.live.len();
        let id = (count > 0)
            .then(|| ledger.live.keys().nth(rng.range(0, count - 1)).cloned())
            .flatten();
        id.and_then(|id| ledger.live.remove(&id).map(|acked| (id, acked)))
    };
    let Some((id, acked)) = taken else {
        return Ok(());
    };
    let request = client
        .delete(&obj_path(bucket, &acked.key))
        .query("versionId", &id)
        .prepare();
    match try_send(client.addr, &request) {
        Ok(r) if r.status == 204 => {
            acknowledge(shared, |l| &mut l.gone, id, acked);
            Ok(())
        }
        Ok(r) => Err(format!("DELETE version {id}: {} {}", r.status, r.text())),
        Err(e) => {
            shared.lock().doubtful.insert(id, acked);
            Err(e.why)
        }
    }
}

/// One client: PUTs (new versions), DELETEs (markers) and DELETEs of versions, until the
/// server is killed.
fn writer(client: &RawClient, bucket: &str, shared: &Shared, mut rng: Rng) {
    while !shared.killed.load(Ordering::SeqCst) {
        let key = key_name(rng.range(0, KEYS - 1));
        let path = obj_path(bucket, &key);
        let roll = rng.range(0, 99);
        let result = if roll < 55 {
            let n = CONTENTS.fetch_add(1, Ordering::Relaxed);
            let len = if roll < 45 {
                rng.range(0, 50_000)
            } else {
                rng.range(4 * MIB + 1, 6 * MIB)
            };
            let data = test_data(len, n);
            let md5 = md5_hex(&data);
            write_version(
                client,
                client.put(&path).body(data).prepare(),
                key,
                Some(md5),
                shared,
            )
        } else if roll < 70 {
            write_version(client, client.delete(&path).prepare(), key, None, shared)
        } else {
            delete_version(client, bucket, shared, &mut rng)
        };
        if let Err(why) = result {
            if !shared.killed.load(Ordering::SeqCst) {
                shared.lock().failures.push(why);
                shared.changed.notify_all();
            }
            return;
        }
    }
}

/// Every live version reads back with its bytes (markers answer 405), every deleted one is
/// NoSuchVersion, and the listing names exactly the live ones (plus any doubtful).
fn check(server: &TestServer, bucket: &str, ledger: &Ledger, when: &str) {
    let c = server.raw();
    for (id, acked) in &ledger.live {
        let r = c
            .get(&obj_path(bucket, &acked.key))
            .query("versionId", id)
            .send();
        match &acked.md5 {
            Some(md5) => {
                assert_eq!(
                    r.status,
                    200,
                    "{when}: version {id} of {} lost: {}",
                    acked.key,
                    r.text()
                );
                assert_eq!(
                    &md5_hex(&r.body),
                    md5,
                    "{when}: version {id} of {} changed",
                    acked.key
                );
            }
            None => assert_eq!(r.status, 405, "{when}: marker {id} of {} lost", acked.key),
        }
    }
    for (id, acked) in &ledger.gone {
        let r = c
            .get(&obj_path(bucket, &acked.key))
            .query("versionId", id)
            .send();
        assert_eq!(
            r.status, 404,
            "{when}: deleted version {id} of {} is back",
            acked.key
        );
    }
    let mut listed = Vec::new();
    let (mut key_marker, mut id_marker) = (String::new(), String::new());
    loop {
        let mut req = c
            .get(&format!("/{bucket}"))
            .sub("versions")
            .query("max-keys", "100");
        if !key_marker.is_empty() {
            req = req
                .query("key-marker", &key_marker)
                .query("version-id-marker", &id_marker);
        }
        let text = req.send().ok().text();
        for element in ["Version", "DeleteMarker"] {
            listed.extend(xml_child_texts(&text, element, "VersionId"));
        }
        if crate::common::xml_text(&text, "IsTruncated").as_deref() != Some("true") {
            break;
        }
        key_marker = crate::common::xml_text(&text, "NextKeyMarker").unwrap_or_default();
        id_marker = crate::common::xml_text(&text, "NextVersionIdMarker").unwrap_or_default();
    }
    for id in ledger.live.keys() {
        assert!(listed.contains(id), "{when}: version {id} is not listed");
    }
    for id in ledger.gone.keys() {
        assert!(
            !listed.contains(id),
            "{when}: deleted version {id} is listed"
        );
    }
}

#[test]
fn kill_9_during_version_writes_keeps_acknowledged_versions() {
    let mut server = TestServer::start();
    let cycles = cycles(CI_CYCLES);
    let seed = seed();
    println!("versions: {cycles} kill -9 cycles, seed {seed:016x} (LIBRES3_RELIABILITY_SEED)");
    let mut rng = Rng(seed);
    let bucket = unique_bucket("reliability-versions");
    let c = server.raw();
    c.create_bucket(&bucket);
    c.put(&format!("/{bucket}"))
        .sub("versioning")
        .body("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")
        .send()
        .ok();
    let mut carried = Ledger::default();
    for cycle in 1..=cycles {
        let shared = Shared::default();
        {
            let mut ledger = shared.lock();
            ledger.live = std::mem::take(&mut carried.live);
            ledger.gone = std::mem::take(&mut carried.gone);
        }
        let acks = rng.range(5, 60);
        let delay = Duration::from_micros(rng.range(0, 30_000) as u64);
        let client = server.raw();
        let seeds: Vec<u64> = (0..WRITERS).map(|_| rng.next()).collect();
        std::thread::scope(|scope| {
            for &writer_seed in &seeds {
                let (client, bucket, shared) = (client.clone(), &bucket, &shared);
                scope.spawn(move || writer(&client, bucket, shared, Rng(writer_seed)));
            }
            let ledger = shared.lock();
            let (ledger, waited) = shared
                .changed
                .wait_timeout_while(ledger, PATIENCE, |l| {
                    l.acked < acks && l.failures.is_empty()
                })
                .unwrap_or_else(|e| e.into_inner());
            drop(ledger);
            if !waited.timed_out() {
                std::thread::sleep(delay);
            }
            shared.killed.store(true, Ordering::SeqCst);
            server.kill();
            assert!(
                !waited.timed_out(),
                "cycle {cycle}: {acks} acknowledgements did not come"
            );
        });
        let ledger = std::mem::take(&mut *shared.lock());
        assert!(
            ledger.failures.is_empty(),
            "cycle {cycle}: {:?}",
            ledger.failures
        );
        server.restart();
        let when = format!("versions cycle {cycle} (seed {seed:016x})");
        check(&server, &bucket, &ledger, &when);
        println!(
            "{when}: {} acknowledged; {} versions live, {} deleted, {} doubtful",
            ledger.acked,
            ledger.live.len(),
            ledger.gone.len(),
            ledger.doubtful.len()
        );
        // A doubtful delete settles as whatever the server shows now.
        carried = ledger;
        for (id, acked) in std::mem::take(&mut carried.doubtful) {
            let r = server
                .raw()
                .get(&obj_path(&bucket, &acked.key))
                .query("versionId", &id)
                .send();
            if r.status == 404 {
                carried.gone.insert(id, acked);
            } else {
                carried.live.insert(id, acked);
            }
        }
    }
    server.restart();
    check(&server, &bucket, &carried, "versions after a clean restart");
}
