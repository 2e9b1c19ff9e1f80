//! The descriptor limit. Linux starts processes with a soft limit of 1024 (and a hard limit far
//! above): a client with a few hundred peers and torrents needs more. Raising the soft limit to
//! the hard one is what the limit pair exists for (no privilege is needed); file handles are
//! bounded per torrent anyway (`storage`), so this is headroom, not a licence to leak.

/// The soft limit is never raised past this, so a hard limit of "unlimited" does not invite a
/// table of millions of descriptors.
#[cfg(unix)]
const CEILING: u64 = 1 << 20;

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit (at most 2^20). Returns the soft
/// limit before and after, or `None` where there is no such limit (Windows) or it cannot be
/// read or set.
pub fn raise_fd_limit() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let now = getrlimit(Resource::Nofile);
        let hard = now.maximum.unwrap_or(CEILING).min(CEILING);
        let soft = now.current.unwrap_or(u64::MAX);
        if soft >= hard {
            return Some((soft, soft));
        }
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: now.maximum,
            },
        )
        .ok()?;
        Some((soft, hard))
    }
    #[cfg(not(unix))]
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let before = getrlimit(Resource::Nofile);
        let hard = before.maximum.unwrap_or(CEILING).min(CEILING);
        let mut soft = before.current.unwrap_or(u64::MAX);
        // Never lowered below where it is: other tests in this process hold descriptors.
        if soft >= hard {
            soft = hard - 1;
            let lower = Rlimit {
                current: Some(soft),
                maximum: before.maximum,
            };
            setrlimit(Resource::Nofile, lower).unwrap();
        }
        assert_eq!(raise_fd_limit(), Some((soft, hard)));
        assert_eq!(getrlimit(Resource::Nofile).current, Some(hard));
        assert_eq!(raise_fd_limit(), Some((hard, hard)), "already raised");
    }
}
