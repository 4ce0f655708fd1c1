//! Connections shared by the TCP-based checkers, and the mapping of socket errors to reasons.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpSocket, TcpStream, UdpSocket};

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

/// A TCP connection to the spec's probe address, from its bind address if any. The caller
/// bounds it with the timeout.
pub(crate) async fn connect_tcp(spec: &CheckSpec) -> Result<TcpStream, Failure> {
    let dst = spec.probe_addr();
    let sock = match dst {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| Failure::Socket(e.to_string()))?;
    if let Some(local) = spec.bind_addr() {
        if local.port() != 0 {
            sock.set_reuseaddr(true)
                .map_err(|e| Failure::Socket(e.to_string()))?;
        }
        sock.bind(local)
            .map_err(|e| Failure::Socket(format!("bind {local}: {e}")))?;
    }
    let stream = sock
        .connect(dst)
        .await
        .map_err(|e| failure(Stage::Connect, &e))?;
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
pub(crate) async fn tcp_check(spec: &CheckSpec) -> Result<(), Failure> {
    match tokio::time::timeout(spec.timing.connect_timeout, connect_tcp(spec)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_zero_linger();
            Ok(())
        }
        Ok(Err(f)) => Err(f),
        Err(_) => Err(Failure::Timeout(Stage::Connect)),
    }
}
