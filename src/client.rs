//! The [`Ipvs`] handle: its netlink sockets, the family resolved once, and a
//! method per IPVS operation, plus batched (pipelined) writes.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::change::{emit_service_key, Change};
use crate::config::{Info, Timeouts};
use crate::daemon::{DaemonState, SyncDaemon};
use crate::destination::{Destination, DestinationStatus};
use crate::error::{Error, Operation, Target};
use crate::message::{
    IpvsAttribute, IpvsCmd, IpvsMessage, IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE, IPVS_GENL_NAME,
};
use crate::netns::Namespace;
use crate::service::{Service, ServiceKey, ServiceStatus};
use crate::socket::{
    attributes, decode_ipvs, reply_cost, send_limit, top_level_attr, GenlSocket, Reply,
    SocketSource, Tracer, DO_FLAGS, DUMP_FLAGS,
};
use crate::wire::NlaWriter;

/// How often a dump the kernel flags as interrupted (`NLM_F_DUMP_INTR`)
/// is retried before its last result is returned.
const DUMP_RETRIES: usize = 8;

/// Receive buffer of the socket that dumps all services: 32 KiB, the most
/// the kernel puts in one dump datagram.
const BULK_RECEIVE_BUFFER: usize = 32 * 1024;

/// How a handle is opened. Start from [`OpenOptions::default`] and change
/// what you need with the `with_*` methods (fields may be added).
///
/// ```
/// use std::time::Duration;
/// use ipvs::{BatchAcks, OpenOptions};
/// let o = OpenOptions::default()
///     .with_timeout(Duration::from_secs(2))
///     .with_batch_acks(BatchAcks::ErrorsOnly)
///     .with_batch_window(256);
/// assert_eq!(o.batch_window, 256);
/// assert!(!o.modprobe);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OpenOptions {
    /// How long any single wait for the kernel may take before the call
    /// fails with [`Error::Timeout`]. Default 10 s. Zero is refused
    /// ([`Error::InvalidArgument`]): the socket would wait forever.
    pub timeout: Duration,
    /// Whether to run the kernel's module loader once when the family is
    /// missing ([`modprobe_ip_vs`], waiting at most `timeout`). Default
    /// `false`: a library does not start programs unless asked to.
    pub modprobe: bool,
    /// How many requests [`Ipvs::apply`] sends per `sendmsg` in
    /// [`BatchMode::ContinueOnError`]. Default 64.
    pub batch_window: usize,
    /// Receive buffer length passed to `recvmsg`. The kernel sizes dump
    /// datagrams after it, so the default, `min(PAGE_SIZE, 8 KiB)` (the
    /// smallest that can never truncate), makes the many small dumps of a
    /// listing cheapest; 32 KiB packs more services per datagram. Values
    /// below the default are raised to it.
    pub receive_buffer: usize,
    /// Which requests of a pipelined batch ask for an acknowledgement.
    /// Default [`BatchAcks::Every`].
    pub batch_acks: BatchAcks,
}

/// Which requests of a pipelined batch ([`BatchMode::ContinueOnError`])
/// carry `NLM_F_ACK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BatchAcks {
    /// Every request asks for an ACK: one reply per change.
    #[default]
    Every,
    /// Only the last request of each `sendmsg` asks for an ACK. The kernel
    /// answers every failed request with its error whether or not it asked
    /// for an ACK, and handles the requests of one `sendmsg` in order, so
    /// when the last one is acknowledged every earlier change without an
    /// error has succeeded. Same results, one reply per window instead of
    /// one per change.
    ErrorsOnly,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            timeout: Duration::from_secs(10),
            modprobe: false,
            batch_window: 64,
            receive_buffer: crate::socket::rx_buffer_size(),
            batch_acks: BatchAcks::Every,
        }
    }
}

impl OpenOptions {
    /// Sets [`OpenOptions::timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`OpenOptions::modprobe`].
    pub fn with_modprobe(mut self, modprobe: bool) -> Self {
        self.modprobe = modprobe;
        self
    }

    /// Sets [`OpenOptions::batch_window`].
    pub fn with_batch_window(mut self, window: usize) -> Self {
        self.batch_window = window;
        self
    }

    /// Sets [`OpenOptions::receive_buffer`].
    pub fn with_receive_buffer(mut self, bytes: usize) -> Self {
        self.receive_buffer = bytes;
        self
    }

    /// Sets [`OpenOptions::batch_acks`].
    pub fn with_batch_acks(mut self, acks: BatchAcks) -> Self {
        self.batch_acks = acks;
        self
    }
}

/// A request for [`Ipvs::collect`]: a built message, or a command whose only
/// attribute is a service key (written straight into the send buffer; one
/// per service in a listing), or a command without attributes.
#[derive(Clone, Copy)]
enum Outgoing<'a> {
    Message(&'a IpvsMessage),
    ForService(IpvsCmd, &'a ServiceKey),
    Bare(IpvsCmd),
}

/// What [`Ipvs::apply`] does after a change fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchMode {
    /// Send one request at a time and stop at the first failure; nothing
    /// after it is sent.
    StopOnError,
    /// Pipeline many requests per `sendmsg` and apply every change, failed
    /// or not, as `ipvsadm -R` does.
    ContinueOnError,
}

/// A service with its real servers, as returned by [`Ipvs::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServiceEntry {
    /// The service.
    pub service: ServiceStatus,
    /// Its real servers, in kernel order (newest first).
    pub destinations: Vec<DestinationStatus>,
}

impl ServiceEntry {
    /// A service with its real servers.
    pub fn new(service: ServiceStatus, destinations: Vec<DestinationStatus>) -> Self {
        ServiceEntry {
            service,
            destinations,
        }
    }
}

/// A handle on the kernel's IPVS table in one network namespace.
///
/// Every method takes `&mut self`: one handle serves one caller at a time,
/// which the compiler enforces. The handle is `Send`, so it can move between
/// threads; to share it, wrap it in a `Mutex` or open one handle per thread
/// (opening is cheap: two sockets and one family lookup).
///
/// The handle has two netlink sockets: the kernel sizes each dump datagram
/// after the largest receive buffer a socket has used, and the two kinds of
/// dump want different sizes. The service dump restarts its walk of the
/// service table for every datagram, so it gets 32 KiB datagrams (about
/// 150 services each) on its own socket; everything else, notably the one
/// small destination dump per service of a listing, uses page-sized
/// datagrams, which the kernel allocates much faster.
///
/// A call that fails in the middle of a dump (a reply it cannot decode, a
/// datagram larger than the buffer, a timeout) leaves the dump open in the
/// kernel, which then refuses every other dump on that socket (`EBUSY`).
/// The next call therefore first reads the rest of that dump and drops it
/// (waiting at most the timeout), or, when that fails or the dump had
/// timed out, replaces the socket with a new one in the same namespace
/// (for [`Ipvs::open`], the namespace of the thread making the call).
pub struct Ipvs {
    sock: GenlSocket,
    bulk: GenlSocket,
    family: u16,
    batch_window: usize,
    batch_acks: BatchAcks,
}

impl std::fmt::Debug for Ipvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ipvs")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

fn kernel_error(
    op: Operation,
    target: Option<Target>,
    errno: i32,
    ext_ack: Option<String>,
) -> Error {
    if errno == libc::EPERM {
        Error::PermissionDenied { op, target }
    } else {
        Error::Kernel {
            op,
            errno,
            target,
            ext_ack,
        }
    }
}

/// Refuses a zero timeout: `SO_RCVTIMEO` of zero means "wait forever",
/// which is never what a caller of a timeout means.
fn check_timeout(timeout: Duration) -> Result<(), Error> {
    if timeout.is_zero() {
        return Err(Error::InvalidArgument {
            op: Operation::Open,
            target: None,
            message: "a timeout of zero would wait forever; give a positive duration".into(),
        });
    }
    Ok(())
}

/// The file that names the kernel's module loader.
const MODPROBE_SYSCTL: &str = "/proc/sys/kernel/modprobe";

/// Runs the kernel's module loader for `ip_vs`: the program named in
/// `/proc/sys/kernel/modprobe` (what the kernel itself runs to load a
/// module; never a `PATH` lookup), as `PROGRAM -- ip_vs`, with standard
/// input closed and, unless `inherit_output`, its output discarded. Waits
/// at most `timeout` (the program is killed after that).
///
/// [`Ipvs::open_with`] calls it only when [`OpenOptions::modprobe`] is set;
/// `ipvsadm` calls it with `inherit_output` when its first contact with the
/// kernel fails, as ipvsadm 1.31 does.
///
/// Fails with [`Error::File`] when the loader cannot be named or started,
/// [`Error::Timeout`] when it did not finish in time, and
/// [`Error::Io`] when it exited unsuccessfully; all with
/// [`Operation::LoadModule`].
pub fn modprobe_ip_vs(timeout: Duration, inherit_output: bool) -> Result<(), Error> {
    run_module_loader(
        std::path::Path::new(MODPROBE_SYSCTL),
        timeout,
        inherit_output,
    )
}

/// [`modprobe_ip_vs`] with the loader named in the file `sysctl`.
fn run_module_loader(
    sysctl: &std::path::Path,
    timeout: Duration,
    inherit_output: bool,
) -> Result<(), Error> {
    use std::process::{Command, Stdio};
    let op = Operation::LoadModule;
    let sysctl_name = || sysctl.display().to_string();
    let text = std::fs::read_to_string(sysctl).map_err(|source| Error::File {
        op,
        path: sysctl_name(),
        source,
    })?;
    let program = text.trim_end_matches(['\n', '\0']).to_string();
    if !program.starts_with('/') {
        return Err(Error::File {
            op,
            path: sysctl_name(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no absolute module loader path in it ({program:?})"),
            ),
        });
    }
    let mut cmd = Command::new(&program);
    cmd.args(["--", "ip_vs"]).stdin(Stdio::null());
    if !inherit_output {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let mut child = cmd.spawn().map_err(|source| Error::File {
        op,
        path: program.clone(),
        source,
    })?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(Error::Io {
                    op,
                    source: std::io::Error::other(format!("{program} -- ip_vs: {status}")),
                })
            }
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Timeout {
                    op,
                    millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(source) => return Err(Error::Io { op, source }),
        }
    }
}

impl Ipvs {
    /// Opens a handle in the calling thread's network namespace with default
    /// options.
    pub fn open() -> Result<Self, Error> {
        Self::open_with(&OpenOptions::default())
    }

    /// Opens a handle with the given options.
    pub fn open_with(options: &OpenOptions) -> Result<Self, Error> {
        let io = |source| Error::Io {
            op: Operation::Open,
            source,
        };
        check_timeout(options.timeout)?;
        let sock = GenlSocket::open(options.timeout, options.receive_buffer).map_err(io)?;
        let bulk = GenlSocket::open(options.timeout, BULK_RECEIVE_BUFFER).map_err(io)?;
        Self::from_sockets(sock, bulk, options)
    }

    /// Opens a handle whose socket lives in another network namespace. The
    /// calling thread never changes namespace: a short-lived helper thread
    /// enters it and creates the socket (a thread that cannot be created
    /// is an [`Error::Io`]). A [`Namespace::Name`] must be a single file
    /// name under `/run/netns` (no `/`, not `.` or `..`): anything else is
    /// [`Error::InvalidArgument`]. The handle keeps the namespace file
    /// open, to create a socket there again should it have to replace one.
    pub fn open_in(namespace: Namespace<'_>, options: &OpenOptions) -> Result<Self, Error> {
        let io = |source| Error::Io {
            op: Operation::Open,
            source,
        };
        check_timeout(options.timeout)?;
        let socket = |rx_len| -> Result<GenlSocket, Error> {
            let source = SocketSource::Namespace(crate::netns::namespace_fd(namespace)?);
            GenlSocket::from_socket(
                crate::netns::socket_in(namespace)?,
                source,
                options.timeout,
                rx_len,
            )
            .map_err(io)
        };
        let sock = socket(options.receive_buffer)?;
        let bulk = socket(BULK_RECEIVE_BUFFER)?;
        Self::from_sockets(sock, bulk, options)
    }

    pub(crate) fn from_sockets(
        mut sock: GenlSocket,
        bulk: GenlSocket,
        options: &OpenOptions,
    ) -> Result<Self, Error> {
        let mut family = sock.resolve_family(IPVS_GENL_NAME)?;
        if family.is_none() && options.modprobe {
            // A loader that fails or hangs leaves the family missing, which
            // is reported below.
            let _ = modprobe_ip_vs(options.timeout, false);
            family = sock.resolve_family(IPVS_GENL_NAME)?;
        }
        let family = family.ok_or(Error::NotAvailable)?;
        Ok(Ipvs {
            sock,
            bulk,
            family,
            batch_window: options.batch_window.max(1),
            batch_acks: options.batch_acks,
        })
    }

    /// The generic-netlink id the kernel assigned to the "IPVS" family.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// Installs (or removes) a callback that sees the bytes of every
    /// datagram this handle sends or receives, for debugging and for
    /// capturing test fixtures. It runs on the calling thread, inside the
    /// call that does the I/O.
    pub fn set_tracer(&mut self, tracer: Option<Tracer>) {
        let Some(tracer) = tracer else {
            self.sock.tracer = None;
            self.bulk.tracer = None;
            return;
        };
        // Both sockets report to the one callback.
        let shared = Arc::new(Mutex::new(tracer));
        let forward = |shared: Arc<Mutex<Tracer>>| -> Tracer {
            Box::new(move |dir, bytes| {
                if let Ok(mut t) = shared.lock() {
                    t(dir, bytes)
                }
            })
        };
        self.sock.tracer = Some(forward(Arc::clone(&shared)));
        self.bulk.tracer = Some(forward(shared));
    }

    /// Changes which requests of a pipelined batch ask for an ACK.
    pub fn set_batch_acks(&mut self, acks: BatchAcks) {
        self.batch_acks = acks;
    }

    /// Changes how long a single wait for the kernel may take; zero is
    /// refused ([`Error::InvalidArgument`]).
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        check_timeout(timeout)?;
        let io = |source| Error::Io {
            op: Operation::Open,
            source,
        };
        self.sock.set_timeout(timeout).map_err(io)?;
        self.bulk.set_timeout(timeout).map_err(io)
    }

    /// Sends one request and collects the messages of its reply. `dump`
    /// selects `NLM_F_DUMP` (read until NLMSG_DONE, retried when the kernel
    /// flags the dump as interrupted); otherwise the request asks for an ACK.
    pub fn request(
        &mut self,
        op: Operation,
        target: Option<Target>,
        msg: &IpvsMessage,
        dump: bool,
    ) -> Result<Vec<IpvsMessage>, Error> {
        msg.check_size().map_err(|message| Error::InvalidArgument {
            op,
            target,
            message,
        })?;
        self.collect(op, target, Outgoing::Message(msg), dump, false, |payload| {
            decode_ipvs(op, payload).map(Some)
        })
    }

    /// Sends one request and decodes each reply message with `decode`
    /// (given the generic-netlink header and attributes), keeping what it
    /// returns. Dumps the kernel flags as interrupted are retried. `bulk`
    /// selects the socket with the large receive buffer.
    fn collect<T>(
        &mut self,
        op: Operation,
        target: Option<Target>,
        msg: Outgoing<'_>,
        dump: bool,
        bulk: bool,
        mut decode: impl FnMut(&[u8]) -> Result<Option<T>, Error>,
    ) -> Result<Vec<T>, Error> {
        let family = self.family;
        let sock = if bulk { &mut self.bulk } else { &mut self.sock };
        let mut out = Vec::new();
        let flags = if dump { DUMP_FLAGS } else { DO_FLAGS };
        for attempt in 1..=DUMP_RETRIES {
            out.clear();
            sock.discard_tx();
            let seq = match msg {
                Outgoing::Message(m) => sock.queue(family, m, flags),
                Outgoing::ForService(cmd, key) => sock.queue_with(family, flags, |tx| {
                    emit_service_key(&mut NlaWriter::new(tx), key);
                    Ok(cmd)
                })?,
                Outgoing::Bare(cmd) => sock.queue_with(family, flags, |_| Ok(cmd))?,
            };
            sock.flush_tx(op)?;
            let interrupted = sock.receive(op, family, seq..=seq, |_, reply| match reply {
                Reply::Data(payload) => {
                    out.extend(decode(payload)?);
                    Ok(false)
                }
                Reply::End => Ok(true),
                Reply::Failed(errno, ext) => Err(kernel_error(op, target, errno, ext)),
            })?;
            if !(dump && interrupted) || attempt == DUMP_RETRIES {
                break;
            }
        }
        Ok(out)
    }

    /// Decodes the service nest of each reply straight into the model.
    fn collect_services(
        &mut self,
        op: Operation,
        target: Option<Target>,
        msg: &IpvsMessage,
        dump: bool,
    ) -> Result<Vec<ServiceStatus>, Error> {
        // The full dump goes over the socket with the large buffer.
        self.collect(op, target, Outgoing::Message(msg), dump, dump, |payload| {
            top_level_attr(payload, IPVS_CMD_ATTR_SERVICE)
                .map(|nest| {
                    ServiceStatus::from_nest(nest).map_err(|e| Error::Decode {
                        op,
                        message: e.to_string(),
                    })
                })
                .transpose()
        })
    }

    /// Version and connection-table size (`IPVS_CMD_GET_INFO`).
    pub fn info(&mut self) -> Result<Info, Error> {
        let op = Operation::GetInfo;
        // Every command of ipvsadm starts here: read straight from the
        // reply's attributes.
        let replies = self.collect(
            op,
            None,
            Outgoing::Bare(IpvsCmd::GetInfo),
            false,
            false,
            |payload| Ok(attributes(payload).and_then(Info::from_reply)),
        )?;
        replies.into_iter().next().ok_or_else(|| Error::Decode {
            op,
            message: "info reply without version or size".into(),
        })
    }

    /// Every service, in kernel order (`IPVS_CMD_GET_SERVICE` dump).
    ///
    /// A dump that takes several datagrams is not atomic: the kernel
    /// resumes its walk of the service table by position for each datagram,
    /// so while other processes add or delete services a service can come
    /// twice or not at all. Duplicates are dropped here (the first copy is
    /// kept); a service added or deleted during the call may be missing.
    pub fn services(&mut self) -> Result<Vec<ServiceStatus>, Error> {
        let op = Operation::GetServices;
        let mut services = self.collect_services(
            op,
            None,
            &IpvsMessage::new(IpvsCmd::GetService, vec![]),
            true,
        )?;
        let mut seen = std::collections::HashSet::with_capacity(services.len());
        services.retain(|s| seen.insert(s.config.key));
        Ok(services)
    }

    /// One service (`IPVS_CMD_GET_SERVICE`); a missing one is
    /// [`Error::Kernel`] with `ESRCH`.
    pub fn service(&mut self, key: &ServiceKey) -> Result<ServiceStatus, Error> {
        let op = Operation::GetService;
        let msg = IpvsMessage::new(
            IpvsCmd::GetService,
            vec![IpvsAttribute::Service(key.to_attributes())],
        );
        self.collect_services(op, Some(Target::Service(*key)), &msg, false)?
            .into_iter()
            .next()
            .ok_or(Error::Kernel {
                op,
                errno: libc::ESRCH,
                target: Some(Target::Service(*key)),
                ext_ack: None,
            })
    }

    /// A service's real servers, in kernel order (`IPVS_CMD_GET_DEST` dump).
    /// A service that does not exist has none. As with
    /// [`Ipvs::services`], a real server is listed at most once, and one
    /// added or deleted during the call may be missing.
    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationStatus>, Error> {
        let op = Operation::GetDestinations;
        let family = key.family();
        let mut seen = std::collections::HashSet::new();
        let mut dests = self.collect(
            op,
            Some(Target::Service(*key)),
            Outgoing::ForService(IpvsCmd::GetDest, key),
            true,
            false,
            |payload| {
                top_level_attr(payload, IPVS_CMD_ATTR_DEST)
                    .map(|nest| {
                        DestinationStatus::from_nest(nest, family).map_err(|e| Error::Decode {
                            op,
                            message: e.to_string(),
                        })
                    })
                    .transpose()
            },
        )?;
        dests.retain(|d| seen.insert((d.config.addr, d.config.port)));
        Ok(dests)
    }

    /// Every service with its real servers: one service dump and one
    /// destination dump per service, all on this handle's socket.
    ///
    /// Not atomic: under concurrent changes by other processes each service
    /// and real server appears at most once (see [`Ipvs::services`]), a
    /// service added or deleted meanwhile may be missing, and a service
    /// deleted between the two dumps is listed without real servers.
    pub fn snapshot(&mut self) -> Result<Vec<ServiceEntry>, Error> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for service in services {
            let destinations = self.destinations(&service.config.key)?;
            out.push(ServiceEntry {
                service,
                destinations,
            });
        }
        Ok(out)
    }

    /// Applies one change and waits for the kernel's ACK.
    pub fn change(&mut self, change: &Change) -> Result<(), Error> {
        // to_message has checked the size already.
        let msg = change.to_message()?;
        let op = change.operation();
        self.collect(
            op,
            change.target(),
            Outgoing::Message(&msg),
            false,
            false,
            |_| Ok(None::<()>),
        )
        .map(drop)
    }

    /// Adds a service (`IPVS_CMD_NEW_SERVICE`).
    pub fn add_service(&mut self, service: &Service) -> Result<(), Error> {
        self.change(&Change::AddService(service.clone()))
    }

    /// Replaces a service's settings (`IPVS_CMD_SET_SERVICE`).
    pub fn edit_service(&mut self, service: &Service) -> Result<(), Error> {
        self.change(&Change::EditService(service.clone()))
    }

    /// Deletes a service (`IPVS_CMD_DEL_SERVICE`).
    pub fn delete_service(&mut self, key: &ServiceKey) -> Result<(), Error> {
        self.change(&Change::DeleteService(*key))
    }

    /// Adds a real server (`IPVS_CMD_NEW_DEST`).
    pub fn add_destination(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), Error> {
        self.change(&Change::AddDestination(*key, dest.clone()))
    }

    /// Replaces a real server's settings (`IPVS_CMD_SET_DEST`).
    pub fn edit_destination(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), Error> {
        self.change(&Change::EditDestination(*key, dest.clone()))
    }

    /// Deletes a real server (`IPVS_CMD_DEL_DEST`).
    pub fn delete_destination(
        &mut self,
        key: &ServiceKey,
        addr: IpAddr,
        port: u16,
    ) -> Result<(), Error> {
        let d = Destination::new(addr, port, crate::destination::ForwardMethod::Masquerade);
        self.change(&Change::DeleteDestination(*key, d))
    }

    /// Zeroes the counters of one service, or all (`IPVS_CMD_ZERO`).
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), Error> {
        self.change(&Change::Zero(key.copied()))
    }

    /// Deletes every service (`IPVS_CMD_FLUSH`).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.change(&Change::Flush)
    }

    /// The connection timeouts (`IPVS_CMD_GET_CONFIG`).
    pub fn timeouts(&mut self) -> Result<Timeouts, Error> {
        let op = Operation::GetTimeouts;
        let replies = self.request(
            op,
            None,
            &IpvsMessage::new(IpvsCmd::GetConfig, vec![]),
            false,
        )?;
        let mut t = Timeouts::default();
        for a in replies.iter().flat_map(|m| &m.attributes) {
            match a {
                IpvsAttribute::TimeoutTcp(v) => t.tcp = *v,
                IpvsAttribute::TimeoutTcpFin(v) => t.tcp_fin = *v,
                IpvsAttribute::TimeoutUdp(v) => t.udp = *v,
                _ => {}
            }
        }
        Ok(t)
    }

    /// Sets connection timeouts; zero fields are left unchanged
    /// (`IPVS_CMD_SET_CONFIG`).
    pub fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), Error> {
        self.change(&Change::SetTimeouts(*timeouts))
    }

    /// The running sync daemons, master first (`IPVS_CMD_GET_DAEMON` dump).
    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        let op = Operation::GetDaemons;
        let replies = self.request(
            op,
            None,
            &IpvsMessage::new(IpvsCmd::GetDaemon, vec![]),
            true,
        )?;
        let mut out = Vec::new();
        for m in replies {
            for a in m.attributes {
                if let IpvsAttribute::Daemon(attrs) = a {
                    out.push(
                        SyncDaemon::from_attributes(&attrs).map_err(|e| Error::Decode {
                            op,
                            message: e.to_string(),
                        })?,
                    );
                }
            }
        }
        Ok(out)
    }

    /// Starts a sync daemon (`IPVS_CMD_NEW_DAEMON`).
    pub fn start_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), Error> {
        self.change(&Change::StartDaemon(daemon.clone()))
    }

    /// Stops a sync daemon (`IPVS_CMD_DEL_DAEMON`).
    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<(), Error> {
        self.change(&Change::StopDaemon(state))
    }

    /// Applies many changes, returning one result per change attempted, in
    /// order.
    ///
    /// In [`BatchMode::ContinueOnError`] the requests are pipelined: up to
    /// [`OpenOptions::batch_window`] of them go out in a single `sendmsg`
    /// (fewer when the socket's buffers could not hold them, see
    /// [`Ipvs::batch_limits`]), matched back by sequence number; every
    /// change is attempted, and the result vector has one entry per change.
    ///
    /// Measured in the project's lab (qemu TCG guest, kernel 6.1, 2,000
    /// services x 4 real servers = 10,000 changes, `examples/bulk_load.rs`,
    /// 2026-11-21, three runs each): 0.16 s pipelined with
    /// [`BatchAcks::ErrorsOnly`], 0.23-0.24 s pipelined with an ACK for
    /// every request, 0.28 s with [`BatchMode::StopOnError`] (one request per
    /// round trip), against 3.0-3.2 s for `ipvsadm -R` of the same rules on
    /// the same kernel. Nearly all of the 0.16 s is the kernel's own work.
    ///
    /// In [`BatchMode::StopOnError`] requests go one at a time and the
    /// vector ends with the first failure: changes after it were not sent.
    ///
    /// The outer `Err` is for failures of the socket itself (the results of
    /// changes already acknowledged are then lost; [`Ipvs::apply_each`]
    /// keeps them).
    pub fn apply(
        &mut self,
        changes: &[Change],
        mode: BatchMode,
    ) -> Result<Vec<Result<(), Error>>, Error> {
        let outcome = self.apply_windows(changes, mode);
        match outcome.failure {
            Some((e, _)) => Err(e),
            None => Ok(outcome.results),
        }
    }

    /// Like [`Ipvs::apply`], but a failure of the socket does not discard
    /// what is known: the result vector always has one entry per change
    /// (in [`BatchMode::StopOnError`], up to and including the first that
    /// failed or whose outcome is unknown). Changes the kernel answered
    /// keep their results; changes whose answer was not read when the
    /// socket failed, and changes not sent because of it, are
    /// [`Error::Unconfirmed`], carrying the socket failure's errno and
    /// text. This is what a tool needs to report each line of a restore.
    ///
    /// ```no_run
    /// use ipvs::{BatchMode, Change, Ipvs};
    /// let mut ipvs = Ipvs::open()?;
    /// let changes = vec![Change::Flush];
    /// for (change, result) in changes.iter().zip(ipvs.apply_each(&changes, BatchMode::ContinueOnError)) {
    ///     if let Err(e) = result {
    ///         eprintln!("{:?}: {e}", change.operation());
    ///     }
    /// }
    /// # Ok::<(), ipvs::Error>(())
    /// ```
    pub fn apply_each(&mut self, changes: &[Change], mode: BatchMode) -> Vec<Result<(), Error>> {
        let outcome = self.apply_windows(changes, mode);
        let mut results = outcome.results;
        let Some((cause, first_unknown)) = outcome.failure else {
            return results;
        };
        let unconfirmed = |c: &Change| Error::Unconfirmed {
            op: c.operation(),
            target: c.target(),
            errno: cause.errno(),
            reason: cause.to_string(),
        };
        for (i, r) in results.iter_mut().enumerate().skip(first_unknown) {
            if r.is_ok() {
                *r = Err(unconfirmed(&changes[i]));
            }
        }
        match mode {
            BatchMode::ContinueOnError => {
                let done = results.len();
                results.extend(changes[done..].iter().map(|c| Err(unconfirmed(c))));
            }
            BatchMode::StopOnError => {
                if let Some(pos) = results.iter().position(|r| r.is_err()) {
                    results.truncate(pos + 1);
                }
            }
        }
        results
    }

    /// What one `sendmsg` of [`Ipvs::apply`] may carry on this handle.
    pub fn batch_limits(&self) -> BatchLimits {
        let (receive_buffer, send_buffer, capped) = self.sock.buffers();
        // A typical change request is well under 256 bytes.
        let per_reply = reply_cost(256, capped);
        BatchLimits {
            window: self.batch_window.min((receive_buffer / per_reply).max(1)),
            send_bytes: send_limit(send_buffer),
            receive_buffer,
            send_buffer,
            reply_cost: per_reply,
        }
    }

    /// Sends the changes window by window. A window ends at the configured
    /// number of requests, or earlier when one more request would not fit
    /// in the send buffer (`EMSGSIZE`) or its reply could overflow the
    /// receive buffer, where the kernel would drop it (`ENOBUFS`): every
    /// request of a window may fail and be answered, ACK asked or not.
    fn apply_windows(&mut self, changes: &[Change], mode: BatchMode) -> BatchOutcome {
        let mut results: Vec<Result<(), Error>> = Vec::with_capacity(changes.len());
        let max_count = match mode {
            BatchMode::StopOnError => 1,
            BatchMode::ContinueOnError => self.batch_window,
        };
        let mut next = 0;
        while next < changes.len() {
            let base = next;
            let (rcvbuf, sndbuf, capped) = self.sock.buffers();
            let max_bytes = send_limit(sndbuf);
            // Encode the window; changes that cannot be encoded fail locally.
            let mut pending: Vec<Option<u32>> = Vec::new();
            let mut reply_room = 0usize;
            self.sock.discard_tx();
            let flags = match self.batch_acks {
                BatchAcks::ErrorsOnly => 0,
                BatchAcks::Every => DO_FLAGS,
            };
            while next < changes.len() && pending.len() < max_count {
                let before = self.sock.queued_len();
                match self
                    .sock
                    .queue_with(self.family, flags, |tx| changes[next].encode(tx))
                {
                    Ok(seq) => {
                        let cost = reply_cost(self.sock.queued_len() - before, capped);
                        let sent_any = pending.iter().any(Option::is_some);
                        if sent_any
                            && (self.sock.queued_len() > max_bytes
                                || reply_room.saturating_add(cost) > rcvbuf)
                        {
                            self.sock.unqueue_last();
                            break;
                        }
                        reply_room += cost;
                        pending.push(Some(seq));
                        results.push(Ok(()));
                    }
                    Err(e) => {
                        pending.push(None);
                        results.push(Err(e));
                    }
                }
                next += 1;
            }
            let seqs: Vec<u32> = pending.iter().flatten().copied().collect();
            if let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) {
                // With errors-only ACKs, the last request actually queued
                // asks for the ACK that ends the window (not the last change
                // of the window, which may have failed locally).
                self.sock.ack_last();
                let op = changes[base].operation();
                if let Err(e) = self.sock.flush_tx(op) {
                    return BatchOutcome {
                        results,
                        failure: Some((e, base)),
                    };
                }
                // Replies come in request order: every change before the
                // last one answered was handled by the kernel.
                let mut answered = base;
                let results_ref = &mut results;
                let pending_ref = &pending;
                let answered_ref = &mut answered;
                let received = self
                    .sock
                    .receive(op, self.family, first..=last, |seq, reply| {
                        let Some(i) = pending_ref.iter().position(|s| *s == Some(seq)) else {
                            return Ok(false);
                        };
                        match reply {
                            Reply::Data(_) => return Ok(false),
                            Reply::End => {}
                            Reply::Failed(errno, ext) => {
                                let c = &changes[base + i];
                                results_ref[base + i] =
                                    Err(kernel_error(c.operation(), c.target(), errno, ext));
                            }
                        }
                        *answered_ref = base + i + 1;
                        Ok(seq == last)
                    });
                if let Err(e) = received {
                    return BatchOutcome {
                        results,
                        failure: Some((e, answered)),
                    };
                }
            }
            if mode == BatchMode::StopOnError {
                if let Some(pos) = results[base..].iter().position(|r| r.is_err()) {
                    results.truncate(base + pos + 1);
                    break;
                }
            }
        }
        BatchOutcome {
            results,
            failure: None,
        }
    }
}

/// The results of [`Ipvs::apply_windows`]: one per change handled, and
/// the socket failure that stopped it with the index of the first change
/// whose outcome it left unknown.
struct BatchOutcome {
    results: Vec<Result<(), Error>>,
    failure: Option<(Error, usize)>,
}

/// What one `sendmsg` of a pipelined batch may carry on a handle
/// ([`Ipvs::batch_limits`]): the socket buffers the kernel granted and the
/// window they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Requests per `sendmsg` at most: [`OpenOptions::batch_window`],
    /// lowered so that a reply to every request of a window fits in the
    /// receive buffer.
    pub window: usize,
    /// Bytes per `sendmsg` at most (the send buffer less the kernel's
    /// margin); a window ends before it would exceed them.
    pub send_bytes: usize,
    /// The receive buffer the kernel granted (`SO_RCVBUF` read back; the
    /// handle asks for 1 MiB, with `SO_RCVBUFFORCE` when privileged).
    pub receive_buffer: usize,
    /// The send buffer the kernel granted (`SO_SNDBUF` read back).
    pub send_buffer: usize,
    /// What one reply is reckoned to take of the receive buffer.
    pub reply_cost: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::AddressFamily;
    use netlink_packet_core::Emitable;
    use std::os::unix::fs::PermissionsExt;

    /// A scratch directory with a fake sysctl naming `script` as the
    /// module loader.
    fn loader(name: &str, script: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ipvs-loader-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prog = dir.join("loader");
        std::fs::write(&prog, script).unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sysctl = dir.join("modprobe");
        std::fs::write(&sysctl, format!("{}\n", prog.display())).unwrap();
        sysctl
    }

    #[test]
    fn module_loader_comes_from_the_sysctl_and_gets_the_module() {
        let sysctl = loader("args", "#!/bin/sh\n[ \"$1 $2\" = \"-- ip_vs\" ]\n");
        run_module_loader(&sysctl, Duration::from_secs(30), false).expect("loader ran");
        let sysctl = loader("fails", "#!/bin/sh\nexit 3\n");
        let err = run_module_loader(&sysctl, Duration::from_secs(30), false).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Io {
                    op: Operation::LoadModule,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn module_loader_wait_is_bounded() {
        let sysctl = loader("hangs", "#!/bin/sh\nexec sleep 600\n");
        let err = run_module_loader(&sysctl, Duration::from_millis(50), false).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    op: Operation::LoadModule,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn module_loader_is_never_looked_up_in_path() {
        let dir = std::env::temp_dir().join(format!("ipvs-loader-{}-rel", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sysctl = dir.join("modprobe");
        std::fs::write(&sysctl, "modprobe\n").unwrap();
        let err = run_module_loader(&sysctl, Duration::from_secs(1), false).unwrap_err();
        assert!(
            matches!(
                err,
                Error::File {
                    op: Operation::LoadModule,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!OpenOptions::default().modprobe, "opt-in");
    }

    /// The service-key request of a listing (written straight into the
    /// send buffer) has the bytes of the attribute-list encoding.
    #[test]
    fn service_key_requests_match_the_attribute_encoding() {
        let keys = [
            ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80),
            ServiceKey::udp("2001:db8::1".parse().unwrap(), 53),
            ServiceKey::sctp("198.51.100.7".parse().unwrap(), 0),
            ServiceKey::Fwmark {
                mark: 7,
                family: AddressFamily::Inet,
            },
            ServiceKey::Fwmark {
                mark: u32::MAX,
                family: AddressFamily::Inet6,
            },
        ];
        for key in keys {
            let msg = IpvsMessage::new(
                IpvsCmd::GetDest,
                vec![IpvsAttribute::Service(key.to_attributes())],
            );
            let mut want = vec![0; msg.buffer_len()];
            msg.emit(&mut want);
            let mut got = Vec::new();
            emit_service_key(&mut NlaWriter::new(&mut got), &key);
            assert_eq!(got, want, "{key}");
        }
    }
}
