//! UDP_CHECK: a datagram to the real server. Without `require_reply`, silence until the
//! timeout passes and ICMP port unreachable fails; with it, a reply of the right length that
//! matches the pattern is needed.

use super::net::{connect_udp, failure};
use super::{CheckSpec, Failure, Stage, UdpCheck};

/// UDP_CHECK; always takes up to the connect timeout when no reply is required.
pub(crate) async fn check(spec: &CheckSpec, udp: &UdpCheck) -> Result<(), Failure> {
    let sock = connect_udp(spec).await?;
    sock.send(&udp.payload)
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    let mut buf = vec![0u8; udp.max_reply_len.max(udp.min_reply_len) + 1];
    match tokio::time::timeout(spec.timing.connect_timeout, sock.recv(&mut buf)).await {
        Err(_) if udp.require_reply.is_some() => Err(Failure::Timeout(Stage::Reply)),
        Err(_) => Ok(()),
        Ok(Err(e)) => Err(failure(Stage::Reply, &e)),
        Ok(Ok(n)) => match &udp.require_reply {
            None => Ok(()),
            Some(_) if n < udp.min_reply_len || n > udp.max_reply_len => {
                Err(Failure::ReplyLength(n))
            }
            Some(pattern) if !pattern.matches(&buf[..n]) => Err(Failure::ReplyMismatch),
            Some(_) => Ok(()),
        },
    }
}
