//! The open-files limit: raised at start, and the default connection limit derived from it.
//!
//! Each client connection takes one descriptor. Processes start with a soft limit of 1,024
//! on most systems, far below the hard limit: with it, a few hundred idle clients would
//! starve everyone else, the admin endpoint included. So the soft limit is raised to the hard
//! one before anything else opens files, and `max_connections` defaults to what the limit
//! leaves after the store, logs and backend connections have their share.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors kept for everything but client connections: the index, block files, logs,
/// listening sockets, SX connections.
pub const RESERVED: u64 = 256;
/// The default `max_connections` never exceeds this (each connection also costs memory).
pub const DEFAULT_MAX_CONNECTIONS_CAP: u64 = 65_536;

/// The soft limit before and after raising it to the hard limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Raised {
    pub before: u64,
    pub now: u64,
}

/// Why the open-files limit could not be read or raised.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("cannot read RLIMIT_NOFILE: {0}")]
    Read(nix::Error),
    #[error("cannot raise RLIMIT_NOFILE from {soft} to {hard}: {source}")]
    Raise {
        soft: u64,
        hard: u64,
        source: nix::Error,
    },
}

/// Raises the soft RLIMIT_NOFILE to the hard limit. Errors are reported, not fatal: the
/// server runs with what it has.
pub fn raise() -> Result<Raised, LimitError> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(LimitError::Read)?;
    if soft >= hard {
        return Ok(Raised {
            before: soft,
            now: soft,
        });
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(|source| LimitError::Raise {
        soft,
        hard,
        source,
    })?;
    Ok(Raised {
        before: soft,
        now: hard,
    })
}

/// The soft limit in force now.
pub fn current() -> u64 {
    getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// `max_connections` when the configuration does not set it: three quarters of what the
/// descriptor limit leaves after [`RESERVED`], at least 16, at most
/// [`DEFAULT_MAX_CONNECTIONS_CAP`].
pub fn default_max_connections(limit: u64) -> usize {
    let spare = limit.saturating_sub(RESERVED) / 4 * 3;
    spare.clamp(16, DEFAULT_MAX_CONNECTIONS_CAP) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_limit() {
        assert_eq!(default_max_connections(1024), 576);
        assert_eq!(default_max_connections(65_536), 48_960);
        assert_eq!(default_max_connections(1 << 20), 65_536);
        assert_eq!(default_max_connections(100), 16);
    }
}
