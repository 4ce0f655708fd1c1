//! Opening a netlink socket inside another network namespace without moving
//! the calling thread there.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
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
    fn path(&self) -> Option<PathBuf> {
        match self {
            Namespace::Name(name) => Some(Path::new("/run/netns").join(name)),
            Namespace::Path(p) => Some(p.to_path_buf()),
            Namespace::Fd(_) => None,
        }
    }
}

/// Creates a `NETLINK_GENERIC` socket in `ns`. A scoped helper thread enters
/// the namespace, creates the socket and ends; sockets stay bound to the
/// namespace they were created in.
pub(crate) fn socket_in(ns: Namespace<'_>) -> Result<Socket, Error> {
    let op = Operation::EnterNamespace;
    let file = match ns.path() {
        Some(path) => Some(File::open(&path).map_err(|source| Error::File {
            op,
            path: path.display().to_string(),
            source,
        })?),
        None => None,
    };
    let fd = match ns {
        Namespace::Fd(fd) => fd.as_raw_fd(),
        _ => file.as_ref().map_or(-1, |f| f.as_raw_fd()),
    };
    let label = ns
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| format!("fd {fd}"));
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: `fd` is an open descriptor borrowed for the whole
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
            .join()
            .unwrap_or_else(|_| {
                Err(Error::Io {
                    op,
                    source: std::io::Error::other("namespace helper thread panicked"),
                })
            })
    })
}
