//! Blocking generic-netlink transport: one socket, requests matched to
//! replies by sequence number, multipart dumps, ACKs and extended acks.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use netlink_packet_core::{Emitable, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::error::{Error, Operation};
use crate::message::{IpvsCmd, IpvsMessage, IPVS_GENL_VERSION};

const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// Receive buffer size. The kernel sizes each dump datagram as the larger
/// of `NLMSG_GOODSIZE` (what fits in `min(PAGE_SIZE, 8 KiB)`) and the
/// largest buffer this socket ever passed to `recvmsg` (capped at 32 KiB);
/// other replies are at most `NLMSG_GOODSIZE`. A buffer of
/// `min(PAGE_SIZE, 8 KiB)` therefore always suffices, and keeps the kernel
/// from allocating 32 KiB for every one of the thousands of small dumps a
/// listing makes (measured in the lab: 2,000 destination dumps took 0.49 s
/// with a 32 KiB buffer and 0.30 s with 4 KiB). Truncation is still
/// detected (`MSG_TRUNC`) and reported, never silently accepted.
pub(crate) fn rx_buffer_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).clamp(4096, 8192)
}

/// `n` rounded up to a multiple of 4; saturates instead of overflowing on
/// lengths taken from malformed input (the result is then past any buffer).
fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// The receive buffer the handle asks for: room for the replies of a
/// pipelined batch.
const WANTED_RCVBUF: usize = 1 << 20;

/// What one reply of a pipelined batch can cost in the receive buffer. The
/// kernel charges a queued message its `skb` truesize, not its length: an
/// ACK or error (header, error code, the echoed request header when ACKs
/// are capped, or the whole request when not, and extended-ack attributes
/// of up to about 256 bytes) is allocated with `kmalloc` rounding to a
/// power of two, plus `struct skb_shared_info` (320 bytes) in that
/// allocation and `struct sk_buff` (256 bytes) beside it.
pub(crate) fn reply_cost(request_len: usize, capped: bool) -> usize {
    let echoed = if capped { NLMSG_HDRLEN } else { request_len };
    let data = NLMSG_HDRLEN + 4 + echoed + 256 + 320;
    data.next_power_of_two() + 256
}

/// The bytes of one `sendmsg` the kernel accepts on a socket whose send
/// buffer is `sndbuf` (`netlink_sendmsg` refuses more than `sk_sndbuf - 32`
/// with `EMSGSIZE`).
pub(crate) fn send_limit(sndbuf: usize) -> usize {
    sndbuf.saturating_sub(32).max(NLMSG_HDRLEN + GENL_HDRLEN)
}

/// The datagram source under a [`GenlSocket`]: the kernel's netlink
/// socket, or a scripted kernel in tests.
pub(crate) trait Datagrams: Send {
    /// Sends one datagram.
    fn send(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Receives one datagram into `buf` and returns its real length, which
    /// is larger than `buf` when the datagram was truncated (`MSG_TRUNC`);
    /// the rest of a truncated datagram is lost. Times out with
    /// `WouldBlock` or `TimedOut`.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Sets how long `recv` waits.
    fn set_timeout(&mut self, timeout: Duration) -> io::Result<()>;
    /// The port (netlink address) replies are sent to.
    fn port(&self) -> u32;
    /// The receive and send buffer sizes the kernel granted, in bytes of
    /// its accounting (`SO_RCVBUF`, `SO_SNDBUF` read back), and whether
    /// ACKs are capped (`NETLINK_CAP_ACK`).
    fn buffers(&self) -> (usize, usize, bool);
    /// Replaces the socket with a fresh one in the same network namespace:
    /// the only way to abandon a dump the kernel keeps open on a socket.
    fn reopen(&mut self) -> io::Result<()>;
}

/// Where a [`NetlinkDatagrams`] creates its sockets.
pub(crate) enum SocketSource {
    /// The calling thread's network namespace at the time.
    Current,
    /// The network namespace of this open namespace file.
    Namespace(OwnedFd),
}

/// The kernel's `NETLINK_GENERIC` socket.
pub(crate) struct NetlinkDatagrams {
    sock: Socket,
    port: u32,
    rcvbuf: usize,
    sndbuf: usize,
    capped: bool,
    timeout: Duration,
    source: SocketSource,
}

fn sockopt_int(sock: &Socket, opt: libc::c_int) -> io::Result<usize> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into a live c_int, on a
    // descriptor the socket owns.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            &mut v as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(v).unwrap_or(0))
}

fn set_sockopt_int(sock: &Socket, opt: libc::c_int, v: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(v).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live c_int,
    // on a descriptor the socket owns.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            &v as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl NetlinkDatagrams {
    /// Binds and connects a fresh socket, enables extended and capped ACKs
    /// (both optional), and asks for a large receive buffer:
    /// `SO_RCVBUFFORCE` when the caller may exceed `net.core.rmem_max`,
    /// else `SO_RCVBUF` (which the kernel caps). The sizes granted are read
    /// back, since batches are sized after them.
    pub(crate) fn new(
        mut sock: Socket,
        source: SocketSource,
        timeout: Duration,
    ) -> io::Result<Self> {
        let addr = sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        let _ = sock.set_ext_ack(true);
        let capped = sock.set_cap_ack(true).is_ok();
        if set_sockopt_int(&sock, libc::SO_RCVBUFFORCE, WANTED_RCVBUF).is_err() {
            let _ = set_sockopt_int(&sock, libc::SO_RCVBUF, WANTED_RCVBUF);
        }
        let rcvbuf = sockopt_int(&sock, libc::SO_RCVBUF)?;
        let sndbuf = sockopt_int(&sock, libc::SO_SNDBUF)?;
        let d = NetlinkDatagrams {
            sock,
            port: addr.port_number(),
            rcvbuf,
            sndbuf,
            capped,
            timeout,
            source,
        };
        d.apply_timeout()?;
        Ok(d)
    }

    fn apply_timeout(&self) -> io::Result<()> {
        let timeout = self.timeout;
        let tv = libc::timeval {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: setsockopt reads `size_of::<timeval>()` bytes from a valid
        // pointer to a live timeval, on a descriptor this struct owns.
        let rc = unsafe {
            libc::setsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Datagrams for NetlinkDatagrams {
    fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf, 0)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut b = buf;
        self.sock.recv(&mut b, libc::MSG_TRUNC)
    }
    fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.timeout = timeout;
        self.apply_timeout()
    }
    fn port(&self) -> u32 {
        self.port
    }
    fn buffers(&self) -> (usize, usize, bool) {
        (self.rcvbuf, self.sndbuf, self.capped)
    }
    fn reopen(&mut self) -> io::Result<()> {
        let sock = match &self.source {
            SocketSource::Current => Socket::new(NETLINK_GENERIC)?,
            SocketSource::Namespace(fd) => {
                use std::os::fd::AsFd;
                crate::netns::socket_in(crate::netns::Namespace::Fd(fd.as_fd()))
                    .map_err(|e| io::Error::other(e.to_string()))?
            }
        };
        let fresh = NetlinkDatagrams::new(sock, SocketSource::Current, self.timeout)?;
        let source = std::mem::replace(&mut self.source, SocketSource::Current);
        *self = NetlinkDatagrams { source, ..fresh };
        Ok(())
    }
}

/// One netlink message inside a received datagram.
struct RawMsg<'a> {
    ty: u16,
    flags: u16,
    seq: u32,
    port: u32,
    payload: &'a [u8],
}

/// Where one message lies in the receive buffer.
struct MsgAt {
    ty: u16,
    flags: u16,
    seq: u32,
    port: u32,
    payload: std::ops::Range<usize>,
}

/// What a received message meant for the request it answered.
pub(crate) enum Reply<'a> {
    /// A message of the family (a dump entry or a GET reply).
    Data(&'a [u8]),
    /// NLMSG_ERROR with code 0, or NLMSG_DONE: the request is complete.
    End,
    /// NLMSG_ERROR with an errno (positive), and the ext-ack text if any.
    Failed(i32, Option<String>),
}

/// Which way a traced datagram went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent to the kernel (one `send` call, possibly several requests).
    Sent,
    /// Received from the kernel (one datagram, possibly several messages).
    Received,
}

/// A callback that sees every datagram a handle sends and receives.
pub type Tracer = Box<dyn FnMut(Direction, &[u8]) + Send>;

/// A generic-netlink socket bound to one family.
pub(crate) struct GenlSocket {
    pub(crate) tracer: Option<Tracer>,
    io: Box<dyn Datagrams>,
    seq: u32,
    rx: Vec<u8>,
    /// The part of `rx` not yet parsed (the rest of the last datagram, when
    /// a wait ended in the middle of one).
    rx_rest: std::ops::Range<usize>,
    tx: Vec<u8>,
    /// Where the last request queued in `tx` starts.
    tx_last: Option<usize>,
    /// The sequence number of a dump request queued in `tx`.
    tx_dump: Option<u32>,
    /// The sequence number of a dump sent whose end (NLMSG_DONE or an
    /// error) has not been read: the kernel keeps the dump open on this
    /// socket and refuses every other dump (`EBUSY`) until it is read to
    /// its end or the socket is closed.
    open_dump: Option<u32>,
    /// The socket must be replaced before the next request (a dump could
    /// not be read to its end).
    stale: bool,
    timeout: Duration,
}

impl GenlSocket {
    /// Wraps a datagram source.
    pub(crate) fn new(io: Box<dyn Datagrams>, timeout: Duration, rx_len: usize) -> Self {
        GenlSocket {
            tracer: None,
            io,
            seq: 0,
            rx: vec![0; rx_len.max(rx_buffer_size())],
            rx_rest: 0..0,
            tx: Vec::with_capacity(4096),
            tx_last: None,
            tx_dump: None,
            open_dump: None,
            stale: false,
            timeout,
        }
    }

    /// Wraps a freshly created `NETLINK_GENERIC` socket (possibly created in
    /// another network namespace, which `source` names for reopening).
    pub(crate) fn from_socket(
        sock: Socket,
        source: SocketSource,
        timeout: Duration,
        rx_len: usize,
    ) -> io::Result<Self> {
        let io = NetlinkDatagrams::new(sock, source, timeout)?;
        Ok(Self::new(Box::new(io), timeout, rx_len))
    }

    /// Opens a socket in the calling thread's network namespace.
    pub(crate) fn open(timeout: Duration, rx_len: usize) -> io::Result<Self> {
        Self::from_socket(
            Socket::new(NETLINK_GENERIC)?,
            SocketSource::Current,
            timeout,
            rx_len,
        )
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.io.set_timeout(timeout)?;
        self.timeout = timeout;
        Ok(())
    }

    /// The receive and send buffer sizes granted, and whether ACKs are
    /// capped.
    pub(crate) fn buffers(&self) -> (usize, usize, bool) {
        self.io.buffers()
    }

    /// Bytes queued for the next send.
    pub(crate) fn queued_len(&self) -> usize {
        self.tx.len()
    }

    /// Removes the last request queued (its sequence number is reused).
    pub(crate) fn unqueue_last(&mut self) {
        if let Some(start) = self.tx_last.take() {
            self.tx.truncate(start);
            self.seq = self.seq.wrapping_sub(1);
        }
    }

    /// Sets `NLM_F_ACK` on the last request queued.
    pub(crate) fn ack_last(&mut self) {
        if let Some(start) = self.tx_last {
            let b = &mut self.tx[start + 6..start + 8];
            let flags = u16::from_ne_bytes([b[0], b[1]]) | NLM_F_ACK;
            b.copy_from_slice(&flags.to_ne_bytes());
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        self.seq
    }

    /// Appends one request to the transmit buffer and returns its sequence
    /// number.
    pub(crate) fn queue(&mut self, family: u16, msg: &IpvsMessage, flags: u16) -> u32 {
        let start = self.tx.len();
        let (seq, body) = self.queue_header(
            family,
            flags,
            msg.cmd.into(),
            IPVS_GENL_VERSION,
            msg.buffer_len(),
        );
        msg.emit(body);
        self.queued(start, seq, flags);
        seq
    }

    /// Records a request just queued at `start`.
    fn queued(&mut self, start: usize, seq: u32, flags: u16) {
        self.tx_last = Some(start);
        if flags & NLM_F_DUMP == NLM_F_DUMP {
            self.tx_dump = Some(seq);
        }
    }

    /// Appends a request whose attributes `encode` writes (returning the
    /// command) and returns its sequence number; nothing is queued if it
    /// fails.
    pub(crate) fn queue_with(
        &mut self,
        family: u16,
        flags: u16,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<IpvsCmd, Error>,
    ) -> Result<u32, Error> {
        let start = self.tx.len();
        self.tx.resize(start + NLMSG_HDRLEN + GENL_HDRLEN, 0);
        match encode(&mut self.tx) {
            Ok(cmd) => {
                let seq = self.next_seq();
                let len = self.tx.len() - start;
                write_header(
                    &mut self.tx[start..],
                    len,
                    family,
                    flags,
                    seq,
                    cmd.into(),
                    IPVS_GENL_VERSION,
                );
                self.queued(start, seq, flags);
                Ok(seq)
            }
            Err(e) => {
                self.tx.truncate(start);
                Err(e)
            }
        }
    }

    fn queue_raw(&mut self, ty: u16, flags: u16, genl_cmd: u8, genl_ver: u8, attrs: &[u8]) -> u32 {
        let start = self.tx.len();
        let (seq, body) = self.queue_header(ty, flags, genl_cmd, genl_ver, attrs.len());
        body.copy_from_slice(attrs);
        self.queued(start, seq, flags);
        seq
    }

    /// Appends a request's netlink and generic-netlink headers to the
    /// transmit buffer; returns its sequence number and the `body_len`
    /// bytes after the headers, for the caller to fill.
    fn queue_header(
        &mut self,
        ty: u16,
        flags: u16,
        genl_cmd: u8,
        genl_ver: u8,
        body_len: usize,
    ) -> (u32, &mut [u8]) {
        let seq = self.next_seq();
        let len = NLMSG_HDRLEN + GENL_HDRLEN + body_len;
        let start = self.tx.len();
        self.tx.resize(start + len, 0);
        let b = &mut self.tx[start..];
        write_header(b, len, ty, flags, seq, genl_cmd, genl_ver);
        (seq, &mut b[NLMSG_HDRLEN + GENL_HDRLEN..])
    }

    /// Sends everything queued in one `send` call. A dump left open by an
    /// earlier call that failed is read to its end first (or the socket
    /// replaced), so that the kernel does not refuse the next dump.
    pub(crate) fn flush_tx(&mut self, op: Operation) -> Result<(), Error> {
        let res = self.settle(op).and_then(|()| {
            if let Some(t) = self.tracer.as_mut() {
                t(Direction::Sent, &self.tx);
            }
            let len = self.tx.len();
            match self.io.send(&self.tx) {
                Ok(n) if n == len => Ok(()),
                Ok(n) => Err(Error::Io {
                    op,
                    source: io::Error::other(format!("short netlink send: {n} of {len} bytes")),
                }),
                Err(source) => Err(Error::Io { op, source }),
            }
        });
        if res.is_ok() {
            self.open_dump = self.tx_dump;
        }
        self.tx.clear();
        self.tx_last = None;
        self.tx_dump = None;
        res
    }

    /// Drops anything queued but not sent.
    pub(crate) fn discard_tx(&mut self) {
        self.tx.clear();
        self.tx_last = None;
        self.tx_dump = None;
        // Keep the sequence numbers of one batch in increasing order.
        if self.seq > u32::MAX - (1 << 20) {
            self.seq = 0;
        }
    }

    /// Makes the socket fit for a new request: reads a dump left open to
    /// its end (NLMSG_DONE or an error for its sequence number), waiting at
    /// most the handle's timeout in all, and replaces the socket when that
    /// fails or when it was marked stale.
    fn settle(&mut self, op: Operation) -> Result<(), Error> {
        if let (Some(seq), false) = (self.open_dump, self.stale) {
            if !self.drain(op, seq) {
                self.stale = true;
            }
        }
        self.open_dump = None;
        if self.stale {
            self.rx_rest = 0..0;
            self.io
                .reopen()
                .map_err(|source| Error::Io { op, source })?;
            self.stale = false;
        }
        Ok(())
    }

    /// Reads and drops messages until the end of dump `seq`; false when it
    /// did not come within the timeout.
    fn drain(&mut self, op: Operation, seq: u32) -> bool {
        let deadline = Instant::now() + self.timeout;
        loop {
            while let Some(msg) = self.next_message() {
                let Ok(msg) = msg else { break };
                if msg.seq == seq && matches!(msg.ty, NLMSG_DONE | NLMSG_ERROR) {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            match self.recv_datagram(op) {
                Ok(_) | Err(Error::Truncated { .. }) => {}
                Err(_) => return false,
            }
        }
    }

    /// The next message of the datagram in the receive buffer (its payload
    /// as a range of `rx`), or `None` when it has none left; a framing
    /// error drops the rest of the datagram.
    fn next_message(&mut self) -> Option<Result<MsgAt, ()>> {
        let (off, n) = (self.rx_rest.start, self.rx_rest.end);
        if off.saturating_add(NLMSG_HDRLEN) > n {
            self.rx_rest = n..n;
            return None;
        }
        match parse_header(&self.rx[off..n]) {
            Some(msg) => {
                let len = msg.payload.len();
                let at = MsgAt {
                    ty: msg.ty,
                    flags: msg.flags,
                    seq: msg.seq,
                    port: msg.port,
                    payload: off + NLMSG_HDRLEN..off + NLMSG_HDRLEN + len,
                };
                let step = align4(len + NLMSG_HDRLEN);
                self.rx_rest = off.saturating_add(step).min(n)..n;
                Some(Ok(at))
            }
            None => {
                self.rx_rest = n..n;
                Some(Err(()))
            }
        }
    }

    /// Receives one datagram into the receive buffer; returns its length.
    /// A wait that times out while a dump is open marks the socket stale:
    /// draining would only wait once more.
    fn recv_datagram(&mut self, op: Operation) -> Result<usize, Error> {
        self.rx_rest = 0..0;
        loop {
            match self.io.recv(&mut self.rx) {
                Ok(n) if n > self.rx.len() => return Err(Error::Truncated { op, len: n }),
                Ok(n) => {
                    if let Some(t) = self.tracer.as_mut() {
                        t(Direction::Received, &self.rx[..n]);
                    }
                    self.rx_rest = 0..n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    if self.open_dump.is_some() {
                        self.stale = true;
                    }
                    return Err(Error::Timeout {
                        op,
                        millis: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
                    });
                }
                Err(source) => return Err(Error::Io { op, source }),
            }
        }
    }

    /// Receives datagrams and hands every message that answers one of our
    /// requests (sequence number in `seqs`, our port) to `on_reply` with its
    /// sequence number. Stops when `on_reply` returns `true` (finished).
    /// Returns whether any answering message carried `NLM_F_DUMP_INTR`.
    ///
    /// When it fails in the middle of a dump, the dump stays open in the
    /// kernel; the next request reads it to its end first (see
    /// [`GenlSocket::flush_tx`]).
    pub(crate) fn receive(
        &mut self,
        op: Operation,
        family: u16,
        seqs: std::ops::RangeInclusive<u32>,
        mut on_reply: impl FnMut(u32, Reply<'_>) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        let mut interrupted = false;
        let port = self.io.port();
        loop {
            self.recv_datagram(op)?;
            let mut finished = false;
            while let Some(msg) = self.next_message() {
                let msg = msg.map_err(|()| Error::Decode {
                    op,
                    message: "netlink message length out of bounds".into(),
                })?;
                if msg.port != port && msg.port != 0 {
                    continue;
                }
                if !seqs.contains(&msg.seq) {
                    continue; // a stale reply to an earlier, abandoned request
                }
                if msg.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                let (seq, ty, flags) = (msg.seq, msg.ty, msg.flags);
                if Some(seq) == self.open_dump && matches!(ty, NLMSG_DONE | NLMSG_ERROR) {
                    self.open_dump = None;
                }
                let payload = &self.rx[msg.payload];
                let reply = match ty {
                    NLMSG_NOOP => continue,
                    NLMSG_OVERRUN => {
                        return Err(Error::Decode {
                            op,
                            message: "netlink overrun".into(),
                        })
                    }
                    NLMSG_ERROR => parse_error(flags, payload).ok_or_else(|| Error::Decode {
                        op,
                        message: "short NLMSG_ERROR".into(),
                    })?,
                    NLMSG_DONE => {
                        let code = payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(0);
                        if code < 0 {
                            // i32::MIN has no positive counterpart.
                            Reply::Failed(code.checked_neg().unwrap_or(i32::MAX), None)
                        } else {
                            Reply::End
                        }
                    }
                    ty if ty == family => Reply::Data(payload),
                    _ => continue,
                };
                if on_reply(seq, reply)? {
                    finished = true;
                }
            }
            if finished {
                return Ok(interrupted);
            }
        }
    }

    /// Resolves a generic-netlink family name to its id. `Ok(None)` means
    /// the kernel answered that the family does not exist.
    pub(crate) fn resolve_family(&mut self, name: &str) -> Result<Option<u16>, Error> {
        let op = Operation::Open;
        let mut attr = Vec::with_capacity(align4(4 + name.len() + 1));
        let len = 4 + name.len() + 1;
        attr.extend_from_slice(&(len as u16).to_ne_bytes());
        attr.extend_from_slice(&CTRL_ATTR_FAMILY_NAME.to_ne_bytes());
        attr.extend_from_slice(name.as_bytes());
        attr.push(0);
        attr.resize(align4(len), 0);
        self.discard_tx();
        let seq = self.queue_raw(GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 2, &attr);
        self.flush_tx(op)?;
        let mut id = None;
        let mut missing = false;
        self.receive(op, GENL_ID_CTRL, seq..=seq, |_, reply| match reply {
            Reply::Data(payload) => {
                id = id.or_else(|| find_u16_attr(attributes(payload)?, CTRL_ATTR_FAMILY_ID));
                Ok(false)
            }
            Reply::End => Ok(true),
            Reply::Failed(e, _) if e == libc::ENOENT => {
                missing = true;
                Ok(true)
            }
            Reply::Failed(errno, ext_ack) => Err(Error::Kernel {
                op,
                errno,
                target: None,
                ext_ack,
            }),
        })?;
        if missing {
            return Ok(None);
        }
        id.map(Some).ok_or_else(|| Error::Decode {
            op,
            message: "family reply without CTRL_ATTR_FAMILY_ID".into(),
        })
    }
}

/// Writes a request's netlink and generic-netlink headers at the start of
/// `b`, for a message of `len` bytes in all.
fn write_header(b: &mut [u8], len: usize, ty: u16, flags: u16, seq: u32, cmd: u8, ver: u8) {
    b[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&ty.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    b[12..16].fill(0);
    b[16] = cmd;
    b[17] = ver;
    b[18..20].fill(0);
}

fn parse_header(buf: &[u8]) -> Option<RawMsg<'_>> {
    let len = u32::from_ne_bytes(buf.get(0..4)?.try_into().ok()?) as usize;
    if len < NLMSG_HDRLEN || len > buf.len() {
        return None;
    }
    Some(RawMsg {
        ty: u16::from_ne_bytes(buf[4..6].try_into().ok()?),
        flags: u16::from_ne_bytes(buf[6..8].try_into().ok()?),
        seq: u32::from_ne_bytes(buf[8..12].try_into().ok()?),
        port: u32::from_ne_bytes(buf[12..16].try_into().ok()?),
        payload: &buf[NLMSG_HDRLEN..len],
    })
}

/// Parses the payload of an NLMSG_ERROR: the (negative) error code, the
/// echoed request (whole, or just its header when capped) and, with
/// `NLM_F_ACK_TLVS`, the extended-ack attributes.
fn parse_error(flags: u16, payload: &[u8]) -> Option<Reply<'_>> {
    let code = i32::from_ne_bytes(payload.get(0..4)?.try_into().ok()?);
    if code == 0 {
        return Some(Reply::End);
    }
    let mut ext_ack = None;
    if flags & NLM_F_ACK_TLVS != 0 {
        let echoed = payload.get(4..)?;
        let echoed_len = if flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            u32::from_ne_bytes(echoed.get(0..4)?.try_into().ok()?) as usize
        };
        if let Some(tlvs) = echoed.get(align4(echoed_len)..) {
            ext_ack = find_attr(tlvs, NLMSGERR_ATTR_MSG).map(crate::wire::c_string);
        }
    }
    Some(Reply::Failed(
        code.checked_neg().unwrap_or(i32::MAX),
        ext_ack,
    ))
}

/// Finds an attribute by type in a flat attribute list.
pub(crate) fn find_attr(mut buf: &[u8], kind: u16) -> Option<&[u8]> {
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & netlink_packet_core::NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        if ty == kind {
            return Some(&buf[4..len]);
        }
        buf = buf.get(align4(len)..)?;
    }
    None
}

fn find_u16_attr(buf: &[u8], kind: u16) -> Option<u16> {
    let v = find_attr(buf, kind)?;
    Some(u16::from_ne_bytes(v.get(0..2)?.try_into().ok()?))
}

/// The attributes of a family reply payload (what follows the genl header).
pub(crate) fn attributes(payload: &[u8]) -> Option<&[u8]> {
    payload.get(GENL_HDRLEN..)
}

/// The value of the first top-level attribute of type `kind` in a family
/// reply payload (genl header + attributes).
pub(crate) fn top_level_attr(payload: &[u8], kind: u16) -> Option<&[u8]> {
    find_attr(attributes(payload)?, kind)
}

/// Decodes the IPVS message in a family reply payload (genl header + attrs).
pub(crate) fn decode_ipvs(op: Operation, payload: &[u8]) -> Result<IpvsMessage, Error> {
    if payload.len() < GENL_HDRLEN {
        return Err(Error::Decode {
            op,
            message: "short generic netlink header".into(),
        });
    }
    IpvsMessage::parse_body(IpvsCmd::from(payload[0]), &payload[GENL_HDRLEN..]).map_err(|e| {
        Error::Decode {
            op,
            message: e.to_string(),
        }
    })
}

/// Request flags for a "do" command that is acknowledged.
pub(crate) const DO_FLAGS: u16 = NLM_F_ACK;
/// Request flags for a dump.
pub(crate) const DUMP_FLAGS: u16 = NLM_F_DUMP;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_with_ext_ack_message() {
        // NLMSG_ERROR payload: errno -34, capped echoed header, MSG attr.
        let mut p = Vec::new();
        p.extend_from_slice(&(-34i32).to_ne_bytes());
        p.extend_from_slice(&[0u8; 16]);
        let text = b"Attribute failed policy validation\0";
        p.extend_from_slice(&((4 + text.len()) as u16).to_ne_bytes());
        p.extend_from_slice(&1u16.to_ne_bytes());
        p.extend_from_slice(text);
        match parse_error(NLM_F_CAPPED | NLM_F_ACK_TLVS, &p) {
            Some(Reply::Failed(34, Some(m))) => {
                assert_eq!(m, "Attribute failed policy validation")
            }
            _ => panic!("ext-ack not parsed"),
        }
    }

    /// Lengths from malformed input near the top of the range round up
    /// without overflowing (past any buffer, so every `get` fails).
    #[test]
    fn align4_saturates() {
        assert_eq!(align4(5), 8);
        assert_eq!(align4(usize::MAX) % 4, 0);
        let mut p = Vec::new();
        p.extend_from_slice(&(-1i32).to_ne_bytes());
        p.extend_from_slice(&u32::MAX.to_ne_bytes());
        p.extend_from_slice(&[0; 12]);
        assert!(matches!(
            parse_error(NLM_F_ACK_TLVS, &p),
            Some(Reply::Failed(1, None))
        ));
    }

    #[test]
    fn ack_and_garbage() {
        assert!(matches!(
            parse_error(0, &0i32.to_ne_bytes()),
            Some(Reply::End)
        ));
        assert!(parse_error(0, &[1, 2]).is_none());
        assert!(matches!(
            parse_error(0, &i32::MIN.to_ne_bytes()),
            Some(Reply::Failed(i32::MAX, None))
        ));
        assert!(parse_header(&[0xff; 8]).is_none());
        assert!(parse_header(&[200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
    }
}
