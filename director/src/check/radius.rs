//! ldirectord's RADIUS check (Authen::Radius `check_pwd`): an Access-Request over UDP with
//! User-Name, User-Password (hidden with the shared secret, RFC 2865 5.2) and the local
//! IPv4 address as NAS-IP-Address; up only when answered Access-Accept with the right
//! identifier and response authenticator. An Access-Reject fails the check, as it does in
//! ldirectord.

use std::net::{IpAddr, SocketAddr};

use md5::{Digest, Md5};

use super::net::{connect_udp, failure};
use super::{random_u64, CheckSpec, Failure, RadiusCheck, Stage};

/// One attribute: type, length, value (values longer than 253 bytes are cut).
fn attribute(kind: u8, value: &[u8]) -> Vec<u8> {
    let value = &value[..value.len().min(253)];
    [&[kind, value.len() as u8 + 2][..], value].concat()
}

/// User-Password hidden as RFC 2865 5.2: padded to 16 bytes, each block XORed with
/// MD5(secret + previous block), the first with the request authenticator.
pub(crate) fn hide_password(password: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Vec<u8> {
    let mut p = password[..password.len().min(128)].to_vec();
    let padded = p.len().div_ceil(16).max(1) * 16;
    p.resize(padded, 0);
    let mut prev = authenticator.to_vec();
    for block in p.chunks_mut(16) {
        let b = Md5::new()
            .chain_update(secret)
            .chain_update(&prev)
            .finalize();
        for (c, k) in block.iter_mut().zip(b.iter()) {
            *c ^= k;
        }
        prev = block.to_vec();
    }
    p
}

/// The Access-Request packet with identifier `id` and request authenticator `auth`.
pub(crate) fn access_request(
    r: &RadiusCheck,
    id: u8,
    auth: &[u8; 16],
    nas: Option<IpAddr>,
) -> Vec<u8> {
    let mut attrs = attribute(1, r.login.as_bytes());
    attrs.extend(attribute(
        2,
        &hide_password(r.passwd.as_bytes(), r.secret.as_bytes(), auth),
    ));
    if let Some(IpAddr::V4(a)) = nas {
        attrs.extend(attribute(4, &a.octets()));
    }
    let len = (20 + attrs.len()) as u16;
    let mut p = vec![1, id];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(auth);
    p.extend(attrs);
    p
}

/// The check, bounded as a whole by the connect timeout.
pub(crate) async fn check(spec: &CheckSpec, r: &RadiusCheck) -> Result<(), Failure> {
    match tokio::time::timeout(spec.timing.connect_timeout, run(spec, r)).await {
        Ok(res) => res,
        Err(_) => Err(Failure::Timeout(Stage::Reply)),
    }
}

async fn run(spec: &CheckSpec, r: &RadiusCheck) -> Result<(), Failure> {
    let sock = connect_udp(spec).await?;
    let nas = sock.local_addr().ok().map(|a: SocketAddr| a.ip());
    let mut auth = [0u8; 16];
    auth[..8].copy_from_slice(&random_u64().to_be_bytes());
    auth[8..].copy_from_slice(&random_u64().to_be_bytes());
    let id = random_u64() as u8;
    sock.send(&access_request(r, id, &auth, nas))
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock
            .recv(&mut buf)
            .await
            .map_err(|e| failure(Stage::Reply, &e))?;
        let p = &buf[..n];
        if n < 20 || p[1] != id {
            continue; // not an answer to this request
        }
        let len = u16::from_be_bytes([p[2], p[3]]) as usize;
        if len < 20 || len > n {
            return Err(Failure::BadReply(format!(
                "RADIUS length {len} of {n} bytes"
            )));
        }
        let p = &p[..len];
        let expected = Md5::new()
            .chain_update(&p[..4])
            .chain_update(auth)
            .chain_update(&p[20..])
            .chain_update(r.secret.as_bytes())
            .finalize();
        if p[4..20] != expected[..] {
            return Err(Failure::BadReply(
                "RADIUS response authenticator does not match (wrong secret?)".into(),
            ));
        }
        return match p[0] {
            2 => Ok(()),
            3 => Err(Failure::BadReply("RADIUS Access-Reject".into())),
            c => Err(Failure::BadReply(format!("RADIUS code {c}"))),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::hide_password;

    #[test]
    fn hidden_password_is_padded_and_reversible() {
        let auth = [7u8; 16];
        let h = hide_password(b"secret-password-longer-than-16", b"s3", &auth);
        assert_eq!(h.len(), 32);
        // XOR again with the same key stream gives the padded password back.
        let mut prev = auth.to_vec();
        let mut plain = Vec::new();
        for block in h.chunks(16) {
            use md5::{Digest, Md5};
            let b = Md5::new()
                .chain_update(b"s3")
                .chain_update(&prev)
                .finalize();
            plain.extend(block.iter().zip(b.iter()).map(|(c, k)| c ^ k));
            prev = block.to_vec();
        }
        assert_eq!(&plain[..30], b"secret-password-longer-than-16");
        assert_eq!(&plain[30..], &[0, 0]);
        assert_eq!(hide_password(b"", b"s3", &auth).len(), 16);
    }
}
