//! ldirectord's SIP check: an `OPTIONS` request over UDP or TCP (the virtual service's
//! protocol), answered with a status line starting `SIP/2.0 200 OK`.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::net::{connect_tcp, connect_udp, failure};
use super::{random_u64, CheckSpec, Failure, SipCheck, Stage};

/// The check, bounded as a whole by the connect timeout.
pub(crate) async fn check(spec: &CheckSpec, s: &SipCheck) -> Result<(), Failure> {
    let mut stage = Stage::Connect;
    match tokio::time::timeout(spec.timing.connect_timeout, run(spec, s, &mut stage)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(stage)),
    }
}

/// The request ldirectord sends, with the transport and local address of this connection
/// in `Via` and fresh random branch, tag and Call-ID.
pub(crate) fn request(s: &SipCheck, local: SocketAddr) -> String {
    let user = &s.user;
    let transport = if s.udp { "UDP" } else { "TCP" };
    let (branch, tag, call) = (random_u64(), random_u64() as u32, random_u64());
    format!(
        "OPTIONS sip:{user} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{branch:x}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:{user}>\r\n\
         From: <sip:{user}>;tag={tag}\r\n\
         Call-ID: {call:016x}\r\n\
         CSeq: 63104 OPTIONS\r\n\
         Contact: <sip:{user}>\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

async fn run(spec: &CheckSpec, s: &SipCheck, stage: &mut Stage) -> Result<(), Failure> {
    let status = if s.udp {
        let sock = connect_udp(spec).await?;
        let local = sock
            .local_addr()
            .map_err(|e| Failure::Socket(e.to_string()))?;
        *stage = Stage::Request;
        sock.send(request(s, local).as_bytes())
            .await
            .map_err(|e| failure(Stage::Request, &e))?;
        *stage = Stage::Reply;
        let mut buf = vec![0u8; 65536];
        let n = sock
            .recv(&mut buf)
            .await
            .map_err(|e| failure(Stage::Reply, &e))?;
        buf.truncate(n);
        let end = buf.iter().position(|&b| b == b'\n').unwrap_or(n);
        buf.truncate(end);
        buf
    } else {
        let stream = connect_tcp(spec).await?;
        let local = stream
            .local_addr()
            .map_err(|e| Failure::Socket(e.to_string()))?;
        let mut r = BufReader::with_capacity(1024, stream);
        *stage = Stage::Request;
        r.get_mut()
            .write_all(request(s, local).as_bytes())
            .await
            .map_err(|e| failure(Stage::Request, &e))?;
        *stage = Stage::Reply;
        let mut line = Vec::new();
        (&mut r)
            .take(4096)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| failure(Stage::Reply, &e))?;
        line
    };
    let status = String::from_utf8_lossy(&status).trim_end().to_string();
    if status.starts_with("SIP/2.0 200 OK") {
        Ok(())
    } else if status.is_empty() {
        Err(Failure::BadReply("no SIP status line".into()))
    } else {
        Err(Failure::BadReply(format!("SIP status {status:?}")))
    }
}
