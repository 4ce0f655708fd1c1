//! Connections shared by the TCP-based checkers, and the mapping of socket errors to reasons.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::net::{TcpStream, UdpSocket};

use super::{CheckSpec, Failure, Stage};

/// The reason for an I/O error at `stage`.
pub(crate) fn failure(stage: Stage, e: &io::Error) -> Failure {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => {
            if stage == Stage::Connect {
                Failure::Refused
            } else {
                Failure::PortUnreachable
            }
        }
        Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) | Some(libc::EADDRNOTAVAIL) => {
            Failure::Unreachable(e.to_string())
        }
        Some(libc::ETIMEDOUT) => Failure::Timeout(stage),
        _ => match e.kind() {
            io::ErrorKind::UnexpectedEof => Failure::BadReply("connection closed".into()),
            _ => Failure::Io(stage, e.to_string()),
        },
    }
}

/// A TCP connection attempt started by [`start_tcp`].
enum Started {
    /// Established by the time `connect` returned: the handshake ran within the call, as it
    /// does when the real server is on this host or behind a veth pair on the same CPU.
    Connected(Socket),
    /// The handshake is under way.
    Pending(Socket),
}

/// Opens a non-blocking TCP socket to the spec's probe address (bound to its bind address
/// if any) and starts the connection. A second `connect` tells at once whether the
/// handshake is already over (success, or the error that ended it): a probe whose
/// connection is made within the first call then costs no event-loop registration, no
/// wait and no `SO_ERROR` read.
fn start_tcp(spec: &CheckSpec) -> Result<Started, Failure> {
    let dst = spec.probe_addr();
    let sock = Socket::new(
        Domain::for_address(dst),
        Type::from(libc::SOCK_STREAM | libc::SOCK_NONBLOCK),
        Some(Protocol::TCP),
    )
    .map_err(|e| Failure::Socket(e.to_string()))?;
    if let Some(local) = spec.bind_addr() {
        if local.port() != 0 {
            sock.set_reuse_address(true)
                .map_err(|e| Failure::Socket(e.to_string()))?;
        }
        sock.bind(&local.into())
            .map_err(|e| Failure::Socket(format!("bind {local}: {e}")))?;
    }
    let dst = SockAddr::from(dst);
    match sock.connect(&dst) {
        Ok(()) => return Ok(Started::Connected(sock)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(failure(Stage::Connect, &e)),
    }
    // Linux: 0 once established (EISCONN on a later call), EALREADY while the handshake
    // runs, the connection's error (ECONNREFUSED, ...) once it has failed.
    match sock.connect(&dst) {
        Ok(()) => Ok(Started::Connected(sock)),
        Err(e) => match e.raw_os_error() {
            Some(libc::EISCONN) => Ok(Started::Connected(sock)),
            Some(libc::EALREADY) | Some(libc::EINPROGRESS) => Ok(Started::Pending(sock)),
            _ => Err(failure(Stage::Connect, &e)),
        },
    }
}

/// The socket on the runtime's event loop.
fn register(sock: Socket) -> Result<TcpStream, Failure> {
    TcpStream::from_std(std::net::TcpStream::from(sock)).map_err(|e| Failure::Socket(e.to_string()))
}

/// Waits until a pending connection is established or has failed. Writable without error
/// or hang-up means established (a socket in SYN_SENT is never writable); otherwise
/// `SO_ERROR` says why, and a hang-up without an error counts as established, as it does
/// for tokio's own `connect` (the next read or write then fails).
async fn established(stream: TcpStream) -> Result<TcpStream, Failure> {
    let ready = stream
        .ready(Interest::WRITABLE)
        .await
        .map_err(|e| failure(Stage::Connect, &e))?;
    if !ready.is_error() && !ready.is_write_closed() {
        return Ok(stream);
    }
    match stream.take_error() {
        Ok(None) => Ok(stream),
        Ok(Some(e)) | Err(e) => Err(failure(Stage::Connect, &e)),
    }
}

/// A TCP connection to the spec's probe address, from its bind address if any. The caller
/// bounds it with the timeout.
pub(crate) async fn connect_tcp(spec: &CheckSpec) -> Result<TcpStream, Failure> {
    let stream = match start_tcp(spec)? {
        Started::Connected(sock) => register(sock)?,
        Started::Pending(sock) => established(register(sock)?).await?,
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// A UDP socket connected to the spec's probe address (ICMP errors then come back as errors
/// of `recv`).
pub(crate) async fn connect_udp(spec: &CheckSpec) -> Result<UdpSocket, Failure> {
    let dst = spec.probe_addr();
    let local = spec.bind_addr().unwrap_or(match dst {
        SocketAddr::V4(_) => SocketAddr::from(([0u8; 4], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    });
    let sock = UdpSocket::bind(local)
        .await
        .map_err(|e| Failure::Socket(format!("bind {local}: {e}")))?;
    sock.connect(dst)
        .await
        .map_err(|e| failure(Stage::Connect, &e))?;
    Ok(sock)
}

/// TCP_CHECK: the connection is established within the connect timeout, then reset.
///
/// The close is a RST (zero linger), as HAProxy's checks do, where keepalived closes with a
/// FIN: at thousands of checks per second, FIN closes leave the director with a TIME_WAIT
/// entry per probe for a minute, hundreds of thousands of them, and cost a FIN exchange each.
///
/// A connection established within `connect` (see [`start_tcp`]) is reset at once: the probe
/// then costs five system calls (socket, connect twice, setsockopt, close) and no
/// timer; only a pending one goes on the event loop, bounded by the connect timeout.
pub(crate) async fn tcp_check(spec: &CheckSpec) -> Result<(), Failure> {
    match start_tcp(spec)? {
        Started::Connected(sock) => {
            let _ = sock.set_linger(Some(Duration::ZERO));
            Ok(())
        }
        Started::Pending(sock) => {
            let stream = register(sock)?;
            match tokio::time::timeout(spec.timing.connect_timeout, established(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_zero_linger();
                    Ok(())
                }
                Ok(Err(f)) => Err(f),
                Err(_) => Err(Failure::Timeout(Stage::Connect)),
            }
        }
    }
}
