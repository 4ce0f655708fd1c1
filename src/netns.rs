//! Opening a netlink socket inside another network namespace without moving
//! the calling thread there.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use netlink_sys::{protocols::NETLINK_GENERIC, Socket};

use crate::error::{Error, Operation};

/// A network namespace to open a handle in. IPVS tables are per namespace.
#[derive(Debug, Clone, Copy)]
pub enum Namespace<'a> {
    /// A name as used by `ip netns`: `/run/netns/NAME`.
    Name(&'a str),
    /// A namespace file, e.g. `/proc/PID/ns/net` or a bind mount.
    Path(&'a Path),
    /// An open namespace file descriptor.
    Fd(BorrowedFd<'a>),
}

impl Namespace<'_> {
    /// The namespace file to open; a name must be a single path component
    /// (no `/`, not `.` or `..`, not empty, no NUL), so that it cannot
    /// reach outside `/run/netns`.
    fn path(&self) -> Result<Option<PathBuf>, Error> {
        match self {
            Namespace::Name(name) => {
                if name.is_empty()
                    || *name == "."
                    || *name == ".."
                    || name.contains('/')
                    || name.contains('\0')
                {
                    return Err(Error::InvalidArgument {
                        op: Operation::EnterNamespace,
                        target: None,
                        message: format!(
                            "network namespace name {name:?} is not a single file name under /run/netns"
                        ),
                    });
                }
                Ok(Some(Path::new("/run/netns").join(name)))
            }
            Namespace::Path(p) => Ok(Some(p.to_path_buf())),
            Namespace::Fd(_) => Ok(None),
        }
    }
}

/// Opens the namespace file of `ns` (or duplicates its descriptor): what
/// the handle keeps to create sockets there again.
pub(crate) fn namespace_fd(ns: Namespace<'_>) -> Result<OwnedFd, Error> {
    let op = Operation::EnterNamespace;
    if let Namespace::Fd(fd) = ns {
        return fd
            .try_clone_to_owned()
            .map_err(|source| Error::Io { op, source });
    }
    let path = ns.path()?.unwrap_or_default();
    File::open(&path)
        .map(OwnedFd::from)
        .map_err(|source| Error::File {
            op,
            path: path.display().to_string(),
            source,
        })
}

/// Creates a `NETLINK_GENERIC` socket in `ns`. A scoped helper thread enters
/// the namespace, creates the socket and ends; sockets stay bound to the
/// namespace they were created in.
pub(crate) fn socket_in(ns: Namespace<'_>) -> Result<Socket, Error> {
    socket_in_with(ns, std::thread::Builder::new().name("ipvs-netns".into()))
}

/// [`socket_in`] with the helper thread built by `builder`; a thread that
/// cannot be created is an error, not a panic.
pub(crate) fn socket_in_with(
    ns: Namespace<'_>,
    builder: std::thread::Builder,
) -> Result<Socket, Error> {
    let op = Operation::EnterNamespace;
    let label = match (ns.path()?, ns) {
        (Some(p), _) => p.display().to_string(),
        (None, Namespace::Fd(fd)) => format!("fd {}", fd.as_raw_fd()),
        (None, _) => String::new(),
    };
    let owned = namespace_fd(ns)?;
    let fd = owned.as_raw_fd();
    std::thread::scope(|scope| {
        let helper = builder
            .spawn_scoped(scope, move || {
                // SAFETY: `fd` is an open descriptor owned for the whole
                // scope; setns only changes this helper thread's namespace.
                if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                    return Err(Error::File {
                        op,
                        path: label,
                        source: std::io::Error::last_os_error(),
                    });
                }
                Socket::new(NETLINK_GENERIC).map_err(|source| Error::Io {
                    op: Operation::Open,
                    source,
                })
            })
            .map_err(|source| Error::Io { op, source })?;
        helper.join().unwrap_or_else(|_| {
            Err(Error::Io {
                op,
                source: std::io::Error::other("namespace helper thread panicked"),
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_run_netns_are_refused() {
        for name in [
            "",
            ".",
            "..",
            "../../proc/1/ns/net",
            "a/b",
            "/proc/self/ns/net",
            "x\0y",
        ] {
            match socket_in(Namespace::Name(name)) {
                Err(Error::InvalidArgument { op, .. }) => {
                    assert_eq!(op, Operation::EnterNamespace, "{name:?}")
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }

    /// A helper thread that cannot be created (here: an impossible stack
    /// size) is a typed error, not a panic.
    #[test]
    fn no_helper_thread_is_an_error() {
        let builder = std::thread::Builder::new().stack_size(usize::MAX / 2);
        let own = Path::new("/proc/self/ns/net");
        match socket_in_with(Namespace::Path(own), builder) {
            Err(Error::Io { op, .. }) => assert_eq!(op, Operation::EnterNamespace),
            other => panic!("{other:?}"),
        }
    }
}
