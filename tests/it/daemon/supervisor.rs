//! The supervisor restarts a worker that dies.

use super::*;

#[test]
fn a_killed_worker_is_restarted() {
    let scratch = scratch_dir("restart");
    let daemon = Daemon::start(&scratch, "");
    let first = daemon.worker_pid();
    signal(first, "KILL");
    wait_for("a new worker", Duration::from_secs(20), || {
        let (status, body) = get_quietly(daemon.admin, "/health")?;
        (status == 200 && !body.contains(&format!("\"pid\":{first},"))).then_some(())
    });
    assert_ne!(daemon.worker_pid(), first);
    assert_eq!(get(daemon.s3, "/").0, 403, "S3 answers again");
    daemon.wait_for_log(
        "errors.log",
        &format!("worker {first} died (killed by SIGKILL)"),
    );
    assert_eq!(daemon.command("status").status.code(), Some(0));
}
