//! ldirectord's LDAP check (Net::LDAP): an LDAPv3 simple bind (anonymous unless both a
//! login and a password are set) answered with success, then a base-scope search of the
//! request's DN for `(objectClass=*)` that must return exactly one entry, whose DN must
//! match the receive regex when one is set. Over TLS from the start for ldaps (no
//! certificate verification, as for SSL_GET). The BER of the few messages is
//! written and read here.

use regex::bytes::Regex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::rustls::pki_types::ServerName;

use super::net::{connect_tcp, failure};
use super::{tls, CheckSpec, Failure, LdapCheck, SpecError, Stage};

/// The largest LDAP message read.
const MAX_MESSAGE: usize = 1 << 20;

/// The compiled receive regex, if any (at most one element).
pub(crate) fn prepare(l: &LdapCheck) -> Result<Vec<Regex>, SpecError> {
    l.receive
        .iter()
        .map(|p| Regex::new(p).map_err(|e| SpecError::Regex(e.to_string())))
        .collect()
}

/// One BER element: tag, definite length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A small non-negative INTEGER (message ids, version, limits) with tag `tag`.
fn int(tag: u8, v: u8) -> Vec<u8> {
    if v < 0x80 {
        tlv(tag, &[v])
    } else {
        tlv(tag, &[0, v])
    }
}

/// An LDAPMessage: SEQUENCE { messageID, protocolOp }.
fn message(id: u8, op: Vec<u8>) -> Vec<u8> {
    tlv(0x30, &[int(0x02, id), op].concat())
}

/// BindRequest ([APPLICATION 0]): version 3, the DN, simple authentication.
pub(crate) fn bind_request(id: u8, dn: &str, password: &str) -> Vec<u8> {
    message(
        id,
        tlv(
            0x60,
            &[
                int(0x02, 3),
                tlv(0x04, dn.as_bytes()),
                tlv(0x80, password.as_bytes()),
            ]
            .concat(),
        ),
    )
}

/// SearchRequest ([APPLICATION 3]): base `base`, scope baseObject, never dereference, no
/// limits, attributes too, filter `(objectClass=*)`, all user attributes.
pub(crate) fn search_request(id: u8, base: &str) -> Vec<u8> {
    message(
        id,
        tlv(
            0x63,
            &[
                tlv(0x04, base.as_bytes()),
                int(0x0a, 0),
                int(0x0a, 0),
                int(0x02, 0),
                int(0x02, 0),
                tlv(0x01, &[0]),
                tlv(0x87, b"objectClass"),
                tlv(0x30, &[]),
            ]
            .concat(),
        ),
    )
}

/// Splits one element off `buf`: (tag, content, rest).
fn split(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| a << 8 | b as usize);
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Reads one LDAPMessage and returns its protocolOp's tag and content.
async fn read_message<R: AsyncRead + Unpin>(r: &mut R) -> Result<(u8, Vec<u8>), Failure> {
    let io = |e: std::io::Error| failure(Stage::Reply, &e);
    let mut head = [0u8; 2];
    r.read_exact(&mut head).await.map_err(io)?;
    if head[0] != 0x30 {
        return Err(Failure::BadReply(format!(
            "not an LDAP message (tag {:#04x})",
            head[0]
        )));
    }
    let len = if head[1] < 0x80 {
        head[1] as usize
    } else {
        let n = (head[1] & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(Failure::BadReply("bad LDAP message length".into()));
        }
        let mut b = [0u8; 4];
        r.read_exact(&mut b[..n]).await.map_err(io)?;
        b[..n].iter().fold(0usize, |a, &x| a << 8 | x as usize)
    };
    if len > MAX_MESSAGE {
        return Err(Failure::BadReply(format!("LDAP message of {len} bytes")));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.map_err(io)?;
    let op = split(&body)
        .filter(|(tag, _, _)| *tag == 0x02)
        .and_then(|(_, _, rest)| split(rest))
        .ok_or_else(|| Failure::BadReply("malformed LDAP message".into()))?;
    Ok((op.0, op.1.to_vec()))
}

/// The resultCode of an LDAPResult's content, and its diagnostic message.
fn result_code(content: &[u8]) -> Option<(u8, String)> {
    let (tag, code, rest) = split(content)?;
    if tag != 0x0a || code.len() != 1 {
        return None;
    }
    let (_, _, rest) = split(rest)?;
    let diag = split(rest)
        .map(|(_, d, _)| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_default();
    Some((code[0], diag))
}

/// The check, bounded as a whole by the connect timeout.
pub(crate) async fn check(
    spec: &CheckSpec,
    l: &LdapCheck,
    receive: Option<&Regex>,
) -> Result<(), Failure> {
    let mut stage = Stage::Connect;
    match tokio::time::timeout(
        spec.timing.connect_timeout,
        run(spec, l, receive, &mut stage),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(stage)),
    }
}

async fn run(
    spec: &CheckSpec,
    l: &LdapCheck,
    receive: Option<&Regex>,
    stage: &mut Stage,
) -> Result<(), Failure> {
    let stream = connect_tcp(spec).await?;
    if l.tls {
        *stage = Stage::Tls;
        let connector = tls::connector(false).map_err(Failure::Tls)?;
        let name = ServerName::IpAddress(spec.probe_addr().ip().into());
        let stream = connector
            .connect(name, stream)
            .await
            .map_err(|e| Failure::Tls(e.to_string()))?;
        talk(stream, l, receive, stage).await
    } else {
        talk(stream, l, receive, stage).await
    }
}

async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    l: &LdapCheck,
    receive: Option<&Regex>,
    stage: &mut Stage,
) -> Result<(), Failure> {
    let mut r = BufReader::with_capacity(2048, stream);
    let (dn, password) = if !l.login.is_empty() && !l.passwd.is_empty() {
        (l.login.as_str(), l.passwd.as_str())
    } else {
        ("", "")
    };
    *stage = Stage::Request;
    r.get_mut()
        .write_all(&bind_request(1, dn, password))
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    *stage = Stage::Reply;
    let (tag, content) = read_message(&mut r).await?;
    match (tag, result_code(&content)) {
        (0x61, Some((0, _))) => {}
        (0x61, Some((code, diag))) => {
            return Err(Failure::BadReply(format!(
                "LDAP bind refused: resultCode {code} {diag:?}"
            )))
        }
        _ => {
            return Err(Failure::BadReply(format!(
                "LDAP bind answered with tag {tag:#04x}"
            )))
        }
    }
    *stage = Stage::Request;
    r.get_mut()
        .write_all(&search_request(2, &l.base))
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    *stage = Stage::Reply;
    let mut dns = Vec::new();
    loop {
        let (tag, content) = read_message(&mut r).await?;
        match tag {
            // SearchResultEntry: its objectName.
            0x64 => dns.push(
                split(&content)
                    .filter(|(t, _, _)| *t == 0x04)
                    .map(|(_, dn, _)| dn.to_vec())
                    .ok_or_else(|| Failure::BadReply("malformed LDAP entry".into()))?,
            ),
            // SearchResultDone.
            0x65 => break,
            // SearchResultReference, or anything else: not an entry.
            _ => {}
        }
    }
    // Unbind; the server closes.
    let _ = r.get_mut().write_all(&message(3, vec![0x42, 0x00])).await;
    if dns.len() != 1 {
        return Err(Failure::BadReply(format!(
            "LDAP search of {:?} returned {} entries, not 1",
            l.base,
            dns.len()
        )));
    }
    match receive {
        Some(re) if !re.is_match(&dns[0]) => Err(Failure::RegexNoMatch(format!(
            "LDAP entry {:?}",
            String::from_utf8_lossy(&dns[0])
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_bind_is_the_rfc_4511_encoding() {
        // The classic anonymous bind, messageID 1.
        assert_eq!(
            bind_request(1, "", ""),
            [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]
        );
    }

    #[test]
    fn long_lengths_round_trip() {
        let dn = "x".repeat(300);
        let req = bind_request(1, &dn, "pw");
        let (tag, body, rest) = split(&req).unwrap();
        assert_eq!((tag, rest.len()), (0x30, 0));
        // 3 (messageID) + 4 + 3 (version) + 4 + 300 (DN) + 4 (password) = 318.
        assert_eq!(&req[1..4], &[0x82, 0x01, 0x3e]);
        let (_, _, op) = split(body).unwrap();
        let (tag, content, _) = split(op).unwrap();
        assert_eq!(tag, 0x60);
        let (_, _, rest) = split(content).unwrap();
        let (tag, name, _) = split(rest).unwrap();
        assert_eq!((tag, name), (0x04, dn.as_bytes()));
    }
}
