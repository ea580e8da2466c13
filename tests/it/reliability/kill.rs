//! SIGKILL while clients upload, overwrite and delete: nothing acknowledged is lost.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{try_send, NoAnswer, MIB, PATIENCE};
use crate::common::raw::{obj_path, Prepared, Response};
use crate::common::{
    md5_hex, random_suffix, test_data, unique_bucket, xml_text, RawClient, TestServer,
};

/// The embedded store's block size: large objects cross block boundaries.
const BLOCK: usize = 4 * MIB;
/// Kill cycles per backend in CI; `LIBRES3_RELIABILITY_CYCLES` overrides both.
const CI_CYCLES_EMBEDDED: usize = 8;
const CI_CYCLES_SX: usize = 4;
/// Client threads writing at once, and the keys they share.
const WRITERS: usize = 4;
const KEYS: usize = 12;

pub(super) fn cycles(ci: usize) -> usize {
    match std::env::var("LIBRES3_RELIABILITY_CYCLES") {
        Ok(n) => n
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("LIBRES3_RELIABILITY_CYCLES={n:?} is not a count")),
        Err(_) => ci,
    }
}

pub(super) fn seed() -> u64 {
    let text = std::env::var("LIBRES3_RELIABILITY_SEED").unwrap_or_else(|_| random_suffix());
    u64::from_str_radix(text.trim(), 16)
        .unwrap_or_else(|_| panic!("LIBRES3_RELIABILITY_SEED={text:?} is not hex"))
}

/// splitmix64: the experiment's choices, all from the printed seed.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub(super) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

// ---- HTTP without panics ---------------------------------------------------------------

/// What a key holds.
#[derive(Clone, Debug)]
enum Value {
    Absent,
    /// `version` names the write that made it (0 when read back from the server).
    Bytes {
        len: usize,
        md5: String,
        version: u64,
    },
}

impl Value {
    fn of(data: &[u8], version: u64) -> Value {
        Value::Bytes {
            len: data.len(),
            md5: md5_hex(data),
            version,
        }
    }

    fn same_content(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Absent, Value::Absent) => true,
            (Value::Bytes { len, md5, .. }, Value::Bytes { len: l, md5: m, .. }) => {
                len == l && md5 == m
            }
            _ => false,
        }
    }
}

/// One write or delete of a key, on the log's clock: `start` before its request left,
/// `end` once its success was read (None: never acknowledged).
#[derive(Clone, Debug)]
struct Op {
    key: usize,
    what: &'static str,
    value: Value,
    start: u64,
    end: Option<u64>,
    /// False when the connection was refused: the server never saw it.
    sent: bool,
}

/// The values a key may hold after `ops` (one cycle's operations on it, from `baseline`):
/// those of every write no acknowledged write started after; the baseline only if nothing
/// was acknowledged; a write in flight at the kill may or may not have happened. Anything
/// else — an older version, a deleted object back, bytes of no write — is a loss.
fn candidates<'a>(baseline: &'a Value, ops: &[&'a Op]) -> Vec<&'a Value> {
    let last_acked_start = ops
        .iter()
        .filter(|o| o.end.is_some())
        .map(|o| o.start)
        .max();
    let mut allowed: Vec<&Value> = Vec::new();
    if last_acked_start.is_none() {
        allowed.push(baseline);
    }
    for op in ops.iter().filter(|o| o.sent) {
        let superseded = match (op.end, last_acked_start) {
            (Some(end), Some(last)) => last > end,
            _ => false,
        };
        if !superseded {
            allowed.push(&op.value);
        }
    }
    allowed
}

fn describe(value: &Value) -> String {
    match value {
        Value::Absent => "absent".into(),
        Value::Bytes {
            len,
            md5,
            version: 0,
        } => format!("{len} bytes, md5 {md5}"),
        Value::Bytes { len, md5, version } => format!("v{version} ({len} bytes, md5 {md5})"),
    }
}

/// What the writers of one cycle share with the thread that kills the server.
#[derive(Default)]
struct Journal {
    state: Mutex<Entries>,
    changed: Condvar,
    clock: AtomicU64,
    killed: AtomicBool,
}

#[derive(Default)]
struct Entries {
    ops: Vec<Op>,
    acked: usize,
    /// Large PUTs and multipart completions begun.
    big: usize,
    failures: Vec<String>,
}

impl Journal {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self, key: usize, what: &'static str, value: Value) -> usize {
        let mut state = self.lock();
        let start = self.clock.fetch_add(1, Ordering::SeqCst);
        state.ops.push(Op {
            key,
            what,
            value,
            start,
            end: None,
            sent: true,
        });
        if what != "small PUT" && what != "DELETE" {
            state.big += 1;
            self.changed.notify_all();
        }
        state.ops.len() - 1
    }

    fn acknowledged(&self, op: usize) {
        let mut state = self.lock();
        state.ops[op].end = Some(self.clock.fetch_add(1, Ordering::SeqCst));
        state.acked += 1;
        self.changed.notify_all();
    }

    fn unanswered(&self, op: usize, e: &NoAnswer) {
        self.lock().ops[op].sent = e.sent;
    }

    /// A writer met something other than the kill: the test fails with it.
    fn failed(&self, why: String) {
        self.lock().failures.push(why);
        self.changed.notify_all();
    }
}

// ---- the writers ---------------------------------------------------------------------------

/// Bytes of a version: pseudo-random, except that every other large version starts with one
/// of two shared 4 MiB blocks, so that deduplicated blocks are shared between objects that
/// are overwritten and deleted (and their blocks collected) around the kills.
fn content(version: u64, len: usize) -> Vec<u8> {
    if len > BLOCK && version % 2 == 0 {
        let mut data = test_data(BLOCK, 0x5_4A7ED + (version / 2) % 2);
        data.extend_from_slice(&test_data(len - BLOCK, version));
        data
    } else {
        test_data(len, version)
    }
}

static VERSIONS: AtomicU64 = AtomicU64::new(1);

struct Writer<'a> {
    client: RawClient,
    bucket: &'a str,
    journal: &'a Journal,
    rng: Rng,
}

impl Writer<'_> {
    fn run(mut self) {
        while !self.journal.killed.load(Ordering::SeqCst) {
            let key = self.rng.range(0, KEYS - 1);
            let roll = self.rng.range(0, 99);
            let small = self.rng.range(0, 60_000);
            let large = self.rng.range(BLOCK + 1, 9 * MIB);
            let result = match roll {
                0..=49 => self.put(key, "small PUT", small),
                50..=64 => self.put(key, "large PUT", large),
                65..=74 => self.multipart(key),
                _ => self.delete(key),
            };
            if let Err(why) = result {
                if !self.journal.killed.load(Ordering::SeqCst) {
                    self.journal.failed(why);
                }
                return;
            }
        }
    }

    fn path(&self, key: usize) -> String {
        obj_path(self.bucket, &key_name(key))
    }

    /// Sends one operation on `key`, journaled; Ok once acknowledged.
    fn journaled(
        &self,
        key: usize,
        what: &'static str,
        value: Value,
        request: Prepared,
        ok: impl Fn(&Response) -> bool,
    ) -> Result<(), String> {
        let op = self.journal.begin(key, what, value);
        match try_send(self.client.addr, &request) {
            Ok(response) if ok(&response) => {
                self.journal.acknowledged(op);
                Ok(())
            }
            Ok(response) => Err(format!(
                "{what} of {}: {} {}",
                key_name(key),
                response.status,
                response.text()
            )),
            Err(e) => {
                self.journal.unanswered(op, &e);
                Err(e.why)
            }
        }
    }

    fn put(&mut self, key: usize, what: &'static str, len: usize) -> Result<(), String> {
        let version = VERSIONS.fetch_add(1, Ordering::Relaxed);
        let data = content(version, len);
        let value = Value::of(&data, version);
        let request = self.client.put(&self.path(key)).body(data).prepare();
        self.journaled(key, what, value, request, |r| r.status == 200)
    }

    fn delete(&mut self, key: usize) -> Result<(), String> {
        let request = self.client.delete(&self.path(key)).prepare();
        self.journaled(key, "DELETE", Value::Absent, request, |r| r.status == 204)
    }

    /// Create, two parts (5 MiB and 1-2 MiB), Complete: only Complete changes the key.
    fn multipart(&mut self, key: usize) -> Result<(), String> {
        let version = VERSIONS.fetch_add(1, Ordering::Relaxed);
        let data = content(version, 5 * MIB + self.rng.range(MIB, 2 * MIB));
        let value = Value::of(&data, version);
        let path = self.path(key);
        let send = |request: Prepared| -> Result<Response, String> {
            let response = try_send(self.client.addr, &request).map_err(|e| e.why)?;
            if response.status == 200 {
                Ok(response)
            } else {
                Err(format!(
                    "{}: {} {}",
                    response.request,
                    response.status,
                    response.text()
                ))
            }
        };
        let created = send(self.client.post(&path).sub("uploads").prepare())?;
        let upload = xml_text(&created.text(), "UploadId").ok_or("no UploadId")?;
        let mut complete = String::from("<CompleteMultipartUpload>");
        for (n, part) in [&data[..5 * MIB], &data[5 * MIB..]].into_iter().enumerate() {
            let request = self
                .client
                .put(&path)
                .query("partNumber", &(n + 1).to_string())
                .query("uploadId", &upload)
                .body(part.to_vec())
                .prepare();
            let response = send(request)?;
            let etag = response.header("etag").ok_or("part without ETag")?;
            complete.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
                n + 1
            ));
        }
        complete.push_str("</CompleteMultipartUpload>");
        let request = self
            .client
            .post(&path)
            .query("uploadId", &upload)
            .body(complete)
            .prepare();
        // CompleteMultipartUpload can fail with a 200 and an <Error> body.
        self.journaled(key, "multipart", value, request, |r| {
            r.status == 200 && r.text().contains("CompleteMultipartUploadResult")
        })
    }
}

fn key_name(key: usize) -> String {
    format!("shared/key-{key:02}")
}

// ---- kill -9 cycles ------------------------------------------------------------------------

/// Reads every key back and checks it against the journal; returns the values seen, the new
/// baseline. Also checks that a listing names exactly the keys that exist.
fn check(
    server: &TestServer,
    bucket: &str,
    baseline: &[Value],
    ops: &[Op],
    when: &str,
) -> Vec<Value> {
    let client = server.raw();
    let mut seen = Vec::with_capacity(KEYS);
    for (key, before) in baseline.iter().enumerate() {
        let request = client.get(&obj_path(bucket, &key_name(key))).prepare();
        let response = try_send(client.addr, &request)
            .unwrap_or_else(|e| panic!("{when}: the restarted server did not answer: {}", e.why));
        let observed = match response.status {
            200 => Value::of(&response.body, 0),
            404 => Value::Absent,
            status => panic!(
                "{when}: GET {}: {status} {}",
                key_name(key),
                response.text()
            ),
        };
        let history: Vec<&Op> = ops.iter().filter(|o| o.key == key).collect();
        let allowed = candidates(before, &history);
        let Some(matched) = allowed.iter().find(|v| v.same_content(&observed)) else {
            let writes: Vec<String> = ops
                .iter()
                .filter(|o| o.value.same_content(&observed))
                .map(|o| format!("v{} of {}", version_of(&o.value), key_name(o.key)))
                .collect();
            let origin = if writes.is_empty() {
                "no write of this cycle".to_string()
            } else {
                writes.join(", ")
            };
            let mut story = format!(
                "{when}: {} holds {} (the bytes of: {origin}), which is not what was \
                 acknowledged.\nIt may hold: {}\nBefore the cycle: {}\nThe cycle's operations \
                 on it (start, end; end None: not acknowledged):\n",
                key_name(key),
                describe(&observed),
                allowed
                    .iter()
                    .map(|v| describe(v))
                    .collect::<Vec<_>>()
                    .join(" or "),
                describe(before),
            );
            for op in &history {
                story.push_str(&format!(
                    "  {} {} [{}, {:?}]{}\n",
                    op.what,
                    describe(&op.value),
                    op.start,
                    op.end,
                    if op.sent { "" } else { " (never sent)" }
                ));
            }
            panic!("{story}");
        };
        seen.push((*matched).clone());
    }
    let listed: BTreeSet<String> = client.list_keys(bucket, "shared/").into_iter().collect();
    let present: BTreeSet<String> = (0..KEYS)
        .filter(|&k| !matches!(seen[k], Value::Absent))
        .map(key_name)
        .collect();
    assert_eq!(
        listed, present,
        "{when}: the listing differs from the objects"
    );
    seen
}

fn version_of(value: &Value) -> u64 {
    match value {
        Value::Absent => 0,
        Value::Bytes { version, .. } => *version,
    }
}

/// Writers upload and overwrite the shared keys; the server is killed (after a number of
/// acknowledgements drawn from the seed, or once a drawn number of large writes have begun,
/// plus a drawn delay of up to 40 ms: the experiment, not a synchronisation), restarted on
/// the same data, and every key is checked.
fn kill_cycles(server: &mut TestServer, cycles: usize, label: &str) {
    let seed = seed();
    println!("{label}: {cycles} kill -9 cycles, seed {seed:016x} (LIBRES3_RELIABILITY_SEED)");
    let mut rng = Rng(seed);
    let bucket = unique_bucket(&format!("reliability-{label}"));
    server.raw().create_bucket(&bucket);
    let mut baseline = vec![Value::Absent; KEYS];
    let started = Instant::now();
    let (mut total_acked, mut total_in_flight, mut total_landed) = (0, 0, 0);
    for cycle in 1..=cycles {
        let journal = Journal::default();
        // Half the cycles count acknowledgements, half catch large bodies on the wire.
        let (acks, bigs) = match rng.range(0, 1) {
            0 => (rng.range(2, 40), 0),
            _ => (0, rng.range(1, 3)),
        };
        let delay = Duration::from_micros(rng.range(0, 40_000) as u64);
        let client = server.raw();
        let writer_seeds: Vec<u64> = (0..WRITERS).map(|_| rng.next()).collect();
        std::thread::scope(|scope| {
            for &writer_seed in &writer_seeds {
                let writer = Writer {
                    client: client.clone(),
                    bucket: &bucket,
                    journal: &journal,
                    rng: Rng(writer_seed),
                };
                scope.spawn(move || writer.run());
            }
            let state = journal.lock();
            let (state, waited) = journal
                .changed
                .wait_timeout_while(state, PATIENCE, |s| {
                    (s.acked < acks || s.big < bigs) && s.failures.is_empty()
                })
                .unwrap_or_else(|e| e.into_inner());
            let timed_out = waited.timed_out();
            drop(state);
            if !timed_out {
                std::thread::sleep(delay);
            }
            journal.killed.store(true, Ordering::SeqCst);
            server.kill();
            assert!(
                !timed_out,
                "{label} cycle {cycle}: {acks} acknowledgements and {bigs} large writes did not \
                 come in {PATIENCE:?}"
            );
        });
        let entries = std::mem::take(&mut *journal.lock());
        assert!(
            entries.failures.is_empty(),
            "{label} cycle {cycle}: a request failed while the server was up: {:?}",
            entries.failures
        );
        server.restart();
        let when = format!("{label} cycle {cycle} (seed {seed:016x})");
        let seen = check(server, &bucket, &baseline, &entries.ops, &when);
        let in_flight: Vec<&Op> = entries
            .ops
            .iter()
            .filter(|o| o.end.is_none() && o.sent)
            .collect();
        let landed = in_flight
            .iter()
            .filter(|o| {
                seen[o.key].same_content(&o.value) && !baseline[o.key].same_content(&o.value)
            })
            .count();
        println!(
            "{when}: killed after {} acknowledged writes (+{delay:?}), {} in flight ({}), \
             {landed} of them landed; {} keys hold objects",
            entries.acked,
            in_flight.len(),
            in_flight
                .iter()
                .map(|o| o.what)
                .collect::<Vec<_>>()
                .join(", "),
            seen.iter().filter(|v| !matches!(v, Value::Absent)).count()
        );
        total_acked += entries.acked;
        total_in_flight += in_flight.len();
        total_landed += landed;
        baseline = seen;
    }
    // What the checks saw also survives a clean stop and start.
    server.restart();
    check(
        server,
        &bucket,
        &baseline,
        &[],
        &format!("{label} after a clean restart"),
    );
    println!(
        "{label}: {cycles} cycles in {:.1?}: {total_acked} acknowledged writes, none lost; \
         {total_in_flight} in flight at a kill, {total_landed} of them landed",
        started.elapsed()
    );
}

#[test]
fn kill_9_during_uploads_loses_nothing_acknowledged_embedded() {
    let mut server = TestServer::start();
    kill_cycles(&mut server, cycles(CI_CYCLES_EMBEDDED), "embedded");
}

/// The SX gateway keeps no state: killing it must not lose what the cluster acknowledged
/// through it, nor leave a torn object visible.
#[test]
fn kill_9_during_uploads_loses_nothing_acknowledged_sx() {
    let mut server = TestServer::start_sx();
    kill_cycles(&mut server, cycles(CI_CYCLES_SX), "sx");
}

/// The checker itself: it accepts what may happen and refuses a stale version, a deleted
/// object back, and bytes no write made.
#[test]
fn the_kill_checker_refuses_losses() {
    let v = |version: u64, len: usize| Value::of(&content(version, len), version);
    let op = |value: Value, start: u64, end: Option<u64>| Op {
        key: 0,
        what: "test",
        value,
        start,
        end,
        sent: true,
    };
    let accepts = |baseline: &Value, ops: &[Op], observed: &Value| {
        let ops: Vec<&Op> = ops.iter().collect();
        candidates(baseline, &ops)
            .iter()
            .any(|c| c.same_content(observed))
    };
    let old = v(1, 100);
    let new = v(2, 100);
    let torn = {
        let mut data = content(2, 100);
        data[50..].copy_from_slice(&content(1, 100)[50..]);
        Value::of(&data, 0)
    };
    // Acknowledged in order: only the last.
    let sequential = [op(old.clone(), 0, Some(1)), op(new.clone(), 2, Some(3))];
    assert!(accepts(&Value::Absent, &sequential, &new));
    assert!(!accepts(&Value::Absent, &sequential, &old));
    assert!(!accepts(&Value::Absent, &sequential, &Value::Absent));
    assert!(!accepts(&Value::Absent, &sequential, &torn));
    // Overlapping: either.
    let overlapping = [op(old.clone(), 0, Some(3)), op(new.clone(), 1, Some(2))];
    assert!(accepts(&Value::Absent, &overlapping, &new));
    assert!(accepts(&Value::Absent, &overlapping, &old));
    // A delete acknowledged after a write: absent, never the write.
    let deleted = [op(old.clone(), 0, Some(1)), op(Value::Absent, 2, Some(3))];
    assert!(accepts(&old, &deleted, &Value::Absent));
    assert!(!accepts(&old, &deleted, &old));
    // In flight at the kill: the previous version or the new one, never a mix.
    let in_flight = [op(new.clone(), 0, None)];
    assert!(accepts(&old, &in_flight, &old));
    assert!(accepts(&old, &in_flight, &new));
    assert!(!accepts(&old, &in_flight, &torn));
    // Refused at connect: it cannot have happened.
    let mut refused = op(new.clone(), 0, None);
    refused.sent = false;
    assert!(!accepts(&old, &[refused], &new));
    // Nothing done: the baseline only, and it must be there.
    assert!(accepts(&old, &[], &old));
    assert!(!accepts(&old, &[], &Value::Absent));
}
