//! Running as another user: `run-as` resolved before anything starts, and privileges dropped
//! for good in each worker.

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User};

use crate::config::RunAs;

/// Why the run-as user cannot be used; every message starts with `run-as:`.
#[derive(Debug, thiserror::Error)]
pub enum RunAsError {
    #[error("run-as: cannot look up user {user:?}: {source}")]
    LookUpUser { user: String, source: nix::Error },
    #[error("run-as: there is no user {0:?}")]
    NoUser(String),
    #[error("run-as: cannot look up group {group:?}: {source}")]
    LookUpGroup { group: String, source: nix::Error },
    #[error("run-as: there is no group {0:?}")]
    NoGroup(String),
    #[error("run-as: names root; name the unprivileged user to run as")]
    Root,
    #[error("run-as: switching to {0:?} needs libres3 to start as root")]
    NeedsRoot(String),
    #[error("run-as: bad user name {0:?}")]
    BadName(String),
    #[error("run-as: initgroups({user}) failed: {source}")]
    Initgroups { user: String, source: nix::Error },
    #[error("run-as: setgid({gid}) failed: {source}")]
    Setgid { gid: Gid, source: nix::Error },
    #[error("run-as: setuid({uid}) failed: {source}")]
    Setuid { uid: Uid, source: nix::Error },
    #[error("run-as: still root after dropping privileges; refusing to run")]
    StillRoot,
}

/// For the callers that still report startup errors as text.
impl From<RunAsError> for String {
    fn from(e: RunAsError) -> String {
        e.to_string()
    }
}

/// The uid and gid `run-as` names, checked before anything starts.
pub fn resolve_run_as(run_as: &RunAs) -> Result<(User, Gid), RunAsError> {
    let user = User::from_name(&run_as.user)
        .map_err(|source| RunAsError::LookUpUser {
            user: run_as.user.clone(),
            source,
        })?
        .ok_or_else(|| RunAsError::NoUser(run_as.user.clone()))?;
    let gid = match &run_as.group {
        Some(name) => {
            Group::from_name(name)
                .map_err(|source| RunAsError::LookUpGroup {
                    group: name.clone(),
                    source,
                })?
                .ok_or_else(|| RunAsError::NoGroup(name.clone()))?
                .gid
        }
        None => user.gid,
    };
    if user.uid.is_root() {
        return Err(RunAsError::Root);
    }
    let euid = nix::unistd::geteuid();
    if !euid.is_root() && euid != user.uid {
        return Err(RunAsError::NeedsRoot(run_as.user.clone()));
    }
    Ok((user, gid))
}

/// initgroups, setgid, setuid; then makes sure root cannot be regained.
pub fn drop_privileges(user: &User, gid: Gid) -> Result<(), RunAsError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let name =
        CString::new(user.name.as_bytes()).map_err(|_| RunAsError::BadName(user.name.clone()))?;
    nix::unistd::initgroups(&name, gid).map_err(|source| RunAsError::Initgroups {
        user: user.name.clone(),
        source,
    })?;
    nix::unistd::setgid(gid).map_err(|source| RunAsError::Setgid { gid, source })?;
    nix::unistd::setuid(user.uid).map_err(|source| RunAsError::Setuid {
        uid: user.uid,
        source,
    })?;
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() || nix::unistd::geteuid().is_root() {
        return Err(RunAsError::StillRoot);
    }
    Ok(())
}
