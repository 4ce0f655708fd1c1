//! Blocking generic-netlink transport: one socket, requests matched to
//! replies by sequence number, multipart dumps, ACKs and extended acks.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

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

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One netlink message inside a received datagram.
struct RawMsg<'a> {
    ty: u16,
    flags: u16,
    seq: u32,
    port: u32,
    payload: &'a [u8],
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
    sock: Socket,
    port: u32,
    seq: u32,
    rx: Vec<u8>,
    tx: Vec<u8>,
    timeout: Duration,
}

impl GenlSocket {
    /// Wraps a freshly created `NETLINK_GENERIC` socket (possibly created in
    /// another network namespace).
    pub(crate) fn from_socket(
        mut sock: Socket,
        timeout: Duration,
        rx_len: usize,
    ) -> io::Result<Self> {
        let addr = sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Best effort: extended acks and capped acks are optional features.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        // Room for the ACKs of a pipelined batch.
        let _ = sock.set_rx_buf_sz(1usize << 20);
        let mut s = GenlSocket {
            tracer: None,
            sock,
            port: addr.port_number(),
            seq: 0,
            rx: vec![0; rx_len.max(rx_buffer_size())],
            tx: Vec::with_capacity(4096),
            timeout,
        };
        s.set_timeout(timeout)?;
        Ok(s)
    }

    /// Opens a socket in the calling thread's network namespace.
    pub(crate) fn open(timeout: Duration, rx_len: usize) -> io::Result<Self> {
        Self::from_socket(Socket::new(NETLINK_GENERIC)?, timeout, rx_len)
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.timeout = timeout;
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
        let (seq, body) = self.queue_header(
            family,
            flags,
            msg.cmd.into(),
            IPVS_GENL_VERSION,
            msg.buffer_len(),
        );
        msg.emit(body);
        seq
    }

    /// Appends the request for `change` to the transmit buffer and returns
    /// its sequence number; nothing is queued if it cannot be encoded.
    pub(crate) fn queue_change(
        &mut self,
        family: u16,
        flags: u16,
        change: &crate::Change,
    ) -> Result<u32, Error> {
        self.queue_with(family, flags, |tx| change.encode(tx))
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
                Ok(seq)
            }
            Err(e) => {
                self.tx.truncate(start);
                Err(e)
            }
        }
    }

    fn queue_raw(&mut self, ty: u16, flags: u16, genl_cmd: u8, genl_ver: u8, attrs: &[u8]) -> u32 {
        let (seq, body) = self.queue_header(ty, flags, genl_cmd, genl_ver, attrs.len());
        body.copy_from_slice(attrs);
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

    /// Sends everything queued in one `send` call.
    pub(crate) fn flush_tx(&mut self, op: Operation) -> Result<(), Error> {
        if let Some(t) = self.tracer.as_mut() {
            t(Direction::Sent, &self.tx);
        }
        let res = self.sock.send(&self.tx, 0);
        let len = self.tx.len();
        self.tx.clear();
        match res {
            Ok(n) if n == len => Ok(()),
            Ok(n) => Err(Error::Io {
                op,
                source: io::Error::other(format!("short netlink send: {n} of {len} bytes")),
            }),
            Err(source) => Err(Error::Io { op, source }),
        }
    }

    /// Drops anything queued but not sent.
    pub(crate) fn discard_tx(&mut self) {
        self.tx.clear();
        // Keep the sequence numbers of one batch in increasing order.
        if self.seq > u32::MAX - (1 << 20) {
            self.seq = 0;
        }
    }

    /// Receives one datagram into the receive buffer; returns its length.
    fn recv_datagram(&mut self, op: Operation) -> Result<usize, Error> {
        loop {
            let n = {
                let mut buf = &mut self.rx[..];
                self.sock.recv(&mut buf, libc::MSG_TRUNC)
            };
            match n {
                Ok(n) if n > self.rx.len() => return Err(Error::Truncated { op, len: n }),
                Ok(n) => {
                    if let Some(t) = self.tracer.as_mut() {
                        t(Direction::Received, &self.rx[..n]);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(Error::Timeout {
                        op,
                        millis: self.timeout.as_millis() as u64,
                    })
                }
                Err(source) => return Err(Error::Io { op, source }),
            }
        }
    }

    /// Receives datagrams and hands every message that answers one of our
    /// requests (sequence number in `seqs`, our port) to `on_reply` with its
    /// sequence number. Stops when `on_reply` returns `true` (finished).
    /// Returns whether any answering message carried `NLM_F_DUMP_INTR`.
    pub(crate) fn receive(
        &mut self,
        op: Operation,
        family: u16,
        seqs: std::ops::RangeInclusive<u32>,
        mut on_reply: impl FnMut(u32, Reply<'_>) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        let mut interrupted = false;
        loop {
            let n = self.recv_datagram(op)?;
            let mut off = 0;
            let mut finished = false;
            while off + NLMSG_HDRLEN <= n {
                let msg = parse_header(&self.rx[off..n]).ok_or_else(|| Error::Decode {
                    op,
                    message: "netlink message length out of bounds".into(),
                })?;
                let step = align4(msg.payload.len() + NLMSG_HDRLEN);
                off += step;
                if msg.port != self.port && msg.port != 0 {
                    continue;
                }
                if !seqs.contains(&msg.seq) {
                    continue; // a stale reply to an earlier, abandoned request
                }
                if msg.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                let reply = match msg.ty {
                    NLMSG_NOOP => continue,
                    NLMSG_OVERRUN => {
                        return Err(Error::Decode {
                            op,
                            message: "netlink overrun".into(),
                        })
                    }
                    NLMSG_ERROR => {
                        parse_error(msg.flags, msg.payload).ok_or_else(|| Error::Decode {
                            op,
                            message: "short NLMSG_ERROR".into(),
                        })?
                    }
                    NLMSG_DONE => {
                        let code = msg
                            .payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(0);
                        if code < 0 {
                            Reply::Failed(-code, None)
                        } else {
                            Reply::End
                        }
                    }
                    ty if ty == family => Reply::Data(msg.payload),
                    _ => continue,
                };
                if on_reply(msg.seq, reply)? {
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
