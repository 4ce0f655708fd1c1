//! ldirectord's FTP check: the greeting, `USER`/`PASS`, then (with a receive regex) `CWD /`,
//! `TYPE I`, `PASV` and `RETR` of the request, the file matched against the regex; `QUIT`.
//!
//! ldirectord (Net::FTP) ignores every protocol error and only matches the file fetched, so
//! a refused login fails only through the empty file. Here the greeting (2xx) and the login
//! (230, or 331 then 2xx to `PASS`) must succeed as well; without a receive regex they are
//! the whole check (ldirectord would match its empty pattern and pass even a dead server).

use regex::bytes::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::net::{connect_tcp, failure};
use super::smtp::reply;
use super::{CheckSpec, Failure, FtpCheck, SpecError, Stage};

/// The largest file read; the rest is not fetched.
const MAX_FILE: u64 = 1 << 20;

/// The compiled receive regex, if any (at most one element).
pub(crate) fn prepare(f: &FtpCheck) -> Result<Vec<Regex>, SpecError> {
    f.receive
        .iter()
        .map(|p| Regex::new(p).map_err(|e| SpecError::Regex(e.to_string())))
        .collect()
}

/// The check, bounded as a whole by the connect timeout.
pub(crate) async fn check(
    spec: &CheckSpec,
    f: &FtpCheck,
    receive: Option<&Regex>,
) -> Result<(), Failure> {
    let mut stage = Stage::Connect;
    match tokio::time::timeout(
        spec.timing.connect_timeout,
        run(spec, f, receive, &mut stage),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(stage)),
    }
}

fn bad(what: &str, line: String) -> Failure {
    Failure::BadReply(format!("FTP {what}: {line:?}"))
}

/// The data port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` reply.
fn pasv_port(line: &str) -> Option<u16> {
    let start = line[3..].find(|c: char| c.is_ascii_digit())? + 3;
    let nums: Vec<u16> = line[start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(6)
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    match nums[..] {
        [_, _, _, _, p1, p2] if p1 < 256 && p2 < 256 => Some(p1 << 8 | p2),
        _ => None,
    }
}

async fn run(
    spec: &CheckSpec,
    f: &FtpCheck,
    receive: Option<&Regex>,
    stage: &mut Stage,
) -> Result<(), Failure> {
    let stream = connect_tcp(spec).await?;
    let mut r = BufReader::with_capacity(1024, stream);
    macro_rules! cmd {
        ($text:expr) => {{
            *stage = Stage::Request;
            r.get_mut()
                .write_all(format!("{}\r\n", $text).as_bytes())
                .await
                .map_err(|e| failure(Stage::Request, &e))?;
            *stage = Stage::Reply;
            reply(&mut r).await?
        }};
    }
    *stage = Stage::Reply;
    let (code, line) = reply(&mut r).await?;
    if code / 100 != 2 {
        return Err(bad("greeting", line));
    }
    let (mut code, mut line) = cmd!(format!("USER {}", f.login));
    if code / 100 == 3 {
        (code, line) = cmd!(format!("PASS {}", f.passwd));
    }
    if code / 100 != 2 {
        return Err(bad("login", line));
    }
    if let Some(re) = receive {
        cmd!("CWD /");
        cmd!("TYPE I");
        let (code, line) = cmd!("PASV");
        let port = match (code, pasv_port(&line)) {
            (227, Some(port)) => port,
            _ => return Err(bad("PASV", line)),
        };
        // The data connection goes to the control connection's peer (the address in the
        // reply may be a private one behind NAT; the port is what matters).
        *stage = Stage::Connect;
        let peer = r
            .get_ref()
            .peer_addr()
            .map_err(|e| failure(Stage::Connect, &e))?;
        let mut data = TcpStream::connect((peer.ip(), port))
            .await
            .map_err(|e| failure(Stage::Connect, &e))?;
        let (code, line) = cmd!(format!("RETR {}", f.path));
        let mut file = Vec::new();
        if code / 100 == 1 {
            (&mut data)
                .take(MAX_FILE)
                .read_to_end(&mut file)
                .await
                .map_err(|e| failure(Stage::Reply, &e))?;
            drop(data);
            reply(&mut r).await?;
        }
        if !re.is_match(&file) {
            return Err(Failure::RegexNoMatch(format!(
                "{} (RETR: {line:?}, {} bytes)",
                f.path,
                file.len()
            )));
        }
    }
    cmd!("QUIT");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pasv_port;

    #[test]
    fn pasv_ports() {
        assert_eq!(
            pasv_port("227 Entering Passive Mode (127,0,0,1,195,80)."),
            Some(195 * 256 + 80)
        );
        assert_eq!(pasv_port("227 =192,0,2,7,4,1"), Some(1025));
        assert_eq!(
            pasv_port("227 Entering Passive Mode (127,0,0,1,300,1)"),
            None
        );
        assert_eq!(pasv_port("227 Entering Passive Mode (127,0,0,1)"), None);
    }
}
