//! Running as another user: `run-as` resolved before anything starts, and privileges dropped
//! for good in each worker.

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User};

use crate::config::RunAs;

/// The uid and gid `run-as` names, checked before anything starts.
pub fn resolve_run_as(run_as: &RunAs) -> Result<(User, Gid), String> {
    let user = User::from_name(&run_as.user)
        .map_err(|e| format!("run-as: cannot look up user {:?}: {e}", run_as.user))?
        .ok_or_else(|| format!("run-as: there is no user {:?}", run_as.user))?;
    let gid = match &run_as.group {
        Some(name) => {
            Group::from_name(name)
                .map_err(|e| format!("run-as: cannot look up group {name:?}: {e}"))?
                .ok_or_else(|| format!("run-as: there is no group {name:?}"))?
                .gid
        }
        None => user.gid,
    };
    if user.uid.is_root() {
        return Err("run-as: names root; name the unprivileged user to run as".into());
    }
    let euid = nix::unistd::geteuid();
    if !euid.is_root() && euid != user.uid {
        return Err(format!(
            "run-as: switching to {:?} needs libres3 to start as root",
            run_as.user
        ));
    }
    Ok((user, gid))
}

/// initgroups, setgid, setuid; then makes sure root cannot be regained.
pub fn drop_privileges(user: &User, gid: Gid) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let name = CString::new(user.name.as_bytes())
        .map_err(|_| format!("run-as: bad user name {:?}", user.name))?;
    nix::unistd::initgroups(&name, gid)
        .map_err(|e| format!("run-as: initgroups({}) failed: {e}", user.name))?;
    nix::unistd::setgid(gid).map_err(|e| format!("run-as: setgid({gid}) failed: {e}"))?;
    nix::unistd::setuid(user.uid)
        .map_err(|e| format!("run-as: setuid({}) failed: {e}", user.uid))?;
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() || nix::unistd::geteuid().is_root() {
        return Err("run-as: still root after dropping privileges; refusing to run".into());
    }
    Ok(())
}
