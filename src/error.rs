//! The crate's error type: every failure says which operation failed and,
//! where there is one, which service, real server or daemon it concerned.

use std::fmt;
use std::io;
use std::net::IpAddr;

use crate::daemon::DaemonState;
use crate::service::ServiceKey;

/// The operation that failed, named as `ipvsadm` and `libipvs` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Opening the netlink socket and resolving the "IPVS" family.
    Open,
    /// `IPVS_CMD_GET_INFO`.
    GetInfo,
    /// `IPVS_CMD_NEW_SERVICE` (`ipvsadm -A`).
    AddService,
    /// `IPVS_CMD_SET_SERVICE` (`ipvsadm -E`).
    EditService,
    /// `IPVS_CMD_DEL_SERVICE` (`ipvsadm -D`).
    DeleteService,
    /// `IPVS_CMD_GET_SERVICE` for one service.
    GetService,
    /// `IPVS_CMD_GET_SERVICE` dump.
    GetServices,
    /// `IPVS_CMD_NEW_DEST` (`ipvsadm -a`).
    AddDestination,
    /// `IPVS_CMD_SET_DEST` (`ipvsadm -e`).
    EditDestination,
    /// `IPVS_CMD_DEL_DEST` (`ipvsadm -d`).
    DeleteDestination,
    /// `IPVS_CMD_GET_DEST` dump.
    GetDestinations,
    /// `IPVS_CMD_ZERO` (`ipvsadm -Z`).
    Zero,
    /// `IPVS_CMD_FLUSH` (`ipvsadm -C`).
    Flush,
    /// `IPVS_CMD_SET_CONFIG` (`ipvsadm --set`).
    SetTimeouts,
    /// `IPVS_CMD_GET_CONFIG` (`ipvsadm -L --timeout`).
    GetTimeouts,
    /// `IPVS_CMD_NEW_DAEMON` (`ipvsadm --start-daemon`).
    StartDaemon,
    /// `IPVS_CMD_DEL_DAEMON` (`ipvsadm --stop-daemon`).
    StopDaemon,
    /// `IPVS_CMD_GET_DAEMON` dump (`ipvsadm -L --daemon`).
    GetDaemons,
    /// Reading the connection table from `/proc`.
    ReadConnections,
    /// Entering a network namespace.
    EnterNamespace,
    /// Running the kernel's module loader for `ip_vs`.
    LoadModule,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Operation::*;
        f.write_str(match self {
            Open => "open IPVS",
            GetInfo => "get IPVS info",
            AddService => "add service",
            EditService => "edit service",
            DeleteService => "delete service",
            GetService => "get service",
            GetServices => "get services",
            AddDestination => "add real server",
            EditDestination => "edit real server",
            DeleteDestination => "delete real server",
            GetDestinations => "get real servers",
            Zero => "zero counters",
            Flush => "flush",
            SetTimeouts => "set timeouts",
            GetTimeouts => "get timeouts",
            StartDaemon => "start sync daemon",
            StopDaemon => "stop sync daemon",
            GetDaemons => "get sync daemons",
            ReadConnections => "read connection table",
            EnterNamespace => "enter network namespace",
            LoadModule => "load the ip_vs module",
        })
    }
}

/// The object an operation concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// A virtual service.
    Service(ServiceKey),
    /// A real server of a virtual service.
    Destination {
        /// The virtual service.
        service: ServiceKey,
        /// Real server address.
        addr: IpAddr,
        /// Real server port.
        port: u16,
    },
    /// A sync daemon.
    Daemon(DaemonState),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Service(s) => write!(f, "service {s}"),
            Target::Destination {
                service,
                addr: IpAddr::V4(a),
                port,
            } => {
                write!(f, "real server {a}:{port} of service {service}")
            }
            Target::Destination {
                service,
                addr: IpAddr::V6(a),
                port,
            } => {
                write!(f, "real server [{a}]:{port} of service {service}")
            }
            Target::Daemon(s) => write!(f, "{s} sync daemon"),
        }
    }
}

fn on(target: &Option<Target>) -> String {
    target.map(|t| format!(" ({t})")).unwrap_or_default()
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel has no IPVS: the "IPVS" generic-netlink family does not
    /// exist, even after trying `modprobe ip_vs`.
    #[error("IPVS is not available: the kernel has no \"IPVS\" generic netlink family (is the ip_vs module loaded?)")]
    NotAvailable,

    /// The caller lacks `CAP_NET_ADMIN` in the initial user namespace
    /// (every IPVS command needs it, even reads; the kernel checks it
    /// against the initial user namespace, so root in a container without
    /// it is refused too).
    #[error("permission denied: {op}{} needs CAP_NET_ADMIN in the initial user namespace", on(.target))]
    PermissionDenied {
        /// What was attempted.
        op: Operation,
        /// What it concerned.
        target: Option<Target>,
    },

    /// The kernel rejected a request.
    #[error("{op}{} failed: {} (errno {errno}){}", on(.target), strerror(*.errno), .ext_ack.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kernel {
        /// What was attempted.
        op: Operation,
        /// The positive errno the kernel returned.
        errno: i32,
        /// What it concerned.
        target: Option<Target>,
        /// The extended-ack message, when the kernel sent one.
        ext_ack: Option<String>,
    },

    /// A socket call failed.
    #[error("{op}: netlink socket error: {source}")]
    Io {
        /// What was attempted.
        op: Operation,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// No reply arrived within the handle's timeout.
    #[error("{op}: no reply from the kernel within {millis} ms")]
    Timeout {
        /// What was attempted.
        op: Operation,
        /// The timeout that expired.
        millis: u64,
    },

    /// A reply could not be decoded.
    #[error("{op}: malformed reply from the kernel: {message}")]
    Decode {
        /// What was attempted.
        op: Operation,
        /// What was wrong with it.
        message: String,
    },

    /// A datagram was larger than the receive buffer.
    #[error("{op}: reply of {len} bytes truncated by the receive buffer")]
    Truncated {
        /// What was attempted.
        op: Operation,
        /// The datagram's real length.
        len: usize,
    },

    /// A value given by the caller cannot be sent (for example a scheduler
    /// name longer than the kernel accepts).
    #[error("{op}{}: invalid argument: {message}", on(.target))]
    InvalidArgument {
        /// What was attempted.
        op: Operation,
        /// What it concerned.
        target: Option<Target>,
        /// What is wrong.
        message: String,
    },

    /// A change of a batch whose outcome is unknown: the socket failed
    /// (for example a timeout) before the kernel's answer for it was read,
    /// or before it was sent. See [`crate::Ipvs::apply_each`].
    #[error("{op}{}: outcome unknown: {reason}", on(.target))]
    Unconfirmed {
        /// What was attempted.
        op: Operation,
        /// What it concerned.
        target: Option<Target>,
        /// The errno of the socket failure, when it had one.
        errno: Option<i32>,
        /// The socket failure.
        reason: String,
    },

    /// A file (network namespace, `/proc` table) could not be used.
    #[error("{op}: {path}: {source}")]
    File {
        /// What was attempted.
        op: Operation,
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// `EPERM` etc. as plain numbers, so matching does not need `libc`.
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = libc::EPERM;
    /// No such file or directory (unknown scheduler, missing destination).
    pub const ENOENT: i32 = libc::ENOENT;
    /// No such process (missing service, no daemon running).
    pub const ESRCH: i32 = libc::ESRCH;
    /// Out of memory.
    pub const ENOMEM: i32 = libc::ENOMEM;
    /// Already exists.
    pub const EEXIST: i32 = libc::EEXIST;
    /// No such device (unknown sync-daemon interface).
    pub const ENODEV: i32 = libc::ENODEV;
    /// Invalid argument.
    pub const EINVAL: i32 = libc::EINVAL;
    /// Result out of range (bad weight or thresholds).
    pub const ERANGE: i32 = libc::ERANGE;
    /// Protocol not available.
    pub const ENOPROTOOPT: i32 = libc::ENOPROTOOPT;
    /// Operation not supported.
    pub const EOPNOTSUPP: i32 = libc::EOPNOTSUPP;
    /// Address family not supported.
    pub const EAFNOSUPPORT: i32 = libc::EAFNOSUPPORT;
    /// Message too long.
    pub const EMSGSIZE: i32 = libc::EMSGSIZE;
}

impl Error {
    /// The operation that failed.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Error::NotAvailable => Some(Operation::Open),
            Error::PermissionDenied { op, .. }
            | Error::Kernel { op, .. }
            | Error::Io { op, .. }
            | Error::Timeout { op, .. }
            | Error::Decode { op, .. }
            | Error::Truncated { op, .. }
            | Error::InvalidArgument { op, .. }
            | Error::Unconfirmed { op, .. }
            | Error::File { op, .. } => Some(*op),
        }
    }

    /// The errno the kernel answered with, and nothing else: `None` for
    /// failures the kernel did not report (timeouts, decoding, invalid
    /// arguments caught before sending, socket I/O). [`Error::errno`] also
    /// maps those to an errno, for `ipvsadm`'s messages.
    pub fn kernel_errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::PermissionDenied { .. } => Some(errno::EPERM),
            _ => None,
        }
    }

    /// The kernel said the service or real server to add exists already
    /// (`EEXIST`).
    pub fn is_already_exists(&self) -> bool {
        self.kernel_errno() == Some(errno::EEXIST)
    }

    /// The kernel has no such service (`ESRCH`).
    pub fn is_no_such_service(&self) -> bool {
        self.kernel_errno() == Some(errno::ESRCH)
    }

    /// The kernel has no such real server in the service (`ENOENT` from a
    /// real-server edit or delete).
    pub fn is_no_such_destination(&self) -> bool {
        matches!(
            self.operation(),
            Some(Operation::EditDestination | Operation::DeleteDestination)
        ) && self.kernel_errno() == Some(errno::ENOENT)
    }

    /// The kernel refused for want of privilege (`EPERM`).
    pub fn is_permission_denied(&self) -> bool {
        self.kernel_errno() == Some(errno::EPERM)
    }

    /// The errno behind the error, when there is one, including errnos
    /// chosen for failures the kernel did not report (`EAGAIN` for a
    /// timeout, `EINVAL` for decoding and invalid arguments, `EMSGSIZE` for
    /// truncation), which is what `ipvsadm`'s messages need. For what the
    /// kernel itself said, use [`Error::kernel_errno`].
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::NotAvailable => Some(errno::ENOENT),
            Error::PermissionDenied { .. } => Some(errno::EPERM),
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { source, .. } | Error::File { source, .. } => source.raw_os_error(),
            Error::Timeout { .. } => Some(libc::EAGAIN),
            Error::Decode { .. } => Some(errno::EINVAL),
            Error::Truncated { .. } => Some(errno::EMSGSIZE),
            Error::InvalidArgument { .. } => Some(errno::EINVAL),
            Error::Unconfirmed { errno, .. } => *errno,
        }
    }

    /// The text `ipvsadm` prints for this error: its per-operation table
    /// (`ipvs_strerror`), falling back to the C library's `strerror`.
    pub fn ipvsadm_message(&self) -> String {
        match (self.operation(), self.errno()) {
            (Some(op), Some(e)) => ipvsadm_strerror(Some(op), e),
            _ => self.to_string(),
        }
    }
}

/// The message `ipvsadm` 1.31 prints for `errno` after `op` (its
/// `ipvs_strerror` table). `op = None` matches only the rows that apply to
/// any operation, which is what ipvsadm does after calls that do not
/// record themselves (flush, get-info, get-services).
///
/// ```
/// use ipvs::{errno, ipvsadm_strerror, Operation};
/// assert_eq!(ipvsadm_strerror(Some(Operation::AddService), errno::EEXIST), "Service already exists");
/// assert_eq!(ipvsadm_strerror(Some(Operation::AddDestination), errno::ESRCH), "Service not defined");
/// assert_eq!(ipvsadm_strerror(None, errno::ERANGE), "Numerical result out of range");
/// ```
pub fn ipvsadm_strerror(op: Option<Operation>, errno: i32) -> String {
    use Operation::*;
    let specific = match (op, errno) {
        (Some(AddService), errno::EEXIST) => Some("Service already exists"),
        (Some(AddService | EditService), errno::ENOENT) => {
            Some("Scheduler or persistence engine not found")
        }
        (Some(EditService | DeleteService | Zero), errno::ESRCH) => Some("No such service"),
        (Some(AddDestination | EditDestination | DeleteDestination), errno::ESRCH) => {
            Some("Service not defined")
        }
        (Some(AddDestination), errno::EEXIST) => Some("Destination already exists"),
        (Some(EditDestination | DeleteDestination), errno::ENOENT) => Some("No such destination"),
        (Some(StartDaemon), errno::EEXIST) => Some("Daemon has already run"),
        (Some(StopDaemon), errno::ESRCH) => Some("No daemon is running"),
        (Some(GetServices | GetDestinations | GetService), errno::ESRCH) => Some("No such service"),
        _ => None,
    };
    if let Some(text) = specific {
        return text.to_string();
    }
    match errno {
        errno::EPERM => "Permission denied (you must be root)".into(),
        errno::EINVAL => {
            "Invalid operation.  Possibly wrong module version, address not unicast, ...".into()
        }
        errno::ENOPROTOOPT => "Protocol not available".into(),
        errno::ENOMEM => "Memory allocation problem".into(),
        errno::EOPNOTSUPP => "Operation not supported with IPv6".into(),
        errno::EAFNOSUPPORT => "Operation not supported with specified address family".into(),
        errno::EMSGSIZE => "Module is wrong version".into(),
        e => strerror(e),
    }
}

/// The C library's text for an errno (glibc's wording, e.g. "File exists").
pub fn strerror(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; the C library text is what precedes it.
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
