//! DNS_CHECK: one UDP query; a reply with the query's ID, QR set, NOERROR and at least one
//! answer passes (keepalived does not ask for an answer; an empty NOERROR reply means the
//! server does not serve the name, which we count as a failure).

use super::net::{connect_udp, failure};
use super::{random_u64, CheckSpec, DnsCheck, Failure, SpecError, Stage};

/// Encodes `name` as DNS labels ("." is the root).
pub(crate) fn encode_name(name: &str) -> Result<Vec<u8>, SpecError> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() {
            if name.trim_end_matches('.').is_empty() {
                break;
            }
            return Err(SpecError::DnsName(name.into()));
        }
        if label.len() > 63 {
            return Err(SpecError::DnsName(name.into()));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() > 255 {
        return Err(SpecError::DnsName(name.into()));
    }
    Ok(out)
}

/// A query with recursion desired, one question, no additional records.
pub(crate) fn query(id: u16, qname: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(12 + qname.len() + 4);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    q.extend_from_slice(&[0; 6]); // AN, NS, AR
    q.extend_from_slice(qname);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    q
}

/// The verdict on a datagram: `None` when it is not the reply to our query (keep waiting).
pub(crate) fn judge(id: u16, reply: &[u8]) -> Option<Result<(), Failure>> {
    if reply.len() < 12 || reply[..2] != id.to_be_bytes() || reply[2] & 0x80 == 0 {
        return None;
    }
    let rcode = reply[3] & 0x0f;
    if rcode != 0 {
        return Some(Err(Failure::DnsRcode(rcode)));
    }
    if u16::from_be_bytes([reply[6], reply[7]]) == 0 {
        return Some(Err(Failure::DnsNoAnswer));
    }
    Some(Ok(()))
}

/// DNS_CHECK, bounded by the connect timeout.
pub(crate) async fn check(spec: &CheckSpec, dns: &DnsCheck, qname: &[u8]) -> Result<(), Failure> {
    let mut stage = Stage::Connect;
    match tokio::time::timeout(
        spec.timing.connect_timeout,
        run(spec, dns, qname, &mut stage),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(stage)),
    }
}

async fn run(
    spec: &CheckSpec,
    dns: &DnsCheck,
    qname: &[u8],
    stage: &mut Stage,
) -> Result<(), Failure> {
    let sock = connect_udp(spec).await?;
    let id = random_u64() as u16;
    *stage = Stage::Request;
    sock.send(&query(id, qname, dns.qtype))
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    *stage = Stage::Reply;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock
            .recv(&mut buf)
            .await
            .map_err(|e| failure(Stage::Reply, &e))?;
        if let Some(verdict) = judge(id, &buf[..n]) {
            return verdict;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(encode_name(".").unwrap(), vec![0]);
        assert_eq!(
            encode_name("a.bc").unwrap(),
            vec![1, b'a', 2, b'b', b'c', 0]
        );
        assert_eq!(encode_name("a.bc."), encode_name("a.bc"));
        assert!(encode_name("a..b").is_err());
        assert!(encode_name(&"x".repeat(64)).is_err());
    }

    #[test]
    fn verdicts() {
        let mut r = query(7, &[0], 6);
        assert_eq!(judge(7, &r), None, "a query is not a reply");
        r[2] |= 0x80;
        assert_eq!(judge(8, &r), None, "another id");
        assert_eq!(judge(7, &r), Some(Err(Failure::DnsNoAnswer)));
        r[7] = 1;
        assert_eq!(judge(7, &r), Some(Ok(())));
        r[3] |= 3;
        assert_eq!(judge(7, &r), Some(Err(Failure::DnsRcode(3))));
        assert_eq!(judge(7, &r[..5]), None);
    }
}
