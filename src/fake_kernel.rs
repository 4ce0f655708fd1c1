//! A scripted kernel behind the transport seam ([`Datagrams`]), for host
//! tests of what the host kernel (no IPVS) cannot show: dumps abandoned
//! half-way, pipelined batches, buffer limits and malformed replies.
//!
//! It follows the kernel's netlink rules where the tests depend on them:
//! requests are handled in order inside `send`, one reply datagram per
//! ACK or error, a failed request is answered whether or not it asked for
//! an ACK; a dump produces its next datagram only when the previous one
//! has been read, and while it is open every other dump on the socket is
//! refused with `EBUSY`; replies that do not fit in the receive buffer are
//! dropped and the next `recv` fails with `ENOBUFS`; a `send` larger than
//! the send buffer less 32 bytes fails with `EMSGSIZE`.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netlink_packet_core::Emitable;

use crate::client::{Ipvs, OpenOptions};
use crate::message::{IpvsAttribute, IpvsCmd, IpvsMessage};
use crate::service::{Service, ServiceKey};
use crate::socket::{Datagrams, GenlSocket};

pub(crate) const FAMILY: u16 = 0x24;
const GENL_ID_CTRL: u16 = 0x10;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;

/// One request the fake kernel received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) cmd: u8,
}

/// The kernel state both sockets of a handle share, and the test's script.
pub(crate) struct Kernel {
    /// Attribute payloads (after the genl header) of the service dump.
    pub(crate) services: Vec<Vec<u8>>,
    /// Attribute payloads of every real-server dump.
    pub(crate) dests: Vec<Vec<u8>>,
    /// Entries per dump datagram.
    pub(crate) per_datagram: usize,
    /// Replace the dump entry with this index by a malformed one, once.
    pub(crate) corrupt_once: Option<usize>,
    /// Make the next dump datagram larger than any receive buffer, once.
    pub(crate) oversize_once: bool,
    /// Dumps stop producing after their first datagram, once.
    pub(crate) stall_once: bool,
    /// The errno for the `n`th do-request (0 = success).
    pub(crate) verdict: Box<dyn FnMut(usize, u8) -> i32 + Send>,
    /// Do-requests after this many are never answered.
    pub(crate) answer_limit: Option<usize>,
    /// `SO_RCVBUF` and `SO_SNDBUF` of each socket.
    pub(crate) rcvbuf: usize,
    pub(crate) sndbuf: usize,
    /// NLMSG_DONE of the next dump carries this error code, once.
    pub(crate) done_code_once: Option<i32>,
    /// Every request received, in order.
    pub(crate) sent: Vec<Sent>,
    /// Datagrams sent (`send` calls).
    pub(crate) sends: usize,
    /// Do-requests handled.
    pub(crate) handled: usize,
    /// Dumps refused with EBUSY.
    pub(crate) busy: usize,
    /// Sockets replaced.
    pub(crate) reopens: usize,
    /// Replies dropped for want of receive buffer.
    pub(crate) dropped: usize,
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel {
            services: Vec::new(),
            dests: Vec::new(),
            per_datagram: 2,
            corrupt_once: None,
            oversize_once: false,
            stall_once: false,
            verdict: Box::new(|_, _| 0),
            answer_limit: None,
            rcvbuf: 1 << 20,
            sndbuf: 212_992,
            done_code_once: None,
            sent: Vec::new(),
            sends: 0,
            handled: 0,
            busy: 0,
            reopens: 0,
            dropped: 0,
        }
    }
}

/// The payload of a service dump entry for `key`.
pub(crate) fn service_entry(key: ServiceKey) -> Vec<u8> {
    let s = Service::new(key).with_scheduler("rr");
    let m = IpvsMessage::new(
        IpvsCmd::NewService,
        vec![IpvsAttribute::Service(s.to_attributes().unwrap())],
    );
    let mut b = vec![0; m.buffer_len()];
    m.emit(&mut b);
    b
}

/// A dump entry: nest `nest` (service or real server) whose attribute 2
/// (protocol, port: both 16-bit) has one byte.
fn malformed_entry(nest: u8) -> Vec<u8> {
    vec![12, 0, nest, 0x80, 5, 0, 2, 0, 7, 0, 0, 0]
}

fn nlmsg(ty: u16, flags: u16, seq: u32, port: u32, body: &[u8]) -> Vec<u8> {
    let len = 16 + body.len();
    let mut m = Vec::with_capacity(len + 3);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&port.to_ne_bytes());
    m.extend_from_slice(body);
    m.resize((m.len() + 3) & !3, 0);
    m
}

/// NLMSG_ERROR with a capped echo of the request header.
fn error_msg(errno: i32, req: &[u8], seq: u32, port: u32) -> Vec<u8> {
    let mut body = (-errno).to_ne_bytes().to_vec();
    body.extend_from_slice(&req[..16]);
    nlmsg(NLMSG_ERROR, 0x100, seq, port, &body)
}

/// One socket of the fake kernel.
pub(crate) struct FakeSocket {
    kernel: Arc<Mutex<Kernel>>,
    port: u32,
    queue: VecDeque<Vec<u8>>,
    /// An open dump: its sequence number, command and next entry.
    dump: Option<(u32, u8, usize)>,
    stalled: bool,
    enobufs: bool,
}

impl FakeSocket {
    pub(crate) fn new(kernel: Arc<Mutex<Kernel>>, port: u32) -> Self {
        FakeSocket {
            kernel,
            port,
            queue: VecDeque::new(),
            dump: None,
            stalled: false,
            enobufs: false,
        }
    }

    /// The kernel's truesize of a queued datagram of `len` bytes.
    fn truesize(len: usize) -> usize {
        (len + 320).next_power_of_two() + 256
    }

    /// Queues a reply as the kernel does: dropped when the receive buffer
    /// is already over its size.
    fn reply(&mut self, k: &mut Kernel, d: Vec<u8>) {
        let used: usize = self.queue.iter().map(|d| Self::truesize(d.len())).sum();
        if used > k.rcvbuf {
            k.dropped += 1;
            self.enobufs = true;
        } else {
            self.queue.push_back(d);
        }
    }

    fn next_dump_datagram(&mut self, k: &mut Kernel) {
        let Some((seq, cmd, at)) = self.dump else {
            return;
        };
        if self.stalled {
            return;
        }
        let entries = if cmd == 4 { &k.services } else { &k.dests };
        let end = (at + k.per_datagram).min(entries.len());
        let mut d = Vec::new();
        for (i, e) in entries[at..end].iter().enumerate() {
            let payload = if k.corrupt_once == Some(at + i) {
                k.corrupt_once = None;
                malformed_entry(if cmd == 4 { 1 } else { 2 })
            } else {
                e.clone()
            };
            let mut body = vec![if cmd == 4 { 1 } else { 5 }, 1, 0, 0];
            body.extend_from_slice(&payload);
            d.extend(nlmsg(FAMILY, NLM_F_MULTI, seq, self.port, &body));
        }
        if k.oversize_once {
            k.oversize_once = false;
            d.extend(nlmsg(1, NLM_F_MULTI, seq, self.port, &[0; 40_000]));
        }
        if end == entries.len() {
            let code = k.done_code_once.take().unwrap_or(0);
            d.extend(nlmsg(
                NLMSG_DONE,
                NLM_F_MULTI,
                seq,
                self.port,
                &code.to_ne_bytes(),
            ));
            self.dump = None;
        } else {
            self.dump = Some((seq, cmd, end));
            if k.stall_once {
                k.stall_once = false;
                self.stalled = true;
            }
        }
        self.reply(k, d);
    }

    fn handle(&mut self, k: &mut Kernel, req: &[u8]) {
        let ty = u16::from_ne_bytes([req[4], req[5]]);
        let flags = u16::from_ne_bytes([req[6], req[7]]);
        let seq = u32::from_ne_bytes([req[8], req[9], req[10], req[11]]);
        let cmd = req[16];
        k.sent.push(Sent { flags, seq, cmd });
        if ty == GENL_ID_CTRL {
            let mut body = vec![1, 2, 0, 0];
            body.extend_from_slice(&6u16.to_ne_bytes());
            body.extend_from_slice(&1u16.to_ne_bytes());
            body.extend_from_slice(&FAMILY.to_ne_bytes());
            body.extend_from_slice(&[0, 0]);
            let d = nlmsg(GENL_ID_CTRL, 0, seq, self.port, &body);
            self.reply(k, d);
            if flags & NLM_F_ACK != 0 {
                let ack = error_msg(0, req, seq, self.port);
                self.reply(k, ack);
            }
            return;
        }
        if flags & NLM_F_DUMP == NLM_F_DUMP {
            if self.dump.is_some() {
                k.busy += 1;
                let e = error_msg(libc::EBUSY, req, seq, self.port);
                self.reply(k, e);
            } else {
                self.dump = Some((seq, cmd, 0));
                self.next_dump_datagram(k);
            }
            return;
        }
        let n = k.handled;
        k.handled += 1;
        if k.answer_limit.is_some_and(|limit| n >= limit) {
            return;
        }
        let errno = (k.verdict)(n, cmd);
        if errno != 0 || flags & NLM_F_ACK != 0 {
            let e = error_msg(errno, req, seq, self.port);
            self.reply(k, e);
        }
    }
}

impl Datagrams for FakeSocket {
    fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        let kernel = Arc::clone(&self.kernel);
        let mut k = kernel.lock().unwrap();
        if buf.len() > k.sndbuf - 32 {
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        }
        k.sends += 1;
        let mut off = 0;
        while off + 20 <= buf.len() {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            self.handle(&mut k, &buf[off..off + len]);
            off += (len + 3) & !3;
        }
        Ok(buf.len())
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.enobufs {
            self.enobufs = false;
            return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
        }
        let Some(d) = self.queue.pop_front() else {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        };
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        if self.queue.is_empty() {
            let kernel = Arc::clone(&self.kernel);
            let mut k = kernel.lock().unwrap();
            self.next_dump_datagram(&mut k);
        }
        Ok(d.len())
    }

    fn set_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }

    fn port(&self) -> u32 {
        self.port
    }

    fn buffers(&self) -> (usize, usize, bool) {
        let k = self.kernel.lock().unwrap();
        (k.rcvbuf, k.sndbuf, true)
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.kernel.lock().unwrap().reopens += 1;
        self.queue.clear();
        self.dump = None;
        self.stalled = false;
        self.enobufs = false;
        self.port += 1000;
        Ok(())
    }
}

/// A handle on a fake kernel.
pub(crate) fn open(kernel: &Arc<Mutex<Kernel>>, options: &OpenOptions) -> Ipvs {
    let sock = |port, rx| {
        let io = FakeSocket::new(Arc::clone(kernel), port);
        GenlSocket::new(Box::new(io), options.timeout, rx)
    };
    Ipvs::from_sockets(
        sock(100, options.receive_buffer),
        sock(200, 32 * 1024),
        options,
    )
    .expect("open on the fake kernel")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use crate::client::{BatchAcks, BatchMode};
    use crate::error::{Error, Operation};
    use std::net::{IpAddr, Ipv4Addr};

    fn key(i: u32) -> ServiceKey {
        ServiceKey::tcp(IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i)), 80)
    }

    fn kernel_with_services(n: u32) -> Arc<Mutex<Kernel>> {
        let k = Kernel {
            services: (0..n).map(|i| service_entry(key(i))).collect(),
            ..Kernel::default()
        };
        Arc::new(Mutex::new(k))
    }

    /// Defect 1: a dump abandoned after a decode error stays open in the
    /// kernel; the next dump on the handle must still work (it was
    /// refused with EBUSY until the old dump drained).
    #[test]
    fn dump_abandoned_after_a_decode_error_is_drained() {
        let k = kernel_with_services(20);
        k.lock().unwrap().corrupt_once = Some(3);
        let mut ipvs = open(&k, &OpenOptions::default());
        let err = ipvs.services().unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        for _ in 0..3 {
            let services = ipvs.services().expect("the next dump");
            assert_eq!(services.len(), 20);
        }
        let k = k.lock().unwrap();
        assert_eq!(k.busy, 0);
        assert_eq!(k.reopens, 0, "drained, not reopened");
    }

    /// Defect 1: the same after a datagram larger than the buffer.
    #[test]
    fn dump_abandoned_after_truncation_is_drained() {
        let k = kernel_with_services(9);
        k.lock().unwrap().oversize_once = true;
        let mut ipvs = open(&k, &OpenOptions::default());
        let err = ipvs.services().unwrap_err();
        assert!(matches!(err, Error::Truncated { .. }), "{err:?}");
        assert_eq!(ipvs.services().expect("the next dump").len(), 9);
        assert_eq!(k.lock().unwrap().busy, 0);
    }

    /// Defect 1: a dump that stops answering (timeout) cannot be drained:
    /// the socket is replaced, and the next dump works.
    #[test]
    fn dump_that_timed_out_reopens_the_socket() {
        let k = kernel_with_services(9);
        k.lock().unwrap().stall_once = true;
        let mut ipvs = open(&k, &OpenOptions::default());
        let err = ipvs.services().unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert_eq!(ipvs.services().expect("the next dump").len(), 9);
        let k = k.lock().unwrap();
        assert_eq!((k.busy, k.reopens), (0, 1));
    }

    /// Defect 1, on the socket of the small dumps: a real-server dump
    /// abandoned half-way does not break the next listing.
    #[test]
    fn destination_dump_abandoned_is_drained() {
        let k = kernel_with_services(1);
        {
            let mut k = k.lock().unwrap();
            k.dests = (0..8)
                .map(|i| {
                    let d = crate::destination::Destination::new(
                        IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)),
                        80,
                        crate::destination::ForwardMethod::DirectRoute,
                    );
                    let m = IpvsMessage::new(
                        IpvsCmd::NewDest,
                        vec![IpvsAttribute::Destination(d.to_attributes())],
                    );
                    let mut b = vec![0; m.buffer_len()];
                    m.emit(&mut b);
                    b
                })
                .collect();
            k.corrupt_once = Some(0);
        }
        let mut ipvs = open(&k, &OpenOptions::default());
        assert!(ipvs.destinations(&key(0)).is_err());
        assert_eq!(ipvs.destinations(&key(0)).unwrap().len(), 8);
        assert_eq!(ipvs.snapshot().unwrap()[0].destinations.len(), 8);
        assert_eq!(k.lock().unwrap().busy, 0);
    }

    fn adds(n: u32) -> Vec<Change> {
        (0..n)
            .map(|i| Change::AddService(Service::new(key(i)).with_scheduler("rr")))
            .collect()
    }

    fn bad_scheduler() -> Change {
        Change::AddService(Service::new(key(999)).with_scheduler("a-name-too-long-for-ipvs"))
    }

    /// Defect 2: with errors-only ACKs, a window whose last change fails
    /// local validation still ends with an ACKed request; every result
    /// comes back without waiting.
    #[test]
    fn errors_only_window_ending_in_an_invalid_change() {
        let k = kernel_with_services(0);
        k.lock().unwrap().verdict = Box::new(|n, _| if n == 1 { libc::EEXIST } else { 0 });
        let mut ipvs = open(
            &k,
            &OpenOptions {
                batch_acks: BatchAcks::ErrorsOnly,
                batch_window: 4,
                ..OpenOptions::default()
            },
        );
        let mut changes = adds(3);
        changes.push(bad_scheduler());
        changes.extend(adds(2));
        changes.push(bad_scheduler());
        let results = ipvs
            .apply(&changes, BatchMode::ContinueOnError)
            .expect("no timeout");
        assert_eq!(results.len(), 7);
        assert!(results[0].is_ok() && results[2].is_ok() && results[4].is_ok());
        assert_eq!(results[1].as_ref().unwrap_err().errno(), Some(libc::EEXIST));
        for i in [3, 6] {
            assert!(
                matches!(results[i], Err(Error::InvalidArgument { .. })),
                "{i}: {:?}",
                results[i]
            );
        }
        // Per window, only the last request queued asked for an ACK.
        let k = k.lock().unwrap();
        let acked: Vec<bool> = k.sent[1..]
            .iter()
            .map(|s| s.flags & NLM_F_ACK != 0)
            .collect();
        assert_eq!(acked, [false, false, true, false, true]);
    }

    /// Defect 3: a window is cut where the replies of all its requests
    /// (every one may fail and be answered) would overflow the receive
    /// buffer; none is dropped.
    #[test]
    fn window_fits_the_receive_buffer() {
        let k = kernel_with_services(0);
        {
            let mut k = k.lock().unwrap();
            k.rcvbuf = 16 * 1024;
            k.verdict = Box::new(|_, _| libc::EEXIST);
        }
        let mut ipvs = open(
            &k,
            &OpenOptions {
                batch_acks: BatchAcks::ErrorsOnly,
                batch_window: 256,
                ..OpenOptions::default()
            },
        );
        let limits = ipvs.batch_limits();
        assert!(limits.window < 256 && limits.window >= 1, "{limits:?}");
        let results = ipvs
            .apply(&adds(100), BatchMode::ContinueOnError)
            .expect("no ENOBUFS");
        assert_eq!(results.len(), 100);
        assert!(results
            .iter()
            .all(|r| r.as_ref().unwrap_err().errno() == Some(libc::EEXIST)));
        assert_eq!(k.lock().unwrap().dropped, 0);
    }

    /// Defect 3: a window never exceeds the send buffer (EMSGSIZE).
    #[test]
    fn window_fits_the_send_buffer() {
        let k = kernel_with_services(0);
        k.lock().unwrap().sndbuf = 4608;
        let mut ipvs = open(
            &k,
            &OpenOptions {
                batch_window: 256,
                ..OpenOptions::default()
            },
        );
        let results = ipvs
            .apply(&adds(200), BatchMode::ContinueOnError)
            .expect("no EMSGSIZE");
        assert!(results.iter().all(Result::is_ok));
        let k = k.lock().unwrap();
        assert_eq!(k.handled, 200);
        assert!(k.sends > 2, "{} sends", k.sends);
    }

    /// Defect 3: when the socket fails half-way, `apply_each` keeps the
    /// results the kernel gave and marks the rest as unconfirmed.
    #[test]
    fn apply_each_keeps_known_results() {
        let k = kernel_with_services(0);
        {
            let mut k = k.lock().unwrap();
            k.verdict = Box::new(|n, _| if n == 2 { libc::EEXIST } else { 0 });
            k.answer_limit = Some(6);
        }
        let mut ipvs = open(
            &k,
            &OpenOptions {
                batch_window: 4,
                ..OpenOptions::default()
            },
        );
        let results = ipvs.apply_each(&adds(10), BatchMode::ContinueOnError);
        assert_eq!(results.len(), 10);
        for (i, r) in results.iter().enumerate() {
            match i {
                2 => assert_eq!(r.as_ref().unwrap_err().errno(), Some(libc::EEXIST)),
                0 | 1 | 3 | 4 | 5 => assert!(r.is_ok(), "{i}: {r:?}"),
                _ => match r {
                    Err(Error::Unconfirmed { errno, op, .. }) => {
                        assert_eq!(*op, Operation::AddService);
                        assert_eq!(*errno, Some(libc::EAGAIN));
                    }
                    other => panic!("{i}: {other:?}"),
                },
            }
        }
    }

    /// Defect 5: NLMSG_DONE carrying i32::MIN (no positive counterpart) is
    /// a typed error, not an overflow.
    #[test]
    fn done_with_the_most_negative_code() {
        let k = kernel_with_services(3);
        k.lock().unwrap().done_code_once = Some(i32::MIN);
        let mut ipvs = open(&k, &OpenOptions::default());
        let err = ipvs.services().unwrap_err();
        assert_eq!(err.errno(), Some(i32::MAX), "{err:?}");
        assert_eq!(ipvs.services().unwrap().len(), 3);
    }

    /// Defect 5: a service that a dump repeats (the kernel's walk resumes
    /// by position while others change the table) is listed once.
    #[test]
    fn snapshot_lists_each_service_once() {
        let k = kernel_with_services(5);
        {
            let mut k = k.lock().unwrap();
            let again = k.services[1].clone();
            k.services.insert(3, again);
        }
        let mut ipvs = open(&k, &OpenOptions::default());
        let keys: Vec<ServiceKey> = ipvs
            .snapshot()
            .unwrap()
            .iter()
            .map(|e| e.service.config.key)
            .collect();
        assert_eq!(keys, (0..5).map(key).collect::<Vec<_>>());
    }
}
