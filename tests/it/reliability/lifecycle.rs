//! SIGKILL while the lifecycle worker deletes: what a client saw deleted stays deleted, the
//! objects no rule matches all stay, and the worker finishes the job after the restart.

use std::collections::BTreeSet;
use std::time::Instant;

use super::PATIENCE;
use crate::common::{unique_bucket, wait_for, Backend};
use crate::s3_lifecycle::{expire_rule, fast_server, put_lifecycle};

/// Kill cycles per backend (each kills one pass in its middle).
const CYCLES: usize = 3;
/// Objects the rule expires per cycle, and objects it leaves alone.
const DOOMED: usize = 60;
const KEPT: usize = 10;

fn kill_during_lifecycle(backend: Backend) {
    let mut server = fast_server(backend);
    let b = unique_bucket("lc-kill");
    server.raw().create_bucket(&b);
    put_lifecycle(
        &server.raw(),
        &b,
        &expire_rule("doomed", "<Filter><Prefix>doomed/</Prefix></Filter>", 1),
    )
    .ok();
    let mut kept = BTreeSet::new();
    for cycle in 0..CYCLES {
        let c = server.raw();
        let doomed: BTreeSet<String> = (0..DOOMED)
            .map(|i| format!("doomed/{cycle}/{i:04}"))
            .collect();
        for key in &doomed {
            c.put_object(&b, key, b"d");
        }
        for i in 0..KEPT {
            let key = format!("kept/{cycle}/{i}");
            c.put_object(&b, &key, b"k");
            kept.insert(key);
        }
        // Kill as soon as the worker is seen deleting this cycle's objects.
        let prefix = format!("doomed/{cycle}/");
        let deadline = Instant::now() + PATIENCE;
        let seen: BTreeSet<String> = loop {
            let left: BTreeSet<String> = c.list_keys(&b, &prefix).into_iter().collect();
            if left.len() < DOOMED {
                server.kill();
                break left;
            }
            assert!(
                Instant::now() < deadline,
                "the worker never started deleting"
            );
        };
        let gone: Vec<&String> = doomed.difference(&seen).collect();
        server.restart();
        let c = server.raw();
        let after: BTreeSet<String> = c.list_keys(&b, "").into_iter().collect();
        let back: Vec<&&String> = gone.iter().filter(|k| after.contains(**k)).collect();
        assert!(
            back.is_empty(),
            "cycle {cycle}: deleted objects are back after kill -9: {back:?}"
        );
        let lost: Vec<&String> = kept.difference(&after).collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: objects no rule matches are gone: {lost:?}"
        );
        // The restarted worker finishes what the killed one started.
        wait_for("the restarted worker to finish", PATIENCE, || {
            c.list_keys(&b, &prefix).is_empty().then_some(())
        });
        println!(
            "cycle {cycle}: killed with {} of {DOOMED} deleted; none came back",
            gone.len()
        );
    }
    assert_eq!(
        server
            .raw()
            .list_keys(&b, "kept/")
            .into_iter()
            .collect::<BTreeSet<_>>(),
        kept
    );
}

#[test]
fn kill_9_during_lifecycle_resurrects_nothing_embedded() {
    kill_during_lifecycle(Backend::Embedded);
}

#[test]
fn kill_9_during_lifecycle_resurrects_nothing_sx() {
    kill_during_lifecycle(Backend::Sx);
}
