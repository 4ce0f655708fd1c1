//! PING_CHECK: one ICMP (or ICMPv6) echo. An unprivileged ping socket (`SOCK_DGRAM`,
//! allowed by `net.ipv4.ping_group_range`) is tried first, then a raw socket (root or
//! CAP_NET_RAW). Both are connected to the target, so the kernel only hands us its packets.
//! A raw socket still gets every echo reply from that address (each probe matches its own by
//! identifier, sequence and a random payload), so many concurrent pings of one address cost
//! O(n²) wake-ups on raw sockets; ping sockets have no such cost.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::net::failure;
use super::{random_u64, CheckSpec, Failure, Stage};

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const PAYLOAD: usize = 16;

/// Which kind of socket carries the echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Ping socket: the kernel sets the identifier and strips the IP header.
    Dgram,
    /// Raw socket: IPv4 replies come with their IP header.
    Raw,
}

fn socket(ip: IpAddr, only: Option<Kind>) -> Result<(Socket, Kind), Failure> {
    let (domain, proto) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let dgram = match only {
        Some(Kind::Raw) => Err(std::io::Error::other("not tried")),
        _ => Socket::new(domain, Type::DGRAM, Some(proto)),
    };
    match dgram {
        Ok(s) => Ok((s, Kind::Dgram)),
        Err(dgram) if only == Some(Kind::Dgram) => Err(Failure::Socket(format!(
            "ping socket not permitted: {dgram}"
        ))),
        Err(dgram) => match Socket::new(domain, Type::RAW, Some(proto)) {
            Ok(s) => Ok((s, Kind::Raw)),
            Err(raw) => Err(Failure::Socket(format!(
                "ICMP sockets not permitted (ping socket: {dgram}; raw: {raw})"
            ))),
        },
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request; the checksum is filled for IPv4 (the kernel computes ICMPv6's).
fn request(v6: bool, id: u16, seq: u16, token: &[u8; PAYLOAD]) -> Vec<u8> {
    let mut p = vec![if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(token);
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Whether `packet` (ICMP header first) is the reply to our request.
fn is_reply(v6: bool, kind: Kind, packet: &[u8], id: u16, seq: u16, token: &[u8]) -> bool {
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    packet.len() >= 8 + PAYLOAD
        && packet[0] == want
        && (kind == Kind::Dgram || packet[4..6] == id.to_be_bytes())
        && packet[6..8] == seq.to_be_bytes()
        && &packet[8..8 + PAYLOAD] == token
}

/// PING_CHECK, bounded by the connect timeout.
pub(crate) async fn check(spec: &CheckSpec) -> Result<(), Failure> {
    check_with(spec, None).await
}

/// PING_CHECK with the socket kind forced (tests).
async fn check_with(spec: &CheckSpec, only: Option<Kind>) -> Result<(), Failure> {
    let mut stage = Stage::Connect;
    match tokio::time::timeout(spec.timing.connect_timeout, run(spec, &mut stage, only)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(stage)),
    }
}

async fn run(spec: &CheckSpec, stage: &mut Stage, only: Option<Kind>) -> Result<(), Failure> {
    let ip = spec.connect.connect_ip.unwrap_or(spec.target.ip());
    let v6 = ip.is_ipv6();
    let (sock, kind) = socket(ip, only)?;
    let err = |e: std::io::Error| Failure::Socket(e.to_string());
    sock.set_nonblocking(true).map_err(err)?;
    sock.set_cloexec(true).map_err(err)?;
    if let Some(bind) = spec.connect.bind_ip {
        sock.bind(&SocketAddr::new(bind, 0).into())
            .map_err(|e| Failure::Socket(format!("bind {bind}: {e}")))?;
    }
    sock.connect(&SocketAddr::new(ip, 0).into())
        .map_err(|e| failure(Stage::Connect, &e))?;
    // A datagram socket's read and write work on any fd of that kind, raw ones included.
    let sock = UdpSocket::from_std(std::net::UdpSocket::from(OwnedFd::from(sock))).map_err(err)?;
    let r = random_u64();
    let (id, seq) = (r as u16, (r >> 16) as u16);
    let mut token = [0u8; PAYLOAD];
    token[..8].copy_from_slice(&random_u64().to_be_bytes());
    token[8..].copy_from_slice(&(r >> 32).to_be_bytes());
    *stage = Stage::Request;
    sock.send(&request(v6, id, seq, &token))
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    *stage = Stage::Reply;
    let mut buf = [0u8; 1500];
    loop {
        let n = sock
            .recv(&mut buf)
            .await
            .map_err(|e| failure(Stage::Reply, &e))?;
        let mut packet = &buf[..n];
        if kind == Kind::Raw && !v6 {
            let ihl = usize::from(packet.first().copied().unwrap_or(0) & 0x0f) * 4;
            packet = packet.get(ihl..).unwrap_or_default();
        }
        if is_reply(v6, kind, packet, id, seq, &token) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckKind;

    /// Both socket kinds against the loopback addresses, concurrently (raw sockets see every
    /// reply of the host and must pick their own); a kind not permitted here is skipped with
    /// a notice.
    #[test]
    fn ping_and_raw_sockets_on_loopback() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for kind in [Kind::Dgram, Kind::Raw] {
                for target in ["127.0.0.1:0", "[::1]:0"] {
                    let spec = CheckSpec::new(target.parse().unwrap(), CheckKind::Ping);
                    let probes: Vec<_> = (0..8)
                        .map(|_| {
                            let spec = spec.clone();
                            tokio::spawn(async move { check_with(&spec, Some(kind)).await })
                        })
                        .collect();
                    for p in probes {
                        match p.await.unwrap() {
                            Err(Failure::Socket(e)) => {
                                eprintln!("NOTICE: {kind:?} ICMP socket not permitted: {e}");
                            }
                            r => assert_eq!(r, Ok(()), "{kind:?} {target}"),
                        }
                    }
                }
            }
        });
    }

    #[test]
    fn checksum_of_request_verifies() {
        let p = request(false, 0x1234, 7, &[0xab; PAYLOAD]);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        let mut reply = p.clone();
        reply[0] = ECHO_REPLY_V4;
        assert!(is_reply(
            false,
            Kind::Raw,
            &reply,
            0x1234,
            7,
            &[0xab; PAYLOAD]
        ));
        assert!(!is_reply(
            false,
            Kind::Raw,
            &reply,
            0x1235,
            7,
            &[0xab; PAYLOAD]
        ));
        assert!(is_reply(
            false,
            Kind::Dgram,
            &reply,
            0x1235,
            7,
            &[0xab; PAYLOAD]
        ));
        assert!(!is_reply(false, Kind::Raw, &p, 0x1234, 7, &[0xab; PAYLOAD]));
    }
}
